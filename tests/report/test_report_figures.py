"""The charts' margins are set from their text, not found by a second layout pass
(`bbox_inches="tight"`): every piece of text must still land inside the image. Drawn from the
official RF-SCM/Magpie leaderboard predictions of all four tasks, rescored against the real data."""

from __future__ import annotations

import pytest
from grading_support import write_results_file

from autograder.course.challenges import Catalogue
from autograder.report import figures
from autograder.report.feedback import submission_figures
from autograder.results.score import score_results_file


@pytest.fixture
def drawn(monkeypatch):
    """Collects each figure a chart function hands to to_data_uri, after drawing it like savefig does."""
    kept = []
    to_uri = figures.to_data_uri

    def keep(figure):
        kept.append(figure)
        return to_uri(figure)

    monkeypatch.setattr(figures, "to_data_uri", keep)
    return kept


def _outside(figure) -> list[str]:
    """Where the drawn content (tick labels, axis labels, titles, notes, legends) overflows the image:
    the box `bbox_inches="tight"` would have cropped to, against the image itself, in inches."""
    renderer = figure.canvas.get_renderer()
    content = figure.get_tightbbox(renderer)
    width, height = figure.get_size_inches()
    slack = 0.01
    overflow = {
        "left": -content.x0,
        "bottom": -content.y0,
        "right": content.x1 - width,
        "top": content.y1 - height,
    }
    return [f"{side} by {inches:.2f} in" for side, inches in overflow.items() if inches > slack]


@pytest.mark.parametrize("letter", ["A", "B", "C", "D"])
def test_every_label_of_a_feedback_chart_is_inside_the_image(letter, drawn, tmp_path):
    challenge = Catalogue().get(letter)
    results = write_results_file(challenge.task, "RF-SCM/Magpie", tmp_path / "results.json.gz")
    score = score_results_file(challenge, results)
    charts = submission_figures(challenge, score.to_dict(), score.arrays)
    assert len(charts) == len(drawn) == (4 if challenge.is_classification else 3)
    for figure in drawn:
        assert _outside(figure) == []


def test_summary_charts_keep_long_labels_inside(drawn):
    class Band:
        def __init__(self, lowest):
            self.min = lowest

    figures.histogram(
        {"final": [38, 55, 62, 71, 80, 93], "provisional": [45, 66]},
        [Band(40), Band(50), Band(70)],
        "Overall marks",
        "overall mark",
    )
    figures.criterion_marks_chart(
        [
            ("Data preparation", [60, 70, 80]),
            ("Training and testing (a long title)", [70]),
            ("Code", []),
            ("Presentation", [55, 75, 90]),
        ]
    )
    figures.leaderboard_chart(
        Catalogue().get("C"),
        [{"label": "a student's model with a very long name (ab1234)", "mean": 0.08, "std": 0.01}],
        title="Challenge C: every model of the cohort",
    )
    for figure in drawn:
        assert _outside(figure) == []
