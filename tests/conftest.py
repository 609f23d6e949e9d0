"""Shared test set-up: offline Matbench data, a private cache, and a scratch course directory."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "matbench-data"

# Offline data for every test (CI points MATMINER_DATA at ../shared/matbench-data too).
if not os.environ.get("MATMINER_DATA") and SHARED_DATA.is_dir():
    os.environ["MATMINER_DATA"] = str(SHARED_DATA)
# nbgrader shells out to alembic: the interpreter's bin folder must be on PATH.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

# Tests sit in folders named as the package's (tests/checks/, tests/batch/, ...); the *_support.py modules here
# hold what several folders share, and a few tests reuse a neighbour's builders (from test_engine_intake import
# ...): tests/ and each of its test folders are importable however pytest is started.
TESTS = Path(__file__).resolve().parent
for folder in [TESTS, *sorted(p for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py")))]:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

COURSE_FILES = ("nbgrader_config.py", "autograder.toml")
COURSE_DIRS = ("source", "release", "rubric")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ["MATMINER_DATA"])
    if not (path / "matbench_expt_gap.json.gz").exists():
        pytest.fail(f"Offline Matbench data not found at {path}: set MATMINER_DATA.")
    return path


@pytest.fixture
def course_dir(tmp_path) -> Path:
    """A fresh copy of this repository's course (config, source, release, rubric) to work in."""
    root = tmp_path / "course"
    root.mkdir()
    for name in COURSE_FILES:
        shutil.copy2(REPO / name, root / name)
    for name in COURSE_DIRS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name)
    return root
