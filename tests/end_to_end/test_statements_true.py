"""Every sentence a student or instructor reads is true (issue #22): ids typed in another case find the
student the course knows; a marks file gets the same verdict from `marks import` and `grade`;
formgrader's totals agree with the pages; cell numbers agree within a message."""

from __future__ import annotations

import re

import pytest
from grading_support import ASSIGNMENT, add_submission, executed_notebook, good_findings, make_course
from typer.testing import CliRunner

from autograder.batch.planning import batch_students
from autograder.cli import app
from autograder.errors import UserError
from autograder.grade.marks_store import stored_rows

STORED_ID = "Gh012"  # as the allocation and the submission folder spell it
TYPED_ID = "gh012"  # as a marker types it


def run(course, *args):
    """exit code and output as `autograder` gives them (a UserError is exit 2 with its message)."""
    result = CliRunner().invoke(app, [*args, "--course", str(course.root)])
    if isinstance(result.exception, UserError):
        return 2, f"Error: {result.exception}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("ids")
    course = make_course(root / "course", release=True)
    nb = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    add_submission(
        course, STORED_ID, "B", "Dummy", good_findings("Recomputed MAE: 0.4461 eV."), root, notebook=nb
    )
    return course


def test_marks_typed_in_another_case_are_stored_for_the_student_the_course_knows(course, tmp_path):
    marks = tmp_path / "marks.csv"
    marks.write_text(
        "student_id,criterion,mark,comment\n"
        f"{TYPED_ID},presentation,71,Clear and within time.\n"
        f"{TYPED_ID},model_choice,58,\n"
    )
    code, output = run(course, "marks", "import", str(marks))
    assert code == 0, output
    assert {(row.student, row.criterion, row.mark) for row in stored_rows(course, ASSIGNMENT)} == {
        (STORED_ID, "presentation", 71.0),
        (STORED_ID, "model_choice", 58.0),
    }


def test_a_student_typed_in_another_case_is_graded(course):
    assert batch_students(course, ASSIGNMENT, [TYPED_ID], no_execute=True) == [STORED_ID]
    with pytest.raises(UserError, match="No submission of research_challenge for 'gh013'"):
        batch_students(course, ASSIGNMENT, ["gh013"], no_execute=True)


def test_ids_are_one_student_only_without_regard_to_case_when_the_course_says_so(course, monkeypatch):
    monkeypatch.setattr(course.config, "case_sensitive_ids", True)
    with pytest.raises(UserError, match="gh012"):
        batch_students(course, ASSIGNMENT, [TYPED_ID], no_execute=True)


def test_grade_and_marks_import_report_the_same_problems_of_a_marks_file(course, tmp_path):
    marks = tmp_path / "marks.csv"
    marks.write_text(
        "student_id,criterion,mark,comment\n"
        f"{TYPED_ID},presentation,71,\n"
        f"{TYPED_ID},model_choice,58,\n"
        f"{STORED_ID},data_preparation,140,\n"
        "xx0000,presentation,60,\n"
    )
    course.marks_csv_path(ASSIGNMENT).parent.mkdir(parents=True, exist_ok=True)
    course.marks_csv_path(ASSIGNMENT).write_text(marks.read_text())
    try:
        import_code, import_output = run(course, "marks", "import", str(marks))
        grade_code, grade_output = run(course, "grade", "--no-execute")
    finally:
        course.marks_csv_path(ASSIGNMENT).unlink()
    assert import_code == grade_code == 2
    # the same problems, each with its line (the files' paths differ); 140 is out of range, xx0000 unknown
    assert re.findall(r"line (\d+): (.*)", import_output) == re.findall(r"line (\d+): (.*)", grade_output)
    assert [line for line, _ in re.findall(r"line (\d+): (.*)", grade_output)] == ["4", "5"], grade_output


def test_formgraders_total_counts_only_the_marks_the_page_counts_as_given(course):
    """formgrader adds every cell's score into the total it shows: a criterion the page shows as a
    suggestion (or missing) has no score there and needs manual grading; the student nobody named
    has empty names, not "None, None"."""
    import json

    from autograder.grade.gradebook import GradebookBridge, nbgrader_settings
    from autograder.grade.grading import grade_cohort
    from autograder.grade.marks import SUGGESTED

    assert grade_cohort(course, ASSIGNMENT).errors == {}
    grade = json.loads((course.autograded_dir(STORED_ID) / "grade.json").read_text())
    assert grade["status"] != "final"
    given = {
        c["key"]: c["mark"] for c in grade["criteria"] if c["mark"] is not None and c["source"] != SUGGESTED
    }
    suggested = [c["key"] for c in grade["criteria"] if c["source"] == SUGGESTED]
    assert suggested  # the case in question: the page shows suggestions, not marks
    weights = {c["key"]: c["weight"] for c in grade["criteria"]}
    with GradebookBridge(*nbgrader_settings(course)) as bridge:
        submission = bridge.gradebook.find_submission(ASSIGNMENT, STORED_ID)
        assert submission.needs_manual_grade  # formgrader: "needs manual grading", as the page says pending
        assert submission.score == pytest.approx(sum(weights[k] * mark / 100 for k, mark in given.items()))
        student = bridge.gradebook.find_student(STORED_ID)
        assert (student.last_name, student.first_name) == ("", "")


def test_a_failed_cell_has_one_number_in_the_check_s_run_line_and_in_the_progress(tmp_path):
    """`autograder check --execute`: "N cells failed, the first cell K ... Cell K raised ..." and the progress
    line "cell K of M running" count the student's own cells (papermill's injected cell not counted)."""
    import json
    from types import SimpleNamespace

    import nbformat
    from test_cell_numbering import injected, student_notebook

    from autograder.execute.engine import EngineSettings, _cell_runs, _status
    from autograder.execute.sandbox import SandboxResult
    from autograder.records import ExecutionRecord
    from autograder.selfcheck.run import _CellProgress, failed_cells, run_summary

    own = student_notebook()
    failing = next(i for i, c in enumerate(own["cells"]) if "undefined_name" in "".join(c["source"])) + 1
    ran = nbformat.reads(json.dumps(injected(own)), as_version=4)
    for cell in ran.cells:
        if cell.cell_type == "code":
            cell.metadata["papermill"] = {"status": "completed", "duration": 0.1}
            cell.metadata["autograder"] = {"status": "completed"}  # what the run writes for each cell
            if "undefined_name" in cell.source:
                cell.metadata["autograder"] = {
                    "status": "failed",
                    "error": {"ename": "NameError", "evalue": "name 'undefined_name' is not defined"},
                }
    result = SandboxResult(
        returncode=0, wall_seconds=1.0, cpu_seconds=1.0, peak_memory_bytes=0, outcome={"ok": 1}
    )
    record = ExecutionRecord("s", ASSIGNMENT, cells=_cell_runs(ran, {}, result))
    _, record.reason = _status(SimpleNamespace(settings=EngineSettings()), record, {}, result, ran)
    line = run_summary(
        {"wall_seconds": 1, "status": "failed", "reason": record.reason, "failed_cells": failed_cells(record)}
    )
    assert "NameError" in line and set(re.findall(r"[Cc]ell (\d+)", line)) == {str(failing)}, line

    said = []
    progress = _CellProgress(said.append, every=3600)
    for cell in ran.cells:
        if "undefined_name" in cell.source:
            cell.metadata["papermill"]["status"] = "running"
    progress(nbformat.writes(ran).encode())
    progress.stop()
    assert said and said[0].startswith(f"  cell {failing} of {len(own['cells'])} running"), said


def test_a_criterion_the_marker_has_marked_is_no_longer_a_thing_to_do():
    """The recording's length is a thing to do while Presentation awaits its mark; once the marker
    enters a Presentation mark, the to-do about it goes (the other criteria's stay)."""
    import json

    from test_feedback_page import KNOWN, RUBRIC, finding

    from autograder.grade.record import Grade
    from autograder.report.feedback import top_improvements

    grade = json.loads(json.dumps(KNOWN))
    grade["findings"].append(
        finding(
            "presentation.length",
            "presentation",
            "fail",
            "The recording is 14 min long.",
            "Keep it within 10 minutes.",
        )
    )
    presentation = next(c for c in grade["criteria"] if c["key"] == "presentation")
    presentation.update(mark=None)
    assert [t["check_id"] for t in top_improvements(Grade.from_json(grade), RUBRIC.bands)] == [
        "protocol.test_ids",
        "protocol.preprocessing_leak",
        "presentation.length",
    ]
    presentation.update(mark=52, manual=52, source="formgrader")  # 8 below a 2:1: it would rank higher still
    assert [t["check_id"] for t in top_improvements(Grade.from_json(grade), RUBRIC.bands)] == [
        "protocol.test_ids",
        "protocol.preprocessing_leak",
        "practice.baseline",
    ]


def test_a_package_this_python_lacks_is_the_machines_and_not_the_course_environments(tmp_path):
    """The self-check ran in a Python without the course environment: a package requirements.txt lists is
    not "not in the course environment", and what fails because of it gives no verdict (exit 2)."""
    from autograder.execute.environment import missing_module_findings
    from autograder.records import FAIL, Finding
    from autograder.selfcheck.report import EXIT_UNUSABLE, Note, Report
    from autograder.selfcheck.run import _as_this_machine_sees_it, _declared_packages

    (tmp_path / "requirements.txt").write_text(
        "crabnet==2.0\nscikit-learn>=1.3  # models\n", encoding="utf-8"
    )
    declared = _declared_packages(None, tmp_path / "research_challenge.ipynb")  # the released folder's list
    assert declared == ["crabnet", "scikit-learn"]
    errors = [
        (2, "ModuleNotFoundError", "No module named 'crabnet'"),
        (4, "ModuleNotFoundError", "No module named 'modnet'"),
    ]
    shown, missing = _as_this_machine_sees_it(missing_module_findings(errors, declared), declared)
    assert missing == ["crabnet"] and [f.check_id for f in shown] == ["environment.missing_package"]
    assert (
        "modnet" in shown[0].message and "not in the course environment" in shown[0].message
    )  # it is not listed
    # no requirements.txt to go by: the package is one this Python lacks, nothing is said of the course's
    shown, missing = _as_this_machine_sees_it(missing_module_findings(errors[:1], []), [])
    assert missing == [] and "course environment" not in shown[0].message.split(";")[0]
    assert "this Python does not have" in shown[0].message
    failing = Finding("protocol.results_file", "training_testing", FAIL, "No results file was written.")
    report = Report(
        notebook=tmp_path / "nb.ipynb",
        results=None,
        items=[failing],
        notes=[Note("course-environment-missing", "this Python lacks crabnet")],
    )
    assert report.exit_code == EXIT_UNUSABLE and "says nothing yet" in report.summary_line()
