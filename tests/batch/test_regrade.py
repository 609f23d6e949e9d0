"""Re-grading redraws only what changed (issue 16): the check stage, the grade, the gradebook entry,
each chart and each feedback page are content-addressed, so after a marks change only the pages of
the students whose marks changed are written again, after a rubric change no results file is read
again and no chart is redrawn, and every page stays byte-identical to a full re-render. On a cohort
of real predictions (the official RF-SCM/Magpie leaderboard predictions, rescored against the real
Matbench data) with the nbgrader gradebook of a real release."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime

import numpy as np
import pytest
from grading_support import (
    ASSIGNMENT,
    add_submission,
    executed_notebook,
    failed_findings,
    faulty_findings,
    good_findings,
    make_course,
)

from autograder.checks import run_check_stage
from autograder.course.config import Course
from autograder.grade.gradebook import GradebookBridge
from autograder.grade.grading import grade_cohort
from autograder.report import environment, feedback, figures
from autograder.report.cohort import write_cohort_reports
from autograder.report.feedback import TEMPLATE, page_context, submission_figures

MARKS = """student_id,criterion,mark,comment
ab1234,data_preparation,70,
ab1234,model_choice,66,
ab1234,training_testing,72,
ab1234,code,74,
ab1234,presentation,68,Clear and well paced.
cd5678,presentation,52,Overran.
"""
STUDENTS_WITH_PAGES = ["ab1234", "cd5678", "gh3456"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("regrade")
    course = make_course(tmp / "course", release=True)
    add_submission(
        course,
        "ab1234",
        "B",
        "RF-SCM/Magpie",
        good_findings("Recomputed MAE: 0.4461 eV."),
        tmp,
        notebook=executed_notebook(course, {}),
    )
    add_submission(
        course,
        "cd5678",
        "D",
        "RF-SCM/Magpie",
        faulty_findings(),
        tmp,
        notebook=executed_notebook(course, {"test_all_folds_recorded": False}),
    )
    add_submission(
        course,
        "gh3456",
        "B",
        None,
        failed_findings(),
        tmp,
        status="failed",
        reason="cell 9 raised MemoryError",
        recording=None,
    )
    (course.root / "marks").mkdir()
    (course.root / "marks" / f"{ASSIGNMENT}.csv").write_text(MARKS, encoding="utf-8")
    return course.root


class FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 3, 20, 9, 30, tzinfo=tz)


@pytest.fixture
def course(template, tmp_path, monkeypatch):
    root = shutil.copytree(template, tmp_path / "course")
    monkeypatch.setattr(
        feedback, "datetime", FrozenClock
    )  # a full re-render at another minute differs only there
    return Course.open(root)


@pytest.fixture
def counts(monkeypatch):
    """How often the expensive steps run: check contexts built (the results file, notebook and ground
    truth read), gradebook entries written, charts drawn (the pages' and the cohort summary's)."""
    seen = {"checked": [], "gradebook": [], "drawn": 0}
    from autograder.checks import context

    build = context.CheckContext.from_autograded.__func__

    def from_autograded(cls, course, student_id, *args):
        seen["checked"].append(student_id)
        return build(cls, course, student_id, *args)

    monkeypatch.setattr(context.CheckContext, "from_autograded", classmethod(from_autograded))
    record = GradebookBridge.record

    def recorded(self, student, *args, **kwargs):
        seen["gradebook"].append(student)
        return record(self, student, *args, **kwargs)

    monkeypatch.setattr(GradebookBridge, "record", recorded)
    to_uri = figures.to_data_uri

    def drawn(figure):
        seen["drawn"] += 1
        return to_uri(figure)

    monkeypatch.setattr(figures, "to_data_uri", drawn)
    return seen


def regrade(course):
    """What `autograder grade --no-execute` does per submission: the check stage, the grade, the page."""
    for student in course.executed_students(ASSIGNMENT):
        run_check_stage(course, student, ASSIGNMENT)
    graded = grade_cohort(course, ASSIGNMENT)
    assert graded.errors == {}
    return write_cohort_reports(course, ASSIGNMENT)


def files(course) -> dict[str, tuple[int, bytes]]:
    """Every artefact of the later stages: path -> (mtime_ns, bytes)."""
    out = {}
    for pattern in (
        "autograded/*/*/checks.json",
        "autograded/*/*/score.json",
        "autograded/*/*/score.npz",
        "autograded/*/*/grade.json",
        "feedback/*/*/index.html",
    ):
        for path in course.root.glob(pattern):
            out[str(path.relative_to(course.root))] = (path.stat().st_mtime_ns, path.read_bytes())
    return out


def changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in after if before.get(k) != after[k])


def reset(counts):
    counts.update(checked=[], gradebook=[], drawn=0)


def assert_pages_are_full_renders(course):
    """Every page on disk, byte for byte, as drawn from scratch now (no cache, every chart drawn)."""
    for student in STUDENTS_WITH_PAGES:
        context = page_context(course, ASSIGNMENT, student)
        full = environment().get_template(TEMPLATE).render(**context)
        assert course.feedback_page(student, ASSIGNMENT).read_text(encoding="utf-8") == full, student


def set_mark(course, student, criterion, mark, comment):
    path = course.root / "marks" / f"{ASSIGNMENT}.csv"
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith(f"{student},{criterion},")
    ]
    path.write_text("\n".join(lines + [f"{student},{criterion},{mark},{comment}"]) + "\n", encoding="utf-8")


def test_first_pass_does_everything_then_nothing_is_done_twice(course, counts):
    reports = regrade(course)
    assert sorted(reports.rewritten) == STUDENTS_WITH_PAGES and reports.errors == {}
    assert sorted(counts["checked"]) == STUDENTS_WITH_PAGES and reports.charts_drawn >= 7
    assert sorted(counts["gradebook"]) == STUDENTS_WITH_PAGES
    before = files(course)
    reset(counts)
    again = regrade(course)
    assert again.rewritten == [] and again.charts_drawn == 0
    assert counts["checked"] == [] and counts["gradebook"] == []
    assert changed(before, files(course)) == []  # not one artefact written again, not even its time stamp
    assert sorted(again.pages) == STUDENTS_WITH_PAGES


def test_a_marks_change_rewrites_only_that_students_grade_and_page(course, counts):
    regrade(course)
    before = files(course)
    reset(counts)
    set_mark(course, "ab1234", "presentation", 81, "Re-marked after moderation.")
    reports = regrade(course)
    assert reports.rewritten == ["ab1234"] and reports.charts_drawn == 0  # the page's charts show no mark
    assert counts["checked"] == [] and counts["gradebook"] == ["ab1234"]
    assert changed(before, files(course)) == [
        f"autograded/ab1234/{ASSIGNMENT}/grade.json",
        f"feedback/ab1234/{ASSIGNMENT}/index.html",
    ]
    page = course.feedback_page("ab1234", ASSIGNMENT).read_text(encoding="utf-8")
    assert "Re-marked after moderation." in page
    grade = course.load_grade("ab1234", ASSIGNMENT)
    assert next(c for c in grade["criteria"] if c["key"] == "presentation")["mark"] == 81
    assert_pages_are_full_renders(course)


def test_a_rubric_change_regrades_without_reading_results_or_redrawing_charts(course, counts):
    regrade(course)
    before = files(course)
    marks_before = {s: (course.load_grade(s, ASSIGNMENT) or {}).get("overall") for s in STUDENTS_WITH_PAGES}
    reset(counts)
    rubric = course.root / "rubric" / f"{ASSIGNMENT}.toml"
    text = rubric.read_text(encoding="utf-8")
    weights = list(re.finditer(r"^weight = (\d+)$", text, flags=re.MULTILINE))
    data_preparation, presentation = weights[0], next(m for m in weights if m.group(1) == "30")
    assert data_preparation.group(1) == "20"
    text = (
        text[: data_preparation.start()]
        + "weight = 25"
        + text[data_preparation.end() : presentation.start()]
        + "weight = 25"
        + text[presentation.end() :]
    )
    rubric.write_text(text, encoding="utf-8")
    reports = regrade(course)
    assert counts["checked"] == []  # no results file, notebook or ground truth read again
    assert reports.charts_drawn == 0
    assert sorted(reports.rewritten) == STUDENTS_WITH_PAGES
    rewritten = changed(before, files(course))
    assert not [path for path in rewritten if path.endswith(("checks.json", "score.json", "score.npz"))]
    assert course.load_grade("ab1234", ASSIGNMENT)["overall"] != marks_before["ab1234"]  # 25/25 weights
    assert_pages_are_full_renders(course)


def test_changed_predictions_are_scored_and_drawn_again(course, counts):
    regrade(course)
    score = course.load_score("ab1234", ASSIGNMENT)
    reset(counts)
    path = course.autograded_dir("ab1234", ASSIGNMENT) / "results.json.gz"
    from autograder.results.file import matbench_hash, read_bytes_as_json

    raw = read_bytes_as_json(path.read_bytes())
    for fold in raw["tasks"]["matbench_expt_gap"]["results"].values():
        fold["data"] = {mbid: value * 1.5 for mbid, value in fold["data"].items()}
    raw["hash"] = matbench_hash(raw)
    path.write_text(json.dumps(raw), encoding="utf-8")
    reports = regrade(course)
    assert counts["checked"] == ["ab1234"]
    assert course.load_score("ab1234", ASSIGNMENT)["mean"] != score["mean"]
    assert reports.rewritten == ["ab1234"] and reports.charts_drawn >= 3  # leaderboard, parity, seen/unseen
    assert_pages_are_full_renders(course)


def test_a_removed_page_or_chart_is_drawn_again(course, counts):
    regrade(course)
    reset(counts)
    course.feedback_page("cd5678", ASSIGNMENT).unlink()
    for chart in course.figure_cache_dir.glob("*.png"):
        chart.unlink()
    reports = regrade(course)
    assert reports.rewritten == ["cd5678"] and reports.charts_drawn >= 3
    assert_pages_are_full_renders(course)


def test_a_charts_key_is_what_it_shows():
    from autograder.course.challenges import Catalogue

    challenge = Catalogue().get("B")
    y_true, y_pred = np.linspace(0.0, 4.0, 50), np.linspace(0.1, 4.2, 50)
    seen = np.arange(50) % 3 == 0
    key = figures.figure_key("parity_plot", (challenge, y_true, y_pred, seen), {})
    assert (
        figures.figure_key("parity_plot", (challenge, y_true.copy(), y_pred.copy(), seen.copy()), {}) == key
    )
    moved = y_pred.copy()
    moved[7] += 1e-9
    assert figures.figure_key("parity_plot", (challenge, y_true, moved, seen), {}) != key
    assert figures.figure_key("parity_plot", (Catalogue().get("A"), y_true, y_pred, seen), {}) != key
    with figures.deferred() as drawings:
        placeholder = figures.parity_plot(challenge, y_true, y_pred, seen)
    assert placeholder == figures.PLACEHOLDER + key
    drawn = drawings.resolve({"chart": placeholder})["chart"]
    assert drawn == figures.parity_plot(challenge, y_true, y_pred, seen)  # outside deferred: drawn at once
    assert drawn.startswith(figures.PNG_URI)


@pytest.mark.parametrize(
    "letter", ["B", "D"]
)  # a regression and the classification (all four: test_report_figures)
def test_the_seen_unseen_chart_shows_the_tasks_own_metric(letter, tmp_path, monkeypatch):
    from grading_support import write_results_file

    from autograder.course.challenges import Catalogue
    from autograder.results.score import score_results_file

    kept = []
    to_uri = figures.to_data_uri
    monkeypatch.setattr(figures, "to_data_uri", lambda figure: kept.append(figure) or to_uri(figure))
    challenge = Catalogue().get(letter)
    score = score_results_file(
        challenge, write_results_file(challenge.task, "RF-SCM/Magpie", tmp_path / "r.json")
    )
    results = score.to_dict()
    assert results["seen_unseen"]["measure"] == challenge.metric_label
    charts = submission_figures(challenge, results, score.arrays)
    assert "seen_unseen" in charts
    (axes,) = kept[-1].axes
    label = axes.get_xlabel()
    assert label.startswith(challenge.metric_label)
    assert ("higher is better" if challenge.is_classification else "lower is better") in label
    assert ("(" in label) == (not challenge.is_classification) and (challenge.unit in label)
    if challenge.is_classification:
        assert axes.get_xlim() == (0.0, 1.0)
    # a split measured with another metric than the task's is not put on the page
    other = dict(results, seen_unseen=dict(results["seen_unseen"], measure="RMSE"))
    assert "seen_unseen" not in submission_figures(challenge, other, score.arrays)
