"""What a notebook is (this course's template, an earlier edition of it, or free-form) and what the
practice checks read in it: the student's own words and code, never the template's printed questions."""

from __future__ import annotations

import pytest
from checks_support import RELEASED, corpus_notebook, released, source_of, with_cells, write_notebook

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
    nb = with_cells(corpus_notebook(BASE), problem_statement="We predict band gaps from compositions.",
                    training_testing=question_then("training_testing", "Early stopping on an inner split."),
                    data_preparation=question_then("data_preparation", "I used Magpie-like element statistics."),
                    model_choice=question_then("model_choice", "Gradient boosting suits tabular features."),
                    leaderboard_comparison=question_then("leaderboard_comparison", "We are far from the top."))
    found = practice(tmp_path, nb, with_released)
    assert found["practice.data_checks"].details["found"].get("zeros_or_imbalance") is None
    assert found["practice.data_checks"].details["found"].get("outliers") is None
    assert "baseline" not in found["practice.baseline"].details["text"]
    quote = found["practice.model_justification"].details["quote"]
    assert quote == "Gradient boosting suits tabular features."


def test_the_students_own_words_still_count(tmp_path):
    nb = with_cells(corpus_notebook(BASE), data_preparation=question_then(
        "data_preparation", "There were no outliers; I removed duplicates and zeros."))
    found = practice(tmp_path, nb)["practice.data_checks"].details["found"]
    assert "outlier" in found["outliers"] and "duplicat" in found["duplicates"]
