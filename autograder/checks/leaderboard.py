"""leaderboard.*: where the recomputed score stands, for the report.

* rank among the task's leaderboard entries (ranking metric: MAE, or matbench's label-based ROC-AUC
  for glass), MAE relative to the data set's mean absolute deviation (MAE/MAD: 1 = the Dummy);
* errors split by whether a test material's chemical system occurs in its fold's training data
  (interpolation) or not (extrapolation).
"""

from __future__ import annotations

from autograder.checks import RANKABLE, check
from autograder.records import INFO, WARN, Finding
from autograder.results.metrics import format_score


@check("leaderboard.rank", needs=(RANKABLE,))
def rank(ctx, spec) -> list[Finding]:
    """Where the recomputed score would rank on the task's leaderboard."""
    ch, score = ctx.challenge, ctx.score
    n = score.n_entries
    points = {
        label: {"algorithm": e.algorithm, "mean": e.mean, "std": e.std} for label, e in ch.reference_points
    }
    details = {
        "metric": score.metric,
        "mean": score.mean,
        "std": score.std,
        "rank": score.rank,
        "entries": n,
        "reference_points": points,
    }
    text = (
        f"Your {ch.metric_label} {format_score(score.mean)} ± {format_score(score.std)} would rank {score.rank} of {n + 1} "
        f"on the {ch.task} leaderboard"
    )
    if ch.is_classification:
        text += " (matbench's label-based ROC-AUC, the leaderboard's own figure)"
    else:
        details["mae_over_mad"] = score.mad_ratio
        if score.mad_ratio is not None:
            text += f"; MAE/MAD = {score.mad_ratio:.3f} (1 = predicting the mean)"
    comparisons = ", ".join(
        f"{label} ({e.algorithm}) {format_score(e.mean)}"
        if label == "best"
        else f"{label} {format_score(e.mean)}"
        for label, e in ch.reference_points
    )
    dummy = ch.reference("Dummy")
    if dummy is not None and _no_better_than(score.mean, dummy.mean, ch.higher_is_better):
        details["no_better_than_dummy"] = True
        return [
            spec.finding(
                WARN,
                f"{text}: no better than the Dummy baseline ({format_score(dummy.mean)}), which "
                f"predicts {'the majority class' if ch.is_classification else 'the mean of the training targets'}"
                f" without looking at the materials. Reference points: {comparisons}.",
                advice="Find out why the model learns nothing: check the features (are they informative "
                "and computed for every material?), compare with a simple baseline, and tune "
                "inside the training folds.",
                details=details,
            )
        ]
    return [spec.finding(INFO, f"{text}. Reference points: {comparisons}.", details=details)]


# A score within this fraction of the Dummy's (MAE at least 95 % of it; ROC-AUC at most 0.02 above it)
# has learnt next to nothing from the materials.
DUMMY_MARGIN = 0.05


def _no_better_than(mean: float, dummy: float, higher_is_better: bool) -> bool:
    if higher_is_better:
        return mean <= dummy + DUMMY_MARGIN * 0.4
    return mean >= dummy * (1 - DUMMY_MARGIN)


@check("leaderboard.extrapolation", needs=(RANKABLE,))
def interpolation_vs_extrapolation(ctx, spec) -> list[Finding]:
    """Errors on test materials whose chemical system is / is not in the training data."""
    ch = ctx.challenge
    split = ctx.score.seen_unseen
    parts = []
    for key in ("seen", "unseen"):
        entry = split.get(key) or {}
        if not entry.get("n"):
            continue
        label = "in training" if key == "seen" else "not in training"
        parts.append(
            f"chemical system {label}: {entry['n']} test materials, {ch.metric_label} {format_score(entry['value'])}"
        )
    return [
        spec.finding(INFO, "Interpolation vs extrapolation: " + "; ".join(parts) + ".", details=dict(split))
    ]
