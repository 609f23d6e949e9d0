"""leaderboard.*: where the recomputed score stands, for the report.

* rank among the task's leaderboard entries (ranking metric: MAE, or matbench's label-based ROC-AUC
  for glass), MAE relative to the data set's mean absolute deviation (MAE/MAD: 1 = the Dummy);
* errors split by whether a test material's chemical system occurs in its fold's training data
  (interpolation) or not (extrapolation).
"""

from __future__ import annotations

import numpy as np

from autograder.checks import register
from autograder.checks.protocol import _fmt
from autograder.results.metrics import task_scores
from autograder.records import COULD_NOT_RUN, INFO, MARKER, STUDENT, Finding

CRITERION = "training_testing"


def _f(check_id, status, message, details=None, visibility=STUDENT):
    return Finding(check_id=check_id, criterion=CRITERION, status=status, message=message, details=details or {},
                   visibility=visibility)


def _ready(ctx, cid):
    if ctx.results is None or ctx.challenge is None or ctx.task_result is None:
        return [_f(cid, COULD_NOT_RUN, "Not compared with the leaderboard: there are no results for your task.")]
    if ctx.ground_truth is None:
        return [_f(cid, COULD_NOT_RUN, "Not compared with the leaderboard: the data set is not available to the "
                                       "checker.", {"error": ctx.ground_truth_error}, visibility=MARKER)]
    rs = ctx.rescore
    if rs is None or not rs.complete:
        return [_f(cid, COULD_NOT_RUN, "Not compared with the leaderboard: the five folds are not all scored.")]
    return None


@register("leaderboard.rank", CRITERION)
def rank(ctx) -> list[Finding]:
    """Where the recomputed score would rank on the task's leaderboard."""
    cid = "leaderboard.rank"
    early = _ready(ctx, cid)
    if early:
        return early
    ch = ctx.challenge
    summary = ctx.rescore.summary[ch.metric]
    place = ch.rank(summary.mean)
    n = len(ch.leaderboard)
    points = {label: {"algorithm": e.algorithm, "mean": e.mean, "std": e.std} for label, e in ch.reference_points}
    details = {"metric": ch.metric, "mean": summary.mean, "std": summary.std, "rank": place, "entries": n,
               "reference_points": points}
    text = (f"Your {ch.metric_label} {_fmt(summary.mean)} ± {_fmt(summary.std)} would rank {place} of {n + 1} "
            f"on the {ch.task} leaderboard")
    if ch.is_classification:
        text += " (matbench's label-based ROC-AUC, the leaderboard's own figure)"
    else:
        ratio = summary.mean / ch.mad if ch.mad else None
        details["mae_over_mad"] = ratio
        if ratio is not None:
            text += f"; MAE/MAD = {ratio:.3f} (1 = predicting the mean)"
    comparisons = ", ".join(f"{label} ({e.algorithm}) {_fmt(e.mean)}" if label == "best" else f"{label} {_fmt(e.mean)}"
                            for label, e in ch.reference_points)
    return [_f(cid, INFO, f"{text}. Reference points: {comparisons}.", details)]


@register("leaderboard.extrapolation", CRITERION)
def interpolation_vs_extrapolation(ctx) -> list[Finding]:
    """Errors on test materials whose chemical system is / is not in the training data."""
    cid = "leaderboard.extrapolation"
    early = _ready(ctx, cid)
    if early:
        return early
    ch = ctx.challenge
    truth = ctx.ground_truth
    index = truth.index_of()
    groups = {"seen": ([], []), "unseen": ([], [])}
    for fold, result in ctx.task_result.folds.items():
        train_systems = {truth.chemsys[i] for i, f in enumerate(truth.test_fold) if f != fold}
        for mbid, pred in result.data.items():
            i = index.get(mbid)
            if i is None:
                continue
            key = "seen" if truth.chemsys[i] in train_systems else "unseen"
            groups[key][0].append(truth.targets[i])
            groups[key][1].append(pred)
    details = {}
    parts = []
    for key, (y, p) in groups.items():
        if not y:
            details[key] = {"n": 0}
            continue
        if ch.is_classification:
            preds = np.asarray(p, dtype=bool) if all(isinstance(v, bool) for v in p) else np.asarray(p, dtype=float)
        else:
            preds = np.asarray(p, dtype=float)
        s = task_scores(ch.task_type, np.asarray(y), preds)
        metric = "rocauc" if ch.is_classification else "mae"
        details[key] = {"n": len(y), metric: s[metric], **({"accuracy": s["accuracy"]} if ch.is_classification else {})}
        label = "in training" if key == "seen" else "not in training"
        figure = _fmt(s[metric])
        parts.append(f"chemical system {label}: {len(y)} test materials, {ch.metric_label} {figure}")
    total = sum(d.get("n", 0) for d in details.values())
    details["unseen_fraction"] = details["unseen"].get("n", 0) / total if total else None
    return [_f(cid, INFO, "Interpolation vs extrapolation: " + "; ".join(parts) + ".", details)]
