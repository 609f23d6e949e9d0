"""One store of marks (nbgrader's gradebook), followed as the README's instructor does: a marker grades
one student in formgrader and another's marks come in a spreadsheet; feedback page, summary,
gradebook and export agree for both; bad spreadsheets change nothing; a marker overrides a cap on the
record; an export never replaces the markers' file."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from grading_support import ASSIGNMENT, add_submission, executed_notebook, f, good_findings, make_course
from typer.testing import CliRunner

from autograder.cli import app
from autograder.errors import UserError
from autograder.grade.gradebook import GradebookBridge
from autograder.grade.grading import grade_cohort
from autograder.grade.marks_store import stored_rows
from autograder.records import FAIL
from autograder.report.cohort import write_cohort_reports

IN_FORMGRADER, IN_CSV = "ab1234", "cd5678"
# formgrader cell -> points (out of the cell's weight) a marker types for IN_FORMGRADER
FORMGRADER_POINTS = {
    "data_preparation": 14.0,
    "model_choice": 13.0,
    "training_testing": 15.0,
    "code_quality": 7.5,
    "presentation": 21.0,
}
MARKS_CSV = (
    "student_id,criterion,mark,comment,marker\n"
    f"{IN_CSV},data_preparation,62,Features explained.,KL\n"
    f"{IN_CSV},model_choice,58,,KL\n"
    f"{IN_CSV},training_testing,accept,,KL\n"
    f"{IN_CSV},code,66,Tidy functions.,KL\n"
    f"{IN_CSV},presentation,71,Clear and within time.,KL\n"
    f"{IN_CSV},general,,Good work overall.,KL\n"
)


class Outcome:
    """A command's exit code and output as `autograder` (cli.main) gives them: a UserError is exit 2
    with its message."""

    def __init__(self, result):
        error = result.exception
        if isinstance(error, UserError):
            self.exit_code, self.output = 2, f"Error: {error}"
        else:
            assert error is None or isinstance(error, SystemExit), result.output
            self.exit_code, self.output = result.exit_code, result.output
        self.stdout = result.stdout


def run(course, *args):
    return Outcome(CliRunner().invoke(app, [*args, "--course", str(course.root)]))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("marks")
    course = make_course(root / "course", release=True)
    for student, letter, algorithm in ((IN_FORMGRADER, "B", "RF-SCM/Magpie"), (IN_CSV, "B", "Dummy")):
        nb = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
        add_submission(
            course, student, letter, algorithm, good_findings("Recomputed MAE: 0.4461 eV."), root, notebook=nb
        )
    course.submitted_dir("zz9999", ASSIGNMENT).mkdir(parents=True)  # handed in, but given no challenge
    grade_cohort(course, ASSIGNMENT)  # the first grading: the gradebook now has both submissions
    return course


def formgrader_grades(course, student, points, comments=None):
    """What formgrader's GradeHandler/CommentHandler PUTs write when a marker grades."""
    with GradebookBridge.for_course(course) as bridge:
        gb = bridge.gradebook
        for cell, score in points.items():
            grade = gb.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student)
            grade.manual_score, grade.extra_credit, grade.needs_manual_grade = score, None, False
        for cell, text in (comments or {}).items():
            gb.find_comment(cell, ASSIGNMENT, ASSIGNMENT, student).manual_comment = text
        gb.db.commit()


def gradebook_total(course, student) -> float:
    with GradebookBridge.for_course(course) as bridge:
        submission = bridge.gradebook.find_submission(ASSIGNMENT, student)
        return submission.score - (submission.late_submission_penalty or 0.0)


def test_formgrader_and_a_csv_give_one_agreeing_mark_on_every_surface(course):
    formgrader_grades(
        course,
        IN_FORMGRADER,
        FORMGRADER_POINTS,
        {"training_testing": "Official folds well used.\nmarker: JS"},
    )
    (course.root / "marks.csv").write_text(MARKS_CSV, encoding="utf-8")
    before = (course.root / "marks.csv").read_bytes()

    result = grade_cohort(
        course, ASSIGNMENT
    )  # what `autograder grade --no-execute` does: imports marks.csv first
    assert result.errors == {}
    assert len(course.load_marks_import_log(ASSIGNMENT)["marks"][IN_CSV]) == 6  # imported into the store
    write_cohort_reports(course, ASSIGNMENT)

    grades = {s: course.load_grade(s, ASSIGNMENT) for s in (IN_FORMGRADER, IN_CSV)}
    by_key = {s: {c["key"]: c for c in g["criteria"]} for s, g in grades.items()}
    # the formgrader student: 14/20 = 70, 13/20 = 65, 15/20 = 75, 7.5/10 = 75, 21/30 = 70
    assert [
        by_key[IN_FORMGRADER][k]["mark"]
        for k in ("data_preparation", "model_choice", "training_testing", "code", "presentation")
    ] == [70, 65, 75, 75, 70]
    assert by_key[IN_FORMGRADER]["training_testing"]["marker"] == "JS"
    assert (
        by_key[IN_FORMGRADER]["training_testing"]["comment"] == "Official folds well used."
    )  # record line hidden
    # the CSV student: in the gradebook now, training and testing the confirmed suggestion
    tt = by_key[IN_CSV]["training_testing"]
    assert tt["source"] == "confirmed" and tt["mark"] == tt["suggested"] and tt["marker"] == "KL"
    assert grades[IN_CSV]["comments"]["general"] == "Good work overall."

    export = run(course, "export", ASSIGNMENT, "--format", "plain", "-o", "-")
    assert export.exit_code == 0, export.output
    exported = {row["student_id"]: row for row in csv.DictReader(io.StringIO(export.stdout))}
    summary = course.summary_page(ASSIGNMENT).read_text(encoding="utf-8")
    for student, grade in grades.items():
        assert grade["status"] == "final"
        exact, mark = grade["overall"]["exact"], grade["overall"]["mark"]
        assert gradebook_total(course, student) == pytest.approx(
            exact, abs=0.01
        )  # formgrader's total, out of 100
        assert exported[student]["overall_mark"] == str(mark)
        page = course.feedback_page(student, ASSIGNMENT).read_text(encoding="utf-8")
        assert f">{mark}<" in page.replace(" ", "") or f"{mark}/100" in page or f"{mark} / 100" in page
        assert str(mark) in summary
    assert exported[IN_CSV]["markers"].startswith("data_preparation: KL")
    # the markers' file is theirs: the export refuses to write over it, and -o - wrote nothing
    refused = run(course, "export", ASSIGNMENT, "-o", str(course.root / "marks.csv"))
    assert refused.exit_code == 2 and "the markers' marks" in refused.output
    assert (course.root / "marks.csv").read_bytes() == before and not (course.root / "-").exists()

    # marks export writes what the store holds; importing it again changes nothing
    exported_marks = run(course, "marks", "export")
    assert exported_marks.exit_code == 0
    assert f"{IN_FORMGRADER},training_testing,75,Official folds well used.,JS,," in exported_marks.stdout
    (course.root / "roundtrip.csv").write_text(exported_marks.stdout, encoding="utf-8")
    rows_before = stored_rows(course, ASSIGNMENT)
    again = run(course, "marks", "import", str(course.root / "roundtrip.csv"))
    assert again.exit_code == 0, again.output
    assert stored_rows(course, ASSIGNMENT) == rows_before


@pytest.mark.parametrize(
    "body, message",
    [
        (f"{IN_CSV},presentation,60,\ndemo1,presentation,50,\n", r"line 3: unknown student id 'demo1'"),
        # ids compare without regard to case (the course's default): CD5678 is cd5678
        (
            f"{IN_CSV},presentation,60,\nCD5678,presentation,50,\n",
            r"line 3: cd5678 / presentation is already given on line 2",
        ),
        (
            f"{IN_CSV},presentaton,60,\n",
            r"line 2: unknown criterion 'presentaton'\. Did you mean 'presentation'\?",
        ),
        (
            f"{IN_CSV},presentation,60,\n{IN_CSV},presentation,61,\n",
            r"line 3: cd5678 / presentation is already given on line 2",
        ),
        (f"{IN_CSV},presentation,160,\n", r"line 2: mark 160 is outside 0-100"),
        (f"{IN_CSV},general,60,\n", r"line 2: 'general' takes a comment only"),
        (
            f"{IN_CSV},presentation,60,\nzz9999,presentation,50,\n",
            r"line 3: zz9999 has a submission but no challenge",
        ),
    ],
)
def test_a_bad_marks_file_names_the_line_and_changes_nothing(course, tmp_path, body, message):
    before = stored_rows(course, ASSIGNMENT)
    path = tmp_path / "marks.csv"
    path.write_text("student_id,criterion,mark,comment\n" + body, encoding="utf-8")
    result = run(course, "marks", "import", str(path))
    assert result.exit_code == 2
    assert re.search(message, result.output), result.output
    assert "nothing was applied" in result.output
    assert stored_rows(course, ASSIGNMENT) == before


def test_an_import_never_overwrites_a_mark_changed_in_formgrader(course, tmp_path):
    """The CSV says 71 for the presentation; a marker then changes it to 65 in formgrader. Importing
    the old file again would put 71 back: refused, with the line, unless --replace."""
    path = tmp_path / "marks.csv"
    path.write_text(
        f"student_id,criterion,mark,comment\n{IN_CSV},presentation,71,Clear and within time.\n",
        encoding="utf-8",
    )
    assert run(course, "marks", "import", str(path)).exit_code == 0
    formgrader_grades(course, IN_CSV, {"presentation": 19.5})  # 65 %
    path.write_text(
        f"student_id,criterion,mark,comment\n{IN_CSV},presentation,72,Clear and within time.\n",
        encoding="utf-8",
    )
    refused = run(course, "marks", "import", str(path))
    assert (
        refused.exit_code == 2
        and "line 2: cd5678 / presentation: the gradebook has 65 entered in formgrader" in refused.output
    )
    stored = {(r.student, r.criterion): r for r in stored_rows(course, ASSIGNMENT)}
    assert stored[IN_CSV, "presentation"].mark == 65
    assert run(course, "marks", "import", str(path), "--replace").exit_code == 0
    stored = {(r.student, r.criterion): r for r in stored_rows(course, ASSIGNMENT)}
    assert stored[IN_CSV, "presentation"].mark == 72


def test_a_marker_overrides_a_cap_on_the_record(tmp_path):
    """A leak check caps Data preparation at 49; the marker, who read the notebook, gives 60 in
    formgrader with 'override: <reason>'. The mark stands; the override and its reason are on the
    summary's attention list and in the export's audit columns; the student's page does not show the
    reason line."""
    course = make_course(tmp_path / "course", release=True)
    nb = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    leak = f(
        "protocol.preprocessing_leak", "data_preparation", FAIL, "The scaler was fitted on all the data."
    )
    add_submission(
        course,
        IN_FORMGRADER,
        "B",
        "RF-SCM/Magpie",
        good_findings("MAE 0.4461 eV.") + [leak],
        tmp_path,
        notebook=nb,
    )
    grade_cohort(course, ASSIGNMENT)
    reason = "The scaler is refitted inside each fold in cell 12; the check misread the loop."
    formgrader_grades(
        course,
        IN_FORMGRADER,
        FORMGRADER_POINTS | {"data_preparation": 12.0},
        {"data_preparation": f"Careful pre-processing.\noverride: {reason}\nmarker: JS"},
    )
    grade_cohort(course, ASSIGNMENT)
    write_cohort_reports(course, ASSIGNMENT)
    grade = course.load_grade(IN_FORMGRADER, ASSIGNMENT)
    dp = {c["key"]: c for c in grade["criteria"]}["data_preparation"]
    assert dp["mark"] == 60 and dp["override"] == reason and dp["caps"][0]["cap"] == 49
    assert grade["status"] == "final"
    assert gradebook_total(course, IN_FORMGRADER) == pytest.approx(grade["overall"]["exact"], abs=0.01)
    summary = course.summary_page(ASSIGNMENT).read_text(encoding="utf-8")
    assert "Cap overridden by the marker" in summary and "the check misread the loop" in summary
    export = run(course, "export", ASSIGNMENT, "--format", "plain", "-o", "-")
    row = next(csv.DictReader(io.StringIO(export.stdout)))
    assert (
        row["overrides"] == f"data_preparation: cap 49 overridden, {reason}"
        and row["markers"] == "data_preparation: JS"
    )
    page = course.feedback_page(IN_FORMGRADER, ASSIGNMENT).read_text(encoding="utf-8")
    assert "Careful pre-processing." in page and "override:" not in page and "misread" not in page

    # the same mark without an override: the cap counts for now, provisionally, and the marker is asked
    formgrader_grades(course, IN_FORMGRADER, {}, {"data_preparation": "Careful pre-processing."})
    grade_cohort(course, ASSIGNMENT)
    grade = course.load_grade(IN_FORMGRADER, ASSIGNMENT)
    dp = {c["key"]: c for c in grade["criteria"]}["data_preparation"]
    assert dp["mark"] == 49 and dp["uncapped"] == 60 and grade["status"] == "provisional"
    assert any(a["flag"] == "Mark above an automatic cap" for a in grade["attention"])
    assert json.dumps(grade).count("override: <reason>") == 1


def test_a_reimport_stores_only_the_lines_that_changed(course, tmp_path):
    from autograder.grade.marks_store import import_marks

    path = tmp_path / "marks.csv"
    lines = [
        "student_id,criterion,mark,comment",
        f"{IN_CSV},model_choice,58,",
        f"{IN_CSV},code,66,Tidy functions.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_marks(course, ASSIGNMENT, path, replace=True)
    path.write_text("\n".join(lines[:2] + [f"{IN_CSV},code,67,Tidy functions."]) + "\n", encoding="utf-8")
    result = import_marks(course, ASSIGNMENT, path)
    assert (result.rows, result.changed) == (2, 1)
    stored = {(r.student, r.criterion): r for r in stored_rows(course, ASSIGNMENT)}
    assert stored[IN_CSV, "code"].mark == 67 and stored[IN_CSV, "model_choice"].mark == 58


def test_the_cohorts_marks_read_at_once_are_each_students_marks(course):
    """A batch reads every submission's formgrader marks in one go (read_marks_by_cohort); what it gives a
    student is what reading that student alone gives, and a mark stored mid-batch is read again."""
    from autograder.grade.rubric import load_rubric

    formgrader_grades(
        course,
        IN_FORMGRADER,
        FORMGRADER_POINTS,
        {"training_testing": "Official folds well used.\nmarker: JS"},
    )
    rubric = load_rubric(course.rubric_path)
    with GradebookBridge.for_course(course) as bridge:
        alone = {s: bridge._manual_grades(s, ASSIGNMENT, rubric) for s in (IN_FORMGRADER, IN_CSV)}
        bridge.read_marks_by_cohort(ASSIGNMENT)
        assert alone[IN_FORMGRADER].marks["training_testing"].marker == "JS"
        assert bridge.manual_grades(IN_FORMGRADER, ASSIGNMENT, rubric) == alone[IN_FORMGRADER]
        remarked = MARKS_CSV.replace(
            "presentation,71,", "presentation,73,"
        )  # a mark the gradebook has not had
        (course.root / "marks.csv").write_text(remarked, encoding="utf-8")
        from autograder.grade.marks_store import import_course_marks

        import_course_marks(course, ASSIGNMENT, rubric, bridge)  # after the cohort was read
        after = bridge.manual_grades(IN_CSV, ASSIGNMENT, rubric)
        assert after.marks["presentation"].mark == 73 and after.marks["training_testing"].marker == "KL"
        assert after == bridge._manual_grades(IN_CSV, ASSIGNMENT, rubric)
