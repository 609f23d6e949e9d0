"""Rescoring: our numpy metrics equal scikit-learn's, matbench's Dummy is reproduced from the ground
truth, and the official leaderboard predictions rescore to the scores matbench stored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    max_error,
    mean_absolute_error,
    mean_squared_error,
    roc_auc_score,
)

from autograder.course.challenges import Catalogue
from autograder.course.data import load_ground_truth
from autograder.results.metrics import Summary, classification_scores, regression_scores, roc_auc
from autograder.results.score import score_predictions

LEADERBOARD = Path(__file__).resolve().parents[3] / "shared" / "matbench-data" / "leaderboard"


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    y[:20] = 0.0  # masked by MAPE
    p = y + rng.normal(scale=0.3, size=500)
    s = regression_scores(y, p)
    assert s["mae"] == pytest.approx(mean_absolute_error(y, p), rel=1e-12)
    assert s["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)), rel=1e-12)
    assert s["max_error"] == pytest.approx(max_error(y, p), rel=1e-12)
    mask = np.abs(y) > 1e-5
    assert s["mape"] == pytest.approx(np.mean(np.abs((y[mask] - p[mask]) / y[mask])), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(400) < 0.7
    proba = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1).round(2)  # many ties
    s = classification_scores(y, proba)
    labels = proba > 0.5
    assert s["accuracy"] == pytest.approx(accuracy_score(y, labels))
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, labels))
    assert s["f1"] == pytest.approx(f1_score(y, labels))
    # matbench's stored ROC-AUC: computed from the thresholded labels == balanced accuracy
    assert s["rocauc"] == pytest.approx(roc_auc_score(y, labels))
    assert s["rocauc"] == pytest.approx(s["balanced_accuracy"])
    # the probability ROC-AUC is the real one, and differs
    assert s["rocauc_proba"] == pytest.approx(roc_auc_score(y, proba), abs=1e-12)
    assert s["rocauc_proba"] != pytest.approx(s["rocauc"], abs=1e-3)
    labels_only = classification_scores(y, labels)
    assert "rocauc_proba" not in labels_only
    assert labels_only["rocauc"] == pytest.approx(s["rocauc"])


def test_roc_auc_edge_cases():
    assert np.isnan(roc_auc([True, True], [0.1, 0.9]))
    assert roc_auc([False, True], [0.2, 0.8]) == 1.0
    assert roc_auc([False, True], [0.8, 0.2]) == 0.0
    assert roc_auc([False, True, True, False], [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_population_std_like_matbench():
    s = Summary.of([1.0, 2.0, 3.0])
    assert s.std == pytest.approx(np.std([1.0, 2.0, 3.0]))  # ddof=0
    assert s.std != pytest.approx(np.std([1.0, 2.0, 3.0], ddof=1))


@pytest.mark.parametrize(
    "task, expected",
    [("matbench_expt_gap", 1.1435), ("matbench_phonons", 323.9822), ("matbench_perovskites", 0.5660)],
)
def test_dummy_reproduces_leaderboard(task, expected, shared_data):
    """matbench's Dummy: each fold predicts the mean of its training targets."""
    truth = load_ground_truth(task)
    targets = truth.target_of()
    folds = {}
    for fold in range(5):
        mean = float(np.mean([targets[m] for m in truth.train_ids(fold)]))
        folds[fold] = {m: mean for m in truth.test_ids(fold)}
    result = score_predictions(Catalogue().get(task), folds, truth)
    assert result.complete
    assert round(result.summary["mae"].mean, 4) == pytest.approx(expected, abs=1e-9)
    entry = Catalogue().get(task).reference("Dummy")
    assert result.summary["mae"].mean == pytest.approx(entry.mean, abs=5e-5)
    assert result.summary["mae"].std == pytest.approx(entry.std, abs=5e-5)


def _leaderboard(name: str) -> dict:
    with gzip.open(LEADERBOARD / f"{name}.json.gz", "rt") as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", ["rf", "dummy", "automatminer_expressv2020", "CrabNet", "darwin"])
def test_leaderboard_predictions_rescore_to_stored_scores(name, shared_data):
    board = _leaderboard(name)
    catalogue = Catalogue()
    for task, folds in board["tasks"].items():
        challenge = catalogue.get(task)
        truth = load_ground_truth(task)
        result = score_predictions(
            challenge, {int(k.split("_")[1]): v["predictions"] for k, v in folds.items()}, truth
        )
        assert result.complete, (name, task)
        for key, fold in folds.items():
            mine = result.folds[int(key.split("_")[1])]
            for metric, stored in fold["scores"].items():
                assert mine[metric] == pytest.approx(stored, rel=1e-9, abs=1e-9), (name, task, key, metric)
        # the mean ± std over folds is the leaderboard's figure
        entry = next((e for e in challenge.leaderboard if e.algorithm == board["algorithm"]), None)
        if entry is not None:
            assert result.summary[challenge.metric].mean == pytest.approx(entry.mean, abs=5e-5), (name, task)
            if entry.std is not None and len(str(entry.std).split(".")[-1]) >= 4:
                assert result.summary[challenge.metric].std == pytest.approx(entry.std, abs=5e-5), (
                    name,
                    task,
                )
