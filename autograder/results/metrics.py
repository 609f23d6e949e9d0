"""Scores recomputed by us from a submission's predictions and the ground truth.

Matbench's own metrics (matbench 0.6 `data_ops.score_array`), written with numpy only so that the
student self-check does not pay for importing scikit-learn (`tests/checks/test_checks_scoring.py` checks
every function against scikit-learn):

* regression: mae, rmse, mape (entries with |y| <= 1e-5 masked), max_error;
* classification: accuracy, balanced_accuracy, f1 on labels (probabilities thresholded at
  `> 0.5`), and **rocauc as matbench stores it: computed from those thresholded labels**, so it
  equals the balanced accuracy (matbench issues #137, #181). That is the leaderboard's figure.
  For probability predictions we also give `rocauc_proba`, the ROC-AUC of the probabilities
  themselves (what scikit-learn's `roc_auc_score(y, p)` gives), which is NOT comparable with the
  leaderboard.

Across folds: mean and population standard deviation (`np.std`, ddof=0), as matbench reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

CLF_THRESH = 0.5
MAPE_THRESHOLD = 1e-5
REGRESSION_METRICS = ("mae", "rmse", "mape", "max_error")
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "rocauc")


def regression_scores(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    err = y_pred - y_true
    mask = np.abs(y_true) > MAPE_THRESHOLD
    mape = float(np.mean(np.abs(err[mask] / y_true[mask]))) if mask.any() else float("nan")
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(math.sqrt(np.mean(err**2))),
        "mape": mape,
        "max_error": float(np.max(np.abs(err))),
    }


def roc_auc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve = Mann-Whitney U / (n_pos * n_neg), ties counted half.
    NaN when only one class is present."""
    y_true = np.asarray(y_true, dtype=bool)
    score = np.asarray(score, dtype=float)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score), dtype=float)
    # average ranks (1-based) over runs of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(score)]))
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    u = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def labels_of(y_pred: ArrayLike) -> np.ndarray:
    """Labels as matbench makes them: bools as they are, probabilities `> 0.5`."""
    arr = np.asarray(y_pred)
    if arr.dtype == bool:
        return arr
    return arr.astype(float) > CLF_THRESH


def classification_scores(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Matbench's four classification metrics, plus `rocauc_proba` when the predictions are
    probabilities (floats) rather than labels."""
    y_true = np.asarray(y_true, dtype=bool)
    labels = labels_of(y_pred)
    tp = int(np.sum(labels & y_true))
    tn = int(np.sum(~labels & ~y_true))
    fp = int(np.sum(labels & ~y_true))
    fn = int(np.sum(~labels & y_true))
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * precision * tpr / (precision + tpr) if precision + tpr else 0.0
    scores = {
        "accuracy": (tp + tn) / len(y_true),
        "balanced_accuracy": (tpr + tnr) / 2,
        "f1": f1,
        "rocauc": roc_auc(y_true, labels.astype(float)),
    }
    arr = np.asarray(y_pred)
    if arr.dtype != bool:
        scores["rocauc_proba"] = roc_auc(y_true, arr.astype(float))
    return scores


def task_scores(task_type: str, y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    if task_type == "classification":
        return classification_scores(y_true, y_pred)
    return regression_scores(y_true, y_pred)


@dataclass
class Summary:
    mean: float
    std: float  # population std, as matbench
    min: float
    max: float

    @classmethod
    def of(cls, values: ArrayLike) -> Summary:
        arr = np.asarray(values, dtype=float)
        return cls(float(np.mean(arr)), float(np.std(arr)), float(np.min(arr)), float(np.max(arr)))

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "std": self.std, "min": self.min, "max": self.max}


def format_score(value: float | None, digits: int = 4) -> str:
    """A score as the checks and the self-check write it: 4 decimals (2 from 100 up), "n/a" for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.2f}"
    return f"{value:.{digits}f}"
