"""The VLE export: Blackboard Grade Centre upload layout and the plain CSV, byte for byte."""

import pytest
from grading_support import ASSIGNMENT, add_submission, failed_findings, good_findings, make_course
from typer.testing import CliRunner

from autograder.cli import app
from autograder.grade.grading import grade_cohort
from autograder.report.export import ExportError, export_marks

MARKS = """student_id,criterion,mark,comment
ab1234,data_preparation,70,
ab1234,model_choice,65,
ab1234,training_testing,75,
ab1234,code,75,
ab1234,presentation,68,Clear.
cd5678,data_preparation,55,
cd5678,model_choice,58,
cd5678,training_testing,60,
cd5678,presentation,52,
gh3456,data_preparation,40,
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    course = make_course(tmp / "course", release=True)  # the gradebook is where the marks are kept
    add_submission(course, "ab1234", "B", "RF-SCM/Magpie", good_findings("MAE 0.4461"), tmp)
    add_submission(
        course, "cd5678", "D", "RF-SCM/Magpie", good_findings("ROC-AUC 0.8587"), tmp, recording=None
    )
    add_submission(course, "gh3456", "B", None, failed_findings(), tmp, status="failed", recording=None)
    (course.root / "marks").mkdir()
    (course.root / "marks" / f"{ASSIGNMENT}.csv").write_text(MARKS, encoding="utf-8")
    grade_cohort(course, ASSIGNMENT)  # imports the marks CSV into the gradebook first
    # the instructor imported names into nbgrader's gradebook (nbgrader db student import)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", course_id="MATE70026") as gradebook:
        gradebook.update_or_create_student("ab1234", first_name="Ada", last_name="Lovelace")
    return course


def test_blackboard_layout_exact_bytes(course, tmp_path):
    out = tmp_path / "bb.csv"
    result = export_marks(course, ASSIGNMENT, out, "blackboard", column_id="123456")
    assert result.written == ["ab1234"]
    assert result.left_out == [
        ("cd5678", "provisional (suggested marks not confirmed)"),
        ("gh3456", "incomplete (parts not marked)"),
    ]
    # (20*70 + 20*65 + 20*75 + 10*75 + 30*68) / 100 = 69.9 -> 70
    expected = (
        '\ufeff"Last Name","First Name","Username","Research challenge [Total Pts: 100 Score] |123456",'
        '"Grading Notes","Notes Format","Feedback to Learner","Feedback Format"\r\n'
        '"Lovelace","Ada","ab1234","70","autograder: status final; lateness on-time; unrounded 69.90",'
        '"SMART_TEXT","Overall mark 70 (First class). Data preparation 70; Model choice 65; Training and '
        'testing 75; Code 75; Presentation 68. Your feedback page explains each mark.","SMART_TEXT"\r\n'
    )
    assert out.read_bytes() == expected.encode("utf-8")


def test_blackboard_provisional_marks_only_on_request_and_new_column(course, tmp_path):
    out = tmp_path / "bb.csv"
    result = export_marks(course, ASSIGNMENT, out, "blackboard", include_provisional=True)
    assert result.written == ["ab1234", "cd5678"]
    lines = out.read_bytes().decode("utf-8").split("\r\n")
    # no column id: Blackboard creates a new column with this name
    assert lines[0] == (
        '\ufeff"Last Name","First Name","Username","Research challenge","Grading Notes",'
        '"Notes Format","Feedback to Learner","Feedback Format"'
    )
    assert lines[2].startswith('"","","cd5678","')
    assert "Provisional: not every part is confirmed by a marker yet." in lines[2]
    assert lines[3] == "" and len(lines) == 4


def test_plain_layout_exact_bytes(course, tmp_path):
    out = tmp_path / "plain.csv"
    export_marks(course, ASSIGNMENT, out, "plain")
    text = out.read_bytes().decode("utf-8")
    lines = text.split("\n")
    assert lines[0] == (
        "student_id,challenge,task,status,overall_mark,band,late_penalty,data_preparation,"
        "model_choice,training_testing,code,presentation,missing,markers,overrides,capped"
    )
    assert lines[1] == "ab1234,B,matbench_expt_gap,final,70,First class,,70,65,75,75,68,,,,"
    # cd5678: code suggested from the code findings: (58 + 72 + 72 + 72) / 4 = 68.5;
    # (20*55 + 20*58 + 20*60 + 10*68.5 + 30*52) / 100 = 57.05 -> 57
    assert lines[2] == "cd5678,D,matbench_glass,provisional,57,Lower second (2:2),,55,58,60,68.5,52,,,,"
    assert lines[3].startswith("gh3456,B,matbench_expt_gap,incomplete,,,,40,,30,,,")
    assert "Model choice: no mark yet (awaiting the marker); Code: no mark yet" in lines[3]
    assert lines[4] == "" and len(lines) == 5 and not text.startswith("\ufeff")


def test_export_cli_and_errors(course, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.csv"
    done = runner.invoke(
        app,
        ["export", ASSIGNMENT, "--output", str(out), "--format", "blackboard", "--course", str(course.root)],
    )
    assert done.exit_code == 0, done.output
    assert "1 student(s) written" in done.output and "2 left out" in done.output
    assert out.read_bytes().startswith('\ufeff"Last Name"'.encode("utf-8"))
    with pytest.raises(ExportError, match="Unknown export format 'xlsx'"):
        export_marks(course, ASSIGNMENT, out, "xlsx")
    with pytest.raises(ExportError, match="No graded submissions of 'other'"):
        export_marks(course, "other", out, "plain")


def test_report_cli_writes_the_summary(course):
    done = CliRunner().invoke(app, ["report", ASSIGNMENT, "--course", str(course.root)])
    assert done.exit_code == 0, done.output
    path = course.root / "reports" / ASSIGNMENT / "summary.html"
    assert f"Cohort summary: {path}" in done.output
    html = path.read_text(encoding="utf-8")
    assert "ab1234" in html and "cd5678" in html and "gh3456" in html
