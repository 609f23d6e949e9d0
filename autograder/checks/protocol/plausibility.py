"""protocol.* on whether the Score is believable: the scores the text quotes agree with it
(protocol.claimed_scores), the predictions come back in the test materials' order
(protocol.alignment), and the score is not too good to be true (protocol.plausibility).
"""

from __future__ import annotations

import math
import re

from autograder.checks import CODE_OR_SCORE, NOTEBOOK, RESULTS, TRUTH, check
from autograder.checks.analysis import REORDERING_METHODS
from autograder.records import COULD_NOT_RUN, FAIL, INFO, MARKER, PASS, WARN, Finding
from autograder.results.metrics import format_score

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
