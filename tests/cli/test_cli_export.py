"""`autograder export` and `report` lose nothing: an existing file is replaced only with --force, a
file the course reads never, `-o -` writes to standard output, writes are atomic; --json for tools."""

from __future__ import annotations

import json
import subprocess

import pytest
from cli_support import run_autograder
from grading_support import ASSIGNMENT, add_submission, good_findings, make_course

from autograder.grade.grading import grade_cohort

MARKS = "student_id,criterion,mark,comment\nab1234,presentation,68,Clear.\n"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-export")
    course = make_course(tmp / "course")
    add_submission(course, "ab1234", "B", "RF-SCM/Magpie", good_findings("MAE 0.4461"), tmp)
    add_submission(
        course, "cd5678", "D", "RF-SCM/Magpie", good_findings("ROC-AUC 0.8587"), tmp, recording=None
    )
    (course.root / "marks.csv").write_text(MARKS, encoding="utf-8")
    grade_cohort(course, ASSIGNMENT, update_gradebook=False)
    return course


def run(course, *args: str) -> subprocess.CompletedProcess:
    return run_autograder(*args, "--course", str(course.root), timeout=300, text=False)


def test_export_never_overwrites_without_force_and_never_a_course_file(course):
    out = course.root / "export" / "plain.csv"
    first = run(course, "export", "--format", "plain")
    assert first.returncode == 0, first.stderr
    assert f"2 student(s) written to {out} (plain).".encode() in first.stdout
    written = out.read_bytes()
    assert (
        written.startswith(b"student_id,challenge,task,status") and b"ab1234,B,matbench_expt_gap" in written
    )

    again = run(course, "export", "--format", "plain")
    assert again.returncode == 2
    assert f"{out} already exists. Pass --force".encode() in again.stderr
    assert out.read_bytes() == written

    out.write_bytes(b"an older export\n")
    forced = run(course, "export", "--format", "plain", "--force")
    assert forced.returncode == 0 and b"replacing the file that was there" in forced.stdout
    assert out.read_bytes() == written

    for name in ("marks.csv", "allocation.csv", "autograder.toml", f"rubric/{ASSIGNMENT}.toml"):
        target = course.root / name
        before = target.read_bytes()
        refused = run(course, "export", "-o", str(target), "--force")
        assert refused.returncode == 2, name
        assert b"which the course reads: an export never writes there" in refused.stderr
        assert target.read_bytes() == before
    relative = run_autograder("export", "--output", "marks.csv", cwd=course.root, timeout=300, text=False)
    assert relative.returncode == 2 and (course.root / "marks.csv").read_text() == MARKS  # README step 7
    assert not [p for p in (course.root / "export").iterdir() if p.name.startswith(".")]  # no temporary left


def test_export_to_standard_output_and_json(course, tmp_path):
    to_file = tmp_path / "plain.csv"
    assert run(course, "export", "--format", "plain", "-o", str(to_file)).returncode == 0
    stdout = run(course, "export", "--format", "plain", "-o", "-")
    assert stdout.returncode == 0
    assert stdout.stdout == to_file.read_bytes()  # the same bytes, and no file named "-"
    assert not (course.root / "-").exists()

    blackboard = tmp_path / "bb.csv"
    done = run(course, "export", "-o", str(blackboard), "--json", "--include-provisional")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert set(outcome) == {
        "autograder_version",
        "assignment",
        "format",
        "path",
        "replaced",
        "written",
        "left_out",
    }
    assert outcome["path"] == str(blackboard) and outcome["format"] == "blackboard"
    left_out = {item["student_id"] for item in outcome["left_out"]}
    assert sorted(outcome["written"] + sorted(left_out)) == ["ab1234", "cd5678"]
    assert blackboard.read_bytes().startswith('\ufeff"Last Name"'.encode("utf-8"))

    both = run(course, "export", "-o", "-", "--json")
    assert both.returncode == 2 and b"standard output" in both.stderr


def test_report_json_lists_the_pages_and_the_summary(course):
    done = run(course, "report", "--json")
    assert done.returncode in (0, 1), done.stderr
    outcome = json.loads(done.stdout)
    assert set(outcome) == {"autograder_version", "assignment", "summary", "pages", "errors"}
    assert outcome["assignment"] == ASSIGNMENT
    assert set(outcome["pages"]) | set(outcome["errors"]) == {"ab1234", "cd5678"}
    for student, page in outcome["pages"].items():
        assert page == str(course.feedback_page(student)) and course.feedback_page(student).is_file()
    assert done.returncode == (1 if outcome["errors"] else 0)
