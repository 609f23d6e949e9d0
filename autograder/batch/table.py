"""The status table `autograder grade` prints at the end."""

from __future__ import annotations

from autograder.batch.options import BatchSummary
from autograder.records import CHECKED, EXECUTED, FAILED, GRADED, INTAKE_ERROR, INTERRUPTED


def status_table(summary: BatchSummary):
    from rich.console import JustifyMethod
    from rich.table import Table

    table = Table(title=f"{summary.assignment}: {len(summary.records)} submission(s)", show_lines=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("student", "left"),
        ("status", "left"),
        ("cells", "right"),
        ("wall s", "right"),
        ("CPU s", "right"),
        ("peak MB", "right"),
        ("features", "right"),  # entries read from the cohort's featurisation cache, and the CPU s saved
        ("findings", "left"),
        ("reason", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    colours = {
        GRADED: "green",
        CHECKED: "cyan",
        EXECUTED: "cyan",
        FAILED: "red",
        INTAKE_ERROR: "magenta",
        INTERRUPTED: "yellow",
    }
    for student in sorted(summary.records):
        r = summary.records[student]
        ran = sum(1 for c in r.cells if c.status in ("completed", "failed"))
        findings = " ".join(f"{k} {v}" for k, v in sorted(summary.finding_counts.get(student, {}).items()))
        note = r.reason
        if student in summary.skipped:
            note = (note + " " if note else "") + "(stored: unchanged since it was executed)"
        if student in summary.kept_previous:
            note = (note + " " if note else "") + "(the previous execution, grade and page are kept)"
        status = summary.status(student)
        table.add_row(
            student,
            f"[{colours.get(status, 'white')}]{status}[/]",
            f"{ran}/{len(r.cells)}" if r.cells else "",
            _fmt(r.wall_seconds),
            _fmt(r.cpu_seconds),
            _fmt(r.peak_memory_mb, 0),
            _features(r.environment.get("feature_cache")),
            findings,
            note[:160],
        )
    return table


def _fmt(value, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _features(used) -> str:
    """ "1265 (74 s)": entries served from the cohort's featurisation cache and the CPU seconds saved."""
    if not used or not used.get("served"):
        return ""
    return f"{used['served']} ({used.get('seconds_saved', 0):.0f} s)"
