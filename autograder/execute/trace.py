"""The protocol trace: what the notebook did with the matbench API, recorded inside the kernel by
`kernel_startup/autograder_trace.py` and copied by the engine to
autograded/{student}/{assignment}/protocol_trace.jsonl. One JSON object per line:

    {"event": "trace_start", "nonce": "<hex from the engine>", "t": ...}      always first
    {"event": "cell", "index": 7, "cell": 7, "t": ...}                         a cell starts
    {"event": "benchmark_init", "subset": [...], "tasks": [...], "autoload": false, ...}
    {"event": "task_load", "task": "matbench_glass", ...}                      (autoload: true if by __init__)
    {"event": "get_train_and_val_data", "task": ..., "fold": 0, "as_type": "tuple", ...}
    {"event": "get_test_data", "task": ..., "fold": 0, "include_target": false, ...}
    {"event": "df_access", "task": ..., "inside_fold_loop": true, ...}         whole task.df read by notebook code
    {"event": "record", "task": ..., "fold": 0, "n_predictions": 921, "already_recorded": false,
                        "with_uncertainty": false, ["error": "..."], ...}
    {"event": "to_file", "path": "results.json.gz", "sha256": "...", ...}
    {"event": "trace_error", ...}                                              the tracer itself failed

Every event after trace_start carries "cell" (the index of the cell running, in the executed
notebook) and "t" (Unix time). df_access is recorded once per (task, inside_fold_loop, cell).

The nonce is generated per execution by the engine and stored in result.json at
`environment.trace_nonce`; a trace whose first line is not trace_start with that nonce is not a
trace of this run. Light module: the checks import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Trace:
    events: list[dict] = field(default_factory=list)
    valid: bool = False
    problem: str = ""  # plain words when not valid
    bad_lines: int = 0


def read_trace(path: Path, nonce: str | None) -> Trace:
    """Read and validate a trace. Never raises for a bad file: says what is wrong instead."""
    path = Path(path)
    if not path.is_file():
        return Trace(
            problem="no protocol trace was written (the notebook never started, or the trace "
            "file was removed)"
        )
    events, bad = [], 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(event, dict) and isinstance(event.get("event"), str):
                    events.append(event)
                else:
                    bad += 1
    except OSError as error:
        return Trace(problem=f"the protocol trace could not be read ({error.strerror})")
    if not events or events[0].get("event") != "trace_start":
        return Trace(events, False, "the protocol trace does not start with the grader's start record", bad)
    if not nonce or events[0].get("nonce") != nonce:
        return Trace(events, False, "the protocol trace does not belong to this run (wrong nonce)", bad)
    starts = [e for e in events[1:] if e.get("event") == "trace_start"]
    if starts:
        return Trace(events, False, "the protocol trace was started more than once", bad)
    return Trace(events, True, "" if not bad else f"{bad} unreadable line(s) were skipped", bad)
