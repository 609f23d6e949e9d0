"""Batch decisions (autograder.batch): the sandbox requirement, the cache, stale executions,
students missing from the allocation, one batch at a time."""

from __future__ import annotations

import io

import pytest
from engine_support import ASSIGNMENT, make_course, quick_notebook
from rich.console import Console

from autograder import batch
from autograder.batch import planning
from autograder.course.config import Course
from autograder.execute import sandbox as sb


def _console():
    return Console(file=io.StringIO(), width=200)


def _record(course, student):
    return course.load_record(student, ASSIGNMENT)


@pytest.fixture
def course(course_dir) -> Course:
    make_course(
        course_dir,
        {"alice": quick_notebook("good", marker="alice")},
        execution={"cell_timeout": 60, "timeout": 120},
    )
    return Course.open(course_dir)


def test_without_bubblewrap_grading_refuses_unless_allowed(course, monkeypatch):
    monkeypatch.setattr(sb, "bwrap_status", lambda: (False, "bubblewrap is not installed (test)"))
    with pytest.raises(batch.BatchError, match="--allow-unsandboxed"):
        batch.grade(course, batch.GradeOptions(progress=False, run_grading=False), console=_console())
    console = _console()
    summary = batch.grade(
        course, batch.GradeOptions(allow_unsandboxed=True, progress=False, run_grading=False), console=console
    )
    assert summary.sandbox == "none" and _record(course, "alice").sandbox == "none"
    assert _record(course, "alice").status == "executed"
    assert (
        batch.stage_status(course, "alice", ASSIGNMENT) == "checked"
    )  # run_grading=False: checked, not graded
    assert console.file.getvalue().count("WITHOUT a sandbox") == 1  # warned once per batch
    # --no-execute needs no sandbox at all
    again = batch.grade(
        course, batch.GradeOptions(no_execute=True, progress=False, run_grading=False), console=_console()
    )
    assert again.checked == ["alice"] and again.executed == []


def test_config_sandbox_none_still_needs_the_flag(course, monkeypatch):
    course.config.execution.sandbox = "none"
    with pytest.raises(batch.BatchError, match="Pass --allow-unsandboxed"):
        batch.engine_settings(course, batch.GradeOptions())
    settings, _, warnings = batch.engine_settings(course, batch.GradeOptions(allow_unsandboxed=True))
    assert not settings.use_bwrap and warnings


@pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here")
def test_cache_stale_and_force(course):
    options = batch.GradeOptions(progress=False, run_grading=False)
    first = batch.grade(course, options, console=_console())
    assert first.executed == ["alice"]
    key = _record(course, "alice").cache_key
    second = batch.grade(course, options, console=_console())
    assert second.executed == [] and second.skipped == ["alice"]
    # the student's notebook changes: --no-execute says it is stale and does not pretend otherwise
    notebook = course.submitted_dir("alice", ASSIGNMENT) / "research_challenge.ipynb"
    import nbformat

    nbformat.write(quick_notebook("good", marker="alice, resubmitted"), notebook)
    stale = batch.grade(
        course, batch.GradeOptions(no_execute=True, progress=False, run_grading=False), console=_console()
    )
    assert stale.stale == ["alice"] and stale.checked == []
    third = batch.grade(course, options, console=_console())
    assert third.executed == ["alice"] and _record(course, "alice").cache_key != key
    forced = batch.grade(
        course, batch.GradeOptions(force=True, progress=False, run_grading=False), console=_console()
    )
    assert forced.executed == ["alice"]
    assert set(forced.phases) >= {
        "all planned at",
        "all executed at",
        "grading (within execute)",
        "grading after",
    }
    assert 0 < forced.phases["all planned at"] <= forced.phases["all executed at"]


def test_student_missing_from_the_allocation(course):
    (course.root / "allocation.csv").write_text("student_id,challenge\n")
    summary = batch.grade(course, batch.GradeOptions(progress=False, run_grading=False), console=_console())
    record = _record(course, "alice")
    assert (
        record.status == "failed"
        and "allocation.csv" in record.reason
        and "autograder assign" in record.reason
    )
    assert summary.executed == []


def test_unknown_student_option_and_the_batch_lock(course):
    with pytest.raises(batch.BatchError, match="No submission"):
        batch.grade(course, batch.GradeOptions(students=["nobody"], progress=False), console=_console())
    handle = batch.lock_batch(course, ASSIGNMENT)
    try:
        with pytest.raises(batch.BatchError, match="Another"):
            batch.grade(course, batch.GradeOptions(progress=False), console=_console())
    finally:
        handle.close()
    assert not course.lock_path(ASSIGNMENT).exists()  # a batch leaves no lock file behind
    again = batch.lock_batch(course, ASSIGNMENT)  # and the next one locks afresh
    again.close()


def test_missing_data_set_stops_before_running(course, tmp_path, monkeypatch):
    monkeypatch.setenv("MATMINER_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(batch.BatchError, match="matbench_expt_gap"):
        batch.grade(
            course,
            batch.GradeOptions(progress=False, run_grading=False, allow_unsandboxed=True),
            console=_console(),
        )


def test_memory_limit_parsing():
    assert sb.parse_size("8G") == 8 * 1024**3 and sb.parse_size("512M") == 512 * 1024**2
    assert sb.parse_size("1.5GiB") == int(1.5 * 1024**3) and sb.parse_size("0") is None
    with pytest.raises(sb.SizeError, match="8G"):
        sb.parse_size("lots")


def test_a_broken_marks_file_stops_the_batch_before_anything_runs(course):
    """The grading step opens the rubric and the markers' marks before the executions: a typo there is
    reported with its line at once, not after hours of running notebooks, and nothing is executed."""
    from autograder.grade.marks import MarksError

    (course.root / "marks.csv").write_text("student_id,criterion,mark,comment\nalice,presentaton,68,\n")
    with pytest.raises(MarksError, match="line 2"):
        batch.grade(course, batch.GradeOptions(progress=False, allow_unsandboxed=True), console=_console())
    assert not (course.autograded_dir("alice", ASSIGNMENT) / "result.json").exists()


def test_the_first_execution_starts_before_the_last_notebook_is_prepared(course_dir, monkeypatch):
    """Planning streams into the pool: with the third notebook slow to prepare, the first two are
    already running (in the real sandbox) when its preparation ends."""
    import time

    make_course(
        course_dir,
        {name: quick_notebook("good", marker=name) for name in ("ann", "bob", "cat")},
        execution={"cell_timeout": 60, "timeout": 120},
    )
    course = Course.open(course_dir)
    events = []
    prepare, execute = planning.prepare_job, batch.runners.execute_job

    def slow_prepare(course, student, *args):
        if student == "cat":
            time.sleep(3)
        job = prepare(course, student, *args)
        events.append(("prepared", student, time.monotonic()))
        return job

    def recorded_execute(job):
        events.append(("started", job.student_id, time.monotonic()))
        return execute(job)

    monkeypatch.setattr(planning, "prepare_job", slow_prepare)  # where the planning calls it
    monkeypatch.setattr(batch.runners, "execute_job", recorded_execute)  # where the local runner calls it
    summary = batch.grade(
        course,
        batch.GradeOptions(
            workers=2, progress=False, run_grading=False, allow_unsandboxed=not sb.bwrap_status()[0]
        ),
        console=_console(),
    )
    assert sorted(summary.executed) == ["ann", "bob", "cat"]
    assert all(batch.stage_status(course, s, ASSIGNMENT) == "checked" for s in ("ann", "bob", "cat"))
    at = {(kind, student): t for kind, student, t in events}
    assert (
        at[("started", "ann")] < at[("prepared", "cat")] and at[("started", "bob")] < at[("prepared", "cat")]
    )
    assert summary.phases["all planned at"] >= 3


def test_a_regrade_does_not_sanitise_an_unchanged_notebook_again(course, monkeypatch):
    """Planning remembers the cache key each submitted notebook was sanitised to, by the notebook's bytes
    (with the reference, parameters and environment): --no-execute on an unchanged cohort reads and
    sanitises no notebook, and an edited notebook is prepared again and found stale."""
    import nbformat

    unsandboxed = not sb.bwrap_status()[0]
    batch.grade(
        course,
        batch.GradeOptions(progress=False, run_grading=False, allow_unsandboxed=unsandboxed),
        console=_console(),
    )
    prepared = []
    prepare = planning.prepare_job

    def counted(course, student, *args):
        prepared.append(student)
        return prepare(course, student, *args)

    monkeypatch.setattr(planning, "prepare_job", counted)
    options = batch.GradeOptions(no_execute=True, progress=False, run_grading=False)
    again = batch.grade(course, options, console=_console())
    assert again.checked == ["alice"] and prepared == []
    notebook = course.submitted_dir("alice", ASSIGNMENT) / "research_challenge.ipynb"
    nbformat.write(quick_notebook("good", marker="alice, resubmitted"), notebook)
    stale = batch.grade(course, options, console=_console())
    assert stale.stale == ["alice"] and prepared == ["alice"]
    # the memo is of the sanitised notebook's key: a forced run still prepares the job it executes
    forced = batch.grade(
        course,
        batch.GradeOptions(force=True, progress=False, run_grading=False, allow_unsandboxed=unsandboxed),
        console=_console(),
    )
    assert forced.executed == ["alice"] and prepared == ["alice", "alice"]
    assert _record(course, "alice").cache_key == planning.remembered_cache_key(
        course, "alice", ASSIGNMENT, course.plan_key_path("alice", ASSIGNMENT).read_text().split()[0]
    )
