"""The instructor's command line as users of the Jupyter tools expect it: --version, completion, help
with real metavars in the order of a term, and every name a user types checked before anything is
written (the exit code, a message naming the closest name, the course folder unchanged)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_support import run_autograder

import autograder
from autograder.cli.app import TERM_ORDER

ASSIGNMENT = "research_challenge"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root: (size, mtime) - what a failing command must leave alone."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        stat = path.stat()
        out[path.relative_to(root).as_posix()] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return out


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_autograder(*args, cwd=cwd, columns=120, timeout=300)


def test_version_is_the_package_metadata():
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"autograder {version('mlmat-autograder')}"
    assert version("mlmat-autograder") == autograder.__version__


def test_help_lists_the_commands_in_the_order_of_a_term_with_real_metavars():
    done = run("--help")
    assert done.returncode == 0
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout  # Typer's completion
    listed = re.findall(r"^│ (\w+) ", done.stdout, flags=re.MULTILINE)
    commands = [name for name in listed if name in TERM_ORDER]
    assert commands[:3] == ["init", "release", "assign"] and commands[-1] == "demo"
    assert commands == sorted(commands, key=TERM_ORDER.index)
    assert {"init", "release", "assign", "data", "check", "collect", "grade", "report", "export"} <= set(
        commands
    )
    for command in ("assign", "export", "grade", "init", "collect", "report"):
        text = run(command, "--help").stdout
        assert "<bool>" not in text and "{" not in text, command
        assert "[default: no-" not in text, command
    assign = run("assign", "--help").stdout
    assert re.search(r"assign \[OPTIONS\] ROSTER *$", assign, flags=re.MULTILINE)
    export = run("export", "--help").stdout
    assert re.search(r"export \[OPTIONS\] \[ASSIGNMENT\] *$", export, flags=re.MULTILINE)
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", export).split())  # the help's text, without the boxes
    assert "blackboard_column in the rubric's export section" in words  # nothing swallowed as markup
    assert "FILE" in export and "--course" in export and "DIR" in export


@pytest.fixture
def course(course_dir) -> Path:
    """The repository's course with one student's submission in nbgrader's layout (nothing graded)."""
    folder = course_dir / "submitted" / "ab1234" / ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy(course_dir / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", folder / f"{ASSIGNMENT}.ipynb")
    (course_dir / "allocation.csv").write_text("student_id,challenge\nab1234,B\n")
    return course_dir


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["grade", "homework9", "--no-execute"],
            "Unknown assignment 'homework9' in {root}. The course's assignments: research_challenge",
        ),
        (["grade", "research_challeng", "--no-execute"], "Did you mean 'research_challenge'?"),
        (["grade", "--student", "ab123", "--no-execute"], "No submission of research_challenge for 'ab123'"),
        (["grade", "--student", "ab123"], "Did you mean 'ab1234'?"),
        (["report", "homework9"], "Unknown assignment 'homework9'"),
        (["report"], "No graded submissions of 'research_challenge'"),
        (["export", "homework9"], "Unknown assignment 'homework9'"),
        (["export", "--format", "plian"], "Unknown export format 'plian'. Did you mean 'plain'?"),
        (["collect", "homework9"], "Unknown assignment 'homework9'"),
        (["release", "research_challenge_2"], "Did you mean 'research_challenge'?"),
        (["release-feedback"], "No exchange configured for {root}: give --exchange DIR"),
        (
            ["release-feedback", "--exchange", "/nonexistent/x"],
            "No graded submissions of 'research_challenge'",
        ),
        (["collect", "--zip", "a.zip", "--exchange", "/nonexistent/x"], "--zip and --exchange"),
        (
            ["collect", "--exchange", "/nonexistent/x"],
            "Course 'MATE70026' is not in the exchange /nonexistent/x",
        ),
    ],
)
def test_a_typo_is_an_error_with_the_closest_name_and_nothing_written(course, args, message):
    before = snapshot(course)
    done = run(*args, "--course", str(course))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1  # one line
    assert message.format(root=course) in done.stderr
    assert snapshot(course) == before  # no lock file, no autograded/, no half-written file


def test_a_folder_that_is_not_a_course_is_refused_before_anything_is_written(tmp_path, course):
    empty = tmp_path / "emptydir"
    empty.mkdir()
    for command in (
        ["grade"],
        ["grade", "--no-execute"],
        ["collect"],
        ["report"],
        ["export"],
        ["release"],
        ["assign", str(course / "allocation.csv")],
    ):
        done = run(*command, "--course", str(empty))
        assert done.returncode == 2, command
        assert f"{empty} is not a course directory" in done.stderr and "autograder init" in done.stderr
        assert list(empty.iterdir()) == [], command  # no autograded/, no lock
    mistyped = run("grade", "--course", str(course.parent / "cours"))
    assert mistyped.returncode == 2
    assert (
        f"Course directory {course.parent / 'cours'} does not exist. Did you mean {course}?"
        in mistyped.stderr
    )
    assert not (course.parent / "cours").exists()


def test_collect_with_nothing_submitted_says_where_it_looked(course_dir):
    before = snapshot(course_dir)
    done = run("collect", "--course", str(course_dir))
    assert done.returncode == 2
    assert f"No submissions of research_challenge in {course_dir / 'submitted'}" in done.stderr
    assert "--zip" in done.stderr
    assert snapshot(course_dir) == before


def test_grade_with_a_missing_data_set_leaves_no_lock(course, tmp_path):
    before = snapshot(course)
    done = run_autograder("grade", "--course", str(course), env={"MATMINER_DATA": str(tmp_path)}, timeout=300)
    assert done.returncode == 2 and "matbench_expt_gap" in done.stderr
    assert snapshot(course) == before


def test_data_status_sizes_json_and_unknown_challenge(tmp_path):
    done = run("data", "status", "B", cwd=tmp_path)  # outside a course: the default challenges
    assert done.returncode == 0
    size = (Path(os.environ["MATMINER_DATA"]) / "matbench_expt_gap.json.gz").stat().st_size
    assert f"{size / 1000:.1f} kB" in done.stdout and "0.0 MB" not in done.stdout
    as_json = json.loads(run("data", "status", "B", "matbench_glass", "--json", cwd=tmp_path).stdout)
    assert as_json["autograder_version"] == autograder.__version__
    assert [(d["task"], d["present"], d["size_bytes"]) for d in as_json["datasets"]] == [
        ("matbench_expt_gap", True, size),
        (
            "matbench_glass",
            True,
            (Path(os.environ["MATMINER_DATA"]) / "matbench_glass.json.gz").stat().st_size,
        ),
    ]
    missing = json.loads(
        subprocess.run(
            [sys.executable, "-m", "autograder", "data", "status", "A", "--json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "MATMINER_DATA": str(tmp_path)},
            check=False,
        ).stdout
    )
    assert (
        missing["datasets"][0]["present"] is False and "matbench_phonons" in missing["datasets"][0]["problem"]
    )
    typo = run("data", "status", "matbench_phonon", cwd=tmp_path)
    assert typo.returncode == 2 and "Did you mean 'matbench_phonons'?" in typo.stderr
    letter = run("data", "status", "E", cwd=tmp_path)
    assert letter.returncode == 2 and "A (matbench_phonons), B (matbench_expt_gap)" in letter.stderr


def test_demo_never_deletes_a_folder_that_is_not_a_demo_course(course):
    before = snapshot(course)
    done = run("demo", "--course", str(course))
    assert done.returncode == 2 and "is not a demo course" in done.stderr
    assert snapshot(course) == before


def test_grade_with_a_broken_rubric_leaves_no_lock(course):
    rubric = course / "rubric" / f"{ASSIGNMENT}.toml"
    rubric.write_text(rubric.read_text() + "\n[criteria.nonsense\n")
    before = snapshot(course)
    done = run("grade", "--no-execute", "--course", str(course))
    assert done.returncode == 2 and str(rubric) in done.stderr
    assert snapshot(course) == before


def test_grade_with_a_mistyped_marks_file_leaves_no_lock(course):
    (course / "marks.csv").write_text("student_id,criterion,mark,comment\nab123,presentation,60,\n")
    before = snapshot(course)
    done = run("grade", "--no-execute", "--course", str(course))
    assert done.returncode == 2 and "line 2" in done.stderr and "Did you mean 'ab1234'?" in done.stderr
    assert snapshot(course) == before


def test_the_exchange_needs_one_course_id(course):
    """nbgrader's course id, else autograder.toml's; two different ones, or none, stop before anything."""
    config = course / "autograder.toml"
    config.write_text(config.read_text().replace('course_id = "MATE70026"', 'course_id = "MATE99999"'))
    before = snapshot(course)
    done = run("release", "--exchange", str(course.parent / "exchange"), "--course", str(course))
    assert done.returncode == 2 and "Two course ids" in done.stderr and "MATE99999" in done.stderr
    config.write_text(config.read_text().replace('course_id = "MATE99999"\n', ""))
    nbgrader = course / "nbgrader_config.py"
    nbgrader.write_text(nbgrader.read_text().replace('c.CourseDirectory.course_id = "MATE70026"\n', ""))
    before = snapshot(course)
    done = run("collect", "--exchange", str(course.parent / "exchange"), "--course", str(course))
    assert (
        done.returncode == 2
        and "No course id for nbgrader's exchange: set c.CourseDirectory.course_id" in done.stderr
    )
    assert snapshot(course) == before and not (course.parent / "exchange").exists()
