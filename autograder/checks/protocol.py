"""protocol.*: was the Matbench protocol followed, and are the recorded predictions what they
should be? (reference: shared/reference/matbench-and-course.md §1, the 14 ways of breaking it.)

Sources of evidence, strongest first: the results file and the ground truth (rescored by us), the
protocol trace written by the grader's instrumented kernel, the notebook's code (static analysis
with `ast`) and its saved outputs.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

from autograder.checks import (
    ANALYSIS,
    CHALLENGE,
    CODE_OR_SCORE,
    CODE_OR_TRACE,
    NOTEBOOK,
    RESULTS,
    RESULTS_FILE,
    SCORE,
    TRUTH,
    check,
)
from autograder.checks.analysis import (
    CV_FUNCTIONS,
    EARLY_STOPPING_KEYWORDS,
    FIT_METHODS,
    GROUP_SPLITTERS,
    METRIC_FUNCTIONS,
    OFFICIAL_SEED,
    PREPROCESSORS,
    REORDERING_METHODS,
    SPLITTERS,
    dotted,
    literal,
    names_in,
)
from autograder.checks.dataflow import FILE, TEST, TRAIN, WHOLE, segment
from autograder.layout import RESULTS_FILE as RESULTS_NAME  # the file name (RESULTS_FILE is a need)
from autograder.records import (
    COULD_NOT_RUN,
    FAIL,
    INFO,
    MARKER,
    NOT_APPLICABLE,
    PASS,
    WARN,
    Finding,
)
from autograder.results.metrics import format_score

RUN_ALL = (
    "Restart the kernel and run the whole notebook from the top, so that the locked protocol "
    f"cell records all five folds and saves {RESULTS_NAME}."
)
RECORDED_FOLD = re.compile(r"Recorded fold (matbench_\w+)-(\d) successfully")
ALREADY_RECORDED = re.compile(r"Fold number (\d) already recorded! Aborting record")


def _output_text(ctx) -> str:
    nb = ctx.notebook
    return "" if nb is None else "\n".join(c.output_text() for c in nb.code_cells)


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
    events = _trace_events(ctx, "record")
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


# --- the results file ---------------------------------------------------------------------------


@check("protocol.results_file")
def results_file(ctx, spec) -> list[Finding]:
    """The results file exists, is matbench's format (plain JSON or gzip) and was not edited."""
    name = Path(ctx.results_path).name if ctx.results_path else RESULTS_NAME
    if ctx.results_error == "missing":
        ran = ""
        if ctx.record is not None and ctx.record.status == "failed":
            ran = (
                " When the grader ran the notebook, an error in an earlier cell kept it from saving its "
                "predictions (see execution.cell_errors)."
                if any(c.status == "failed" for c in ctx.record.cells)
                else " The grader's run stopped before the notebook could save them."
            )
        return [
            spec.finding(
                FAIL,
                f"No results file ({name}): the notebook did not save its predictions.{ran}",
                advice=RUN_ALL,
            )
        ]
    if ctx.results is None:
        return [spec.finding(FAIL, f"The results file cannot be used: {ctx.results_error}", advice=RUN_ALL)]
    r = ctx.results
    details = {"gzip": r.compressed, "bytes": r.size, "tasks": sorted(r.tasks), "sha256": r.sha256}
    problems = list(r.problems)
    for task in r.tasks.values():
        problems.extend(task.problems)
    hash_ok = r.hash_matches()
    if hash_ok is False:
        return [
            spec.finding(
                FAIL,
                "The results file was modified after matbench wrote it: its contents do not "
                "match the hash matbench stored in it.",
                advice=f"Never edit {RESULTS_NAME} by hand; re-run the notebook to write it again.",
                details={**details, "problems": problems},
            )
        ]
    if problems:
        return [
            spec.finding(
                FAIL,
                "The results file is not a complete matbench results file: " + "; ".join(problems[:5]) + ".",
                advice=RUN_ALL,
                details={**details, "problems": problems},
            )
        ]
    kind = (
        "gzip-compressed JSON"
        if r.compressed
        else "plain JSON (as matbench 0.6 writes it, despite the .gz name)"
    )
    return [
        spec.finding(
            PASS,
            f"The results file loads ({kind}) and its matbench hash matches its contents.",
            details=details,
        )
    ]


@check("protocol.written_by_run", needs=(RESULTS_FILE,))
def written_by_run(ctx, spec) -> list[Finding]:
    """The results file was written by this run of the notebook, not copied in."""
    details = {"results_sha256": ctx.results.sha256, "results_mtime": ctx.results.mtime}
    static = _writes_results_itself(ctx)
    if static:
        details["student_code_writing_results"] = static
    if ctx.trace is not None and ctx.trace_valid:
        saves = ctx.trace.of("to_file")
        name = Path(ctx.results_path).name
        saves_here = [e for e in saves if Path(str(e.get("path", ""))).name == name] or saves
        details["trace_to_file"] = [{k: e.get(k) for k in ("path", "sha256", "t")} for e in saves]
        if not saves_here:
            return [
                spec.finding(
                    FAIL,
                    "The notebook never saved results during the grader's run, yet a results "
                    "file is there: it was not written by this run (copied in or left from "
                    "elsewhere), so it does not show what this notebook predicts.",
                    advice=RUN_ALL,
                    details=details,
                )
            ]
        last = saves_here[-1]
        if last.get("sha256") != ctx.results.sha256:
            return [
                spec.finding(
                    FAIL,
                    "The results file is not the one the notebook saved during the grader's "
                    "run: it was replaced or changed afterwards"
                    + (f" (by your code: {static[0]})" if static else "")
                    + ".",
                    advice=f"Let the locked protocol cell write {RESULTS_NAME} and do not copy, edit or "
                    "overwrite it afterwards.",
                    details=details,
                )
            ]
        return [
            spec.finding(
                PASS,
                "The results file is exactly the one the notebook saved during the grader's run.",
                details=details,
            )
        ]
    if ctx.trace_expected:
        # An instrumented run without a usable trace: fall back to the record and the file time.
        started = _run_started(ctx)
        if started is not None and ctx.results.mtime < started - 2:
            return [
                spec.finding(
                    FAIL,
                    "The results file is older than the grader's run of the notebook, so the "
                    "run did not write it.",
                    advice=RUN_ALL,
                    details={**details, "run_started": started},
                )
            ]
        return [
            spec.finding(
                WARN,
                "Could not confirm that the results file was written by the grader's run "
                "(the protocol trace is missing); a marker will check.",
                details=details,
                visibility=MARKER,
            )
        ]
    if static:
        return [
            spec.finding(
                WARN,
                f"Your own code writes or copies the results file ({static[0]}): the file may "
                "not hold the predictions of the locked protocol cell.",
                advice=f"Remove that code: only the locked protocol cell should write {RESULTS_NAME}.",
                details=details,
            )
        ]
    return [
        spec.finding(
            INFO,
            "Whether the results file comes from the notebook's last run cannot be confirmed "
            "without running it (the grader will). Run `autograder check --execute` to check it.",
            details=details,
        )
    ]


def _run_started(ctx) -> float | None:
    if ctx.trace is not None:
        starts = ctx.trace.of("trace_start")
        if starts and isinstance(starts[0].get("t"), (int, float)):
            return float(starts[0]["t"])
    if (
        ctx.record is not None
        and ctx.record.wall_seconds
        and ctx.notebook_path
        and Path(ctx.notebook_path).is_file()
    ):
        return Path(ctx.notebook_path).stat().st_mtime - float(ctx.record.wall_seconds)
    return None


def _writes_results_itself(ctx) -> list[str]:
    """Student code that writes/copies a results file (outside the locked protocol cell)."""
    a = ctx.analysis
    if a is None:
        return []
    found = []
    for call in a.student.calls:
        text = call.text()
        if (
            call.attr == "to_file"
            or (
                call.attr
                in (
                    "copy",
                    "copy2",
                    "copyfile",
                    "move",
                    "rename",
                    "replace",
                    "write_bytes",
                    "write_text",
                    "dump",
                )
                and ("results" in text)
            )
            or call.attr == "open"
            and "results" in text
            and any(
                isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "w" in arg.value
                for arg in call.node.args[1:2]
            )
        ):
            found.append(f"{text} ({call.where()})")
    return found


@check("protocol.task", needs=(CHALLENGE,))
def right_task(ctx, spec) -> list[Finding]:
    """The results (or, without results, the code) are for the student's allocated task."""
    want = ctx.challenge.task
    named = ctx.notebook.matbench_tasks() if ctx.notebook is not None else []
    if ctx.results is None:
        details = {
            "allocated": f"{ctx.challenge.letter} ({want})",
            "named_in_code": named,
            "in_file": None,
            "source": ctx.challenge_source,
        }
        others = [t for t in named if t != want]
        if others and want not in named:
            return [
                spec.finding(
                    FAIL,
                    f"Your notebook works on {', '.join(others)}, but your challenge is "
                    f"{ctx.challenge.letter} ({want}).",
                    advice=f"Work on your allocated task, {want}; if you think the allocation is wrong, "
                    "ask the course team before the deadline.",
                    details=details,
                )
            ]
        if want in named:
            return [
                spec.finding(
                    PASS,
                    f"Your code works on {want}, challenge {ctx.challenge.letter} (there is no "
                    "results file to confirm it: see protocol.results_file).",
                    details=details,
                )
            ]
        return [
            spec.finding(
                COULD_NOT_RUN,
                "Not checked: there is no readable results file, and the code names no Matbench task.",
                details=details,
            )
        ]
    tasks = sorted(ctx.results.tasks)
    details = {
        "allocated": f"{ctx.challenge.letter} ({want})",
        "in_file": tasks,
        "named_in_code": named,
        "source": ctx.challenge_source,
    }
    if want not in tasks:
        return [
            spec.finding(
                FAIL,
                f"The results are for {', '.join(tasks) or 'no task'}, but your challenge is "
                f"{ctx.challenge.letter} ({want}).",
                advice="Work on your allocated challenge: keep the task set up by the locked setup cell "
                "(do not create another MatbenchBenchmark or task in your own code).",
                details=details,
            )
        ]
    if len(tasks) > 1:
        return [
            spec.finding(
                WARN,
                f"The results file holds {len(tasks)} tasks ({', '.join(tasks)}); only {want} is graded.",
                details=details,
            )
        ]
    source = (
        " (taken from the results file itself: no allocation was given)"
        if ctx.challenge_source == "results file"
        else ""
    )
    return [
        spec.finding(
            PASS, f"The results are for {want}, challenge {ctx.challenge.letter}{source}.", details=details
        )
    ]


@check("protocol.folds_complete")
def folds_complete(ctx, spec) -> list[Finding]:
    """All five official folds were recorded."""
    if ctx.task_result is not None:
        tr = ctx.task_result
        present = sorted(f for f, r in tr.folds.items() if r.data)
        missing = [f for f in range(5) if f not in present]
        details = {"recorded": present, "missing": missing, "unexpected_keys": tr.bad_fold_keys}
        if tr.bad_fold_keys:
            return [
                spec.finding(
                    FAIL,
                    f"The results have unexpected folds {tr.bad_fold_keys}; Matbench has folds 0 to 4 only.",
                    advice=RUN_ALL,
                    details=details,
                )
            ]
        if missing:
            return [
                spec.finding(
                    FAIL,
                    f"Only {len(present)} of the 5 folds were recorded (missing: "
                    f"{', '.join(map(str, missing))}). The leaderboard score is the mean over all "
                    "five.",
                    advice=RUN_ALL,
                    details=details,
                )
            ]
        return [spec.finding(PASS, "All five official folds were recorded.", details=details)]
    if ctx.results is not None:
        return [
            spec.finding(
                COULD_NOT_RUN,
                "Not checked: the results file holds no results for your task (see protocol.task).",
            )
        ]
    # No results file: what did the run record?
    recorded, source = None, ""
    if ctx.trace is not None and ctx.trace_valid:
        recorded = sorted(
            {
                int(e["fold"])
                for e in ctx.trace.of("record")
                if isinstance(e.get("fold"), int) and not e.get("already_recorded") and not e.get("error")
            }
        )
        source = "trace"
    else:
        text = _output_text(ctx)
        hits = sorted({int(m.group(2)) for m in RECORDED_FOLD.finditer(text)})
        if hits:
            recorded, source = hits, "outputs"
    if recorded is None:
        return [
            spec.finding(
                COULD_NOT_RUN,
                "Not checked: no results for the task and no record of which folds the notebook recorded.",
            )
        ]
    missing = [f for f in range(5) if f not in recorded]
    details = {"recorded": recorded, "missing": missing, "source": source}
    if missing:
        done = (
            f"Only {len(recorded)} of the 5 folds were recorded (folds {', '.join(map(str, recorded))})"
            if recorded
            else "No fold was recorded"
        )
        return [
            spec.finding(
                FAIL, done + ", and no complete results were saved.", advice=RUN_ALL, details=details
            )
        ]
    return [
        spec.finding(
            WARN,
            "All five folds were recorded, but the results were not saved to the results file.",
            advice=RUN_ALL,
            details=details,
        )
    ]


@check("protocol.test_ids", needs=(RESULTS, TRUTH))
def test_ids(ctx, spec) -> list[Finding]:
    """Each fold's predictions are for exactly the official test materials of that fold."""
    truth = ctx.ground_truth
    fold_of = dict(zip(truth.mbids, truth.test_fold.tolist()))
    problems, details = [], {}
    for fold, result in sorted(ctx.task_result.folds.items()):
        official = set(truth.test_ids(fold))
        got = set(result.data)
        missing = official - got
        extra = got - official
        unknown = {m for m in extra if m not in fold_of}
        other_fold = extra - unknown
        if missing or extra:
            details[f"fold_{fold}"] = {
                "missing": len(missing),
                "from_other_folds": len(other_fold),
                "unknown_ids": len(unknown),
                "examples": sorted(missing | extra)[:5],
            }
            parts = []
            if missing:
                parts.append(f"{len(missing)} test materials without a prediction")
            if other_fold:
                parts.append(
                    f"{len(other_fold)} predictions for materials that are not in this fold's test set"
                )
            if unknown:
                parts.append(f"{len(unknown)} ids that are not in {ctx.challenge.task}")
            problems.append(f"fold {fold}: " + ", ".join(parts))
    if problems:
        return [
            spec.finding(
                FAIL,
                "The predictions are not for the official test materials: " + "; ".join(problems) + ".",
                advice="Predict exactly the materials `task.get_test_data(fold)` returns, "
                "in the same order, and record them with `task.record`.",
                details=details,
            )
        ]
    return [
        spec.finding(
            PASS, "Every fold has one prediction for each of its official test materials, and no other."
        )
    ]


@check("protocol.prediction_values", needs=(RESULTS,))
def prediction_values(ctx, spec) -> list[Finding]:
    """Predictions have the right type and range (floats; glass: True/False or a probability)."""
    clf = ctx.challenge.is_classification
    counts = {"nan_or_missing": 0, "not_a_number": 0, "int": 0, "out_of_range": 0, "bool": 0, "float": 0}
    for result in ctx.task_result.folds.values():
        for value in result.data.values():
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                counts["nan_or_missing"] += 1
            elif isinstance(value, bool):
                counts["bool"] += 1
            elif isinstance(value, int):
                counts["int"] += 1
            elif isinstance(value, float):
                counts["float"] += 1
                if clf and not 0.0 <= value <= 1.0:
                    counts["out_of_range"] += 1
            else:
                counts["not_a_number"] += 1
    findings = []
    problems = []
    if counts["nan_or_missing"]:
        problems.append(f"{counts['nan_or_missing']} predictions are NaN, infinite or empty")
    if counts["not_a_number"]:
        problems.append(f"{counts['not_a_number']} predictions are not numbers")
    if clf and counts["out_of_range"]:
        problems.append(f"{counts['out_of_range']} probabilities are outside [0, 1]")
    if not clf and counts["bool"]:
        problems.append(f"{counts['bool']} predictions are True/False in a regression task")
    if counts["int"]:
        problems.append(
            f"{counts['int']} predictions are integers (matbench only accepts "
            + ("True/False or floats in [0, 1])" if clf else "floats)")
        )
    if problems:
        findings.append(
            spec.finding(
                FAIL,
                "Some predictions are not valid: " + "; ".join(problems) + ".",
                advice=(
                    "Return True/False labels or the probability of True (predict_proba[:, 1])."
                    if clf
                    else "Return one finite float per material (impute missing "
                    "features instead of producing NaN)."
                ),
                details=counts,
            )
        )
    if clf and not problems:
        kind = (
            "probabilities"
            if counts["float"] and not counts["bool"]
            else ("labels" if counts["bool"] and not counts["float"] else "a mix of labels and probabilities")
        )
        rs = ctx.score if ctx.ground_truth is not None else None
        inverted = False
        if rs is not None and rs.summary:
            metric = "rocauc_proba" if "rocauc_proba" in rs.summary else "rocauc"
            inverted = rs.summary[metric].mean < 0.5
            counts["mean_" + metric] = rs.summary[metric].mean
        if inverted:
            findings.append(
                spec.finding(
                    FAIL,
                    "The predictions rank glass formers below non-formers (ROC-AUC "
                    f"{format_score(counts['mean_' + metric])} < 0.5): they look inverted, e.g. the "
                    "probability of False (predict_proba[:, 0]) instead of True.",
                    advice="Record the probability of True: `model.predict_proba(X)[:, 1]` (check "
                    "`model.classes_`).",
                    details={**counts, "kind": kind},
                )
            )
        else:
            findings.append(
                spec.finding(PASS, f"The predictions are valid {kind}.", details={**counts, "kind": kind})
            )
    elif not problems:
        findings.append(spec.finding(PASS, "Every prediction is a finite float.", details=counts))
    return findings


@check("protocol.scores", needs=(RESULTS, TRUTH, SCORE))
def scores(ctx, spec) -> list[Finding]:
    """Scores recomputed by the grader from the predictions, per fold and mean ± std."""
    rs = ctx.score
    ch = ctx.challenge
    metric = ch.metric
    main = rs.summary[metric]
    per_fold = ", ".join(format_score(rs.folds[f][metric]) for f in sorted(rs.folds))
    unit = f" {ch.unit}" if ch.unit and not ch.is_classification else ""
    details = {
        "metric": metric,
        "folds": {str(f): v for f, v in rs.folds.items()},
        "n_predictions": {str(f): n for f, n in rs.n_predictions.items()},
        "summary": {k: v.as_dict() for k, v in rs.summary.items()},
        "complete": rs.complete,
        "n_invalid": rs.n_invalid,
    }
    # Scores stored in the file vs recomputed (a hand-edited file, or predictions changed afterwards).
    mismatched = []
    for fold, result in ctx.task_result.folds.items():
        stored = result.scores.get(metric)
        mine = rs.folds.get(fold, {}).get(metric)
        if (
            isinstance(stored, (int, float))
            and mine is not None
            and not math.isclose(stored, mine, rel_tol=1e-6, abs_tol=1e-9)
        ):
            mismatched.append({"fold": fold, "stored": stored, "recomputed": mine})
    details["stored_vs_recomputed_mismatch"] = mismatched
    if ch.is_classification:
        text = (
            f"Recomputed matbench-compatible ROC-AUC (labels at 0.5, the leaderboard's figure): "
            f"{format_score(main.mean)} ± {format_score(main.std)} over {len(rs.folds)} folds (per fold {per_fold})."
        )
        if "rocauc_proba" in rs.summary:
            proba = rs.summary["rocauc_proba"]
            text += (
                f" ROC-AUC of your probabilities: {format_score(proba.mean)} ± {format_score(proba.std)}; this one is "
                "not comparable with the leaderboard."
            )
        else:
            text += " You recorded labels, so there is no probability ROC-AUC."
    else:
        text = (
            f"Recomputed MAE: {format_score(main.mean)} ± {format_score(main.std)}{unit} over {len(rs.folds)} folds "
            f"(per fold {per_fold})."
        )
    if mismatched:
        return [
            spec.finding(
                FAIL,
                text + " The scores stored in the results file do not match its predictions: "
                "the file was changed after the scores were computed.",
                advice=f"Never edit {RESULTS_NAME}; re-run the notebook.",
                details=details,
            )
        ]
    if not rs.complete:
        missing = sum(f.n_expected - f.n for f in rs.fold_scores)
        why = f"{missing} official test material(s) have no finite prediction" + (
            f" ({rs.n_invalid} of them NaN, infinite or not a number)" if rs.n_invalid else ""
        )
        return [
            spec.finding(
                WARN,
                text + f" Not every fold is complete: {why}, so this is not the leaderboard's figure.",
                advice=RUN_ALL,
                details=details,
            )
        ]
    return [spec.finding(PASS, text, details=details)]


# --- what the notebook claims -----------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_CLAIM = re.compile(
    r"(MAE|mean absolute error|ROC[\s-]?AUC|AUC)\b[^0-9\n]{0,40}?(" + _NUMBER + ")", re.IGNORECASE
)
_REFERENCE_WORDS = (
    "leaderboard",
    "baseline",
    "dummy",
    "best",
    "literature",
    "state of the art",
    "state-of-the-art",
    "paper",
    "modnet",
    "rf-scm",
    "magpie",
    "alignn",
    "crabnet",
    "cgcnn",
    "automatminer",
    "ammexpress",
    "darwin",
    "gptchem",
    "megnet",
    "cogn",
    "congn",
    "schnet",
    "dimenet",
    "finder",
    "deepergatgnn",
    "top",
    "reference",
    "compared to",
    "compared with",
    "versus",
    "vs",
)


def _claims(ctx) -> list[dict]:
    nb = ctx.notebook
    found = []
    for cell, text in nb.student_markdown():
        if not text:
            continue
        for line in text.split("\n"):
            lowered = line.lower()
            for match in _CLAIM.finditer(line):
                try:
                    value = float(match.group(2))
                except ValueError:
                    continue
                start = max(0, match.start() - 60)
                window = lowered[start : match.end() + 20]
                found.append(
                    {
                        "cell": cell.number,
                        "metric": match.group(1),
                        "value": value,
                        "text": line.strip()[:200],
                        "reference": any(w in window for w in _REFERENCE_WORDS),
                    }
                )
    return found


def _claim_tolerance(x: float) -> float:
    """How far a printed score may be from a figure and still be that figure (2 %, or rounding to 3 places)."""
    return max(abs(x) * 0.02, 0.00051)


@check("protocol.claimed_scores", needs=(NOTEBOOK,))
def claimed_scores(ctx, spec) -> list[Finding]:
    """Scores the student quotes in the text agree with the recomputed ones."""
    claims = _claims(ctx)
    rs = ctx.score if ctx.results is not None and ctx.ground_truth is not None and ctx.challenge else None
    if rs is None or not rs.summary:
        return [
            spec.finding(
                COULD_NOT_RUN,
                "Not checked: there are no recomputed scores to compare with.",
                details={"claims": claims},
            )
        ]
    ch = ctx.challenge
    metric = ch.metric
    figures = []  # every number a claim may legitimately quote
    for name in (metric, "rocauc_proba", "balanced_accuracy"):
        summary = rs.summary.get(name)
        if summary:
            figures.extend([summary.mean, summary.std, summary.min, summary.max])
            figures.extend(rs.folds[f][name] for f in rs.folds if name in rs.folds[f])
    leaderboard = [e.mean for e in ch.leaderboard]
    proba = rs.summary.get("rocauc_proba")
    own, mismatched, proba_quoted = [], [], []
    for claim in claims:
        value = claim["value"]
        if ch.is_classification and not 0 <= value <= 1:
            continue
        matches_own = any(abs(value - x) <= _claim_tolerance(x) for x in figures)
        if not matches_own and (
            claim["reference"] or any(math.isclose(value, x, rel_tol=5e-3) for x in leaderboard)
        ):
            continue
        own.append(claim)
        if matches_own:
            if (
                ch.is_classification
                and proba
                and abs(value - proba.mean) <= _claim_tolerance(proba.mean)
                and abs(value - rs.summary[metric].mean) > _claim_tolerance(rs.summary[metric].mean)
            ):
                proba_quoted.append(claim)
            continue
        mismatched.append(claim)
    details = {"claims": claims, "recomputed_mean": rs.summary[metric].mean}
    if mismatched:
        quoted = "; ".join(f'"{c["text"]}" (cell {c["cell"]})' for c in mismatched[:3])
        return [
            spec.finding(
                WARN,
                f"Your text quotes {ch.metric_label} values that your recorded predictions do not "
                f"give (recomputed mean {format_score(rs.summary[metric].mean)}): {quoted}.",
                advice="Quote the mean ± standard deviation over the five official folds printed by the "
                "protocol cell; say clearly when a figure comes from something else (a baseline, "
                "an inner validation).",
                details=details,
            )
        ]
    if proba_quoted:
        return [
            spec.finding(
                WARN,
                "You quote the ROC-AUC of your probabilities; the leaderboard's ROC-AUC is "
                "computed by matbench from True/False labels (threshold 0.5), so compare "
                f"{format_score(rs.summary[metric].mean)} with the leaderboard, not "
                f"{format_score(proba.mean)}.",
                details=details,
            )
        ]
    if not own:
        return [
            spec.finding(
                INFO,
                f"Your text quotes no {ch.metric_label} of your own model; state the mean ± "
                "standard deviation over the five folds when you discuss it.",
                details=details,
            )
        ]
    return [
        spec.finding(
            PASS,
            f"The {ch.metric_label} values quoted in your text agree with the recomputed scores.",
            details=details,
        )
    ]


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


def _trace_events(ctx, kind: str) -> list[dict] | None:
    if ctx.trace is not None and ctx.trace_valid:
        return ctx.trace.of(kind)
    return None


@check("protocol.test_targets", needs=(CODE_OR_TRACE,))
def test_targets(ctx, spec) -> list[Finding]:
    """The test targets were not requested before every fold's predictions were recorded
    (get_test_data(include_target=True)). Asking for them afterwards, to compute one's own error or
    plot the residuals, cannot change the recorded scores."""
    events = _trace_events(ctx, "get_test_data")
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
    events = _trace_events(ctx, "df_access")
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
    events = _trace_events(ctx, "record")
    repeats = sorted(
        {int(e["fold"]) for e in events or [] if e.get("already_recorded") and isinstance(e.get("fold"), int)}
    )
    if events is not None:
        seen = {}
        for e in events:
            if isinstance(e.get("fold"), int) and not e.get("error"):
                seen[e["fold"]] = seen.get(e["fold"], 0) + 1
        repeats = sorted(set(repeats) | {f for f, n in seen.items() if n > 1})
    text_repeats = sorted({int(m.group(1)) for m in ALREADY_RECORDED.finditer(_output_text(ctx))})
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


@check("protocol.preprocessing_leak", needs=(ANALYSIS,))
def preprocessing_leak(ctx, spec) -> list[Finding]:
    """Scalers, imputers, feature selection and resampling are fitted on training data only."""
    a = ctx.analysis
    flow = ctx.flow
    protocol_at = a.protocol_cell_index
    verdicts = {FAIL: [], WARN: [], PASS: []}
    for event in flow.fits:
        if event.cell.origin != "student":
            continue
        if protocol_at is not None and event.root_cell.index > protocol_at:
            continue  # analysis after the protocol cell has recorded the predictions
        status, message = _judge_fit(event, a, flow)
        verdicts[status].append((event, message))
    details = {
        "leaks": [m for _, m in verdicts[FAIL]],
        "unsure": [m for _, m in verdicts[WARN]],
        "fitted_on_training_data": [f"{e.text()} ({e.where()})" for e, _ in verdicts[PASS]],
        "analysis_problems": flow.problems[:5],
    }
    if verdicts[FAIL]:
        return [
            spec.finding(
                FAIL,
                verdicts[FAIL][0][1] + " Fitting pre-processing on data that include the test "
                "rows lets them leak into training and makes the scores "
                "optimistic.",
                advice=_leak_advice(a),
                details=details,
            )
        ]
    if verdicts[WARN]:
        return [spec.finding(WARN, verdicts[WARN][0][1], advice=_leak_advice(a), details=details)]
    missed = flow.unfollowed(lambda call: _fits_preprocessing(call, a))
    if missed:
        cell, call = missed[0]
        return [
            spec.finding(
                WARN,
                f"Could not follow the data to `{segment(cell, call, 100)}` in cell "
                f"{cell.number} ({flow.problems[0]}), so whether it is fitted on training data "
                "only is not known; a marker will check.",
                details=details,
            )
        ]
    if verdicts[PASS]:
        return [
            spec.finding(
                PASS,
                f"Pre-processing is fitted on training data only ({len(verdicts[PASS])} fit"
                f"{'s' if len(verdicts[PASS]) > 1 else ''} followed to the data "
                f"{'they are' if len(verdicts[PASS]) > 1 else 'it is'} fitted on).",
                details=details,
            )
        ]
    return [
        spec.finding(PASS, "No pre-processing is fitted to data that include test rows.", details=details)
    ]


def _fits_preprocessing(call: ast.Call, a) -> bool:
    """`StandardScaler().fit(X)`, `scaler.fit_transform(X)`: a pre-processing step (or a pipeline) fitted."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in FIT_METHODS:
        return False
    if isinstance(func.value, ast.Call):
        klass = dotted(func.value.func).rsplit(".", 1)[-1]
    else:
        klass = a.student.constructed.get(dotted(func.value), "")
    return klass in PREPROCESSORS or klass in ("Pipeline", "make_pipeline")


def _leak_advice(a) -> str:
    if _template_protocol(a):
        return (
            "Fit scalers, imputers, feature selection and resampling inside `train_model`, on the fold's training "
            "data only (a scikit-learn Pipeline does this for you)."
        )
    return (
        "Split first and fit the pre-processing on the training part only (inside the fold loop, on each fold's "
        "training part, when there are folds), then only `transform` the test part; or put it in a Pipeline "
        "(`make_pipeline(StandardScaler(), model)`), which refits it on each training part."
    )


def _template_protocol(a) -> bool:
    """The official loop is the released template's locked protocol cell (not the student's own loop)."""
    at = a.protocol_cell_index
    return at is not None and a.notebook.cells[at].origin == "locked"


def _judge_fit(event, a, flow) -> tuple[str, str]:
    """Is this fit a leak (FAIL), something the analysis cannot settle (WARN) or fitted on training data (PASS)?"""
    protocol_at = a.protocol_cell_index
    kinds = event.data.kinds
    unsure = sorted(event.data.unsure)
    rebound = flow.rebound(event.arg_names)
    in_model = event.function in a.loop_called_functions
    from_protocol = protocol_at is not None and event.root_cell.index == protocol_at
    uses = list(event.used)
    first_look = in_model and bool(event.chain) and not from_protocol
    if (
        first_look
    ):  # the fold loop's own model code, called on other data for a look: only what comes out counts
        uses = [u for u in uses if u.root_id != event.root_id]
    what = f"A {event.klass}"
    if kinds and kinds <= {TRAIN}:
        fixed = (
            protocol_at is not None
            and not in_model
            and event.function not in a.featurise_functions
            and not from_protocol
            and any(u.root_cell.index == protocol_at for u in uses)
        )
        if fixed:
            return FAIL, (
                f"{what} is fitted once, outside the fold loop: {_fitted_on(event, flow)}, and then used by "
                f"the model in every fold ({uses[0].phrase()}). The training part of one split holds the "
                "test materials of the other folds."
            )
        return PASS, ""
    if WHOLE in kinds or {TRAIN, TEST} <= kinds:
        if unsure or rebound:
            return WARN, (
                f"Could not tell whether the {event.klass} is fitted on training data only: "
                f"{(unsure + rebound)[0]}. As far as the analysis can see, {_fitted_on(event, flow)}; a "
                "marker will check."
            )
        if uses:
            return FAIL, (
                f"{what} is fitted on data that include the test rows: {_fitted_on(event, flow)}, "
                f"{_when(event)}, and what it learnt reaches the evaluated model ({uses[0].phrase()})."
            )
        if first_look:
            return PASS, ""
        return WARN, (
            f"{what} is fitted on the whole data set: {_fitted_on(event, flow)}, but the analysis does not "
            "see its result reach the evaluated model. If it does, the test rows leak into training; if it "
            "is only for exploring (a plot), fine."
        )
    if kinds == {TEST}:
        return WARN, (
            f"{what} is fitted on the test data alone: {_fitted_on(event, flow)}. Fit it on the training "
            "part and only `transform` the test part, so that both are transformed alike."
        )
    if FILE in kinds:
        separated = bool(event.data.sources(FILE) & flow.separated)
        if separated and uses and not unsure and not rebound:
            return FAIL, (
                f"{what} is fitted on data that include the test rows: {_fitted_on(event, flow)}, which are "
                "split into training and test parts only later, and what it learnt reaches the evaluated "
                f"model ({uses[0].phrase()})."
            )
        reasons = unsure + rebound
        return WARN, (
            f"Could not tell whether the {event.klass} is fitted on training data only: "
            f"{_fitted_on(event, flow)}"
            + (f" ({reasons[0]})" if reasons else ", which may be a copy of the whole data set")
            + ". A marker will check."
        )
    if (
        protocol_at is not None
        and not in_model
        and not from_protocol
        and any(u.root_cell.index == protocol_at for u in uses)
    ):
        return WARN, (
            f"{what} is fitted outside the fold loop ({_fit_code(event)}) on data the analysis cannot "
            "trace, and then used by the model in every fold. If those data are materials of the data "
            "set, the test folds leak into training."
        )
    return PASS, ""


def _fit_code(event) -> str:
    place = f", in `{event.function}`" if event.function else ""
    return (
        f"`{event.text()}` in cell {event.cell.number}, line {event.node.lineno}{place}"
        if event.chain
        else f"`{event.text()}` in cell {event.cell.number}"
    )


def _fitted_on(event, flow) -> str:
    """`scaler.fit(X)` in cell 7 is fitted on `X`, made from the whole data set (`df = ...`, cell 3)."""
    what = _data_phrase(event, flow)
    if not event.chain:
        data = f"`{event.data_text}`" if event.data_text else "its data"
        return f"{_fit_code(event)} is fitted on {data}" + (f", {what}" if what else "")
    root = event.chain[0]
    called = " from ".join(f"`{frame.key}`" for frame in reversed(event.chain))
    return (
        f"{_fit_code(event)} is fitted on the data {called} is given, and "
        f"`{segment(root.cell, root.node, 100)}` in cell {root.cell.number} gives it "
        + (what.replace("made from", "data made from", 1) if what.startswith("made from") else f"data {what}")
    )


def _data_phrase(event, flow) -> str:
    data = event.data
    whole = flow.origin(data, WHOLE)
    if whole is not None:
        return f"made from the whole data set ({whole.describe()})"
    if TRAIN in data.kinds and TEST in data.kinds:
        return f"which joins training and test parts ({flow.origin(data, TEST).describe()})"
    if data.kinds == {TEST}:
        return f"the test part ({flow.origin(data, TEST).describe()})"
    if FILE in data.kinds:
        return f"read from a file ({flow.origin(data, FILE).describe()})"
    if data.kinds == {TRAIN}:
        return f"a training part ({flow.origin(data, TRAIN).describe()})"
    return ""


def _when(event) -> str:
    if any(loop.kind == "folds" for loop in event.loops):
        return "inside the fold loop but on every row instead of the fold's training part"
    if any(frame.key == "featurise" for frame in event.chain):
        return "before the folds are split (`featurise` runs once on every material)"
    return "before the data are split"


@check("protocol.test_tuning", needs=(ANALYSIS,))
def test_tuning(ctx, spec) -> list[Finding]:
    """Hyper-parameters, model selection and early stopping never use the test data."""
    a = ctx.analysis
    flow = ctx.flow
    hard, soft, evaluation = [], [], []
    has_test_set = a.uses_api or a.protocol_cell_index is not None or bool(flow.outer_splits)
    model_code = a.loop_called_functions | a.featurise_functions
    # (1) early stopping / validation on the test data
    for stop in flow.early_stops:
        text = (
            f"early stopping / validation on the test data: `{segment(stop.cell, stop.node, 100)}` in cell {stop.cell.number} "
            f"passes test rows as `{stop.keyword}`"
        )
        (soft if stop.unsure else hard).append(text)
    # (2) choices made from scores on the test data (best-of, argmin, min, sorted...)
    chosen_scores = set()
    for choice in flow.choices:
        where = f"`{choice.text}` in cell {choice.cell.number}"
        if choice.scores:
            chosen_scores |= choice.scores
            scores = [flow.scores[i] for i in sorted(choice.scores)]
            swept = [(score, loops) for score in scores for loops in [flow.sweep_loops(score)] if loops]
            score, loops = swept[0] if swept else (scores[0], [])
            unsure = choice.unsure | score.unsure
            seen = f"scores on the test data (`{score.text}`, cell {score.cell.number})"
            if loops and not unsure:
                hard.append(f"{where} chooses among the settings of {_loop_phrase(loops[0])} by their {seen}")
            elif loops or unsure:
                soft.append(
                    f"{where} makes a choice from {seen}" + (f"; {sorted(unsure)[0]}" if unsure else "")
                )
            elif choice.kind == "comparison":
                soft.append(
                    f"{where} keeps the best of several runs by their {seen}; if that choice gives the "
                    "model or the score you report, the test data selected it"
                )
            continue
        cvs = [flow.cv_scores[i] for i in sorted(choice.cvscores)]
        swept = [(cv, loops) for cv in cvs for loops in [flow.sweep_loops(cv)] if loops]
        if swept:
            cv, loops = swept[0]
            text = (
                f"{where} chooses among the settings of {_loop_phrase(loops[0])} by a cross-validation on the "
                f"whole data set (`{cv.text}`, cell {cv.cell.number})"
            )
            if has_test_set and not choice.unsure:
                hard.append(text + ", whose folds hold the test data")
            else:
                soft.append(text + ": the same data tune and evaluate the model, so its score is optimistic")
    # (3) test scores of several settings, with no choice in the code (perhaps made by eye)
    for score in flow.scores:
        if score.id in chosen_scores:
            continue
        loops = flow.sweep_loops(score, tuned_only=True)  # several fixed models side by side are a comparison
        if loops:
            soft.append(
                f"`{score.text}` in cell {score.cell.number} scores each setting of "
                f"{_loop_phrase(loops[0])} on the test data; if you chose among them by these scores, the "
                "test data tuned the model"
            )
        else:
            evaluation.append(f"`{score.text}` in cell {score.cell.number}")
    # (4) searches (GridSearchCV...) fitted on data that hold test rows
    for search in flow.searches:
        kinds = search.data.kinds
        where = f"`{segment(search.cell, search.node, 100)}` in cell {search.cell.number}"
        if TEST in kinds and TRAIN not in kinds:
            (soft if search.data.unsure else hard).append(f"{where} fits a {search.klass} with the test data")
        elif not kinds or kinds <= {TRAIN} or search.function in model_code:
            continue
        elif search.used and has_test_set and not search.data.unsure:
            hard.append(
                f"{where} runs a {search.klass} on the whole data set (test rows included) and its best "
                "settings are used"
            )
        else:
            soft.append(
                f"{where} runs a {search.klass} on the whole data set outside the folds; if its result chose "
                "your final settings, the test data took part in tuning"
            )
    for cell, call in flow.unfollowed(
        lambda call: (
            dotted(call.func).rsplit(".", 1)[-1] in METRIC_FUNCTIONS
            or any(k.arg in EARLY_STOPPING_KEYWORDS for k in call.keywords)
        )
    ):
        soft.append(
            f"the analysis could not follow the data to `{segment(cell, call, 100)}` in cell {cell.number} "
            f"({flow.problems[0]})"
        )
        break
    details = {
        "signals": hard,
        "weak_signals": soft,
        "evaluation": evaluation[:10],
        "analysis_problems": flow.problems[:5],
    }
    if hard:
        return [
            spec.finding(
                FAIL,
                "Test data is used to tune or select the model: " + hard[0] + ". A score obtained "
                "on data used for tuning is optimistic and not comparable with the leaderboard.",
                advice=_tuning_advice(a),
                details=details,
            )
        ]
    if soft:
        return [
            spec.finding(
                WARN,
                "Could not rule out tuning on the test data: " + soft[0] + ". A marker will check.",
                advice=_tuning_advice(a),
                details=details,
            )
        ]
    return [
        spec.finding(
            PASS,
            "No sign of tuning, model selection or early stopping on test data"
            + (
                f"; the scores on test data the code computes ({evaluation[0]}"
                + (f" and {len(evaluation) - 1} more" if len(evaluation) > 1 else "")
                + ") evaluate fixed models."
                if evaluation
                else "."
            ),
            details=details,
        )
    ]


def _tuning_advice(a) -> str:
    if _template_protocol(a):
        return (
            "Tune inside `train_model` with an inner split or cross-validation of the training data it receives "
            "(e.g. GridSearchCV(...).fit(features, targets))."
        )
    return (
        "Choose settings on a validation split or by cross-validation of the training part only (e.g. "
        "GridSearchCV(...).fit(X_train, y_train)), and score the chosen model on the test data once."
    )


def _loop_phrase(loop) -> str:
    return f"the loop over `{loop.text}` (cell {loop.cell.number})"


@check("protocol.alignment", needs=(CODE_OR_SCORE,))
def alignment(ctx, spec) -> list[Finding]:
    """Predictions come back in the order of the test materials they are recorded for."""
    a = ctx.analysis
    reorder = []
    if a is not None and "predict" in a.all.functions:
        for call in a.student.calls:
            if call.function in a.loop_called_functions and call.attr in REORDERING_METHODS:
                if call.function == "train_model" and call.attr in ("dropna", "drop_duplicates", "sample"):
                    continue  # cleaning the training data changes no test order
                reorder.append(call)
    bad_score, ratio = False, None
    ch = ctx.challenge
    rs = ctx.score if ctx.results is not None and ch is not None and ctx.ground_truth is not None else None
    if rs is not None and rs.summary and not ch.is_classification and ch.mad:
        ratio = rs.summary["mae"].mean / ch.mad
        bad_score = ratio > 0.95
    details = {
        "reordering_in_model_code": [f"{c.text()} ({c.where()})" for c in reorder],
        "mae_over_mad": ratio,
    }
    if reorder and bad_score:
        call = reorder[0]
        return [
            spec.finding(
                FAIL,
                f"Your predictions look misaligned with the test materials: `{call.function}` "
                f"reorders rows ({call.text()}, {call.where()}) and the recorded predictions are "
                f"no better than predicting the mean (MAE/MAD = {ratio:.2f}). Matbench pairs the "
                "i-th prediction with the i-th test material.",
                advice="Return predictions in the same order as the rows of `features` given to `predict`.",
                details=details,
            )
        ]
    if bad_score:
        return [
            spec.finding(
                WARN,
                f"The recorded predictions are no better than predicting the mean (MAE/MAD = "
                f"{ratio:.2f}). If your model does better in your own tests, the predictions may be "
                "out of order with the test materials.",
                details=details,
            )
        ]
    if reorder:
        call = reorder[0]
        return [
            spec.finding(
                WARN,
                f"`{call.function}` reorders or drops rows ({call.text()}, {call.where()}); "
                "predictions must come back in the order of the rows given.",
                details=details,
            )
        ]
    return [
        spec.finding(PASS, "No sign of predictions out of order with the test materials.", details=details)
    ]


@check("protocol.plausibility", needs=(RESULTS, TRUTH), visibility=MARKER)
def plausibility(ctx, spec) -> list[Finding]:
    """The score is plausible: not far better than the leaderboard's best, no memorised targets."""
    rs = ctx.score
    ch = ctx.challenge
    if rs is None or not rs.summary:
        return [spec.finding(COULD_NOT_RUN, "Not checked: no scorable predictions.")]
    score = rs.summary[ch.metric].mean
    best = ch.best
    exact = nonzero = 0
    if not ch.is_classification:
        targets = ctx.targets_by_id
        for result in ctx.task_result.folds.values():
            for mbid, pred in result.data.items():
                y = targets.get(mbid)
                if y is None or not isinstance(pred, (int, float)) or abs(y) <= 1e-5:
                    continue
                nonzero += 1
                if abs(float(pred) - y) <= 1e-9 * max(1.0, abs(y)):
                    exact += 1
    exact_frac = exact / nonzero if nonzero else 0.0
    better = best is not None and (score > best.mean if ch.higher_is_better else score < best.mean)
    far_better = best is not None and (score >= 0.995 if ch.higher_is_better else score < 0.5 * best.mean)
    details = {
        "score": score,
        "best": best.mean if best else None,
        "best_algorithm": best.algorithm if best else None,
        "exact_hits": exact,
        "nonzero_targets": nonzero,
        "exact_fraction": exact_frac,
    }
    reasons = []
    if exact_frac >= 0.10:
        reasons.append(f"{exact} of {nonzero} predictions ({exact_frac:.0%}) equal their target exactly")
    if better:
        reasons.append(
            f"the {ch.metric_label} {format_score(score)} beats the leaderboard's best ({best.algorithm}, "
            f"{format_score(best.mean)})"
        )
    if far_better or exact_frac >= 0.25 or (better and exact_frac >= 0.10):
        return [
            spec.finding(
                FAIL,
                "The score is implausible: " + "; ".join(reasons) + ". This happens when the model "
                "has seen the test targets (memorised or looked up); a marker will review it.",
                details=details,
            )
        ]
    if reasons:
        return [
            spec.finding(
                WARN,
                "Check this result: " + "; ".join(reasons) + ". A marker will look at how it was obtained.",
                details=details,
            )
        ]
    return [
        spec.finding(
            PASS,
            "The score is in the plausible range (not better than the leaderboard's best, no "
            "memorised targets).",
            details=details,
        )
    ]
