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

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.challenges import Challenge

GZIP_MAGIC = b"\x1f\x8b"
CLASSIFICATION_THRESHOLD = 0.5  # matbench's CLF_THRESH


class ResultsFileError(ValueError):
    """The results file is missing, unreadable, or holds no predictions for the task."""


def read_results_file(path: Path) -> dict:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ResultsFileError(f"the results file {path.name} could not be read ({error.strerror})") from error
    try:
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsFileError(f"the results file {path.name} is not matbench's JSON ({error})") from error


def fold_predictions(results: dict, task: str) -> dict[int, dict[str, object]]:
    """fold number -> {mbid: prediction} for one task, from a MatbenchBenchmark dict."""
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or task not in tasks:
        present = ", ".join(tasks) if isinstance(tasks, dict) else "none"
        raise ResultsFileError(f"the results file holds no predictions for {task} (tasks: {present})")
    folds = tasks[task].get("results", {}) if isinstance(tasks[task], dict) else {}
    out = {}
    for key, fold in (folds or {}).items():
        if not str(key).startswith("fold_") or not isinstance(fold, dict):
            continue
        data = fold.get("data")
        if isinstance(data, dict) and data:
            out[int(str(key).split("_", 1)[1])] = data
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
    from sklearn.metrics import roc_auc_score

    labels = predictions >= CLASSIFICATION_THRESHOLD
    if len(set(truth.tolist())) < 2:
        return None
    return float(roc_auc_score(truth, labels))


def prob_rocauc(truth: np.ndarray, predictions: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(truth.tolist())) < 2:
        return None
    return float(roc_auc_score(truth, predictions))


def analyse(challenge: Challenge, results_path: Path, truth=None) -> Analysis:
    """Rescore a results file against the ground truth (autograder.data.load_ground_truth)."""
    if truth is None:
        from autograder.data import load_ground_truth

        truth = load_ground_truth(challenge.task)
    predictions = fold_predictions(read_results_file(results_path), challenge.task)
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
                labels = y_pred[mask] >= CLASSIFICATION_THRESHOLD
                entry["value"] = float(np.mean(labels == y_true[mask].astype(bool)))
            else:
                entry["value"] = float(np.mean(np.abs(y_pred[mask] - y_true[mask])))
        out[name] = entry
    out["measure"] = "accuracy" if challenge.is_classification else "MAE"
    return out
