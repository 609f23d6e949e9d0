"""protocol.* read from the results file and the Score recomputed from it: the file is there, is
matbench's and was written by this run, for the student's task, with all five folds, predictions for
exactly the official test materials, valid values, and the scores they give.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

from autograder.checks import CHALLENGE, RESULTS, RESULTS_FILE, SCORE, TRUTH, check
from autograder.checks.protocol.evidence import output_text
from autograder.layout import RESULTS_FILE as RESULTS_NAME  # the file name (RESULTS_FILE is a need)
from autograder.records import COULD_NOT_RUN, FAIL, INFO, MARKER, PASS, WARN, Finding
from autograder.results.metrics import format_score

RUN_ALL = (
    "Restart the kernel and run the whole notebook from the top, so that the locked protocol "
    f"cell records all five folds and saves {RESULTS_NAME}."
)
RECORDED_FOLD = re.compile(r"Recorded fold (matbench_\w+)-(\d) successfully")


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
        text = output_text(ctx)
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
