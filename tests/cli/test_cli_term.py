"""A term in a fresh folder with the package's own files only: `autograder init`, `release`, `assign`,
`collect`, `grade`, the markers' marks, `grade --no-execute`, `export`, as the README tells an
instructor. Executes one real notebook (slow)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pytest
from cli_support import run_autograder

from autograder.course.config import Course
from autograder.course.init import skeleton_files
from autograder.demo import PROFILES, make_notebook
from autograder.layout import TIMESTAMP_FILE

ASSIGNMENT = "research_challenge"
REPO = Path(__file__).resolve().parents[2]


def autograder(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_autograder(*args, cwd=cwd, timeout=1500)


def test_the_package_course_is_the_repository_course():
    """The course `init` writes is this repository's (a change to one without the other fails here)."""
    for relative, text in skeleton_files().items():
        if (REPO / relative).is_file():
            assert (REPO / relative).read_text(encoding="utf-8") == text, relative
    assert {
        "autograder.toml",
        "nbgrader_config.py",
        "roster.csv",
        f"rubric/{ASSIGNMENT}.toml",
        f"source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        f"source/{ASSIGNMENT}/requirements.txt",
    } == set(skeleton_files())


def test_init_refuses_a_non_empty_folder_and_keeps_every_file(tmp_path):
    target = tmp_path / "course"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    done = autograder("init", str(target), cwd=tmp_path)
    assert done.returncode == 2 and "is not empty (notes.txt)" in done.stderr and "--force" in done.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    (target / "autograder.toml").write_text("# my settings\n")
    forced = autograder("init", str(target), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "1 already there and kept (autograder.toml)" in forced.stdout
    assert (target / "autograder.toml").read_text() == "# my settings\n" and (
        target / "notes.txt"
    ).read_text() == "mine"
    assert (target / "rubric" / f"{ASSIGNMENT}.toml").is_file()
    file = tmp_path / "file"
    file.write_text("x")
    assert autograder("init", str(file), cwd=tmp_path).returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course", "file"]  # no staging folder left


@pytest.mark.slow
@pytest.mark.extended
@pytest.mark.timeout(1800)
def test_a_term_from_init_to_export(tmp_path, monkeypatch):
    course_dir = tmp_path / "mate70026"
    done = autograder("init", str(course_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        f"New course in {course_dir}: 6 file(s) written." in done.stdout
        and "autograder release" in done.stdout
    )
    assert autograder("init", str(course_dir), cwd=tmp_path).returncode == 2  # never twice into one folder

    released = autograder("release", cwd=course_dir)
    assert released.returncode == 0, released.stderr
    release = course_dir / "release" / ASSIGNMENT
    notebook = nbformat.read(release / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert not any("BEGIN SOLUTION" in cell.source for cell in notebook.cells)
    # the students' checker released beside it carries no reference solution (nor the package's course)
    for wheel in release.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            assert not [n for n in archive.namelist() if "skeleton" in n]
            notebooks = [n for n in archive.namelist() if n.endswith(".ipynb")]
            assert notebooks and not [n for n in notebooks if b"BEGIN SOLUTION" in archive.read(n)]

    assigned = autograder("assign", "roster.csv", cwd=course_dir)
    assert assigned.returncode == 0, assigned.stderr
    assert "4 students allocated" in assigned.stdout
    assert "ef9012,A" in (course_dir / "allocation.csv").read_text().splitlines()

    course = Course.open(course_dir)
    student = "ef9012"  # the example roster's phonons student (seed 2026): the quickest data set to featurise
    submitted = course.submitted_dir(student)
    submitted.mkdir(parents=True)
    nbformat.write(make_notebook(PROFILES[0], student, "Chen Wei", course), submitted / f"{ASSIGNMENT}.ipynb")
    (submitted / TIMESTAMP_FILE).write_text("2026-03-11 14:02:00.000000 UTC")  # as nbgrader collect writes it
    collected = autograder("collect", "--json", cwd=course_dir)
    assert collected.returncode == 0, collected.stderr
    intake = json.loads(collected.stdout)
    assert intake["ready"] == 1 and intake["intake_errors"] == 0
    assert [s["student_id"] for s in intake["submissions"]] == [student]

    graded = autograder("grade", "--workers", "1", cwd=course_dir)
    assert graded.returncode == 0, graded.stderr[-3000:]
    lines = graded.stdout.splitlines()
    line = next(x for x in lines if x.startswith(student))
    assert "graded" in line and (
        "incomplete" in line or "provisional" in line
    )  # the presentation is not marked
    assert f"Feedback pages: {course.feedback_page('<student>')}" in lines
    assert any(x.startswith("Export-ready: 0 final mark(s) of 1") for x in lines)
    assert not any(x.startswith("time: ") for x in lines)  # the timings only with --timings
    assert course.feedback_page(student).is_file()

    (course_dir / "marks.csv").write_text(
        "student_id,criterion,mark,comment\n"
        f"{student},data_preparation,68,\n{student},model_choice,66,\n{student},training_testing,accept,\n"
        f"{student},code,accept,\n{student},presentation,70,Clear and within time.\n",
        encoding="utf-8",
    )
    regraded = autograder("grade", "--no-execute", "--json", cwd=course_dir)
    assert regraded.returncode == 0, regraded.stderr[-3000:]
    outcome = json.loads(regraded.stdout)
    info = outcome["students"][student]
    assert info["status"] == "final" and isinstance(info["mark"], int) and info["run"] == "graded"
    assert outcome["export_ready"] == 1 and outcome["checked"] == [student] and outcome["executed"] == []
    assert outcome["summary"] == str(course.summary_page()) and info["feedback_page"] == str(
        course.feedback_page(student)
    )

    # with many students (here: more than 0) the counts and the attention list; the timings on request
    from typer.testing import CliRunner

    from autograder.cli import app, grading

    monkeypatch.setattr(grading, "LINES_UP_TO", 0)
    many = CliRunner().invoke(app, ["grade", "--no-execute", "--timings", "--course", str(course_dir)])
    assert many.exit_code == 0, many.output
    assert "1 submission(s): 1 final; runs: 1 graded." in many.stdout
    assert (f"Needs attention (1):\n  {student}" in many.stdout) == bool(info["attention"])
    assert "time: " in many.stdout and "peak MB" in many.stdout  # where the time went, each execution

    exported = autograder("export", cwd=course_dir)
    assert exported.returncode == 0, exported.stderr
    blackboard = course.export_path("blackboard")
    assert f"1 student(s) written to {blackboard} (blackboard)." in exported.stdout
    assert f'"{student}","{info["mark"]}"' in blackboard.read_text(encoding="utf-8-sig")
    assert autograder("export", cwd=course_dir).returncode == 2  # not over the last export without --force
