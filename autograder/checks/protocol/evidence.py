"""What several protocol checks read of the run: the notebook's saved outputs, and the events of the
protocol trace when there is a genuine one.
"""

from __future__ import annotations


def output_text(ctx) -> str:
    """The text of every code cell's saved outputs ("" without a notebook)."""
    nb = ctx.notebook
    return "" if nb is None else "\n".join(c.output_text() for c in nb.code_cells)


def trace_events(ctx, kind: str) -> list[dict] | None:
    """The trace's events of one kind, or None when there is no genuine trace to read."""
    if ctx.trace is not None and ctx.trace_valid:
        return ctx.trace.of(kind)
    return None
