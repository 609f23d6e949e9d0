"""Release the assignment: `nbgrader generate_assignment` from source/ into release/.

nbgrader strips the reference solution (between `### BEGIN SOLUTION` / `### END SOLUTION`), hidden
tests and outputs, locks the instructor's cells and records checksums in the gradebook, which the
grading engine later uses to restore tampered cells. We then normalise the released notebook's
volatile metadata so that releasing the same source twice gives byte-identical files.

The released folder also carries the students' checker (`release_checker`): the toolkit's wheel,
built from this checkout without the `grader` extra, and the lines of the released requirements.txt
that install it, so that `pip install -r requirements.txt` in that folder gives a student the course
environment and `autograder check` in one command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.course.config import Course
from autograder.course.init import SKELETON
from autograder.errors import UserError
from autograder.layout import CHECKER_DISTRIBUTION, CHECKER_WHEELS, REQUIREMENTS_FILE
from autograder.version import __version__

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
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        "generate_assignment",
        assignment,
        "--force",
        f"--CourseDirectory.root={course.root}",
        "--log-level=WARN",
    ]
    done = subprocess.run(command, cwd=course.root, env=nbgrader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
    released = sorted(course.release_dir(assignment).glob("*.ipynb"))
    for path in released:
        normalise_released(path)
        leftover = [m for m in SOLUTION_MARKERS if m in path.read_text(encoding="utf-8")]
        if leftover:
            raise ReleaseError(f"{path} still contains {leftover}: the solution was not stripped.")
    if project_root() is not None:
        release_checker(course.release_dir(assignment))
    else:  # installed from a wheel: nothing to build the checker from; the release itself is complete
        print(
            "Note: the students' checker was not put in the released folder (this autograder is not installed "
            "from its source checkout: pip install -e DIR, then release again).",
            file=sys.stderr,
        )
    return released


# Marks the lines release_checker adds, so that a second release replaces them.
_CHECKER_MARK = "# The students' checker"
# Zip timestamps of the wheel (setuptools honours SOURCE_DATE_EPOCH): the same code, the same bytes.
_WHEEL_EPOCH = "315532800"  # 1980-01-01, the earliest a zip file can hold


def project_root() -> Path | None:
    """The toolkit's source checkout (pyproject.toml beside the package), if it is installed from one."""
    root = Path(__file__).resolve().parents[2]  # this module is <root>/autograder/course/release.py
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and f'name = "{CHECKER_DISTRIBUTION}"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_checker_wheel(out_dir: Path, root: Path | None = None) -> Path:
    """The toolkit's wheel (its core dependencies only: the students' checker) built into out_dir from
    a copy of the checkout (the build leaves nothing in the checkout), offline, reproducibly."""
    root = root or project_root()
    if root is None:
        raise ReleaseError(
            "The students' checker cannot be built: this autograder is not installed from its "
            "source checkout (pip install -e DIR). Install it that way and release again."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="autograder-wheel-") as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, copy / name)
        # never the course that `autograder init` copies (course/skeleton): it holds the reference solution
        shutil.copytree(
            root / "autograder",
            copy / "autograder",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", SKELETON),
        )
        built = Path(tmp) / "wheel"
        env = dict(os.environ, SOURCE_DATE_EPOCH=_WHEEL_EPOCH)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--wheel-dir",
                str(built),
                str(copy),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        wheels = sorted(built.glob(CHECKER_WHEELS)) if done.returncode == 0 else []
        if not wheels:
            raise ReleaseError(
                f"Building the students' checker failed (pip wheel):\n{done.stdout}\n{done.stderr}"
            )
        for old in out_dir.glob(CHECKER_WHEELS):
            old.unlink()
        target = out_dir / wheels[0].name
        shutil.move(str(wheels[0]), target)
    return target


def release_checker(release_dir: Path, root: Path | None = None) -> Path:
    """Put the checker's wheel in the released folder and name it in the released requirements.txt
    (after the course environment: `--find-links .` is read relative to that file, so the install
    works from any folder, and offline)."""
    wheel = build_checker_wheel(release_dir, root)
    requirements = release_dir / REQUIREMENTS_FILE
    text = requirements.read_text(encoding="utf-8") if requirements.is_file() else ""
    if _CHECKER_MARK in text:
        text = text[: text.index(_CHECKER_MARK)]
    text = text.rstrip("\n") + "\n" if text.strip() else ""
    text += (
        f"{_CHECKER_MARK} (`autograder check`, `autograder.self_check()`): {wheel.name}, beside this file.\n"
        "--find-links .\n"
        f"{CHECKER_DISTRIBUTION}=={__version__}\n"
    )
    requirements.write_text(text, encoding="utf-8")
    return wheel


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
    return "\n".join(
        line
        for line in text.split("\n")
        if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    )


def solved_copy(released_path: Path, source_path: Path) -> nbformat.NotebookNode:
    """The released notebook as a student would hand it in with the reference solution written in:
    every solution cell of the release takes the source's text, without the solution markers.
    Used by the tests, the demo cohort and the reference-solution benchmark."""
    released = nbformat.read(released_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = strip_solution_markers(solutions[grade_id])
    return released
