"""Faults during a batch lose nothing: a notebook printing millions of lines leaves an executed
notebook of a few MB with a finding naming the cut; a run stopped by a cell that raised is *failed*
everywhere (result.json, the batch table, with the cell and the error as the reason); a course disk
that fills up ends the batch with one message, keeps every finished submission and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from engine_support import ASSIGNMENT, MODEL, _cell, make_course, quick_notebook, stored_submission

from autograder.execute import sandbox as sb
from autograder.layout import NOTEBOOK_FILES_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.extended,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]
REPO = Path(__file__).resolve().parents[2]


def _grade(course, *extra) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", "--course", str(course), *extra]


def chatty() -> nbformat.NotebookNode:
    nb = quick_notebook("good", marker="chatty")
    nb.cells.insert(
        _cell(nb, "model") + 1,
        nbformat.v4.new_code_cell(
            "for i in range(3_000_000):\n    print(f'step {i}: loss 0.{i % 1000:03d}')\nprint('training done')"
        ),
    )
    return nb


def broken() -> nbformat.NotebookNode:
    """The model cell names a variable that does not exist: the protocol stops at a NameError."""
    nb = quick_notebook("good", marker="broken")
    nb.cells[_cell(nb, "model")].source = MODEL.replace(
        "return model.fit(features, targets)", "return modle.fit(features, targets)"
    )
    return nb


def test_outputs_are_bounded_and_a_failed_run_is_named_failed(course_dir):
    course = make_course(
        course_dir, {"chatty": chatty(), "broken": broken()}, execution={"cell_timeout": 300, "timeout": 600}
    )
    done = subprocess.run(
        _grade(course, "--timings"),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert done.returncode == 0, done.stderr[-3000:]

    work = course / "autograded" / "chatty" / ASSIGNMENT
    size = (work / "research_challenge.ipynb").stat().st_size
    assert size < 3 * 1024**2, f"{size / 1024**2:.1f} MB"
    record, status = stored_submission(course, "chatty")
    assert record.status == "executed" and status == "graded", record.reason
    print(
        f"executed notebook {size / 1024**2:.2f} MB, peak memory {record.peak_memory_mb} MB, "
        f"wall {record.wall_seconds} s"
    )
    cut = next(f for f in record.findings if f.check_id == "execution.output_cut")
    number = _student_cell(work, "for i in range(3_000_000)")
    assert cut.status == "warn" and f"cell {number} printed" in cut.message and "3,000,000" not in cut.message
    assert cut.details["cuts"][0]["lines"] > 2_000_000
    nb = nbformat.read(work / "research_challenge.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("for i in range(3_000_000)"))
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert text.startswith("step 0: loss 0.000\n") and text.rstrip().endswith(
        "training done"
    )  # both ends kept
    assert "of this cell's output" in text and "cut here: the grader keeps 1.0 MB per cell" in text
    assert (work / NOTEBOOK_FILES_DIR / "results.json.gz").is_file()  # the notebook went on as usual

    record, status = stored_submission(course, "broken")
    assert record.status == "failed" and status == "failed"
    assert (
        "raised NameError: name 'modle' is not defined" in record.reason
        and "did not save its results" in record.reason
    )
    assert (
        json.loads((course / "autograded" / "broken" / ASSIGNMENT / "result.json").read_text())["status"]
        == "failed"
    )
    row = next(line for line in done.stdout.splitlines() if line.lstrip("│ ").startswith("broken"))
    assert "failed" in row and "NameError" in row, done.stdout
    assert not any(f.check_id == "execution.not_run" for f in record.findings)  # the cell errors say it all
    assert any(f.check_id == "execution.cell_errors" for f in record.findings)


def _student_cell(work: Path, start: str) -> int:
    """The cell's number as the student counts it (papermill's injected cell not counted)."""
    nb = nbformat.read(work / "research_challenge.ipynb", as_version=4)
    number = 0
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            continue
        number += 1
        if cell.source.startswith(start):
            return number
    raise AssertionError(start)


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB file system of its own (a tmpfs), to fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _copy_course(target: Path) -> Path:
    import shutil

    target.mkdir()
    for name in ("nbgrader_config.py", "autograder.toml"):
        shutil.copy2(REPO / name, target / name)
    for name in ("source", "release", "rubric"):
        shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("*.whl"))
    return target


def test_a_full_disk_ends_the_batch_with_one_message_keeps_the_finished_and_resumes(small_disk):
    course = make_course(
        _copy_course(small_disk / "course"),
        {
            "s1": quick_notebook("good", marker="s1"),
            "s2": quick_notebook("good", marker="s2"),
            "s3": _waits(20),
        },
        execution={"workers": 1, "cell_timeout": 120},
    )
    batch = subprocess.Popen(
        _grade(course, "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    staged = course / "autograded" / "s3" / f".{ASSIGNMENT}.new" / "result.json"
    deadline = time.monotonic() + 600
    page = course / "feedback" / "s2" / ASSIGNMENT / "index.html"
    while not (staged.is_file() and stored_submission(course, "s2")[1] == "graded" and page.is_file()):
        assert batch.poll() is None and time.monotonic() < deadline, batch.communicate()[1][-3000:]
        time.sleep(0.2)
    kept = {
        path: path.read_bytes()
        for s in ("s1", "s2")
        for path in [
            *(course / "autograded" / s / ASSIGNMENT).iterdir(),
            course / "feedback" / s / ASSIGNMENT / "index.html",
        ]
        if path.is_file()
    }
    filler = small_disk / "filler"
    with open(filler, "wb") as handle:  # what else on the machine fills the disk while s3 runs
        try:
            while True:
                handle.write(b"\0" * 1024**2)
                handle.flush()
        except OSError:
            pass
    _, err = batch.communicate(timeout=300)
    assert batch.returncode == 2, err[-3000:]
    assert (
        "is full" in err
        and "No space left on device" in err
        and "stopped, to run again: s3" in err
        and "Free some space, then run `autograder grade` again" in err
    ), err
    assert "Traceback" not in err
    print(err.strip().splitlines()[-1])
    assert {path: path.read_bytes() for path in kept} == kept  # the finished submissions, byte for byte
    assert stored_submission(course, "s3")[1] == "-"  # nothing half-written stands for s3
    assert not staged.parent.exists()

    filler.unlink()
    done = subprocess.run(_grade(course, "--quiet"), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 executed, 0 re-checked, 2 unchanged" in done.stdout
    assert {s: stored_submission(course, s)[1] for s in ("s1", "s2", "s3")} == {
        s: "graded" for s in ("s1", "s2", "s3")
    }
    assert {
        path: path.read_bytes() for path in kept if "feedback" not in str(path) and path.name != "grade.json"
    } == {
        path: content
        for path, content in kept.items()
        if "feedback" not in str(path) and path.name != "grade.json"
    }


def _waits(seconds: int) -> nbformat.NotebookNode:
    nb = quick_notebook("good", marker="s3")
    nb.cells.insert(_cell(nb, "model") + 1, nbformat.v4.new_code_cell(f"import time\ntime.sleep({seconds})"))
    return nb
