"""`autograder check --execute`: the notebook is run headlessly by the grading engine (same parameters,
protocol trace, bubblewrap sandbox where it works) in a temporary folder, then checked. (The case it
exists for, a notebook that only worked in the student's kernel, is in test_selfcheck_reference.py:
it reuses that module's executed reference run.)"""

from __future__ import annotations

import pytest
from selfcheck_helpers import cell_by_grade_id, items, run_check_json, solved, write

from autograder.records import FAIL, PASS

pytestmark = pytest.mark.slow


def _quick(nb):
    """The reference solution with the demo's quick model and short analysis, so that a run takes seconds."""
    from autograder.demo import QUICK_ANALYSIS, QUICK_MODEL

    cell_by_grade_id(nb, "model").source = QUICK_MODEL
    cell_by_grade_id(nb, "analysis").source = QUICK_ANALYSIS
    return nb


def _sandbox_expected() -> str:
    from autograder.execute.sandbox import bwrap_status

    return "bubblewrap" if bwrap_status()[0] else "none"


def test_execute_runs_the_notebook_as_the_grader_and_checks_the_run(tmp_path, shared_data):
    notebook = write(_quick(solved("B")), tmp_path / "research_challenge.ipynb")
    code, report = run_check_json("--execute", notebook)
    run = report["execution"]
    assert run["status"] == "executed" and run["sandbox"] == _sandbox_expected()
    assert run["parameters"]["challenge"] == "B" and run["parameters"]["results_path"] == "results.json.gz"
    assert not run["failed_cells"]
    found = items(report)
    # what only a run can tell: the trace of the run and the results file it wrote
    assert found["protocol.trace"]["status"] == PASS
    assert found["protocol.written_by_run"]["status"] == PASS
    assert found["protocol.folds_complete"]["status"] == PASS
    assert report["score"]["complete"] and report["score"]["mean"] < 1.0
    assert code == 0, [i for i in report["items"] if i["status"] == FAIL]
    if run["sandbox"] == "none":
        assert "unsandboxed" in [n["kind"] for n in report["notes"]]
    # nothing is left beside the student's notebook: the run happened in a temporary folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["research_challenge.ipynb"]


def test_execute_without_a_challenge_says_how_to_give_it(tmp_path):
    from selfcheck_helpers import RELEASED, SOURCE

    from autograder.course.release import solved_copy

    notebook = write(solved_copy(RELEASED, SOURCE), tmp_path / "research_challenge.ipynb")  # challenge = ""
    code, report = run_check_json("--execute", notebook)
    assert code == 2 and report["error"]["kind"] == "challenge-unknown"
    assert "--challenge" in report["error"]["message"]
