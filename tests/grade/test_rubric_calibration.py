"""Calibration of the suggested marks: a ladder of notebooks from the untouched template to the reference
solution, each graded by the course rubric from the checks' real findings (real folds, real leaderboard
predictions). The suggestion per criterion must rise with the evidence, and a notebook no better than the
Dummy baseline whose questions are unanswered and whose code is explained nowhere must not be suggested
more than a third-class mark (49) in Training and testing or in Code."""

from __future__ import annotations

import pytest
from checks_support import (
    RELEASED,
    corpus_notebook,
    leaderboard_predictions,
    released,
    results_file,
    with_cells,
    write_notebook,
)
from selfcheck_support import solved

from autograder.checks import run_checks
from autograder.checks.context import CheckContext
from autograder.grade.combine import caps_for, suggest
from autograder.grade.rubric import load_rubric

TASK = "matbench_expt_gap"
THIRD_CLASS_TOP = 49
RUBRIC = load_rubric(RELEASED.parents[2] / "rubric" / "research_challenge.toml")

# The notebook: a linear model on one crude feature, no comments anywhere.
CRUDE_FEATURES = """import numpy as np
def featurise(inputs: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"n_chars": inputs.astype(str).str.len()})
"""
CRUDE_MODEL = """from sklearn.linear_model import LinearRegression
def train_model(features: pd.DataFrame, targets: pd.Series):
    model = LinearRegression()
    model.fit(features, targets)
    return model
"""
EXPLAINED_FEATURES = '''# The formula's length stands in for its number of elements: a crude first feature, kept to see
# how far a linear model gets before I add composition features.
import numpy as np
def featurise(inputs: pd.Series) -> pd.DataFrame:
    """One column per material: the length of its formula."""
    return pd.DataFrame({"n_chars": inputs.astype(str).str.len()})
'''
EXPLAINED_MODEL = '''from sklearn.linear_model import LinearRegression
def train_model(features: pd.DataFrame, targets: pd.Series):
    """A linear model: the simplest baseline above the mean, so any gain later is measured against it."""
    model = LinearRegression()  # no hyperparameters to tune, so no validation split is needed here
    model.fit(features, targets)
    return model
'''
ANSWERS = {
    "problem_statement": "We predict the experimental band gap (eV) of a material from its chemical formula alone: "
    "a regression over 4,604 compositions, scored by the mean absolute error over five folds.",
    "data_preparation": "I used one feature, the length of the formula, as a stand-in for its complexity. I checked "
    "the target for zeros (many metals have a gap of 0 eV) and kept them, since they are real.",
    "model_choice": "A linear regression, as the simplest model above predicting the mean; it has no "
    "hyperparameters, so it shows what the feature alone carries.",
    "training_testing": "The official Matbench folds were used through the API; the model is fitted on each "
    "training fold only and its predictions on the test fold recorded.",
    "leaderboard_comparison": "My MAE is about that of the Dummy model, far from the best entries (below 0.35 eV): "
    "one crude feature does not describe the chemistry.",
}


def _suggestions(tmp_path, name: str, nb: dict, predictions_of: str | None) -> dict[str, float | None]:
    folder = tmp_path / name
    path = write_notebook(folder / "research_challenge.ipynb", nb)
    if predictions_of:
        results_file(folder / "results.json.gz", TASK, leaderboard_predictions(predictions_of, TASK))
    findings = run_checks(CheckContext.from_notebook(path, challenge="B", released_path=RELEASED))
    caps = caps_for(RUBRIC, findings)
    # what a marker who accepts the suggestion awards: the suggestion under the rubric's caps
    return {
        criterion: mark
        if mark is None or criterion not in caps
        else min([mark] + [c["cap"] for c in caps[criterion]])
        for criterion, (mark, _) in suggest(RUBRIC, findings).items()
    }


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> list[tuple[str, dict]]:
    tmp = tmp_path_factory.mktemp("ladder")
    crude = with_cells(released(), featurise=CRUDE_FEATURES, model=CRUDE_MODEL)
    explained = with_cells(released(), featurise=EXPLAINED_FEATURES, model=EXPLAINED_MODEL, **ANSWERS)
    reference = dict(solved("B"))
    return [
        ("untouched template, nothing run", _suggestions(tmp, "untouched", released(), None)),
        ("Dummy-level, unanswered, unexplained", _suggestions(tmp, "crude", crude, "dummy")),
        ("Dummy-level, answered and commented", _suggestions(tmp, "explained", explained, "dummy")),
        (
            "compliant, random forest",
            _suggestions(tmp, "compliant", corpus_notebook("compliant_B_expt_gap"), "rf"),
        ),
        ("reference solution, best predictions", _suggestions(tmp, "reference", reference, "darwin")),
    ]


def test_suggestions_rise_with_the_evidence(ladder):
    for criterion in ("training_testing", "code"):
        marks = [(step, s[criterion]) for step, s in ladder]
        shown = "; ".join(f"{step}: {mark}" for step, mark in marks)
        assert all(mark is not None for _, mark in marks[1:]), shown
        rising = [mark for _, mark in marks if mark is not None]
        assert rising == sorted(rising), f"{criterion} falls somewhere on the ladder: {shown}"
        assert rising[-1] - rising[0] >= 20, f"{criterion} barely moves: {shown}"


def test_a_dummy_level_notebook_with_nothing_explained_is_third_class_at_most(ladder):
    crude = dict(ladder)["Dummy-level, unanswered, unexplained"]
    assert crude["training_testing"] <= THIRD_CLASS_TOP and crude["code"] <= THIRD_CLASS_TOP, crude
    explained = dict(ladder)["Dummy-level, answered and commented"]
    assert explained["training_testing"] <= THIRD_CLASS_TOP  # still no better than the mean
    assert explained["code"] > THIRD_CLASS_TOP  # its code is now explained
    best = dict(ladder)["reference solution, best predictions"]
    assert best["training_testing"] >= 60 and best["code"] >= 60, best
