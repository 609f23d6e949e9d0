"""A batch SIGKILLed mid-way resumes: every submission ends graded, the finished ones are not run
again, the one that was running is, and no sandbox outlives the killed grader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from engine_support import ASSIGNMENT, make_course, quick_notebook, stored_submission

from autograder.execute import sandbox as sb
from autograder.layout import NOTEBOOK_FILES_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]
STUDENTS = [f"s{i}" for i in range(1, 6)]


def _statuses(course) -> dict[str, str]:
    """How far each submission came (batch.stage_status: running, executed, checked, graded...)."""
    result = {}
    for student in STUDENTS:
        try:
            result[student] = stored_submission(course, student)[1]
        except (OSError, ValueError):  # a file being replaced at that moment
            result[student] = "-"
    return result


def _sandboxes_of(course) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(course) in " ".join(proc.info["cmdline"] or []) and "bwrap" in " ".join(
                proc.info["cmdline"]
            ):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _grade(course) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--workers", "1", "--quiet"]


def test_sigkill_mid_batch_then_resume(course_dir):
    course = make_course(course_dir, {s: quick_notebook("good", marker=s) for s in STUDENTS})
    batch = subprocess.Popen(
        _grade(course), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            statuses = _statuses(course)
            finished = [s for s, v in statuses.items() if v == "graded"]
            if len(finished) >= 2 and "running" in statuses.values():
                break
            assert batch.poll() is None, "the batch ended before it could be killed"
            time.sleep(0.1)
        else:
            pytest.fail(f"no moment to kill the batch: {_statuses(course)}")
    finally:
        os.killpg(batch.pid, signal.SIGKILL)
        batch.wait()
    killed_at = _statuses(course)
    assert "running" in killed_at.values()
    time.sleep(2)
    assert _sandboxes_of(course) == []  # --die-with-parent: nothing runs on without its grader
    graded_before = {
        s: (course / "autograded" / s / ASSIGNMENT / "result.json").read_bytes()
        for s, v in killed_at.items()
        if v in ("graded", "checked")
    }  # its checks are stored
    executed_before = [s for s, v in killed_at.items() if v == "executed"]  # ran, not yet checked

    done = subprocess.run(_grade(course), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(_statuses(course).values()) == {"graded"}
    for student, content in graded_before.items():  # finished work is neither lost nor repeated
        assert (course / "autograded" / student / ASSIGNMENT / "result.json").read_bytes() == content
    to_run = len(STUDENTS) - len(graded_before) - len(executed_before)
    assert (
        f"{to_run} executed, {len(executed_before)} re-checked, {len(graded_before)} unchanged" in done.stdout
    )
    for student in STUDENTS:  # and every one of them really ran to the end once
        work = course / "autograded" / student / ASSIGNMENT
        assert (work / NOTEBOOK_FILES_DIR / "results.json.gz").is_file()
        assert (work / "execution.log").read_text().count("# finished") == 1
