"""Ctrl-C and SIGTERM during a batch: every running sandbox stops within seconds, its submission is
recorded as interrupted, nothing of it survives, the batch exits 130 saying how to resume, and a re-run
completes it. Stopped during a --force re-run, a graded submission keeps its previous execution, grade
and page as they were."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest
from engine_support import ASSIGNMENT, _cell, make_course, quick_notebook, stored_submission

from autograder.execute import sandbox as sb
from autograder.layout import NOTEBOOK_FILES_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]


def sleeper(marker: str, seconds: int = 600) -> nbformat.NotebookNode:
    """A real submission whose model cell waits (a long training run)."""
    nb = quick_notebook("good", marker=marker)
    nb.cells.insert(_cell(nb, "model") + 1, nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})"))
    return nb


def _grade(course, *extra) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--quiet", *extra]


def _descendants(batch) -> list[psutil.Process]:
    """Every process the batch started (sandboxes, run_one, kernels), while it runs."""
    try:
        return psutil.Process(batch.pid).children(recursive=True)
    except psutil.Error:
        return []


def _alive(processes: list[psutil.Process]) -> list[str]:
    survivors = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                survivors.append(" ".join(proc.cmdline())[:120])
        except psutil.Error:
            pass
    return survivors


def _wait_running(course, students, batch, limit=240.0) -> list[psutil.Process]:
    """Wait until every student's notebook is in its sleeping cell; the batch's processes then."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        staged = [course / "autograded" / s / f".{ASSIGNMENT}.new" / "result.json" for s in students]
        kernels = [p for p in _descendants(batch) if "ipykernel" in " ".join(p.cmdline())]
        if all(p.is_file() and json.loads(p.read_text()).get("status") == "running" for p in staged) and len(
            kernels
        ) >= len(students):
            time.sleep(3)  # the kernels are up and in the sleeping cell
            return _descendants(batch)
        assert batch.poll() is None, batch.communicate()[1][-3000:]
        time.sleep(0.2)
    pytest.fail("the notebooks never started")


# SIGTERM (what a scheduler or `kill` sends) in `make test`; Ctrl-C's SIGINT takes the same path, and is
# also sent by the --force test below, so its own full run is left to `make test-all`
@pytest.mark.parametrize(
    "signum",
    [pytest.param(signal.SIGINT, marks=pytest.mark.extended), signal.SIGTERM],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_stops_every_sandbox_records_interrupted_and_a_rerun_completes(course_dir, signum):
    students = ["s1", "s2"]
    course = make_course(
        course_dir, {s: sleeper(s, 30) for s in students}, execution={"workers": 2, "cell_timeout": 300}
    )
    batch = subprocess.Popen(
        _grade(course), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        processes = _wait_running(course, students, batch)
        sent = time.monotonic()
        os.killpg(batch.pid, signum)  # as a terminal's Ctrl-C does: the whole foreground group
        _, err = batch.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
    assert batch.returncode == 130, err[-3000:]
    assert took < 10, f"the batch took {took:.1f} s to stop"
    print(f"{signal.Signals(signum).name}: the batch stopped {took:.1f} s after the signal")
    assert "recorded as interrupted: s1, s2" in err and "Run `autograder grade` again to resume" in err, err
    time.sleep(1)
    assert len(processes) >= 6 and _alive(processes) == []  # bwrap, its init, run_one, kernel: none survives
    for student in students:
        record, status = stored_submission(course, student)
        assert status == "interrupted" and record.status == "interrupted", (student, status)
        assert "stopped while this notebook ran" in record.reason
        assert not (course / "autograded" / student / f".{ASSIGNMENT}.new").exists()

    done = subprocess.run(_grade(course), capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for student in students:
        record, status = stored_submission(course, student)
        assert status == "graded" and record.status == "executed", (student, status, record.reason)
        assert (
            course / "autograded" / student / ASSIGNMENT / NOTEBOOK_FILES_DIR / "results.json.gz"
        ).is_file()


def test_sigint_during_force_keeps_the_previous_execution_grade_and_page(course_dir):
    course = make_course(
        course_dir, {"s1": sleeper("s1", 1)}, execution={"workers": 1, "cell_timeout": 900, "timeout": 1200}
    )
    first = subprocess.run(_grade(course), capture_output=True, text=True, timeout=900, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    assert stored_submission(course, "s1")[1] == "graded"
    work = course / "autograded" / "s1" / ASSIGNMENT
    page = course / "feedback" / "s1" / ASSIGNMENT / "index.html"
    kept = {path: path.read_bytes() for path in [*sorted(p for p in work.iterdir() if p.is_file()), page]}
    assert work / "grade.json" in kept and work / "result.json" in kept

    # the notebook now takes long: the re-run is under way when Ctrl-C comes
    nbformat.write(sleeper("s1", 600), course / "submitted" / "s1" / ASSIGNMENT / "research_challenge.ipynb")
    batch = subprocess.Popen(
        _grade(course, "--force"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        processes = _wait_running(course, ["s1"], batch)
        os.killpg(batch.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(batch.pid, signal.SIGINT)  # a second Ctrl-C changes nothing
        _, err = batch.communicate(timeout=30)
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
    assert batch.returncode == 130, err[-3000:]
    assert "previous execution, grade and page kept: s1" in err, err
    assert {path: path.read_bytes() for path in kept} == kept  # byte for byte
    assert sorted(p for p in work.iterdir() if p.is_file()) == sorted(p for p in kept if p != page)
    assert not (course / "autograded" / "s1" / f".{ASSIGNMENT}.new").exists()
    assert stored_submission(course, "s1")[1] == "graded"
    assert _alive(processes) == []
