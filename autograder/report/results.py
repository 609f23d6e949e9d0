"""A submission's predictions, rescored for the reports: per-fold scores, mean ± std, the place
on the leaderboard, and errors for test materials whose chemical system was or was not seen in
training.

The results file is what `MatbenchBenchmark.to_file` wrote: matbench 0.6 writes plain JSON even
under a `.gz` name, GitHub matbench real gzip, so the first two bytes are sniffed (1f 8b).
Scores use matbench's definitions: MAE for regression; for classification the leaderboard's
"rocauc", which matbench computes from labels (probabilities thresholded at 0.5), and also the
ROC-AUC of the probabilities when the predictions are probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.course.challenges import Challenge

# One reader and one set of metrics for the checks and the reports (matbench's definitions).
from autograder.results.file import ResultsFileError, load_results
from autograder.results.metrics import labels_of, roc_auc


def fold_predictions(results_path: Path, task: str) -> dict[int, dict[str, object]]:
    """fold number -> {mbid: prediction} for one task, from a results file."""
    results = load_results(results_path)
    if task not in results.tasks:
        present = ", ".join(results.tasks) or "none"
        raise ResultsFileError(f"the results file holds no predictions for {task} (tasks: {present})")
    out = {fold: result.data for fold, result in results.tasks[task].folds.items()
           if isinstance(result.data, dict) and result.data}
    if not out:
        raise ResultsFileError(f"the results file has no recorded folds for {task}")
    return out


@dataclass
class FoldScore:
    fold: int
    score: float | None  # ranking metric (MAE or label ROC-AUC)
    n: int
    n_expected: int
    prob_rocauc: float | None = None


@dataclass
class Analysis:
    """What the reports need; arrays are kept for the figures but not written to JSON."""

    metric: str
    metric_label: str
    higher_is_better: bool
    folds: list[FoldScore]
    mean: float | None
    std: float | None
    complete: bool  # every official test id of every fold predicted
    rank: int | None
    n_entries: int
    mad_ratio: float | None = None  # MAE / MAD (regression)
    prob_rocauc_mean: float | None = None
    seen_unseen: dict = field(default_factory=dict)
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    seen: np.ndarray | None = None
    is_probability: bool = False

    def to_dict(self) -> dict:
        return {"metric": self.metric, "metric_label": self.metric_label,
                "higher_is_better": self.higher_is_better,
                "folds": [vars(f) for f in self.folds], "mean": self.mean, "std": self.std,
                "complete": self.complete, "rank": self.rank, "n_entries": self.n_entries,
                "mad_ratio": self.mad_ratio, "prob_rocauc_mean": self.prob_rocauc_mean,
                "seen_unseen": self.seen_unseen, "is_probability": self.is_probability}


def _as_float(value) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def label_rocauc(truth: np.ndarray, predictions: np.ndarray) -> float | None:
    """matbench's (the leaderboard's) ROC-AUC: computed from labels, probabilities > 0.5."""
    value = roc_auc(truth, labels_of(predictions))
    return None if math.isnan(value) else value


def prob_rocauc(truth: np.ndarray, predictions: np.ndarray) -> float | None:
    value = roc_auc(truth, predictions)
    return None if math.isnan(value) else value


def analyse(challenge: Challenge, results_path: Path, truth=None) -> Analysis:
    """Rescore a results file against the ground truth (autograder.course.data.load_ground_truth)."""
    if truth is None:
        from autograder.course.data import load_ground_truth

        truth = load_ground_truth(challenge.task)
    predictions = fold_predictions(results_path, challenge.task)
    index = truth.index_of()
    folds, all_true, all_pred, all_seen = [], [], [], []
    complete = True
    is_probability = False
    for fold in range(truth.n_folds):
        test_ids = truth.test_ids(fold)
        given = predictions.get(fold, {})
        train_systems = {truth.chemsys[i] for i, f in enumerate(truth.test_fold) if f != fold}
        ids = [m for m in test_ids if m in given]
        values = np.array([_as_float(given[m]) for m in ids], dtype=float)
        ok = np.isfinite(values)
        ids = [m for m, good in zip(ids, ok) if good]
        values = values[ok]
        complete = complete and len(ids) == len(test_ids) and len(given) == len(test_ids)
        rows = [index[m] for m in ids]
        y = truth.targets[rows].astype(float)
        if challenge.is_classification and len(values) and not np.all(np.isin(values, (0.0, 1.0))):
            is_probability = True
        score = prob = None
        if len(values):
            if challenge.is_classification:
                score = label_rocauc(y.astype(bool), values)
                if is_probability:
                    prob = prob_rocauc(y.astype(bool), values)
            else:
                score = float(np.mean(np.abs(values - y)))
        folds.append(FoldScore(fold, score, len(values), len(test_ids), prob))
        all_true.append(y)
        all_pred.append(values)
        all_seen.append(np.array([truth.chemsys[r] in train_systems for r in rows], dtype=bool))
    scores = [f.score for f in folds if f.score is not None]
    mean = float(np.mean(scores)) if scores else None
    std = float(np.std(scores)) if scores else None  # population std, as the leaderboard
    y_true, y_pred, seen = np.concatenate(all_true), np.concatenate(all_pred), np.concatenate(all_seen)
    analysis = Analysis(
        metric=challenge.metric, metric_label=challenge.metric_label,
        higher_is_better=challenge.higher_is_better, folds=folds, mean=mean, std=std,
        complete=complete, rank=challenge.rank(mean) if mean is not None and complete else None,
        n_entries=len(challenge.leaderboard),
        mad_ratio=(mean / challenge.mad) if (mean is not None and challenge.mad) else None,
        y_true=y_true, y_pred=y_pred, seen=seen, is_probability=is_probability)
    probs = [f.prob_rocauc for f in folds if f.prob_rocauc is not None]
    analysis.prob_rocauc_mean = float(np.mean(probs)) if probs else None
    analysis.seen_unseen = seen_unseen_errors(challenge, y_true, y_pred, seen)
    return analysis


def seen_unseen_errors(challenge: Challenge, y_true, y_pred, seen) -> dict:
    """Error for test materials whose chemical system appears in the fold's training data (seen)
    and for those whose system does not (unseen: extrapolation to new chemistry)."""
    out = {}
    for name, mask in (("seen", seen), ("unseen", ~seen)):
        n = int(mask.sum())
        entry = {"n": n, "value": None}
        if n:
            if challenge.is_classification:
                labels = labels_of(y_pred[mask])
                entry["value"] = float(np.mean(labels == y_true[mask].astype(bool)))
            else:
                entry["value"] = float(np.mean(np.abs(y_pred[mask] - y_true[mask])))
        out[name] = entry
    out["measure"] = "accuracy" if challenge.is_classification else "MAE"
    return out
