"""check_submission on an autograded folder: the execution record, the allocation, and the protocol
trace (nonce, to_file hash, test targets, whole data frame inside the loop, folds recorded twice),
with hand-made traces so that every branch is exercised without running a notebook."""

from __future__ import annotations

import hashlib
import json
import os

from checks_support import corpus_notebook, leaderboard_predictions, results_file, statuses, write_notebook

from autograder.checks import check_submission
from autograder.checks.context import CheckContext
from autograder.course.config import Course
from autograder.records import ExecutionRecord

STUDENT = "s001"
ASSIGNMENT = "research_challenge"
NONCE = "ab" * 16


def setup_submission(
    course_dir, letter="B", trace=None, results=True, nonce=NONCE, notebook_case="compliant_B_expt_gap"
):
    course = Course.open(course_dir)
    (course_dir / "allocation.csv").write_text(f"student_id,challenge\n{STUDENT},{letter}\n")
    folder = course.autograded_dir(STUDENT, ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    nb = corpus_notebook(notebook_case)
    write_notebook(folder / "research_challenge.ipynb", nb)
    submitted = course.submitted_dir(STUDENT, ASSIGNMENT)
    write_notebook(submitted / "research_challenge.ipynb", nb)
    sha = None
    if results:
        path = results_file(
            folder / "results.json.gz",
            "matbench_expt_gap",
            leaderboard_predictions("rf", "matbench_expt_gap"),
        )
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    record = ExecutionRecord(
        student_id=STUDENT,
        assignment=ASSIGNMENT,
        status="executed",
        challenge=letter,
        notebook="research_challenge.ipynb",
        results_file="results.json.gz" if results else None,
        trace_file="protocol_trace.jsonl" if trace is not None else None,
        wall_seconds=12.0,
        environment={"trace_nonce": NONCE},
    )
    record.save(folder / "result.json")
    if trace is not None:
        events = [{"event": "trace_start", "nonce": nonce, "t": 1.0}]
        for event in trace(sha):
            events.append(event)
        (folder / "protocol_trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return course


def normal_run(sha, extra=()):
    """The events of a compliant run: protocol cell 15 loops over five folds and saves."""
    events = [
        {"event": "benchmark_init", "subset": ["matbench_expt_gap"], "cell": 4},
        {"event": "task_load", "task": "matbench_expt_gap", "cell": 4},
        {"event": "df_access", "task": "matbench_expt_gap", "inside_fold_loop": False, "cell": 15},
    ]
    for fold in range(5):
        events += [
            {"event": "get_train_and_val_data", "task": "matbench_expt_gap", "fold": fold, "cell": 15},
            {
                "event": "get_test_data",
                "task": "matbench_expt_gap",
                "fold": fold,
                "include_target": False,
                "cell": 15,
            },
            {
                "event": "record",
                "task": "matbench_expt_gap",
                "fold": fold,
                "n_predictions": 921,
                "already_recorded": False,
                "cell": 15,
            },
        ]
    events += list(extra)
    events.append({"event": "to_file", "path": "results.json.gz", "sha256": sha, "cell": 15})
    return events


def check(course):
    return statuses(check_submission(course, STUDENT, ASSIGNMENT))


def test_compliant_run_with_a_genuine_trace(course_dir, shared_data):
    s = check(setup_submission(course_dir, trace=normal_run))
    for check_id in (
        "protocol.trace",
        "protocol.written_by_run",
        "protocol.test_targets",
        "protocol.full_data_in_loop",
        "protocol.record_twice",
        "protocol.task",
        "protocol.scores",
        "protocol.folds_complete",
    ):
        assert s[check_id] == "pass", (check_id, s[check_id])
    assert s["code.run_time"] == "info"


def test_results_replaced_after_saving(course_dir, shared_data):
    s = check(setup_submission(course_dir, trace=lambda sha: normal_run("0" * 64)))
    assert s["protocol.written_by_run"] == "fail"


def test_results_file_never_saved_by_the_run(course_dir, shared_data):
    s = check(setup_submission(course_dir, trace=lambda sha: normal_run(sha)[:-1]))
    assert s["protocol.written_by_run"] == "fail"


def test_missing_trace_is_never_a_pass(course_dir, shared_data):
    course = setup_submission(course_dir, trace=None)
    s = check(course)
    assert s["protocol.trace"] == "fail"
    assert s["protocol.written_by_run"] == "warn"  # cannot be confirmed; for the marker
    # a results file older than the run: not written by it
    folder = course.autograded_dir(STUDENT, ASSIGNMENT)
    os.utime(folder / "results.json.gz", (1_000_000, 1_000_000))
    assert check(course)["protocol.written_by_run"] == "fail"


def test_trace_with_another_nonce(course_dir, shared_data):
    s = check(setup_submission(course_dir, trace=normal_run, nonce="cd" * 16))
    assert s["protocol.trace"] == "fail"
    assert s["protocol.written_by_run"] == "warn"


def test_test_targets_in_the_trace(course_dir, shared_data):
    """Fold 0's test targets asked for before the folds were recorded: they may have steered the model."""

    def run(sha):
        events = normal_run(sha)
        events.insert(
            3,
            {
                "event": "get_test_data",
                "task": "matbench_expt_gap",
                "fold": 0,
                "include_target": True,
                "cell": 12,
            },
        )
        return events

    assert check(setup_submission(course_dir, trace=run))["protocol.test_targets"] == "fail"


def test_test_targets_asked_for_after_every_fold_was_recorded(course_dir, shared_data):
    """An own MAE computed from the test targets after recording cannot change the recorded scores."""
    extra = [
        {"event": "get_test_data", "task": "matbench_expt_gap", "fold": 0, "include_target": True, "cell": 20}
    ]
    s = check(setup_submission(course_dir, trace=lambda sha: normal_run(sha, extra)))
    assert s["protocol.test_targets"] == "pass"


def test_whole_data_frame_read_inside_the_loop(course_dir, shared_data):
    def run(sha):
        events = normal_run(sha)
        events.insert(
            5, {"event": "df_access", "task": "matbench_expt_gap", "inside_fold_loop": True, "cell": 15}
        )
        return events

    assert check(setup_submission(course_dir, trace=run))["protocol.full_data_in_loop"] == "fail"


def test_protocol_cell_reading_the_frame_after_an_earlier_fold_call_is_not_a_leak(course_dir, shared_data):
    """A student cell asked for fold 0 earlier; the protocol cell's own read of task.df before its loop
    is then flagged 'inside' by the tracer, but it is not the model reading the test fold."""

    def run(sha):
        events = normal_run(sha)
        events.insert(
            2, {"event": "get_train_and_val_data", "task": "matbench_expt_gap", "fold": 0, "cell": 12}
        )
        events[3] = {"event": "df_access", "task": "matbench_expt_gap", "inside_fold_loop": True, "cell": 15}
        return events

    assert check(setup_submission(course_dir, trace=run))["protocol.full_data_in_loop"] == "pass"


def test_fold_recorded_twice_in_the_trace(course_dir, shared_data):
    def run(sha):
        events = normal_run(sha)
        events.insert(
            2,
            {
                "event": "record",
                "task": "matbench_expt_gap",
                "fold": 0,
                "n_predictions": 921,
                "already_recorded": False,
                "cell": 12,
            },
        )
        for e in events:
            if e.get("event") == "record" and e.get("fold") == 0 and e.get("cell") == 15:
                e["already_recorded"] = True
        return events

    assert check(setup_submission(course_dir, trace=run))["protocol.record_twice"] == "fail"


def test_folds_recorded_before_a_crash(course_dir, shared_data):
    def run(sha):
        return [
            e
            for e in normal_run(sha)
            if e.get("event") != "to_file" and not (e.get("event") == "record" and e.get("fold", 0) >= 3)
        ]

    course = setup_submission(course_dir, trace=run, results=False)
    findings = {f.check_id: f for f in check_submission(course, STUDENT, ASSIGNMENT)}
    assert findings["protocol.results_file"].status == "fail"
    assert findings["protocol.folds_complete"].status == "fail"
    assert findings["protocol.folds_complete"].details["recorded"] == [0, 1, 2]


def test_allocation_decides_the_task(course_dir, shared_data):
    course = setup_submission(course_dir, letter="D", trace=normal_run)
    s = check(course)
    assert s["protocol.task"] == "fail"
    assert CheckContext.from_autograded(course, STUDENT, ASSIGNMENT).challenge_source == "allocation"


def test_empty_folder_gives_findings_not_a_crash(course_dir):
    course = Course.open(course_dir)
    findings = check_submission(course, "nobody", ASSIGNMENT)
    assert findings
    assert not [
        f for f in findings if f.status == "pass" and f.check_id.startswith(("protocol", "declaration"))
    ]
