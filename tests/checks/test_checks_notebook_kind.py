"""What a notebook is (this course's template, an earlier edition of it, or free-form) and what the
practice checks read in it: the student's own words and code, never the template's printed questions."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from checks_support import CORPUS, RELEASED, corpus_notebook, released, source_of, with_cells, write_notebook

from autograder.checks import run_checks
from autograder.checks.context import CheckContext

BASE = "compliant_B_expt_gap"


def practice(tmp_path, nb, with_released=True) -> dict:
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED if with_released else None)
    if not with_released:
        ctx.released_path = None
    return {f.check_id: f for f in run_checks(ctx, only=["practice"])}


def question_then(grade_id: str, answer: str) -> str:
    """The released answer cell with its YOUR ANSWER HERE replaced by `answer`."""
    return source_of(released(), grade_id).replace("YOUR ANSWER HERE", answer)


# --- Item 6: the printed question is not the answer -----------------------------------------------


@pytest.mark.parametrize("with_released", [True, False], ids=["with-released", "built-in-only"])
def test_the_printed_question_is_not_evidence(tmp_path, with_released):
    """A filled answer cell still holds its question ("... duplicates, zeros, missing values,
    outliers", "What baseline did you compare with?"): those words are the template's."""
    nb = with_cells(
        corpus_notebook(BASE),
        problem_statement="We predict band gaps from compositions.",
        training_testing=question_then("training_testing", "Early stopping on an inner split."),
        data_preparation=question_then("data_preparation", "I used Magpie-like element statistics."),
        model_choice=question_then("model_choice", "Gradient boosting suits tabular features."),
        leaderboard_comparison=question_then("leaderboard_comparison", "We are far from the top."),
    )
    found = practice(tmp_path, nb, with_released)
    assert found["practice.data_checks"].details["found"].get("zeros_or_imbalance") is None
    assert found["practice.data_checks"].details["found"].get("outliers") is None
    assert "baseline" not in found["practice.baseline"].details["text"]
    quote = found["practice.model_justification"].details["quote"]
    assert quote == "Gradient boosting suits tabular features."


def test_the_students_own_words_still_count(tmp_path):
    nb = with_cells(
        corpus_notebook(BASE),
        data_preparation=question_then(
            "data_preparation", "There were no outliers; I removed duplicates and zeros."
        ),
    )
    found = practice(tmp_path, nb)["practice.data_checks"].details["found"]
    assert "outlier" in found["outliers"] and "duplicat" in found["duplicates"]


def test_todays_template_with_no_answer_fails(tmp_path):
    nb = corpus_notebook(BASE)
    nb = with_cells(nb, **{q: source_of(released(), q) for q in ANSWERS})
    found = practice(tmp_path, nb)["practice.answers"]
    assert found.status == "fail"
    assert found.message.startswith(
        "None of the written answers is filled in: problem statement, data preparation"
    )


# --- Item 1: what a notebook is -------------------------------------------------------------------

ANSWERS = (
    "problem_statement",
    "data_preparation",
    "model_choice",
    "training_testing",
    "leaderboard_comparison",
)
SKELETON_2024 = CORPUS / "free_2024_skeleton_untouched" / "research_challenge.ipynb"
SKELETON_2025 = Path(__file__).resolve().parents[1] / "declarations" / "lecture9_2025.ipynb"


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


def notebook(*cells) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


FEATURISER = '''import pandas as pd
from pymatgen.core import Composition


class CompositionFeaturiser:
    """Formulas to a few descriptors of my own."""

    def transform(self, formulas):
        rows = []
        for formula in formulas:
            comp = Composition(formula)
            rows.append({"n_elements": len(comp), "mass_per_atom": comp.weight / comp.num_atoms})
        return pd.DataFrame(rows)
'''


def long_report(data_heading="##**Data Cleaning**") -> dict:
    return notebook(
        markdown(
            "# Predicting experimental band gaps\n\nIn this report I predict the experimental band gap of "
            "inorganic compounds from their composition alone, a task that matters for screening solar "
            "absorbers before slow measurements."
        ),
        code(FEATURISER),
        markdown(
            f"{data_heading}\n\nI checked the data for missing values and duplicate formulas: several "
            "formulas appear twice with slightly different gaps, and many gaps are exactly zero."
        ),
        markdown(
            "## 3. Feature engineering\n\nMy `CompositionFeaturiser` class computes the number of elements "
            "and the mass per atom, cheap descriptors that relate to bonding."
        ),
        markdown(
            "## Model selection and justification\n\nI chose a random forest because it handles non-linear "
            "relations between a handful of descriptors, needs no scaling and suits a few thousand samples."
        ),
        code("from sklearn.ensemble import RandomForestRegressor\nmodel = RandomForestRegressor()\n"),
        markdown(
            "## Results and validation\n\nI trained and tested the model on the five official folds; the "
            "mean absolute error is about 0.6 eV with little spread between folds."
        ),
        markdown(
            "## Comparison with the Matbench leaderboard\n\nThe best model on the leaderboard reaches 0.33 eV, "
            "so mine is behind, but it is clearly better than the Dummy baseline."
        ),
    )


@pytest.mark.parametrize(
    "data_heading", ["##**Data Cleaning**", "## **Data Cleaning**", "**Data Cleaning**", "# 1. Data cleaning"]
)
def test_a_free_form_report_is_judged_on_its_own_sections(tmp_path, data_heading):
    found = practice(tmp_path, long_report(data_heading))
    answers = found["practice.answers"]
    assert answers.status == "info", answers.message
    assert answers.details["notebook_kind"] == "free-form"
    assert "data cleaning" in answers.details["found_in"]["data_preparation"]
    assert answers.details["found_in"]["problem_statement"] == "a paragraph in cell 1"
    assert found["practice.model_justification"].status == "info"
    assert (
        found["practice.model_justification"].details["found_in"]
        == "section 'model selection and justification'"
    )
    features = found["practice.features"]
    assert features.status == "info" and "class `CompositionFeaturiser` (cell 2)" in features.message


def test_a_free_form_notebook_missing_a_section_is_told_what_was_looked_for(tmp_path):
    nb = long_report()
    del nb["cells"][-1]  # no comparison with the leaderboard
    answers = practice(tmp_path, nb)["practice.answers"]
    assert answers.status == "warn"
    assert answers.message == (
        "Read as a free-form notebook: looked for a section or a paragraph on each question "
        "and found none on: comparison with the leaderboard (the scores compared with the "
        "Matbench leaderboard)."
    )


def test_a_free_form_notebook_without_featurisation_says_what_was_looked_for(tmp_path):
    nb = long_report()
    nb["cells"][1] = code("import pandas as pd\nX = pd.read_csv('features.csv')\n")
    features = practice(tmp_path, nb)["practice.features"]
    assert features.status == "warn"
    assert features.message.startswith(
        "Read as a free-form notebook: looked for featurisation anywhere in the code"
    )
    assert "template" not in features.message


def read(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def fill(nb: dict, heading: str, text: str) -> dict:
    """The earlier template with `text` written below the section `heading` (in a cell of its own)."""
    nb = copy.deepcopy(nb)
    at = next(i for i, c in enumerate(nb["cells"]) if "".join(c["source"]).startswith(f"## {heading}"))
    nb["cells"].insert(at + 1, markdown(text))
    return nb


ANSWER_TEXTS = {
    "problem statement": "We predict the experimental band gap from the composition, to screen new materials.",
    "data preparation": "I looked at the distribution, removed no duplicates and featurised with Magpie.",
    "model choice": "I chose gradient boosting because it suits tabular features and a few thousand samples.",
    "training and testing": "Five-fold cross-validation gives a mean absolute error of 0.4 eV; the best model on "
    "the MatBench leaderboard reaches 0.33 eV.",
    "model selection, testing and training": "I chose gradient boosting because it suits tabular data; I trained "
    "it on five folds with an inner validation split.",
    "model analysis and discussion": "The mean absolute error is 0.4 eV, behind the best model on the leaderboard "
    "but well ahead of the dummy baseline.",
}
EDITION_HEADINGS = {
    "2024": (
        SKELETON_2024,
        ["Problem statement", "Data preparation", "Model choice", "Training and testing"],
    ),
    "2025": (
        SKELETON_2025,
        [
            "Problem statement",
            "Data preparation",
            "Model selection, testing and training",
            "Model analysis and discussion",
        ],
    ),
}


def edition(name: str, filled: int) -> dict:
    path, headings = EDITION_HEADINGS[name]
    nb = read(path)
    for heading in headings[:filled]:
        nb = fill(nb, heading, ANSWER_TEXTS[heading.lower()])
    return nb


@pytest.mark.parametrize("name", EDITION_HEADINGS)
def test_an_earlier_template_untouched_fails_naming_every_question(tmp_path, name):
    found = practice(tmp_path, edition(name, 0))
    answers = found["practice.answers"]
    assert answers.details["notebook_kind"] == f"earlier template ({name})"
    assert answers.status == "fail", answers.message
    assert answers.message.startswith(f"Read as written on the {name} template")
    for label in (
        "problem statement",
        "data preparation",
        "model choice",
        "training and testing",
        "comparison with the leaderboard",
    ):
        assert label in answers.message
    assert "cell is missing" not in found["practice.model_justification"].message


@pytest.mark.parametrize("name", EDITION_HEADINGS)
def test_an_earlier_template_filled_passes(tmp_path, name):
    answers = practice(tmp_path, edition(name, 4))["practice.answers"]
    assert answers.status == "info", answers.message


@pytest.mark.parametrize(
    "name, unanswered",
    [
        ("2024", ["model choice", "training and testing", "comparison with the leaderboard"]),
        ("2025", ["model choice", "training and testing", "comparison with the leaderboard"]),
    ],
)
def test_an_earlier_template_partly_filled_warns_naming_the_unanswered(tmp_path, name, unanswered):
    answers = practice(tmp_path, edition(name, 2))["practice.answers"]
    assert answers.status == "warn", answers.message
    named = answers.message.split("found none on: ", 1)[1]
    assert [label for label in ANSWER_CELLS_LABELS if label in named] == unanswered


ANSWER_CELLS_LABELS = [
    "problem statement",
    "data preparation",
    "model choice",
    "training and testing",
    "comparison with the leaderboard",
]


def test_the_2024_skeleton_declaration_untouched_fails(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", edition("2024", 0))
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    complete = next(f for f in run_checks(ctx, only=["declaration"]) if f.check_id == "declaration.complete")
    assert complete.status == "fail"
