"""One cell numbering on every surface: "cell N" is the student's own count of the cells of their
notebook (from 1), whether or not papermill's injected parameters cell is in the notebook the grader
ran. Checked on real papermill parameterisation of a corpus notebook."""

from __future__ import annotations

import json
import re

import nbformat
from checks_support import add_cell, corpus_notebook, write_notebook
from papermill.parameterize import parameterize_notebook

from autograder.checks import run_checks
from autograder.checks.context import CheckContext
from autograder.execute.engine import _cell_runs
from autograder.execute.sandbox import SandboxResult

CASE = "scaler_before_split"  # its leak message names cells; a lint problem and an error are added below


def student_notebook() -> dict:
    nb = corpus_notebook(CASE)
    nb = add_cell(
        nb, "explore_data", "import os\nprint(undefined_name)\n"
    )  # lint: unused import, undefined name
    return nb


def injected(nb: dict) -> dict:
    """The notebook as the grader runs it: papermill's own injected-parameters cell after the
    parameters (Settings) cell."""
    node = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in node.cells:  # what papermill's own notebook loader does
        cell.metadata.setdefault("tags", [])
    node.metadata.setdefault("papermill", {})
    node = parameterize_notebook(node, {"challenge": "B", "seed": 2026})
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in node.cells)
    return json.loads(nbformat.writes(node))


def cell_numbers(findings) -> dict[str, list[str]]:
    return {
        f.check_id: re.findall(r"cells? (\d+)", f.message)
        for f in findings
        if re.search(r"cells? \d", f.message)
    }


def test_findings_count_the_students_cells_with_or_without_the_injected_cell(tmp_path):
    own = student_notebook()
    ran = injected(own)
    numbers = {}
    for name, nb in (("own", own), ("ran", ran)):
        path = write_notebook(tmp_path / name / "research_challenge.ipynb", nb)
        ctx = CheckContext.from_notebook(path, challenge="B")
        numbers[name] = cell_numbers(run_checks(ctx))
    assert numbers["own"], "the case names cells in its findings"
    assert "code.lint" in numbers["own"]
    assert numbers["ran"] == numbers["own"]
    # and the number is the cell's position in the student's own notebook
    added = next(i for i, c in enumerate(own["cells"]) if "undefined_name" in "".join(c["source"])) + 1
    assert str(added) in numbers["own"]["code.lint"]


def test_the_engines_cell_records_use_the_same_numbers():
    ran = nbformat.reads(json.dumps(injected(student_notebook())), as_version=4)
    for cell in ran.cells:
        if cell.cell_type == "code":
            cell.metadata["papermill"] = {"status": "completed", "duration": 0.1}
    runs = _cell_runs(
        ran, {}, SandboxResult(returncode=0, wall_seconds=1.0, cpu_seconds=1.0, peak_memory_bytes=0)
    )
    own = student_notebook()["cells"]
    for run in runs:
        cell = ran.cells[run.index]
        if "injected-parameters" in cell.metadata.get("tags", []):
            # the grader's cell: marked as such and never given a number the student's cell has
            assert run.injected and run.number is None
            continue
        assert not run.injected
        assert (
            own[run.number - 1]["source"] == cell.source
            or "".join(own[run.number - 1]["source"]) == cell.source
        )
