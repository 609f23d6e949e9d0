"""The students' checker installs without the instructor's stack (issue 15).

- The self-check's path (the static check and its three renderers, and the modules `--execute` runs the
  notebook with) imports nothing from the `grader` extra: checked in a fresh interpreter that refuses
  those packages, so sanitise takes its nbgrader-free cell identity, which must give nbgrader's own
  checksums.
- `autograder release` puts the checker's wheel and its install lines in the released folder; the
  same code gives the same wheel.
- A fresh virtual environment installs it exactly as the README's Students section says, and
  `autograder check` works there on the released notebook and on a solved one with its results file,
  with the instructor-only packages absent (slow: a fresh venv, about a minute from a local mirror).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib

import nbformat
import pytest
from selfcheck_support import REPO, SOURCE, dummy_results, solved, write

# The `grader` extra and what only it brings (nbgrader's server and database layers, Dask).
INSTRUCTOR_ONLY = (
    "nbgrader",
    "distributed",
    "dask",
    "matplotlib",
    "pandas",
    "matminer",
    "tinytag",
    "nbconvert",
    "sqlalchemy",
    "alembic",
    "jupyter_server",
)


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_core_dependencies_are_what_checking_needs_and_the_grader_extra_the_rest():
    project = _pyproject()["project"]
    core, grader = _names(project["dependencies"]), _names(project["optional-dependencies"]["grader"])
    assert not core & grader
    assert {"nbgrader", "distributed", "matplotlib", "pandas", "matminer", "tinytag"} <= grader
    assert {"nbformat", "numpy", "ruff", "papermill", "ipykernel"} <= core
    assert "grader" in (REPO / "Makefile").read_text(
        encoding="utf-8"
    )  # the Makefile installs the grader's stack


_BLOCKED_RUN = r"""
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))
attempted = []
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            frame = sys._getframe(1)
            while frame.f_code.co_filename.startswith("<"):  # importlib's frames, and this finder's
                frame = frame.f_back
            attempted.append((name, frame.f_globals.get("__name__", "?")))
            raise ImportError(f"{name} is not installed (the grader extra)")
sys.meta_path.insert(0, Refuse())
from autograder.selfcheck import check
report = check(sys.argv[2])
report.render_text(); report.to_html(); report.to_json()
import io
report.print(io.StringIO(), rich=True)
# what --execute runs the notebook with
import autograder.selfcheck.run, autograder.execute.engine, autograder.execute.sanitise, autograder.execute.sandbox
import autograder.execute.run_one, autograder.execute.trace
from autograder.execute.sanitise import nbgrader_utils
print(json.dumps({"attempted": sorted(set(attempted)), "exit": report.exit_code,
                  "ours": sorted({n for n, by in attempted if by.split(".")[0] == "autograder"}),
                  "identity": nbgrader_utils.__name__, "score": report.score is not None}))
"""


def test_the_self_check_path_imports_nothing_of_the_grader_extra(tmp_path, shared_data):
    notebook = write(solved("B"), tmp_path / "research_challenge.ipynb")
    (tmp_path / "results.json.gz").write_text(
        json.dumps(dummy_results("matbench_expt_gap")), encoding="utf-8"
    )
    env = dict(
        os.environ, AUTOGRADER_CACHE=str(tmp_path / "cache")
    )  # a cold ground-truth cache: the folds too
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED_RUN, ",".join(INSTRUCTOR_ONLY), str(notebook)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["exit"] == 0 and outcome["score"], outcome
    # our code asked only for nbgrader (sanitise), and took the fallback; libraries may try their optional
    # imports (scikit-learn tries pandas) and go on without them
    assert outcome["ours"] == ["nbgrader"] and outcome["identity"] == "autograder.execute.cell_identity", (
        outcome
    )
    assert {name.split(".")[0] for name, _ in outcome["attempted"]} <= {"nbgrader", "pandas"}, outcome


def test_the_fallback_cell_identity_is_nbgraders():
    from nbgrader import utils

    from autograder.execute import cell_identity

    compared = 0
    for path in (
        SOURCE,
        REPO / "release" / "research_challenge" / "research_challenge.ipynb",
        *sorted((REPO / "tests" / "corpus").glob("*/*.ipynb")),
    ):
        for cell in nbformat.read(path, as_version=4).cells:
            assert cell_identity.is_locked(cell) == utils.is_locked(cell), (path, cell.get("id"))
            if "grade_id" in cell.metadata.get("nbgrader", {}):
                assert cell_identity.compute_checksum(cell) == utils.compute_checksum(cell), (
                    path,
                    cell.get("id"),
                )
                compared += 1
    assert compared > 100


def test_release_puts_the_checker_beside_the_notebook_reproducibly(tmp_path):
    from autograder.course.release import project_root, release_checker

    frozen = tmp_path / "checkout"  # one copy of the code for both builds (the tree may change meanwhile)
    frozen.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(project_root() / name, frozen / name)
    shutil.copytree(
        project_root() / "autograder", frozen / "autograder", ignore=shutil.ignore_patterns("__pycache__")
    )
    folders = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(SOURCE.parent / "requirements.txt", folder / "requirements.txt")
        folders.append((folder, release_checker(folder, frozen)))
        time.sleep(1.1)  # a zip stores seconds: a second build must not differ by its clock
    (one, wheel_one), (two, wheel_two) = folders
    assert wheel_one.name == wheel_two.name and wheel_one.read_bytes() == wheel_two.read_bytes()
    release_checker(one, frozen)  # a second release replaces its lines, never adds them twice
    text = (one / "requirements.txt").read_text()
    assert text.count("--find-links .") == 1 and text.rstrip().endswith("mlmat-autograder==0.1.0")
    assert text.startswith((SOURCE.parent / "requirements.txt").read_text())
    assert [p.name for p in one.glob("*.whl")] == [wheel_one.name]


def _students_commands() -> list[str]:
    """The install lines of the README's Students section: the fresh-venv block, as typed."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Students", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n# in a fresh virtual environment.*?\n(.*?)```", section, re.S)
    assert block, "the Students section has no fresh-venv block"
    return [
        line.split("  #")[0].strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.slow
@pytest.mark.extended
def test_a_student_installs_the_checker_as_the_readme_says_in_a_fresh_venv(tmp_path, course_dir, shared_data):
    from autograder.course.config import Course
    from autograder.course.release import release

    release(Course.open(course_dir))
    released = course_dir / "release" / "research_challenge"
    student = tmp_path / "student"
    student.mkdir()
    for path in released.iterdir():  # what the instructor hands out: the released folder
        shutil.copy2(path, student / path.name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        AUTOGRADER_CACHE=str(tmp_path / "cache"),
        MATMINER_DATA=str(shared_data),
    )
    started = time.perf_counter()
    for command in _students_commands():
        assert command.startswith(("python -m venv", "source ", "pip install", "python -m pip install")), (
            command
        )
        if command.startswith(("python -m venv", "source ")):
            continue  # made above; PATH and VIRTUAL_ENV stand for `source .venv/bin/activate`
        done = subprocess.run(
            command,
            shell=True,
            cwd=student,
            env=env,
            capture_output=True,
            text=True,  # noqa: S602
            timeout=1800,
            check=False,
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    seconds = time.perf_counter() - started
    listed = (
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.lower()
        .split()
    )
    installed = {line.split("==")[0].replace("_", "-") for line in listed}
    assert "mlmat-autograder" in installed
    assert not installed & {n.replace("_", "-") for n in INSTRUCTOR_ONLY}, installed & set(INSTRUCTOR_ONLY)
    # the checker from that environment, never this repository's
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import autograder; print(autograder.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where
    autograder = str(venv / "bin" / "autograder")
    # the released notebook, untouched: a checklist that says the work is missing (exit 1, not a crash)
    done = subprocess.run(
        [autograder, "check", "research_challenge.ipynb"],
        cwd=student,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1 and "Your work is missing" in done.stdout, done.stdout + done.stderr
    # a solved notebook with its results file: the score recomputed there (the folds from a cold cache)
    write(solved("B"), student / "research_challenge.ipynb")
    (student / "results.json.gz").write_text(json.dumps(dummy_results("matbench_expt_gap")), encoding="utf-8")
    done = subprocess.run(
        [autograder, "check", "--json", "research_challenge.ipynb"],
        cwd=student,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0 and report["score"]["mean"] == pytest.approx(1.1435, abs=1e-4), report
    size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"\nstudent install as the README says: {seconds:.0f} s, environment {size / 1e6:.0f} MB")
