"""A graded cohort for the feedback-page and summary-page tests, and headless Chromium to open them.

Four submissions graded for real (grading_support: real leaderboard predictions rescored, real
findings ids, real recordings) and reported by the report stage:

  ab1234  B  every criterion marked, on time                   -> final
  cd5678  D  faulty checks, every criterion marked, 3.5 h late  -> the late penalty applied
  ef9012  B  presentation marked only                           -> provisional (suggested marks)
  gh3456  B  the run failed (MemoryError), nothing scored       -> incomplete

The course's late policy is 5 marks off per started day, and autograder.toml sets the text of how
to query a mark. Dr Ada gives the first marks; the moderation sample the first report writes is
filled in by Dr Bo and taken in through the marks CSV, then the cohort is graded and reported again.
"""

from __future__ import annotations

import shutil
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
    source_notebook,
)

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
QUERY = "Query a mark within 10 working days: write to mlm-queries@example.ac.uk naming the criterion."

MARKS = """student_id,criterion,mark,comment,marker
ab1234,data_preparation,70,Careful look at the band-gap distribution.,Dr Ada
ab1234,model_choice,66,,Dr Ada
ab1234,training_testing,72,,Dr Ada
ab1234,code,74,,Dr Ada
ab1234,presentation,68,Clear and well paced.,Dr Ada
cd5678,data_preparation,58,,Dr Ada
cd5678,model_choice,60,,Dr Ada
cd5678,training_testing,55,,Dr Ada
cd5678,code,50,,Dr Ada
cd5678,presentation,52,Overran; the model section was rushed.,Dr Ada
ef9012,presentation,61,,Dr Ada
"""
# what the second marker writes into the moderation sample (criteria in the rubric's order)
SECOND_MARKS = {"ab1234": [68, 60, 72, 70, 71], "cd5678": [62, 58, 41, 47, 45]}

ANSWERS = {
    "data_preparation": "**Your data preparation.**\n\nI used Magpie features of the composition (cd5678's own words).",
    "model_choice": "**Your model choice.**\n\nA random forest, compared with a Dummy baseline."
    "<script>document.title = 'changed by the notebook'</script>",
}


def build_cohort(tmp: Path):
    import nbformat

    from autograder.course.release import release
    from autograder.grade.grading import grade_cohort
    from autograder.report.cohort import write_cohort_reports

    course = make_course(tmp / "course")
    source = source_notebook()  # with the template's task cells of the presentation and the general feedback
    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells}
    for grade_id, points, text in (
        ("presentation", 30, "## Presentation (30 %)"),
        ("markers_feedback", 0, "## Markers' general feedback"),
    ):
        if grade_id not in present:
            source.cells.append(
                nbformat.v4.new_markdown_cell(
                    text,
                    metadata={
                        "nbgrader": {
                            "grade": False,
                            "grade_id": grade_id,
                            "locked": True,
                            "points": points,
                            "schema_version": 3,
                            "solution": False,
                            "task": True,
                        }
                    },
                )
            )
    nbformat.write(source, str(course.source_dir() / f"{ASSIGNMENT}.ipynb"))
    release(course)
    config = course.config_path.read_text(encoding="utf-8")
    config = config.replace('kind = "cap"', 'kind = "per_day"\npercent_per_day = 5.0')
    config += f'\n[feedback]\nquery = "{QUERY}"\n\n[moderation]\nseed = 3\nrandom_share = 0.5\n'
    course.config_path.write_text(config, encoding="utf-8")
    from autograder.course.config import Course

    course = Course.open(course.root)
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
        notebook=executed_notebook(course, {"test_all_folds_recorded": False}, ANSWERS),
        submitted_at="2026-03-11T18:30:00",
        recording=("talk.m4a", 372),
    )
    add_submission(
        course,
        "ef9012",
        "B",
        "Darwin",
        good_findings("Recomputed MAE: 0.2865 eV."),
        tmp,
        real_gzip=True,
        recording=("presentation.mp4", 295),
        notebook=executed_notebook(course, {}),
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
    for student in ("ab1234", "cd5678", "gh3456"):
        course.log_path(student).write_text(f"[papermill] executing {student}'s notebook\n", encoding="utf-8")
    course.marks_csv_path().parent.mkdir(exist_ok=True)
    course.marks_csv_path().write_text(MARKS, encoding="utf-8")
    result = grade_cohort(course, ASSIGNMENT)
    reports = write_cohort_reports(course, ASSIGNMENT)
    assert result.errors == {} and reports.errors == {}
    # moderation: the second marker fills in the sample CSV the report wrote, its lines go into the
    # marks CSV as they are, and the cohort is graded and reported again
    import csv

    lines = list(csv.DictReader(course.moderation_sample_path().open(encoding="utf-8")))
    assert sorted({line["student_id"] for line in lines}) == sorted(SECOND_MARKS)
    filled = []
    for student, marks in SECOND_MARKS.items():
        mine = [line for line in lines if line["student_id"] == student]
        for line, mark in zip(mine, marks, strict=True):
            filled.append(",".join([student, line["criterion"], str(mark), "", "Dr Bo", "", line["role"]]))
    marks_csv = MARKS.replace("comment,marker\n", "comment,marker,override,role\n")
    marks_csv = "\n".join(row + ",," if i else row for i, row in enumerate(marks_csv.strip().split("\n")))
    course.marks_csv_path().write_text(marks_csv + "\n" + "\n".join(filled) + "\n", encoding="utf-8")
    result = grade_cohort(course, ASSIGNMENT)
    reports = write_cohort_reports(course, ASSIGNMENT)
    assert result.errors == {} and reports.errors == {}
    return course, result, reports


_BUILT: dict[str, tuple] = {}


def shared_cohort(tmp_path_factory):
    """One cohort for every page test of the session (it takes a minute to grade twice)."""
    if "cohort" not in _BUILT:
        _BUILT["cohort"] = build_cohort(tmp_path_factory.mktemp("pages"))
    return _BUILT["cohort"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return shared_cohort(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make system-packages` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def watch(page) -> dict:
    """Console errors and every request a page makes."""
    seen = {"errors": [], "requests": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    return seen


def external(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
