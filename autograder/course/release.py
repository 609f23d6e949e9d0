"""Release the assignment: `nbgrader generate_assignment` from source/ into release/.

nbgrader strips the reference solution (between `### BEGIN SOLUTION` / `### END SOLUTION`), hidden
tests and outputs, locks the instructor's cells and records checksums in the gradebook, which the
grading engine later uses to restore tampered cells. We then normalise the released notebook's
volatile metadata so that releasing the same source twice gives byte-identical files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.course.config import Course
from autograder.errors import UserError

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS")


class ReleaseError(UserError):
    pass


def nbgrader_env() -> dict:
    """nbgrader calls alembic by name, so the interpreter's bin folder must be on PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def release(course: Course, assignment: str | None = None) -> list[Path]:
    assignment = assignment or course.assignment
    source = course.source_dir(assignment)
    if not any(source.glob("*.ipynb")):
        raise ReleaseError(f"No notebook in {source}: the assignment's source must be there.")
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
               f"--CourseDirectory.root={course.root}", "--log-level=WARN"]
    done = subprocess.run(command, cwd=course.root, env=nbgrader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
    released = sorted(course.release_dir(assignment).glob("*.ipynb"))
    for path in released:
        normalise_released(path)
        leftover = [m for m in SOLUTION_MARKERS if m in path.read_text(encoding="utf-8")]
        if leftover:
            raise ReleaseError(f"{path} still contains {leftover}: the solution was not stripped.")
    return released


def normalise_released(path: Path) -> None:
    """Drop metadata that changes between runs (kernel display names, execution timings)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, path)


def strip_solution_markers(text: str) -> str:
    """The source text with nbgrader's solution delimiters removed (the solution itself kept)."""
    return "\n".join(line for line in text.split("\n")
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def solved_copy(released_path: Path, source_path: Path) -> nbformat.NotebookNode:
    """The released notebook as a student would hand it in with the reference solution written in:
    every solution cell of the release takes the source's text, without the solution markers.
    Used by the tests, the demo cohort and the reference-solution benchmark."""
    released = nbformat.read(released_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    solutions = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = strip_solution_markers(solutions[grade_id])
    return released
