"""protocol.* read from the protocol trace of the run (and from the code when there is none): the
trace is genuine, the test targets are not requested before every fold is recorded, the model code in
the fold loop reads only its fold's data, no fold is recorded twice.
"""

from __future__ import annotations

import re

from autograder.checks import CODE_OR_TRACE, check
from autograder.checks.analysis import FIT_METHODS, names_in
from autograder.checks.protocol.evidence import output_text, trace_events
from autograder.records import FAIL, NOT_APPLICABLE, PASS, WARN, Finding

ALREADY_RECORDED = re.compile(r"Fold number (\d) already recorded! Aborting record")


# --- the trace -------------------------------------------------------------------------------------


@check("protocol.trace")
def trace(ctx, spec) -> list[Finding]:
    """The grader's protocol trace of the run is present and genuine."""
    if not ctx.trace_expected:
        return [
            spec.finding(
                NOT_APPLICABLE,
                "No protocol trace: the notebook was not run by the grader's "
                "instrumented kernel. `autograder check --execute` runs it that way.",
            )
        ]
    if ctx.trace is None:
        return [
            spec.finding(
                FAIL,
                "The record of what the notebook did with the Matbench API (the protocol trace) "
                "is missing, so the protocol could not be verified from the run; a marker will "
                "check it by hand.",
                advice="Do not restart the kernel, re-import matbench from another place or delete files "
                "in the working folder from inside the notebook.",
                details={"error": ctx.trace_error},
            )
        ]
    if not ctx.trace_valid:
        return [
            spec.finding(
                FAIL,
                "The protocol trace of the run is not the grader's (its start marker is missing, "
                "repeated or does not match), so it cannot be trusted; a marker will check the "
                "protocol by hand.",
                details={
                    "problem": ctx.trace.problem,
                    "starts_found": len(ctx.trace.nonces),
                    "bad_lines": ctx.trace.bad_lines,
                },
            )
        ]
    counts = {}
    for event in ctx.trace.events:
        counts[event.get("event")] = counts.get(event.get("event"), 0) + 1
    return [
        spec.finding(
            PASS,
            "The grader's protocol trace of the run is present.",
            details={"events": counts, "bad_lines": ctx.trace.bad_lines},
        )
    ]


@check("protocol.test_targets", needs=(CODE_OR_TRACE,))
def test_targets(ctx, spec) -> list[Finding]:
    """The test targets were not requested before every fold's predictions were recorded
    (get_test_data(include_target=True)). Asking for them afterwards, to compute one's own error or
    plot the residuals, cannot change the recorded scores."""
    events = trace_events(ctx, "get_test_data")
    static = ctx.analysis.test_target_calls if ctx.analysis is not None else []
    details = {"code": [f"{c.text()} ({c.where()})" for c in static]}
    last_record = _last_record_call(ctx.analysis)
    early_in_code = [c for c in static if last_record is None or not _comes_after(c, last_record)]
    if events is not None:
        before, after = _target_requests_by_the_trace(ctx.trace.events)
        details.update(trace_calls=len(before) + len(after), trace_calls_after_recording=len(after))
        judged = "the run's trace"
    else:
        before, after = early_in_code, [c for c in static if c not in early_in_code]
        judged = "the code"
    if before:
        shown = early_in_code or static
        where = f" ({shown[0].text()}, {shown[0].where()})" if shown else ""
        return [
            spec.finding(
                FAIL,
                "The notebook asks for the test folds' targets with "
                f"`get_test_data(..., include_target=True)`{where} before all the predictions "
                "are recorded. The test targets must not be seen before the predictions are "
                "recorded: using them for tuning or selection makes the scores optimistic.",
                advice="Tune and select only on the training part of each fold (inside `train_model`); "
                "look at test errors only after recording, from the results.",
                details=details,
            )
        ]
    if after:
        where = f" ({static[0].where()})" if static else ""
        return [
            spec.finding(
                PASS,
                "The notebook asks for the test targets only after every fold's predictions were "
                f"recorded{where}, to compute its own errors: the recorded scores cannot depend "
                f"on them (judged from {judged}).",
                details=details,
            )
        ]
    source = "the run's trace and the code" if events is not None else "the code"
    return [spec.finding(PASS, f"The test targets are never requested ({source}).", details=details)]


def _target_requests_by_the_trace(events: list[dict]) -> tuple[list[dict], list[dict]]:
    """get_test_data(include_target=True) events, split into those made before the last fold of
    their task was recorded and those made after every recording."""
    last_record_of = {}
    for position, event in enumerate(events):
        if event.get("event") == "record" and not event.get("error"):
            last_record_of[event.get("task")] = position
    before, after = [], []
    for position, event in enumerate(events):
        if event.get("event") == "get_test_data" and event.get("include_target"):
            recorded = last_record_of.get(event.get("task"))
            (after if recorded is not None and position > recorded else before).append(event)
    return before, after


def _last_record_call(analysis):
    records = [c for c in analysis.all.calls if c.attr == "record"] if analysis is not None else []
    return max(records, key=lambda c: (c.cell.index, c.line), default=None)


def _comes_after(call, record) -> bool:
    """`call` runs after every `record`: a later cell's top-level code (not code a function or the
    fold loop may call earlier)."""
    return call.function is None and call.cell.index > record.cell.index


@check("protocol.full_data_in_loop", needs=(CODE_OR_TRACE,))
def full_data_in_loop(ctx, spec) -> list[Finding]:
    """The model code inside the fold loop does not read the whole data set (test targets included)."""
    a = ctx.analysis
    events = trace_events(ctx, "df_access")
    inside = _df_reads_in_loop(ctx) if events is not None else []
    hard, soft = [], []
    if a is not None:
        loop_fns = a.loop_called_functions
        full = a.full_data_names
        for attr in a.student.attributes:
            if attr.function in loop_fns and attr.name.endswith(".df"):
                hard.append(f"`{attr.name}` in `{attr.function}` (cell {attr.cell.number})")
        for name, uses in a.student.names_read.items():
            for cell, function in uses:
                if function in loop_fns and name in full:
                    (hard if name != "all_features" else soft).append(
                        f"`{name}` in `{function}` (cell {cell.number})"
                    )
        for call in a.student.calls:
            if (
                call.function in loop_fns
                and call.attr in FIT_METHODS
                and names_in(call.node) & {"all_features"}
            ):
                hard.append(f"{call.text()} ({call.where()})")
    details = {
        "trace_df_access_in_loop": len(inside),
        "code": sorted(set(hard)),
        "code_soft": sorted(set(soft)),
    }
    if inside or hard:
        what = f" ({sorted(set(hard))[0]})" if hard else ""
        return [
            spec.finding(
                FAIL,
                "Inside the fold loop your model code reads the whole data set, test materials and "
                f"their targets included{what}. A model that sees the test fold while training is "
                "not tested on unseen data, and its score is meaningless.",
                advice="`train_model` and `predict` must use only their arguments: the fold's training "
                "features and targets, and the test features.",
                details=details,
            )
        ]
    if soft:
        return [
            spec.finding(
                WARN,
                f"Your model code reads `all_features` ({soft[0]}), the features of every material "
                "including the test fold. Fitting anything on them leaks the test set.",
                advice="Use only the `features` passed to `train_model`/`predict`.",
                details=details,
            )
        ]
    return [
        spec.finding(PASS, "The model code in the fold loop only uses the data it is given.", details=details)
    ]


def _df_reads_in_loop(ctx) -> list[dict]:
    """df_access events that happened inside a fold loop: flagged by the trace as inside the loop,
    in a cell that had already asked for a fold's data (the protocol cell's own read of task.df
    before its loop starts, or a later analysis cell, do not count)."""
    found, fold_cells = [], set()
    for event in ctx.trace.events:
        kind = event.get("event")
        if kind in ("get_train_and_val_data", "get_test_data"):
            fold_cells.add(event.get("cell"))
        elif kind == "df_access" and event.get("inside_fold_loop") and event.get("cell") in fold_cells:
            found.append(event)
    return found


@check("protocol.record_twice", needs=(CODE_OR_TRACE,))
def record_twice(ctx, spec) -> list[Finding]:
    """No fold was recorded twice (matbench keeps the first predictions and ignores later ones)."""
    events = trace_events(ctx, "record")
    repeats = sorted(
        {int(e["fold"]) for e in events or [] if e.get("already_recorded") and isinstance(e.get("fold"), int)}
    )
    if events is not None:
        seen = {}
        for e in events:
            if isinstance(e.get("fold"), int) and not e.get("error"):
                seen[e["fold"]] = seen.get(e["fold"], 0) + 1
        repeats = sorted(set(repeats) | {f for f, n in seen.items() if n > 1})
    text_repeats = sorted({int(m.group(1)) for m in ALREADY_RECORDED.finditer(output_text(ctx))})
    own_records = []
    if ctx.analysis is not None:
        own_records = [
            f"{c.text()} ({c.where()})"
            for c in ctx.analysis.student.calls_named("record")
            if c.receiver and c.attr == "record"
        ]
    details = {"trace_repeats": repeats, "output_repeats": text_repeats, "own_record_calls": own_records}
    folds = sorted(set(repeats) | set(text_repeats))
    if folds:
        return [
            spec.finding(
                FAIL,
                f"Fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))} "
                f"{'were' if len(folds) > 1 else 'was'} recorded more than once. Matbench keeps the "
                "first predictions and silently ignores later ones, so the results hold stale "
                "predictions, not those of your final model."
                + (f" Your own code records too: {own_records[0]}." if own_records else ""),
                advice="Do not call `task.record` yourself; restart the kernel and run all cells once.",
                details=details,
            )
        ]
    on_template = ctx.notebook is not None and ctx.notebook.on_template
    if own_records and not on_template:  # the notebook's own Matbench loop is its protocol
        return [
            spec.finding(PASS, "Each fold was recorded once, by your own Matbench loop.", details=details)
        ]
    if own_records:
        return [
            spec.finding(
                WARN,
                f"Your own code calls `record` ({own_records[0]}). Only the locked protocol cell "
                "should record: a fold recorded earlier keeps its first predictions.",
                advice="Remove your own `record` calls.",
                details=details,
            )
        ]
    return [spec.finding(PASS, "Each fold was recorded once.", details=details)]
