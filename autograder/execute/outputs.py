"""Outputs kept within a bound, per cell and per notebook, so that a notebook that prints millions of
lines leaves an executed notebook of a few MB that formgrader and a browser open at once.

The precedents: Jupyter's own output rate limit (`iopub_data_rate_limit`) and nbgrader's
`max_file_size`. A cell over its bound keeps the start of its output and the end of it (the last lines
usually say how it ended), with a note where the rest was cut; error outputs are always kept (their
traceback shortened), because they are the student's own account of what went wrong and the engine's
findings read them. Each cut is recorded in the cell's metadata (`autograder.output_cut`), where the
engine finds it for its `execution.output_cut` finding.

Used inside the sandbox by run_one (each cell as it finishes, so the snapshots stay small) and by the
engine on the notebook it stores (the guarantee, whatever the sandbox sent).
"""

from __future__ import annotations

import json
from collections import defaultdict, deque

import nbformat

NOTE = "[autograder] "
TAIL_SHARE = 4  # a quarter of a cell's bound goes to the end of its output
TRACEBACK_LINES = 40  # an error's traceback keeps its first and last lines, this many in all


def output_bytes(output) -> int:
    kind = output.get("output_type")
    if kind == "stream":  # each line costs about 8 bytes more in the notebook file (quotes, indent, comma)
        text = _text(output.get("text", ""))
        return len(text.encode("utf-8", "replace")) + 8 * text.count("\n")
    if kind == "error":
        return sum(len(line) for line in output.get("traceback", [])) + len(str(output.get("evalue", "")))
    return len(json.dumps(output.get("data", {}))) + len(json.dumps(output.get("metadata", {})))


def _text(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _stream(name: str, text: str):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _coalesce(outputs) -> list:
    """Consecutive stream outputs of one stream as one (as a notebook shows them)."""
    merged: list = []
    parts: list[str] = []  # the texts of the stream being merged (joined once: linear in the output)
    for output in list(outputs) + [None]:
        same = (
            output is not None
            and output.get("output_type") == "stream"
            and merged
            and parts
            and merged[-1].get("name") == output.get("name")
        )
        if same:
            parts.append(_text(output.get("text", "")))
            continue
        if parts and len(parts) > 1:
            merged[-1] = _stream(merged[-1].get("name"), "".join(parts))
        parts = []
        if output is None:
            break
        merged.append(output)
        if output.get("output_type") == "stream":
            parts = [_text(output.get("text", ""))]
    return merged


def _fit(data: bytes, budget: int) -> int:
    """How many bytes of `data` (from its start) fit in `budget` as output_bytes counts them."""
    return max(0, budget - 8 * data[:budget].count(b"\n"))


def _head(text: str, budget: int) -> str:
    """The start of `text` within `budget` bytes, ending at a line break when there is one."""
    data = text.encode("utf-8", "replace")
    cut = data[: _fit(data, budget)].decode("utf-8", "ignore")
    return cut[: cut.rfind("\n") + 1] if "\n" in cut else cut


def _tail(text: str, budget: int) -> str:
    data = text.encode("utf-8", "replace")
    size = _fit(data[::-1], budget)
    cut = data[len(data) - size :].decode("utf-8", "ignore") if size else ""
    return cut[cut.find("\n") + 1 :] if "\n" in cut[:-1] else cut


def _short_error(output):
    lines = output.get("traceback", [])
    if len(lines) > TRACEBACK_LINES:
        half = TRACEBACK_LINES // 2
        output["traceback"] = (
            lines[:half]
            + [f"{NOTE}... {len(lines) - TRACEBACK_LINES} lines of the traceback cut ..."]
            + lines[-half:]
        )
    output["traceback"] = [line[:20_000] for line in output.get("traceback", [])]
    return output


def _human(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _record(cell, original: int, kept: int, why: str) -> None:
    ours = cell.metadata.setdefault("autograder", {})
    before = ours.get("output_cut") or {}
    ours["output_cut"] = {
        "bytes": max(original, before.get("bytes", 0)),
        "kept": kept,
        "lines": before.get("lines", 0),
        "why": before.get("why", why),
    }


class OutputGuard:
    """Inside run_one, while a cell runs: outputs past the cell's bound are counted and dropped as they
    arrive (only the end of the streams is kept), so that a notebook printing millions of lines holds
    a few MB in memory, not gigabytes. `finish` then cuts the cell as bound_cell does."""

    KINDS = ("stream", "display_data", "execute_result")

    def __init__(self, limit: int | None):
        self.limit = limit
        self.kept: dict[int, int] = defaultdict(int)
        self.dropped: dict[int, dict] = {}

    def admit(self, cell_index: int, msg: dict) -> bool:
        """Whether this output message goes into the cell (errors and display updates always do)."""
        if not self.limit or msg.get("msg_type") not in self.KINDS or self.kept[cell_index] <= self.limit:
            return True
        content = msg.get("content", {})
        gone = self.dropped.setdefault(
            cell_index, {"bytes": 0, "lines": 0, "tail": deque(), "tail_chars": 0, "name": "stdout"}
        )
        if msg["msg_type"] == "stream":
            text = str(content.get("text", ""))
            lines = text.count("\n")
            gone["bytes"] += len(text) + 8 * lines
            gone["lines"] += lines
            gone["tail"].append(text)
            gone["tail_chars"] += len(text)
            gone["name"] = content.get("name", "stdout")
            while (
                len(gone["tail"]) > 1 and gone["tail_chars"] - len(gone["tail"][0]) > self.limit // TAIL_SHARE
            ):
                gone["tail_chars"] -= len(gone["tail"].popleft())
        else:
            gone["bytes"] += len(json.dumps(content.get("data", {})))
        return False

    def added(self, cell_index: int, output) -> None:
        if output is not None:
            self.kept[cell_index] += output_bytes(output)

    def finish(self, cell, cell_index: int) -> bool:
        """Cut the cell (its kept outputs and what was dropped) to the bound; True if it was cut."""
        self.kept.pop(cell_index, None)
        gone = self.dropped.pop(cell_index, None)
        return bound_cell(cell, self.limit, gone)


def bound_cell(cell, limit: int | None, dropped: dict | None = None) -> bool:
    """Keep one cell's outputs within `limit` bytes; True if something was cut. `dropped`: what an
    OutputGuard already left out while the cell ran (its size, lines, and the end of its streams)."""
    outputs = _coalesce(cell.get("outputs", []))
    total = sum(output_bytes(o) for o in outputs)
    extra_lines = 0
    if dropped:  # the end of the dropped streams goes where it came: after the kept ones, before the errors
        tail = _stream(dropped["name"], "".join(dropped["tail"]))
        at = next((i for i, o in enumerate(outputs) if o.get("output_type") == "error"), len(outputs))
        outputs.insert(at, tail)
        total += dropped["bytes"]
        extra_lines = dropped["lines"] - tail["text"].count("\n")
        outputs = _coalesce(outputs)
    cell["outputs"] = outputs
    if not limit or (total <= limit and not dropped):
        return False
    head_budget = limit - limit // TAIL_SHARE
    head, errors, dropped_text, last_stream = [], [], [], None
    used = 0
    for output in outputs:
        if output.get("output_type") == "error":
            errors.append(_short_error(output))
            continue
        size = output_bytes(output)
        if used + size <= head_budget and not dropped_text:
            head.append(output)
            used += size
            continue
        if output.get("output_type") == "stream":
            text = _text(output.get("text", ""))
            if used < head_budget and not dropped_text:
                part = _head(text, head_budget - used)
                if part:
                    head.append(_stream(output.get("name", "stdout"), part))
                used = head_budget
                text = text[len(part) :]
            dropped_text.append(text)
            last_stream = output.get("name", "stdout")
        else:
            dropped_text.append("")  # a figure or table over the bound: not kept
    rest = "".join(dropped_text)
    tail = _tail(rest, limit // TAIL_SHARE) if rest else ""
    lines = rest.count("\n") - tail.count("\n") + max(extra_lines, 0)
    cut_bytes = total - used - len(tail.encode("utf-8", "replace")) - sum(output_bytes(e) for e in errors)
    note = (
        f"\n{NOTE}{_human(max(cut_bytes, 0))} of this cell's output{f' ({lines:,} lines)' if lines else ''} "
        f"cut here: the grader keeps {_human(limit)} per cell.{' The end of the output follows.' if tail else ''}\n"
    )
    cell["outputs"] = (
        head + [_stream("stderr", note)] + ([_stream(last_stream, tail)] if tail else []) + errors
    )
    _record(cell, total, sum(output_bytes(o) for o in cell["outputs"]), "cell")
    cell.metadata["autograder"]["output_cut"]["lines"] = max(lines, 0)
    return True


def bound_notebook(nb, cell_limit: int | None, notebook_limit: int | None) -> list[dict]:
    """Every code cell within `cell_limit`, then the notebook within `notebook_limit` (the outputs of
    the cells past it replaced by a note, their errors kept). Returns the cuts, from the cells'
    metadata (also those run_one made): [{"cell": index, "bytes": ..., "kept": ..., "lines": ...}]."""
    used = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        bound_cell(cell, cell_limit)
        size = sum(output_bytes(o) for o in cell.get("outputs", []))
        if notebook_limit and used + size > notebook_limit and size:
            errors = [_short_error(o) for o in cell.outputs if o.get("output_type") == "error"]
            cell["outputs"] = [
                _stream(
                    "stderr",
                    f"{NOTE}The output of this cell ({_human(size)}) was not kept: "
                    f"the grader keeps {_human(notebook_limit)} of output for the "
                    "whole notebook.\n",
                )
            ] + errors
            _record(cell, size, sum(output_bytes(o) for o in cell.outputs), "notebook")
            size = sum(output_bytes(o) for o in cell.outputs)
        used += size
    return [
        {"cell": index, **cell.metadata["autograder"]["output_cut"]}
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.metadata.get("autograder") or {}).get("output_cut")
    ]
