"""A small cohort through the real pipeline (`autograder grade`, bubblewrap, two workers): a good
submission and one of each kind of trouble. Each ends with the right status and a clear message,
nothing outside the sandbox changes, and the good one grades."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from engine_support import (
    ASSIGNMENT,
    escape_notebook,
    make_course,
    quick_notebook,
    snapshot,
    stored_submission,
)

from autograder.execute import sandbox as sb
from autograder.execute.trace import read_trace

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]
KINDS = ["good", "loop", "memory", "exit", "network", "tampered", "duplicated"]
OUTPUTS = ("autograded", "feedback", "reports", "gradebook.db")  # what the pipeline itself writes


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    import shutil

    from conftest import COURSE_DIRS, COURSE_FILES, REPO

    course = tmp_path_factory.mktemp("cohort") / "course"
    course.mkdir()
    for name in COURSE_FILES:
        shutil.copy2(REPO / name, course / name)
    for name in COURSE_DIRS:
        shutil.copytree(REPO / name, course / name)
    submissions = {kind: quick_notebook(kind) for kind in KINDS}
    # a cell budget the data-loading cell keeps on a busy 2-core machine (10 s was not: it loaded in 16.6 s beside
    # two other test processes), while the infinite loop still hits it
    make_course(course, submissions, execution={"cell_timeout": 30, "timeout": 150, "memory_limit": '"1G"'})
    escape = course / "submitted" / "escape" / ASSIGNMENT
    escape.mkdir(parents=True)
    nbformat.write(escape_notebook(course, victim="good"), escape / "research_challenge.ipynb")
    garbage = course / "submitted" / "garbage" / ASSIGNMENT
    garbage.mkdir(parents=True)
    (garbage / "research_challenge.ipynb").write_bytes(b"%PDF-1.5 exported the wrong file")
    with open(course / "allocation.csv", "a") as handle:
        handle.write("escape,B\ngarbage,B\n")
    before = snapshot(course, [course / o for o in OUTPUTS])
    prefix_before = sorted(os.listdir(sys.prefix))
    # not --quiet: the test reads the line of every student (--quiet prints only the problems)
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    records, statuses = {}, {}
    for folder in (course / "autograded").iterdir():
        if (folder / ASSIGNMENT / "result.json").is_file():
            records[folder.name], statuses[folder.name] = stored_submission(course, folder.name)
    return {
        "course": course,
        "done": done,
        "records": records,
        "statuses": statuses,
        "before": before,
        "prefix_before": prefix_before,
    }


def _ids(record, status=None):
    return {f.check_id for f in record.findings if status is None or f.status == status}


def test_batch_finishes_and_prints_a_status_table(cohort):
    done = cohort["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 executed" in done.stdout and "sandbox: bubblewrap" in done.stdout
    for student in KINDS + ["escape", "garbage"]:
        assert student in done.stdout


def test_good_submission_grades(cohort):
    record = cohort["records"]["good"]
    assert record.status == "executed" and cohort["statuses"]["good"] == "graded" and record.reason == ""
    assert all(c.status == "completed" for c in record.cells)
    assert record.results_file == "student-files/results.json.gz" and record.sandbox == "bubblewrap"
    work = cohort["course"] / "autograded" / "good" / ASSIGNMENT
    assert read_trace(work / "protocol_trace.jsonl", record.environment["trace_nonce"]).valid
    assert any(f.check_id.startswith("protocol.") for f in record.findings)  # the checks ran on it
    assert record.wall_seconds > 0 and record.cpu_seconds > 0 and record.peak_memory_mb > 50
    assert record.parameters["challenge"] == "B" and record.parameters["n_jobs"] == 1


def test_infinite_loop_is_interrupted_by_the_cell_budget(cohort):
    record = cohort["records"]["loop"]
    assert record.status == "executed" and cohort["statuses"]["loop"] == "graded"
    assert len([c for c in record.cells if c.status == "timeout"]) == 1
    assert "execution.cell_timeout" in _ids(record, "fail")
    assert record.results_file  # the cells after the loop still ran: the protocol saved its results


def test_unbounded_memory_is_stopped_with_a_clear_message(cohort):
    record = cohort["records"]["memory"]
    finding = next(f for f in record.findings if f.check_id == "execution.memory")
    assert "memory" in finding.message and "1 GB" in finding.message
    assert record.peak_memory_mb < 1024 + 700


def test_kernel_that_kills_itself(cohort):
    record = cohort["records"]["exit"]
    assert record.status == "failed" and "exited with status 3" in record.reason
    statuses = [c.status for c in record.cells]
    assert "killed" in statuses and statuses[-1] == "pending"
    work = cohort["course"] / "autograded" / "exit" / ASSIGNMENT
    assert (work / "research_challenge.ipynb").is_file()  # the partial notebook is kept


def test_network_and_pip_install(cohort):
    record = cohort["records"]["network"]
    assert record.status == "executed" and cohort["statuses"]["network"] == "graded"
    assert "execution.network" in _ids(record)
    pip = next(f for f in record.findings if f.check_id == "environment.pip_install")
    assert "umap-learn" in pip.message
    assert any(c["kind"] == "neutralised_install" for c in record.sanitise)


def test_escape_attempts_fail_and_change_nothing(cohort):
    record = cohort["records"]["escape"]
    assert record.status == "executed" and cohort["statuses"]["escape"] == "graded"
    failed = [c for c in record.cells if c.status == "failed"]
    assert (
        len(failed) == 4
    )  # read another student, write another student, write the config, write site-packages
    assert {c.error["ename"] for c in failed} <= {"FileNotFoundError", "OSError", "PermissionError"}
    assert "execution.filesystem" in _ids(record)
    course = cohort["course"]
    assert snapshot(course, [course / o for o in OUTPUTS]) == cohort["before"]
    assert not (course / "autograded" / "good" / ASSIGNMENT / "hacked.txt").exists()
    assert sorted(os.listdir(sys.prefix)) == cohort["prefix_before"]
    executed = nbformat.read(course / "autograded" / "escape" / ASSIGNMENT / "research_challenge.ipynb", 4)
    text = "".join(str(o) for c in executed.cells for o in c.get("outputs", []))
    assert "private tmp is fine" in text


def test_tampered_locked_cell_is_restored_before_running(cohort):
    record = cohort["records"]["tampered"]
    assert record.status == "executed" and cohort["statuses"]["tampered"] == "graded"
    assert any(c["kind"] == "restored_locked_cell" and c["grade_id"] == "protocol" for c in record.sanitise)
    assert "sanitise.restored_cell" in _ids(record)
    work = cohort["course"] / "autograded" / "tampered" / ASSIGNMENT
    executed = nbformat.read(work / "research_challenge.ipynb", 4)
    protocol = next(c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "protocol")
    assert "include_target=True" not in protocol.source and "tampered" not in protocol.source
    trace = read_trace(work / "protocol_trace.jsonl", record.environment["trace_nonce"])
    assert not any(e.get("include_target") for e in trace.events if e["event"] == "get_test_data")


def test_duplicated_locked_cell_does_not_break_grading(cohort):
    record = cohort["records"]["duplicated"]
    assert record.status == "executed" and cohort["statuses"]["duplicated"] == "graded"
    assert all(c.status == "completed" for c in record.cells)
    assert any(c["kind"] == "duplicate_grade_id" and c["grade_id"] == "setup" for c in record.sanitise)
    assert "sanitise.duplicate_cell" in _ids(record)
    assert [c.grade_id for c in record.cells].count("setup") == 1


def test_garbage_is_an_intake_error(cohort):
    record = cohort["records"]["garbage"]
    assert record.status == "intake-error" and "not a Jupyter notebook" in record.reason
    assert not record.cells


def test_grading_again_repeats_nothing(cohort):
    course = cohort["course"]
    mtimes = {s: (course / "autograded" / s / ASSIGNMENT / "result.json").stat().st_mtime_ns for s in KINDS}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--quiet", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0 executed" in done.stdout and "8 unchanged" in done.stdout
    assert {
        s: (course / "autograded" / s / ASSIGNMENT / "result.json").stat().st_mtime_ns for s in KINDS
    } == mtimes
    rechecked = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--course", str(course), "--quiet", "--no-execute"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert rechecked.returncode == 0 and "0 executed, 8 re-checked" in rechecked.stdout
    assert stored_submission(course, "good")[1] == "graded"


def test_files_outside_are_untouched_even_in_the_victims_folder(cohort):
    from autograder.layout import CHECKS_FILE, GRADE_FILE, SCORE_ARRAYS_FILE, SCORE_FILE

    victim = cohort["course"] / "autograded" / "good" / ASSIGNMENT
    later_stages = {
        CHECKS_FILE,
        SCORE_FILE,
        SCORE_ARRAYS_FILE,
        GRADE_FILE,
    }  # written by the grader, not the run
    assert later_stages <= {p.name for p in victim.iterdir()}
    assert sorted(p.name for p in victim.iterdir() if p.name not in later_stages) == [
        "execution.log",
        "protocol_trace.jsonl",
        "research_challenge.ipynb",
        "result.json",
        "student-files",
    ]
    assert sorted(p.name for p in (victim / "student-files").iterdir()) == ["results.json.gz"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x", "-q"]))
