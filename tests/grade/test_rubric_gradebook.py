"""nbgrader gradebook round trip: our results go in (formgrader shows them), a marker grades in
formgrader (the same writes formgrader's API handlers make), re-grading reads those marks back
into grade.json and the feedback page, and nothing is duplicated."""

import json

import pytest
from grading_support import ASSIGNMENT, add_submission, executed_notebook, good_findings, make_course
from sqlalchemy import text

from autograder.grade.gradebook import GradebookBridge, nbgrader_settings
from autograder.grade.grading import grade_cohort
from autograder.report.cohort import write_cohort_reports

STUDENT = "ab1234"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradebook")
    course = make_course(root / "course", release=True)  # nbgrader generate_assignment records the cells
    nb = executed_notebook(
        course,
        {"test_results_saved": True, "test_all_folds_recorded": False},
        {"data_preparation": "**Your data preparation.**\n\nMagpie features, scaled in each fold."},
    )
    add_submission(
        course,
        STUDENT,
        "B",
        "RF-SCM/Magpie",
        good_findings("Recomputed MAE: 0.4461 ± 0.0177 eV over 5 folds."),
        root,
        notebook=nb,
        submitted_at="2026-03-12T09:00:00+00:00",
    )  # 18 h late (deadline 15:00 local)
    (course.root / "marks").mkdir()
    (course.root / "marks" / f"{ASSIGNMENT}.csv").write_text(
        "student_id,criterion,mark,comment\nab1234,presentation,68,Clear and well paced.\n", encoding="utf-8"
    )
    return course


def counts(bridge):
    db = bridge.gradebook.db
    return {
        table: db.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
        for table in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")
    }


def test_gradebook_round_trip(course):
    url, course_id = nbgrader_settings(course)
    assert url == f"sqlite:///{course.root / 'gradebook.db'}" and course_id == "MATE70026"

    result = grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    assert result.errors == {} and result.warnings == []
    first = json.loads((course.autograded_dir(STUDENT) / "grade.json").read_text())
    assert first["status"] == "incomplete"  # data preparation and model choice have no mark yet
    suggested_tt = {c["key"]: c for c in first["criteria"]}["training_testing"]["suggested"]
    assert suggested_tt == 65.0  # all protocol findings pass (65 each)

    with GradebookBridge(url, course_id) as bridge:
        gb = bridge.gradebook
        submission = gb.find_submission(ASSIGNMENT, STUDENT)
        assert submission.timestamp.isoformat() == "2026-03-12T09:00:00"  # stored in UTC, as nbgrader does
        tests = {
            name: gb.find_grade(name, ASSIGNMENT, ASSIGNMENT, STUDENT)
            for name in ("test_results_saved", "test_all_folds_recorded")
        }
        # the tests are evidence, not points: formgrader's total is the rubric's 100
        assert {t.max_score for t in tests.values()} == {0.0} and tests[
            "test_results_saved"
        ].auto_score == 0.0
        assert gb.find_assignment(ASSIGNMENT).max_score == 100.0
        presentation = gb.find_grade("presentation", ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert presentation.manual_score == pytest.approx(
            68 * 30 / 100
        )  # the marks CSV, imported into the store
        tt = gb.find_grade("training_testing", ASSIGNMENT, ASSIGNMENT, STUDENT)
        # our suggestion is in the comment, not a score: formgrader's total counts marks only
        assert tt.auto_score is None and tt.needs_manual_grade and tt.manual_score is None
        code = gb.find_grade("code_quality", ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert code.auto_score is None and code.needs_manual_grade
        assert gb.find_submission(ASSIGNMENT, STUDENT).score == pytest.approx(presentation.manual_score)
        comment = gb.find_comment("training_testing", ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert comment.auto_comment.startswith("Autograder suggestion: 65/100")
        declaration = gb.find_comment("llm_declaration", ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert "declaration.complete pass" in declaration.auto_comment
        before = counts(bridge)

        # A marker grades in formgrader: what its GradeHandler/CommentHandler PUTs write.
        for cell, score in (
            ("data_preparation", 14.0),
            ("model_choice", 13.0),
            ("training_testing", 15.0),
            ("code_quality", 7.5),
        ):
            grade = gb.find_grade(cell, ASSIGNMENT, ASSIGNMENT, STUDENT)
            grade.manual_score = score
            grade.extra_credit = None
            grade.needs_manual_grade = False
        gb.find_comment(
            "training_testing", ASSIGNMENT, ASSIGNMENT, STUDENT
        ).manual_comment = "Good use of the official folds; discuss the unseen-chemistry error."
        gb.find_comment(
            "llm_declaration", ASSIGNMENT, ASSIGNMENT, STUDENT
        ).manual_comment = "Honest and complete."
        gb.db.commit()
        # ...and grants a 24 h extension (nbgrader db / formgrader)
        gb.grant_extension(ASSIGNMENT, STUDENT, hours=24)

    result = grade_cohort(course, ASSIGNMENT)  # re-grade: updates, never duplicates
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    assert result.errors == {}
    second = json.loads((course.autograded_dir(STUDENT) / "grade.json").read_text())
    marks = {c["key"]: c for c in second["criteria"]}
    assert marks["data_preparation"]["mark"] == 70 and marks["data_preparation"]["source"] == "formgrader"
    assert marks["model_choice"]["mark"] == 65
    assert marks["training_testing"]["mark"] == 75 and marks["training_testing"]["suggested"] == 65
    assert marks["code"]["mark"] == 75 and marks["presentation"]["mark"] == 68
    assert second["lateness"]["state"] == "on-time"  # the extension moved the deadline
    # (20*70 + 20*65 + 20*75 + 10*75 + 30*68) / 100 = 69.9 -> 70, First
    assert second["status"] == "final"
    assert second["overall"]["exact"] == pytest.approx(69.9) and second["overall"]["mark"] == 70
    assert second["comments"]["declaration"] == "Honest and complete."
    page = (course.feedback_dir(STUDENT) / "index.html").read_text(encoding="utf-8")
    assert "discuss the unseen-chemistry error" in page and "Honest and complete." in page

    with GradebookBridge(url, course_id) as bridge:
        assert counts(bridge) == before  # same rows, updated in place
        gb = bridge.gradebook
        tt = gb.find_grade("training_testing", ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert tt.manual_score == 15.0 and not tt.needs_manual_grade  # the marker's grade is untouched
        # formgrader's total is our weighted mark: 14 + 13 + 15 + 7.5 + 68 % of 30
        assert gb.find_submission(ASSIGNMENT, STUDENT).score == pytest.approx(second["overall"]["exact"])


def test_grading_without_a_released_assignment_still_writes_marks(tmp_path):
    course = make_course(tmp_path / "course", release=False)
    add_submission(course, "zz0001", "B", "Dummy", good_findings("MAE 1.1435"), tmp_path, recording=None)
    result = grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    assert result.errors == {}
    assert result.warnings and "Run `autograder release` first" in result.warnings[0]
    assert (course.autograded_dir("zz0001") / "grade.json").is_file()
    assert (course.feedback_dir("zz0001") / "index.html").is_file()


def test_a_gradebook_that_cannot_be_opened_does_not_stop_the_marks(tmp_path):
    """A gradebook database that cannot be opened (here: a folder where the SQLite file should be) is a
    warning that says why; every mark and feedback page is still written."""
    course = make_course(tmp_path / "course")
    add_submission(
        course, STUDENT, "B", "RF-SCM/Magpie", good_findings("Recomputed MAE: 0.4461 eV."), tmp_path
    )
    (course.root / "gradebook.db").mkdir()
    result = grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    assert result.graded == [STUDENT] and result.errors == {}
    assert len(result.warnings) == 1 and result.warnings[0].startswith("Gradebook not updated: ")
    assert json.loads((course.autograded_dir(STUDENT) / "grade.json").read_text())["criteria"]
    assert (course.root / "feedback" / STUDENT / ASSIGNMENT / "index.html").is_file()


def test_the_late_penalty_reaches_nbgraders_gradebook(tmp_path):
    """A complete mark for work 18 h late is capped at 40 (the course's policy); nbgrader's own
    late_submission_penalty takes the same fraction off nbgrader's score, so formgrader and
    `nbgrader export` agree with our mark. An extension granted in nbgrader clears it at the re-grade."""
    course = make_course(tmp_path / "course", release=True)
    nb = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    add_submission(
        course,
        STUDENT,
        "B",
        "RF-SCM/Magpie",
        good_findings("Recomputed MAE: 0.4461 eV."),
        tmp_path,
        notebook=nb,
        submitted_at="2026-03-12T09:00:00+00:00",
    )  # 18 h late
    (course.root / "marks").mkdir()
    (course.root / "marks" / f"{ASSIGNMENT}.csv").write_text(
        "student_id,criterion,mark,comment\n"
        + "".join(
            f"{STUDENT},{criterion},70,\n"
            for criterion in ("data_preparation", "model_choice", "training_testing", "code", "presentation")
        ),
        encoding="utf-8",
    )
    grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    grade = json.loads((course.autograded_dir(STUDENT) / "grade.json").read_text())
    assert grade["lateness"]["state"] == "late"
    assert grade["overall"]["before_late"] == pytest.approx(70) and grade["overall"]["mark"] == 40
    url, course_id = nbgrader_settings(course)
    with GradebookBridge(url, course_id) as bridge:
        submission = bridge.gradebook.find_submission(ASSIGNMENT, STUDENT)
        assert submission.score > 0
        assert submission.late_submission_penalty == pytest.approx(submission.score * (1 - 40 / 70), abs=0.01)
        assert (submission.score - submission.late_submission_penalty) / submission.score == pytest.approx(
            40 / 70, abs=0.01
        )
        bridge.gradebook.grant_extension(ASSIGNMENT, STUDENT, hours=24)
    grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)  # the report stage, from grade.json
    with GradebookBridge(url, course_id) as bridge:
        assert bridge.gradebook.find_submission(ASSIGNMENT, STUDENT).late_submission_penalty == 0.0
        notebook = bridge.gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, STUDENT)
        assert notebook.late_submission_penalty is None  # nbgrader's "no penalty"
