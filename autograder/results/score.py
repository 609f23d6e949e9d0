"""The one Score of a submission: its recorded predictions rescored against the ground truth, once.

`score_predictions(challenge, fold_predictions, truth)` computes, for each official test fold,
every matbench metric over the fold's official test materials that have a finite prediction; the
mean ± std over the folds (population std, as matbench); whether the submission is complete (every
official test material of every fold predicted, with a finite number, nothing else recorded); the
place on the leaderboard (only when complete: otherwise the figure is not the leaderboard's); the
MAE relative to the data set's mean absolute deviation; and the error, in the task's own metric, on
test materials whose chemical system was or was not seen in their fold's training data.

One rule for bad values: a prediction that is not a finite number (NaN, inf, None, text) is left
out of its fold's score and counted in `n_invalid`, and the submission is then not complete. The
checks build their findings from this Score, the check stage stores it (`score.json`, with the
per-material arrays in `score.npz` for the figures), and the grade, the feedback page, the summary,
the export and the self-check all read that stored result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.course.data import GroundTruth, load_ground_truth
from autograder.results.file import ResultsFileError, TaskResult, load_results
from autograder.results.metrics import Summary, labels_of, roc_auc, task_scores

if TYPE_CHECKING:
    from autograder.course.challenges import Challenge

SCHEMA = 1  # of score.json


@dataclass
class FoldScore:
    fold: int
    n_expected: int  # official test materials of the fold
    n: int  # of those, predicted with a finite number: what the fold's scores are computed over
    n_invalid: int = 0  # predictions for them that are not finite numbers
    n_other: int = 0  # predictions for materials that are not in the fold's test set
    scores: dict[str, float] = field(default_factory=dict)  # every metric (empty when n == 0)

    @property
    def complete(self) -> bool:
        return self.n == self.n_expected and not self.n_invalid and not self.n_other


@dataclass
class Score:
    task: str
    task_type: str
    metric: str  # the ranking metric: mae, or matbench's label-based rocauc
    metric_label: str
    higher_is_better: bool
    fold_scores: list[FoldScore]
    summary: dict[str, Summary] = field(default_factory=dict)  # metric -> mean ± std over the scored folds
    rank: int | None = None
    n_entries: int = 0
    mad_ratio: float | None = None
    is_probability: bool = False
    seen_unseen: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] | None = (
        None  # y_true, y_pred, seen over every scored prediction (not in score.json)
    )

    # --- views ---------------------------------------------------------------------------------
    @property
    def folds(self) -> dict[int, dict[str, float]]:
        """fold -> metric -> value, for the folds that could be scored."""
        return {f.fold: f.scores for f in self.fold_scores if f.scores}

    @property
    def n_predictions(self) -> dict[int, int]:
        return {f.fold: f.n for f in self.fold_scores if f.scores}

    @property
    def complete(self) -> bool:
        return bool(self.fold_scores) and all(f.complete for f in self.fold_scores)

    @property
    def n_invalid(self) -> int:
        return sum(f.n_invalid for f in self.fold_scores)

    @property
    def mean(self) -> float | None:
        main = self.summary.get(self.metric)
        return main.mean if main else None

    @property
    def std(self) -> float | None:
        main = self.summary.get(self.metric)
        return main.std if main else None

    @property
    def prob_rocauc_mean(self) -> float | None:
        proba = self.summary.get("rocauc_proba")
        return proba.mean if proba else None

    def metric_summary(self, name: str) -> Summary | None:
        return self.summary.get(name)

    # --- score.json ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "task": self.task,
            "task_type": self.task_type,
            "metric": self.metric,
            "metric_label": self.metric_label,
            "higher_is_better": self.higher_is_better,
            "folds": [
                {
                    "fold": f.fold,
                    "score": f.scores.get(self.metric),
                    "n": f.n,
                    "n_expected": f.n_expected,
                    "n_invalid": f.n_invalid,
                    "n_other": f.n_other,
                    "prob_rocauc": f.scores.get("rocauc_proba"),
                    "scores": f.scores,
                }
                for f in self.fold_scores
            ],
            "folds_scored": len(self.folds),
            "summary": {k: s.as_dict() for k, s in self.summary.items()},
            "mean": self.mean,
            "std": self.std,
            "complete": self.complete,
            "n_invalid": self.n_invalid,
            "rank": self.rank,
            "n_entries": self.n_entries,
            "mad_ratio": self.mad_ratio,
            "prob_rocauc_mean": self.prob_rocauc_mean,
            "is_probability": self.is_probability,
            "seen_unseen": self.seen_unseen,
        }

    def arrays_to_save(self) -> dict[str, Any] | None:
        return self.arrays if self.arrays and len(self.arrays.get("y_true", ())) else None


def _as_float(value: Any) -> float:  # any stored prediction: a number, text, None, a list...
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def score_predictions(
    challenge: Challenge, fold_predictions: dict[int, dict[str, object]], truth: GroundTruth
) -> Score:
    """Rescore `fold -> {mbid: prediction}` for `challenge` (autograder.course.challenges.Challenge)
    against `truth` (autograder.course.data.GroundTruth)."""
    clf = challenge.is_classification
    mbids = np.asarray(truth.mbids, dtype=object)
    seen_in_training = seen_chemistry(truth)
    fold_scores: list[FoldScore] = []
    all_true, all_pred, all_seen = [], [], []
    scored = []  # (FoldScore, y_true, finite predictions) of the folds with something to score
    is_probability = False
    for fold in range(truth.n_folds):
        rows_of_fold = np.flatnonzero(truth.test_fold == fold)
        given = fold_predictions.get(fold) or {}
        test_ids = mbids[rows_of_fold]
        present = np.fromiter((m in given for m in test_ids), dtype=bool, count=len(test_ids))
        rows = rows_of_fold[present]
        values = np.array([_as_float(given[m]) for m in test_ids[present]], dtype=float)
        ok = np.isfinite(values)
        entry = FoldScore(
            fold,
            n_expected=len(rows_of_fold),
            n=int(ok.sum()),
            n_invalid=int((~ok).sum()),
            n_other=len(given) - int(present.sum()),
        )
        fold_scores.append(entry)
        if not entry.n:
            continue
        rows, finite = rows[ok], values[ok]
        y_true = truth.targets[rows]
        if clf and not np.all(np.isin(finite, (0.0, 1.0))):
            is_probability = True
        all_true.append(y_true.astype(float))
        all_pred.append(finite)
        all_seen.append(seen_in_training[rows])
        scored.append((entry, y_true, finite))
    for entry, y_true, finite in scored:
        # labels (True/False, or 0/1 as numbers) are scored as labels; probabilities also get rocauc_proba
        y_pred = labels_of(finite) if clf and not is_probability else finite
        entry.scores = task_scores(challenge.task_type, y_true, y_pred)
    score = Score(
        task=challenge.task,
        task_type=challenge.task_type,
        metric=challenge.metric,
        metric_label=challenge.metric_label,
        higher_is_better=challenge.higher_is_better,
        fold_scores=fold_scores,
        n_entries=len(challenge.leaderboard),
        is_probability=is_probability,
    )
    folds = score.folds
    if folds:
        metrics = set.intersection(*(set(s) for s in folds.values()))
        for name in sorted(metrics):
            score.summary[name] = Summary.of([folds[f][name] for f in sorted(folds)])
    mean = score.mean
    if mean is not None:
        score.rank = challenge.rank(mean) if score.complete else None
        score.mad_ratio = mean / challenge.mad if (not clf and challenge.mad) else None
    if all_true:
        y_true, y_pred, seen = np.concatenate(all_true), np.concatenate(all_pred), np.concatenate(all_seen)
        score.arrays = {"y_true": y_true, "y_pred": y_pred, "seen": seen}
        score.seen_unseen = seen_unseen_errors(challenge, y_true, y_pred, seen)
    return score


def seen_chemistry(truth: GroundTruth) -> np.ndarray:
    """For every row: is its chemical system among the training materials of its own test fold
    (some material of another fold has it)? Counted once for all folds."""
    systems, codes = np.unique(np.asarray(truth.chemsys, dtype=object).astype(str), return_inverse=True)
    n_folds = truth.n_folds
    total = np.bincount(codes, minlength=len(systems))
    in_own_fold = np.bincount(codes * n_folds + truth.test_fold, minlength=len(systems) * n_folds)
    return np.asarray(total[codes] > in_own_fold[codes * n_folds + truth.test_fold])


def seen_unseen_errors(
    challenge: Challenge, y_true: np.ndarray, y_pred: np.ndarray, seen: np.ndarray
) -> dict[str, Any]:
    """The task's own metric on test materials whose chemical system appears in their fold's
    training data (seen: interpolation) and on those whose system does not (unseen: extrapolation)."""
    out: dict[str, Any] = {"measure": challenge.metric_label, "metric": challenge.metric}
    total = len(seen)
    for name, mask in (("seen", seen), ("unseen", ~seen)):
        n = int(mask.sum())
        value = None
        if n:
            if challenge.is_classification:
                auc = roc_auc(np.asarray(y_true[mask], dtype=bool), labels_of(y_pred[mask]).astype(float))
                value = None if math.isnan(auc) else auc
            else:
                value = float(np.mean(np.abs(y_pred[mask] - y_true[mask])))
        out[name] = {"n": n, "value": value}
    out["unseen_fraction"] = out["unseen"]["n"] / total if total else None
    return out


def fold_predictions_of(task_result: TaskResult) -> dict[int, dict[str, object]]:
    """fold -> {mbid: prediction} of one task of a results file (autograder.results.file)."""
    return {fold: result.data for fold, result in task_result.folds.items() if isinstance(result.data, dict)}


def score_results_file(
    challenge: Challenge, results_path: Path | str, truth: GroundTruth | None = None
) -> Score:
    """The Score of a results file for `challenge` (raises ResultsFileError when it holds nothing to
    score for that task)."""
    results = load_results(results_path)
    if challenge.task not in results.tasks:
        present = ", ".join(results.tasks) or "none"
        raise ResultsFileError(
            f"the results file holds no predictions for {challenge.task} (tasks: {present})"
        )
    predictions = {f: p for f, p in fold_predictions_of(results.tasks[challenge.task]).items() if p}
    if not predictions:
        raise ResultsFileError(f"the results file has no recorded folds for {challenge.task}")
    if truth is None:
        truth = load_ground_truth(challenge.task)
    return score_predictions(challenge, predictions, truth)
