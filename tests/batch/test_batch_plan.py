"""A batch is prepared once (issue #24): one `autograder grade` reads the allocation and loads the
rubric once, and an unknown student gets one message whichever way the batch is started. The flag of
a failed run is the rubric's: a course that renames it still has its failed runs folded in the cohort
summary and named by `grade --quiet`."""

from __future__ import annotations

import io
import sys

import pytest
from grading_support import (
    ASSIGNMENT,
    add_submission,
    executed_notebook,
    failed_findings,
    good_findings,
    make_course,
)
from rich.console import Console
from typer.testing import CliRunner

import autograder.cli.grading  # noqa: F401 - with autograder.batch, every module a grade uses: imported before wrapping
from autograder import batch
from autograder.cli import app
from autograder.course import allocation as allocation_module
from autograder.errors import UserError
from autograder.grade import rubric as rubric_module
from autograder.grade.record import Grade
from autograder.grade.rubric import load_rubric
from autograder.report.summary import build_summary

GOOD, CRASHED = "ab1234", "cd5678"
RENAMED = "Run did not finish"


def grade_cli(course, *args):
    result = CliRunner().invoke(app, ["grade", *args, "--course", str(course.root)])
    if isinstance(result.exception, UserError):
        return 2, f"Error: {result.exception}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    course = make_course(root / "course", release=True)
    notebook = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    add_submission(
        course, GOOD, "B", "Dummy", good_findings("Recomputed MAE: 0.4461 eV."), root, notebook=notebook
    )
    add_submission(course, CRASHED, "B", None, failed_findings(), root, notebook=notebook, cells_ok=False)
    (course.root / "marks.csv").write_text(f"student_id,criterion,mark,comment\n{GOOD},presentation,68,\n")
    return course


def count_calls(monkeypatch, function) -> list:
    """Wrap `function` wherever a module of the package holds it (imported by name, or looked up in
    its own module at call time); returns the list its calls are appended to."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("autograder") and getattr(module, function.__name__, None) is function:
            monkeypatch.setattr(module, function.__name__, counted)
    return calls


def test_one_grade_reads_the_allocation_and_loads_the_rubric_once(course, monkeypatch):
    allocation_reads = count_calls(monkeypatch, allocation_module.read_allocation)
    rubric_loads = count_calls(monkeypatch, rubric_module.load_rubric)
    code, output = grade_cli(course, "--no-execute")
    assert code == 0, output
    assert (
        course.load_grade(GOOD, ASSIGNMENT)["status"] != "error"
    )  # the grade went through: the count is of one
    assert len(allocation_reads) == 1 and len(rubric_loads) == 1


def test_an_unknown_student_has_one_message_whichever_way_the_batch_starts(course):
    code, from_cli = grade_cli(course, "--no-execute", "--student", "ab1235")
    with pytest.raises(UserError) as from_api:
        batch.grade(
            course,
            batch.GradeOptions(no_execute=True, students=["ab1235"], progress=False),
            console=Console(file=io.StringIO()),
        )
    assert code == 2 and "Did you mean 'ab1234'?" in from_cli
    assert from_cli == f"Error: {from_api.value}"


@pytest.fixture
def renamed(tmp_path):
    """The course, its rubric's flag of a failed run renamed (the rule on failed `execution.*` findings)."""
    course = make_course(tmp_path / "course", release=True)
    notebook = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    add_submission(
        course, GOOD, "B", "Dummy", good_findings("Recomputed MAE: 0.4461 eV."), tmp_path, notebook=notebook
    )
    # the run stopped: its execution.run finding fails (the record's status alone does not say so)
    add_submission(course, CRASHED, "B", None, failed_findings(), tmp_path, notebook=notebook, cells_ok=False)
    text = course.rubric_path.read_text()
    assert text.count('flag = "Failed run"') == 1
    course.rubric_path.write_text(text.replace('flag = "Failed run"', f'flag = "{RENAMED}"'))
    return course


def test_a_renamed_failed_run_flag_still_folds_the_failed_run_in_the_summary(renamed):
    rubric = load_rubric(renamed.rubric_path)
    grades = {
        CRASHED: {
            "status": "provisional",
            "run": {"status": "failed", "reason": "cell 9 raised MemoryError"},
            "attention": [
                {"flag": RENAMED, "message": "cell 9 raised MemoryError", "check_id": "execution.run"},
                {
                    "flag": "Protocol failure",
                    "message": "no results file",
                    "check_id": "protocol.results_file",
                },
            ],
        }
    }
    summary = build_summary(
        renamed, ASSIGNMENT, rubric, {student: Grade.from_json(stored) for student, stored in grades.items()}
    )
    group = next(g for g in summary["attention_groups"] if g["student"] == CRASHED)
    assert [e["flag"] for e in group["entries"]] == [RENAMED]
    assert group["entries"][0]["folded"] == ["Protocol failure"]
    assert summary["flag_counts"][RENAMED] == 1 and "Protocol failure" not in summary["flag_counts"]


def test_a_renamed_failed_run_flag_still_names_the_student_in_a_quiet_grade(renamed):
    code, output = grade_cli(renamed, "--no-execute", "--quiet")
    assert code == 0, output
    assert RENAMED in {a["flag"] for a in renamed.load_grade(CRASHED, ASSIGNMENT)["attention"]}
    named = {line.split()[0] for line in output.splitlines()[:-1]}  # the last line: what the batch did
    assert named == {CRASHED}
