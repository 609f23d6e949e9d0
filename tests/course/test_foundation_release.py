"""Releasing the assignment with nbgrader, and running the released notebook for real."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.course.config import Course
from autograder.course.data import load_ground_truth
from autograder.course.release import SOLUTION_MARKERS, release, solved_copy, strip_solution_markers

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "research_challenge.ipynb"


def test_release_regenerates_the_committed_release_identically(course_dir):
    committed = (REPO / "release" / "research_challenge" / NOTEBOOK).read_bytes()
    released = release(Course.open(course_dir))
    assert [p.name for p in released] == [NOTEBOOK]
    assert released[0].read_bytes() == committed
    # the course environment, then the students' checker: its wheel beside it (tests/selfcheck/test_selfcheck_install.py)
    released_requirements = (course_dir / "release" / "research_challenge" / "requirements.txt").read_text()
    assert released_requirements.startswith(
        (REPO / "source" / "research_challenge" / "requirements.txt").read_text()
    )
    assert released_requirements.rstrip().endswith("--find-links .\nmlmat-autograder==0.1.0")
    assert (
        len(list((course_dir / "release" / "research_challenge").glob("mlmat_autograder-0.1.0-*.whl"))) == 1
    )
    assert (course_dir / "gradebook.db").exists()  # nbgrader recorded the cells' checksums


def test_released_notebook_holds_no_solution_code():
    source = nbformat.read(REPO / "source" / "research_challenge" / NOTEBOOK, as_version=4)
    released_text = (REPO / "release" / "research_challenge" / NOTEBOOK).read_text()
    assert not any(marker in released_text for marker in SOLUTION_MARKERS)
    # every line that was inside a solution region is gone from the release
    for cell in source.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 25:
                assert line.strip() not in released_text, f"solution line leaked: {line.strip()!r}"


def test_released_notebook_structure():
    nb = nbformat.read(REPO / "release" / "research_challenge" / NOTEBOOK, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1
    for name in ("challenge", "data_dir", "seed", "n_jobs", "results_path"):
        assert f"\n{name} = " in "\n" + parameters[0].source
    for locked in ("setup", "protocol", "test_results_saved", "test_all_folds_recorded"):
        assert by_id[locked].metadata["nbgrader"]["locked"] is True
    protocol = by_id["protocol"].source
    for call in (
        "get_train_and_val_data",
        "get_test_data(fold, include_target=False)",
        "task.record(",
        "mb.to_file(results_path)",
    ):
        assert call in protocol
    for manual in ("data_preparation", "model_choice", "training_testing", "llm_declaration"):
        meta = by_id[manual].metadata["nbgrader"]
        assert meta["grade"] and meta["solution"] and by_id[manual].cell_type == "markdown"
    declaration = by_id["llm_declaration"].source
    for question in ("Did you use an LLM", "For which tasks", "limitations or biases", "ethical use"):
        assert question in declaration
    assert declaration.count("YOUR ANSWER HERE") == 4
    headings = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for section in (
        "Data preparation (20 %)",
        "Model choice (20 %)",
        "Training and testing (20 %)",
        "Analysis",
        "Comparison with the leaderboard",
    ):
        assert section in headings


def test_strip_solution_markers_keeps_the_solution():
    text = "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\nc = 3"
    assert strip_solution_markers(text) == "a = 1\nb = 2\nc = 3"


def _papermill(notebook: Path, output: Path, cwd: Path, **parameters):
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(notebook),
        str(output),
        "--cwd",
        str(cwd),
        "--kernel",
        "python3",
        "--no-progress-bar",
    ]
    for key, value in parameters.items():
        command += ["-p", key, str(value)]
    return subprocess.run(command, capture_output=True, text=True, timeout=1500)


def test_untouched_released_notebook_stops_with_a_clear_message(tmp_path):
    output = tmp_path / "out.ipynb"
    done = _papermill(REPO / "release" / "research_challenge" / NOTEBOOK, output, tmp_path, challenge="B")
    assert done.returncode != 0
    nb = nbformat.read(output, as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors[0]["ename"] == "TypeError"
    assert "write your featurisation in section 2" in errors[0]["evalue"]


@pytest.mark.slow
@pytest.mark.extended  # five folds of the reference model (76 s); the self-check tests run the reference solution too
def test_released_notebook_with_reference_solution_beats_rf_magpie_on_expt_gap(tmp_path):
    """The real thing: the released notebook, the reference solution written in, executed headlessly on
    the offline data, all five folds; the score is recomputed here from the saved predictions."""
    notebook = tmp_path / NOTEBOOK
    nbformat.write(
        solved_copy(
            REPO / "release" / "research_challenge" / NOTEBOOK,
            REPO / "source" / "research_challenge" / NOTEBOOK,
        ),
        notebook,
    )
    done = _papermill(notebook, tmp_path / "executed.ipynb", tmp_path, challenge="B", n_jobs=2)
    assert done.returncode == 0, done.stderr[-3000:]
    raw = (tmp_path / "results.json.gz").read_bytes()
    results = json.loads(raw.decode() if raw[:2] != b"\x1f\x8b" else __import__("gzip").decompress(raw))
    folds = results["tasks"]["matbench_expt_gap"]["results"]
    truth = load_ground_truth("matbench_expt_gap")
    target = truth.target_of()
    maes = []
    for fold in range(5):
        data = folds[f"fold_{fold}"]["data"]
        assert sorted(data) == sorted(truth.test_ids(fold))
        maes.append(np.mean([abs(data[m] - target[m]) for m in data]))
    assert np.mean(maes) < 0.4461, f"MAE {np.mean(maes):.4f} does not beat RF-SCM/Magpie (0.4461)"
