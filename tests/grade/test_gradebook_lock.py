"""A gradebook in use: a marker saving in formgrader holds SQLite's write lock while a batch grades.
The batch waits (retrying past SQLite's own 5 s busy timeout), finishes, and both writes are there;
a lock that is never released ends in a message that names who holds it, with nothing half-written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from grading_support import ASSIGNMENT, add_submission, executed_notebook, good_findings, make_course

from autograder.grade import gradebook
from autograder.grade.gradebook import GradebookBridge, GradebookError
from autograder.grade.grading import grade_cohort
from autograder.grade.record import read_grade
from autograder.grade.rubric import load_rubric

STUDENT = "ab1234"
MARKER_COMMENT = "Saved in formgrader while the batch ran."

# What formgrader's CommentHandler does, in its own process, holding the write lock for `hold` seconds.
HOLDER = textwrap.dedent("""
    import sqlite3, sys, time
    db, student, comment, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")  # a commit in progress: readers wait too
    connection.execute(
        "UPDATE comment SET manual_comment = ? WHERE id IN (SELECT comment.id FROM comment "
        "JOIN base_cell ON comment.cell_id = base_cell.id "
        "JOIN submitted_notebook ON comment.notebook_id = submitted_notebook.id "
        "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
        "WHERE base_cell.name = 'model_choice' AND submitted_assignment.student_id = ?)", (comment, student))
    print("locked", flush=True)
    time.sleep(hold)
    connection.execute("COMMIT")
""")


@pytest.fixture
def course(tmp_path):
    course = make_course(tmp_path / "course", release=True)
    nb = executed_notebook(course, {"test_results_saved": True, "test_all_folds_recorded": True})
    add_submission(
        course, STUDENT, "B", "RF-SCM/Magpie", good_findings("MAE 0.4461 eV."), tmp_path, notebook=nb
    )
    grade_cohort(course, ASSIGNMENT)  # the submission is in the gradebook
    return course


def hold_lock(course, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(course.gradebook_path), STUDENT, MARKER_COMMENT, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_batch_waits_for_a_marker_holding_the_lock_and_both_writes_stay(course):
    holder = hold_lock(course, 8.0)  # longer than SQLite's own 5 s busy timeout
    started = time.monotonic()
    result = grade_cohort(course, ASSIGNMENT)
    waited = time.monotonic() - started
    assert holder.wait(timeout=30) == 0
    assert result.errors == {} and result.warnings == [] and result.graded == [STUDENT]
    assert waited >= 5.0  # it did meet the lock
    with GradebookBridge.for_course(course) as bridge:
        gb = bridge.gradebook
        assert (
            gb.find_comment("model_choice", ASSIGNMENT, ASSIGNMENT, STUDENT).manual_comment == MARKER_COMMENT
        )
        assert gb.find_comment("training_testing", ASSIGNMENT, ASSIGNMENT, STUDENT).auto_comment.startswith(
            "Autograder suggestion"
        )
    # the marker's comment reaches the grade at the next re-grade
    grade_cohort(course, ASSIGNMENT)
    grade = course.load_grade(STUDENT, ASSIGNMENT)
    assert {c["key"]: c for c in grade["criteria"]}["model_choice"]["comment"] == MARKER_COMMENT


def test_a_lock_that_is_never_released_names_its_holder(course, monkeypatch):
    monkeypatch.setattr(gradebook, "LOCK_RETRY_SECONDS", 6.0)
    holder = hold_lock(course, 30.0)
    grade, rubric = read_grade(course, STUDENT, ASSIGNMENT), load_rubric(course.rubric_path)
    try:
        locked = rf"stayed locked for 6 s \(open in: python[\d.]* pid {holder.pid}"
        with (
            pytest.raises(GradebookError, match=locked) as raised,
            GradebookBridge.for_course(course) as bridge,
        ):
            bridge.record(STUDENT, ASSIGNMENT, grade, rubric)
        assert "nothing of this attempt was written" in str(raised.value)
    finally:
        holder.kill()
        holder.wait()
