"""protocol.* as the code shows it: the notebook evaluates with the Matbench API, or rebuilds the
official folds (protocol.api_used); no split of its own stands in for the folds (protocol.own_split);
the model is trained on all the data, not a subsample (protocol.subsample).
"""

from __future__ import annotations

import ast

from autograder.checks import ANALYSIS, check
from autograder.checks.analysis import (
    CV_FUNCTIONS,
    GROUP_SPLITTERS,
    OFFICIAL_SEED,
    SPLITTERS,
    dotted,
    literal,
    names_in,
)
from autograder.checks.protocol.evidence import trace_events
from autograder.layout import RESULTS_FILE as RESULTS_NAME  # the file name (RESULTS_FILE is a need)
from autograder.records import FAIL, PASS, WARN, Finding

# --- the protocol as a whole --------------------------------------------------------------------


@check("protocol.api_used", needs=(ANALYSIS,))
def api_used(ctx, spec) -> list[Finding]:
    """The notebook evaluates with the Matbench API (or reproduces the official folds)."""
    a = ctx.analysis
    if a.uses_api:
        unrun = _recording_not_reached(ctx)
        if unrun:
            return [
                spec.finding(
                    PASS,
                    "Judged from the code, the notebook evaluates with the Matbench API (each "
                    "official fold's training data, its test inputs, and `record` of the "
                    f"predictions), but the grader's run never recorded a fold: {unrun}",
                    advice="Make the notebook run from the top without errors (see the failed cells), "
                    "so that its Matbench loop runs and saves the results.",
                    details={
                        "protocol_cell": a.protocol_cell_index,
                        "judged_from": "code",
                        "recording_not_reached": unrun,
                    },
                )
            ]
        return [
            spec.finding(
                PASS,
                "The notebook evaluates with the Matbench API: each official fold's training "
                "data, its test inputs, and `record` of the predictions.",
                details={"protocol_cell": a.protocol_cell_index},
            )
        ]
    records = [c for c in a.all.calls if c.attr == "record"]
    if records and ctx.analysis.constructs_benchmark:
        return [
            spec.finding(
                FAIL,
                "The notebook records predictions with `task.record` "
                f"({records[0].where()}) but never asks Matbench for a fold's training data or "
                "test inputs (`task.get_train_and_val_data`, `task.get_test_data`): the "
                "predictions come from elsewhere, so nothing shows they were made by a model "
                "trained on each official fold's training data only.",
                advice="Train and predict inside the Matbench loop: for each fold, fit on "
                "`task.get_train_and_val_data(fold)` and predict `task.get_test_data(fold)`.",
                details={"record_calls": [c.where() for c in records]},
            )
        ]
    official = [c for c in a.all.calls_named("KFold", "StratifiedKFold") if _is_official_splitter(c)]
    if official:
        shuffled = [
            c
            for c in a.student.calls_named("sample", "shuffle")
            if c.attr == "shuffle" or c.keyword_value("frac") == 1
        ]
        note = " but the rows are shuffled first, which changes the folds" if shuffled else ""
        return [
            spec.finding(
                WARN if not shuffled else FAIL,
                "The notebook does not use the Matbench API, but builds the official folds itself "
                f"({official[0].text()}){note}. The grader cannot recompute your scores without the "
                "results file that the API writes.",
                advice="Use the template's locked protocol cell: it records your predictions on the "
                f"official folds and saves them in {RESULTS_NAME}.",
                details={"where": official[0].where(), "shuffled_first": bool(shuffled)},
            )
        ]
    splits = [c.text() for c in a.all.calls_named(*SPLITTERS)][:3]
    restored = [c.get("grade_id") for c in ctx.restored_cells if c.get("kind") == "restored_deleted_cell"]
    rerun = (
        " The grader put the locked protocol cell back before running your notebook, so official scores "
        "were still computed from your `featurise`, `train_model` and `predict`."
        if "protocol" in restored and ctx.results is not None
        else ""
    )
    return [
        spec.finding(
            FAIL,
            "Matbench protocol not followed: the notebook never records predictions with the Matbench "
            "API (`task.get_train_and_val_data`, `task.get_test_data`, `task.record`), so its scores "
            "are not on the official folds and cannot be compared with the leaderboard."
            + (f" It evaluates on its own split instead ({splits[0]})." if splits else "")
            + rerun,
            advice="Start from the released template: put your featurisation, model and prediction in "
            "`featurise`, `train_model` and `predict`, and let the locked protocol cell train and "
            "test them on the five official folds.",
            details={
                "own_splits": splits,
                "uses_load_dataset": bool(a.all.calls_named("load_dataset")),
                "grader_restored_cells": [
                    c.get("grade_id") for c in ctx.restored_cells if c.get("kind") == "restored_deleted_cell"
                ],
            },
        )
    ]


def _recording_not_reached(ctx) -> str:
    """Why the run never recorded a fold although the code records, in a sentence ("" when it did, or
    when there was no run to tell): which cells that record did not complete, and the first error
    the run met before or in them."""
    record = ctx.record
    if record is None or not record.cells or ctx.results is not None:
        return ""
    events = trace_events(ctx, "record")
    if events:
        return ""
    recording = sorted({c.cell.number for c in ctx.analysis.all.calls if c.attr == "record"})
    runs = {run.number: run for run in record.cells if run.number is not None}
    not_completed = [n for n in recording if n in runs and runs[n].status != "completed"]
    if not not_completed:
        return ""
    errors = [
        run
        for run in record.cells
        if run.status == "failed"
        and run.error
        and run.number is not None
        and run.number <= max(not_completed)
    ]
    one = len(not_completed) == 1
    which = (
        f"the cell that records (cell {not_completed[0]})"
        if one
        else "the cells that record (cells " + ", ".join(str(n) for n in not_completed) + ")"
    )
    outcome = "never ran" if {runs[n].status for n in not_completed} == {"pending"} else "did not complete"
    if not errors:
        return f"{which} {outcome}: the run stopped before {'it' if one else 'them'}."
    first = errors[0]
    evalue = str(first.error.get("evalue", "")).strip().splitlines()
    error = first.error.get("ename", "an error") + (f" ({evalue[0][:160]})" if evalue else "")
    if [run.number for run in errors] == [not_completed[0]]:
        return f"{which} {outcome}: it raised {error}."
    return f"{which} {outcome}; the run's first error was in cell {first.number}, which raised {error}."


def _is_official_splitter(call) -> bool:
    if call is None:
        return False
    n_splits = call.keyword_value("n_splits", literal(call.node.args[0]) if call.node.args else 5)
    return (
        n_splits == 5
        and call.keyword_value("shuffle") is True
        and call.keyword_value("random_state") == OFFICIAL_SEED
    )


# --- static signals ---------------------------------------------------------------------------------


def _outside_model(call, a) -> bool:
    return call.function not in a.loop_called_functions and call.function not in a.featurise_functions


@check("protocol.own_split", needs=(ANALYSIS,))
def own_split(ctx, spec) -> list[Finding]:
    """No evaluation on a split of the student's own instead of the official folds."""
    a = ctx.analysis
    own, official, inner, extrapolation = [], [], [], []
    official_names = {
        t
        for x in a.student.assignments
        if isinstance(x.value, ast.Call)
        and dotted(x.value.func).rsplit(".", 1)[-1] in ("KFold", "StratifiedKFold")
        and _is_official_splitter(_call_site_of(a, x.value))
        for t in x.targets
    }
    for call in a.student.calls_named(*SPLITTERS, *CV_FUNCTIONS):
        cv = call.keyword("cv")
        if (
            call.attr in ("KFold", "StratifiedKFold")
            and _is_official_splitter(call)
            or call.attr in CV_FUNCTIONS
            and cv is not None
            and (
                dotted(cv) in official_names
                or (isinstance(cv, ast.Call) and _is_official_splitter(_call_site_of(a, cv)))
            )
        ):
            official.append(call)
        elif _outside_model(call, a):
            if call.attr in CV_FUNCTIONS and not _mentions_full_data(call, a) and call.function:
                inner.append(call)
            elif call.attr in GROUP_SPLITTERS and a.uses_api:
                extrapolation.append(call)
            else:
                own.append(call)
        else:
            inner.append(call)
    details = {
        "own": [f"{c.text()} ({c.where()})" for c in own],
        "official_folds_reproduced": [f"{c.text()} ({c.where()})" for c in official],
        "inside_model": [f"{c.text()} ({c.where()})" for c in inner],
        "extrapolation_tests": [f"{c.text()} ({c.where()})" for c in extrapolation],
    }
    if own:
        first = own[0]
        if a.uses_api:
            return [
                spec.finding(
                    WARN,
                    f"Besides the official folds, the notebook evaluates on a split of its own "
                    f"({first.text()}, {first.where()}). Those figures are not comparable with "
                    "the leaderboard; what counts is the protocol's mean ± std.",
                    advice="Report the official scores; keep your own splits inside `train_model` "
                    "(inner validation) or label them clearly as extra analysis.",
                    details=details,
                )
            ]
        return [
            spec.finding(
                FAIL,
                f"The model is evaluated on a split of its own ({first.text()}, {first.where()}) "
                "instead of the five official Matbench folds, so its scores cannot be compared "
                "with the leaderboard.",
                advice="Use the locked protocol cell: it trains and tests on the official folds.",
                details=details,
            )
        ]
    if official:
        return [
            spec.finding(
                PASS,
                "The notebook reproduces the official folds (KFold/StratifiedKFold with n_splits=5, "
                f"shuffle=True, random_state={OFFICIAL_SEED}).",
                details=details,
            )
        ]
    notes = (["splits inside `train_model` are inner validation"] if inner else []) + (
        ["grouped splits are an extrapolation test"] if extrapolation else []
    )
    return [
        spec.finding(
            PASS,
            "No split of the notebook's own replaces the official folds"
            + (f" ({'; '.join(notes)})." if notes else "."),
            details=details,
        )
    ]


def _call_site_of(a, node):
    return next((c for c in a.student.calls if c.node is node), None) or next(
        (c for c in a.all.calls if c.node is node), None
    )


def _mentions_full_data(call, a) -> bool:
    names = names_in(call.node)
    return bool(names & a.full_data_names) or a.uses_task_df(call.node)


@check("protocol.subsample", needs=(ANALYSIS,))
def subsample(ctx, spec) -> list[Finding]:
    """The model is trained and tested on all the data, not a subsample."""
    a = ctx.analysis
    fast_on = [
        x
        for x in a.student.assignments
        if any(t in ("fast_mode", "teaching_mode", "FAST_MODE") for t in x.targets)
        and literal(x.value) is True
    ]
    samples, shuffles = [], []
    for call in a.student.calls_named("sample"):
        if a.student.switched_off(call.guards):
            continue
        frac = call.keyword_value("frac")
        n = call.keyword_value("n", literal(call.node.args[0]) if call.node.args else None)
        if frac is not None and frac >= 1 and n is None:
            shuffles.append(call)
        elif n is not None or (frac is not None and frac < 1):
            samples.append(call)
    heads = [
        c
        for c in a.student.calls_named("head")
        if c.node.args
        and isinstance(literal(c.node.args[0]), int)
        and literal(c.node.args[0]) >= 100
        and (c.function in a.loop_called_functions or _mentions_full_data(c, a))
    ]
    reassigned = []
    for x in a.student.assignments:
        if a.student.switched_off(x.guards):
            continue
        calls = {dotted(n.func).rsplit(".", 1)[-1] for n in ast.walk(x.value) if isinstance(n, ast.Call)}
        if ("sample" in calls or "head" in calls) and any(
            t.endswith(".df") or t in ("df", "all_features", "features", "targets", "X", "y", "data")
            for t in x.targets
        ):
            if "sample" in calls and any(c.node in list(ast.walk(x.value)) for c in shuffles):
                continue
            reassigned.append(x)
    details = {
        "fast_mode": bool(fast_on),
        "samples": [f"{c.text()} ({c.where()})" for c in samples + heads],
        "shuffles": [f"{c.text()} ({c.where()})" for c in shuffles],
        "data_replaced_by_subsample": [ast.unparse(x.value)[:120] for x in reassigned],
    }
    if (fast_on and (samples or heads)) or reassigned:
        where = (samples + heads)[0] if samples or heads else None
        return [
            spec.finding(
                FAIL,
                "The model is trained on a subsample of the data"
                + (f" ({where.text()}, {where.where()})" if where else "")
                + (" with `fast_mode` switched on" if fast_on else "")
                + ". The official protocol trains on every training material of each fold, so "
                "these scores are not comparable with the leaderboard.",
                advice="Switch fast mode off (or remove the subsampling) and run the whole notebook again "
                "before you submit.",
                details=details,
            )
        ]
    if samples or heads:
        first = (samples + heads)[0]
        return [
            spec.finding(
                WARN,
                f"The notebook subsamples data ({first.text()}, {first.where()}). That is fine for "
                "exploring or for a quicker inner search, but the final model must be trained on "
                "all of each fold's training data.",
                details=details,
            )
        ]
    return [spec.finding(PASS, "No subsampling of the data.", details=details)]
