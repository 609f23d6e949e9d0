"""leaderboard.*: where the recomputed score stands, for the report.

* rank among the task's leaderboard entries (ranking metric: MAE, or matbench's label-based ROC-AUC
  for glass), MAE relative to the data set's mean absolute deviation (MAE/MAD: 1 = the Dummy);
* errors split by whether a test material's chemical system occurs in its fold's training data
  (interpolation) or not (extrapolation).
"""

from __future__ import annotations

from autograder.checks import register
from autograder.checks.protocol import _fmt
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
    if ctx.score is None or not ctx.score.complete:
        return [_f(cid, COULD_NOT_RUN, "Not compared with the leaderboard: the five folds are not all scored.")]
    return None


@register("leaderboard.rank", CRITERION)
def rank(ctx) -> list[Finding]:
    """Where the recomputed score would rank on the task's leaderboard."""
    cid = "leaderboard.rank"
    early = _ready(ctx, cid)
    if early:
        return early
    ch, score = ctx.challenge, ctx.score
    n = score.n_entries
    points = {label: {"algorithm": e.algorithm, "mean": e.mean, "std": e.std} for label, e in ch.reference_points}
    details = {"metric": score.metric, "mean": score.mean, "std": score.std, "rank": score.rank, "entries": n,
               "reference_points": points}
    text = (f"Your {ch.metric_label} {_fmt(score.mean)} ± {_fmt(score.std)} would rank {score.rank} of {n + 1} "
            f"on the {ch.task} leaderboard")
    if ch.is_classification:
        text += " (matbench's label-based ROC-AUC, the leaderboard's own figure)"
    else:
        details["mae_over_mad"] = score.mad_ratio
        if score.mad_ratio is not None:
            text += f"; MAE/MAD = {score.mad_ratio:.3f} (1 = predicting the mean)"
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
    split = ctx.score.seen_unseen
    parts = []
    for key in ("seen", "unseen"):
        entry = split.get(key) or {}
        if not entry.get("n"):
            continue
        label = "in training" if key == "seen" else "not in training"
        parts.append(f"chemical system {label}: {entry['n']} test materials, {ch.metric_label} {_fmt(entry['value'])}")
    return [_f(cid, INFO, "Interpolation vs extrapolation: " + "; ".join(parts) + ".", dict(split))]
