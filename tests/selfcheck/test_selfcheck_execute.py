"""`autograder check --execute`: the notebook is run headlessly by the grading engine (same parameters,
protocol trace, bubblewrap sandbox where it works) in a temporary folder, then checked. (The case it
exists for, a notebook that only worked in the student's kernel, is in test_selfcheck_reference.py:
it reuses that module's executed reference run.)"""

from __future__ import annotations

import pytest
from selfcheck_support import cell_by_grade_id, items, run_check_json, solved, write

from autograder.records import FAIL, PASS

pytestmark = [pytest.mark.slow, pytest.mark.extended]


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
    # the run happened in a temporary folder; only the executed copy is left beside the student's notebook
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "research_challenge.executed.ipynb",
        "research_challenge.ipynb",
    ]
    assert run["executed_copy"] == str(tmp_path / "research_challenge.executed.ipynb")


def test_execute_without_a_challenge_says_how_to_give_it(tmp_path):
    from selfcheck_support import RELEASED, SOURCE

    from autograder.course.release import solved_copy

    notebook = write(solved_copy(RELEASED, SOURCE), tmp_path / "research_challenge.ipynb")  # challenge = ""
    code, report = run_check_json("--execute", notebook)
    assert code == 2 and report["error"]["kind"] == "challenge-unknown"
    assert "--challenge" in report["error"]["message"]


def test_execute_a_template_free_notebook_infers_its_task_reports_each_cell_and_keeps_the_run(
    tmp_path, shared_data
):
    """An earlier year's kind of notebook (no Settings cell, `subset=["matbench_expt_gap"]`) with two
    cells that fail: it runs as challenge B, says so, shows its progress per cell, counts the failed
    cells and names the first, and leaves the executed notebook beside it (the student's file untouched)."""
    import json

    import nbformat
    from selfcheck_support import REPO, run_check

    nb = nbformat.read(
        REPO / "tests" / "corpus" / "free_official_one_task" / "research_challenge.ipynb", as_version=4
    )
    nb.cells += [nbformat.v4.new_code_cell("print(undefined_name)"), nbformat.v4.new_code_cell("1 / 0")]
    notebook = write(nb, tmp_path / "old_year.ipynb")
    before = notebook.read_bytes()
    code, out, err = run_check("--execute", notebook, "--json")
    report = json.loads(out)
    assert report["challenge"] == {"letter": "B", "task": "matbench_expt_gap", "source": "named in the code"}
    assert "challenge-inferred" in [n["kind"] for n in report["notes"]]
    run = report["execution"]
    assert run["parameters"]["challenge"] == "B"
    assert [c["error"].split(":")[0] for c in run["failed_cells"]] == ["NameError", "ZeroDivisionError"]
    # the progress counts the student's cells as every message does (papermill's injected cell not counted)
    total, first_code = len(nb.cells), next(n for n, c in enumerate(nb.cells, 1) if c.cell_type == "code")
    assert f"cell {first_code} of {total} running" in err and f"cell {total} of {total} running" in err
    assert "2 cells failed, the first cell" in err and "NameError" in err
    copy = tmp_path / "old_year.executed.ipynb"
    assert run["executed_copy"] == str(copy) and notebook.read_bytes() == before
    executed = nbformat.read(copy, as_version=4)
    assert any(o.get("ename") == "ZeroDivisionError" for c in executed.cells for o in c.get("outputs", []))
    assert items(report)["protocol.folds_complete"]["status"] == PASS  # the protocol still ran in full
