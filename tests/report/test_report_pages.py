"""The feedback pages and the cohort summary, opened in a real headless Chromium: rendered without
console errors or network requests, charts present and decoded, no horizontal scrolling on a
laptop screen, screenshots kept in test-artifacts/; and a student's page holds nothing of another
student, no marker-only finding and no path of the grading machine."""

import json
from pathlib import Path

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
from pages_support import ARTIFACTS, browser, watch  # noqa: F401 - browser is a fixture

from autograder.grade.grading import grade_cohort
from autograder.report.cohort import write_cohort_reports

LAPTOP = {"width": 1366, "height": 768}

MARKS = """student_id,criterion,mark,comment
ab1234,data_preparation,70,Careful look at the band-gap distribution; zero gaps handled.
ab1234,model_choice,66,
ab1234,training_testing,72,
ab1234,code,74,
ab1234,presentation,68,Clear and well paced (ab1234 only).
cd5678,presentation,52,Overran; the model section was rushed.
ef9012,presentation,61,
"""


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    course = make_course(tmp / "course", release=True)
    add_submission(
        course,
        "ab1234",
        "B",
        "RF-SCM/Magpie",
        good_findings("Recomputed MAE: 0.4461 ± 0.0177 eV."),
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
        submitted_at="2026-03-11T18:30:00",
        recording=("talk.m4a", 372),
    )
    # real gzip, as GitHub matbench writes it
    add_submission(
        course,
        "ef9012",
        "B",
        "Darwin",
        good_findings("Recomputed MAE: 0.2865 eV."),
        tmp,
        real_gzip=True,
        recording=("presentation.mp4", 295),
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
    result = grade_cohort(course, ASSIGNMENT)
    reports = write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    assert result.errors == {} and result.warnings == [] and reports.errors == {}
    return course, result, reports


def open_page(browser, path: Path, shot: str) -> dict:  # noqa: F811
    page = browser.new_page(viewport=LAPTOP)
    seen = watch(page)
    page.goto(path.as_uri(), wait_until="load")
    charts = page.eval_on_selector_all(
        "figure.chart img",
        "imgs => imgs.map(i => ({id: i.parentElement.id, ok: i.complete && i.naturalWidth > 100,"
        " data: i.src.startsWith('data:image/png;base64,'), shown: i.getBoundingClientRect().width}))",
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    text = page.inner_text("body")
    page.close()
    return {**seen, "charts": charts, "width": width, "text": text}


def assert_clean(view, path):
    assert view["errors"] == []
    external = [u for u in view["requests"] if not u.startswith(("file:", "data:"))]
    assert external == [] and view["requests"][0] == path.as_uri()
    assert all(c["ok"] and c["data"] and c["shown"] > 200 for c in view["charts"]), view["charts"]
    assert view["width"] <= LAPTOP["width"]  # no horizontal scrolling on a laptop


def test_feedback_pages_in_chromium(cohort, browser):  # noqa: F811
    course, _, _ = cohort
    expected = {
        "ab1234": {"chart-leaderboard", "chart-parity", "chart-seen-unseen"},
        "cd5678": {"chart-leaderboard", "chart-roc", "chart-confusion", "chart-seen-unseen"},
        "ef9012": {"chart-leaderboard", "chart-parity", "chart-seen-unseen"},
        "gh3456": set(),
    }
    for student, charts in expected.items():
        path = course.feedback_dir(student) / "index.html"
        view = open_page(browser, path, f"feedback-{student}.png")
        assert_clean(view, path)
        assert {c["id"] for c in view["charts"]} == charts
    good = open_page(browser, course.feedback_dir("ab1234") / "index.html", "feedback-ab1234.png")["text"]
    # final mark: (20*70 + 20*66 + 20*72 + 10*74 + 30*68) / 100 = 69.4 -> 69
    assert "69\nUpper second (2:1)" in good and "FINAL" in good.upper()
    assert "0.4461 ± 0.018" in good and "10th of 13" in good  # RF-SCM/Magpie's own place
    assert "Debugging a pandas merge" in good  # the declaration as found
    faulty = open_page(browser, course.feedback_dir("cd5678") / "index.html", "feedback-cd5678.png")["text"]
    assert "Capped at 39" in faulty and "0.8587 ± 0.016" in faulty and "3rd of 8" in faulty
    assert "after the deadline" in faulty and "6 min 12 s" in faulty
    failed = open_page(browser, course.feedback_dir("gh3456") / "index.html", "feedback-gh3456.png")["text"]
    assert "could not be scored" in failed and "no results file was written" in failed


def test_summary_in_chromium(cohort, browser):  # noqa: F811
    course, result, reports = cohort
    path = reports.summary_path
    assert path == course.root / "reports" / ASSIGNMENT / "summary.html"
    view = open_page(browser, path, "summary.png")
    assert_clean(view, path)
    assert {c["id"] for c in view["charts"]} == {
        "chart-criteria",
        "chart-histogram",
        "chart-challenge-B",
        "chart-challenge-D",
    }
    text = view["text"]
    for flag in (
        "Failed run",
        "Protocol failure",
        "Implausible score",
        "Missing or incomplete LLM declaration",
        "Long recording",
        "Late submission",
        "Recording missing or unreadable",
    ):
        assert flag in text
    grades = {s: json.loads((course.autograded_dir(s) / "grade.json").read_text()) for s in result.graded}
    assert {s: g["status"] for s, g in grades.items()} == {
        "ab1234": "final",
        "cd5678": "incomplete",
        "ef9012": "incomplete",
        "gh3456": "incomplete",
    }


def test_a_students_page_holds_nothing_of_another(cohort):
    course, result, reports = cohort
    pages = {s: (course.feedback_dir(s) / "index.html").read_text(encoding="utf-8") for s in result.graded}
    grades = {s: json.loads((course.autograded_dir(s) / "grade.json").read_text()) for s in result.graded}
    assert len(pages) == 4
    for student, page in pages.items():
        for other in pages:
            if other == student:
                continue
            assert other not in page  # no other student's id
            for criterion in grades[other]["criteria"]:  # nor their markers' comments
                if criterion["comment"]:
                    assert criterion["comment"] not in page
            own = {
                q
                for f in grades[student]["findings"]
                for q in (f.get("details") or {}).get("answers", {}).values()
            }
            for finding in grades[other]["findings"]:  # nor their declaration quotes
                for quote in (finding.get("details") or {}).get("answers", {}).values():
                    if quote not in own:
                        assert quote not in page
        # no path of the grading machine, no marker-only finding, no check code
        assert str(course.root) not in page and "/work/" not in page and "/tmp/" not in page
        assert "checks.py" not in page
        for finding in grades[student]["findings"]:
            if finding["visibility"] == "marker":
                assert finding["message"] not in page
    assert "Debugging a pandas merge" in pages["ab1234"] and "Debugging a pandas merge" not in pages["cd5678"]
    assert "Clear and well paced (ab1234 only)." not in pages["ef9012"]
