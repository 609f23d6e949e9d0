"""Sanitising before execution (no notebook runs here): instructor cells restored from the source,
duplicated locked cells, stale papermill artefacts, `!pip install`, the parameters tag, the cache key;
plus the course-environment findings and the protocol-trace reader."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest
from engine_support import REPO, quick_notebook
from nbgrader.utils import compute_checksum

from autograder.execute.engine import cache_key
from autograder.execute.environment import course_packages, install_findings, missing_module_findings
from autograder.execute.sanitise import (
    injection_index,
    load_reference,
    neutralise_installs,
    pip_packages,
    sanitise,
    shift_for_injection,
)
from autograder.execute.trace import read_trace

SOURCE = REPO / "source" / "research_challenge" / "research_challenge.ipynb"


@pytest.fixture(scope="module")
def reference():
    return load_reference(SOURCE)


def _index(nb, grade_id):
    return [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def _kinds(changes):
    return [c["kind"] for c in changes]


def test_untouched_submission_changes_nothing_but_outputs(reference):
    nb = quick_notebook("good")
    clean, changes = sanitise(nb, reference)
    assert changes == []
    assert [c.source for c in clean.cells] == [c.source for c in nb.cells]


def test_tampered_locked_cell_is_restored_with_the_source_text(reference):
    nb = quick_notebook("tampered")
    protocol = _index(nb, "protocol")[0]
    assert "include_target=True" in nb.cells[protocol].source
    clean, changes = sanitise(nb, reference)
    assert clean.cells[protocol].source == reference.cells["protocol"].cell.source
    assert "include_target=True" not in clean.cells[protocol].source
    assert compute_checksum(clean.cells[protocol]) == reference.cells["protocol"].checksum
    restored = [c for c in changes if c["kind"] == "restored_locked_cell"]
    assert restored and restored[0]["grade_id"] == "protocol" and restored[0]["what"] == ["source"]


def test_unlocking_a_test_cell_by_metadata_and_changing_its_type_is_undone(reference):
    nb = quick_notebook("good")
    test = _index(nb, "test_all_folds_recorded")[0]
    cell = nb.cells[test]
    cell.metadata.nbgrader.update({"grade": False, "solution": True, "points": 99})
    cell.source = "pass  # the student's own version"
    nbformat.v4.upgrade(nb)
    clean, changes = sanitise(nb, reference)
    restored = clean.cells[test]
    assert restored.source == reference.cells["test_all_folds_recorded"].cell.source
    assert (
        restored.metadata.nbgrader["points"] == 0 and restored.metadata.nbgrader["grade"] is True
    )  # as released: evidence, no points
    assert {"nbgrader settings", "source"} <= set(
        next(c for c in changes if c.get("grade_id") == "test_all_folds_recorded")["what"]
    )


def test_deleted_locked_cell_comes_back_in_place(reference):
    nb = quick_notebook("good")
    setup = _index(nb, "setup")[0]
    del nb.cells[setup]
    clean, changes = sanitise(nb, reference)
    assert _index(clean, "setup") == [setup]
    assert clean.cells[setup].source == reference.cells["setup"].cell.source
    assert "restored_deleted_cell" in _kinds(changes)


def test_duplicated_locked_cell_keeps_the_original_and_runs_the_copy_as_ordinary_code(reference):
    """nbgrader #1083: a copied locked cell carries the same grade id; grading must not break."""
    nb = quick_notebook("duplicated")
    copies = _index(nb, "setup")
    assert len(copies) == 2
    nb.cells[copies[1]].source += "\nprint('my own addition')"
    clean, changes = sanitise(nb, reference)
    assert _index(clean, "setup") == [copies[0]]  # the copy matching the source stays the instructor's
    assert "my own addition" in clean.cells[copies[1]].source  # the student's copy is kept, unlocked
    assert "nbgrader" not in clean.cells[copies[1]].metadata
    duplicate = next(c for c in changes if c["kind"] == "duplicate_grade_id")
    assert duplicate["copies"] == copies and duplicate["cell"] == copies[0]
    ids = [c.get("id") for c in clean.cells if c.get("id")]
    assert len(ids) == len(set(ids))


def test_both_copies_edited_keeps_the_last_like_nbgrader(reference):
    nb = quick_notebook("duplicated")
    copies = _index(nb, "setup")
    for i in copies:
        nb.cells[i].source += f"\n# edit {i}"
    clean, changes = sanitise(nb, reference)
    assert _index(clean, "setup") == [copies[1]]
    assert clean.cells[copies[1]].source == reference.cells["setup"].cell.source


def test_stale_papermill_artefacts_and_planted_status_are_removed(reference):
    nb = quick_notebook("good")
    banner = nbformat.v4.new_markdown_cell("<span>An Exception was encountered</span>")
    banner.metadata.tags = ["papermill-error-cell-tag"]
    injected = nbformat.v4.new_code_cell('challenge = "A"')
    injected.metadata.tags = ["injected-parameters"]
    nb.cells.insert(0, banner)
    nb.cells.insert(5, injected)
    nb.metadata["papermill"] = {"parameters": {"challenge": "A"}}
    code = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip())
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old")]
    code.execution_count = 7
    code.metadata["autograder"] = {"status": "completed"}
    code.metadata["papermill"] = {"status": "completed"}
    clean, changes = sanitise(nb, reference)
    assert "papermill" not in clean.metadata
    assert all(
        "papermill-error-cell-tag" not in c.metadata.get("tags", [])
        and "injected-parameters" not in c.metadata.get("tags", [])
        for c in clean.cells
    )
    for cell in clean.cells:
        assert "autograder" not in cell.metadata and "papermill" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert {"removed_papermill_error_cell", "removed_injected_parameters"} <= set(_kinds(changes))


def test_install_lines_become_pass_and_are_reported():
    source = (
        "import numpy as np\n!pip install umap-learn==0.5 --quiet\nif True:\n    %pip install -q shap \\\n"
        "        xgboost\n! conda install -c conda-forge lightgbm\nprint('pip install is just text')"
    )
    new, commands = neutralise_installs(source)
    assert len(commands) == 3
    assert "    pass  # [autograder]" in new and "print('pip install is just text')" in new
    compile(new, "cell", "exec")  # still valid Python (the indented block keeps a statement)
    assert pip_packages(commands[0]) == ["umap-learn"]
    assert pip_packages(commands[1]) == ["shap", "xgboost"]
    assert pip_packages(commands[2]) == ["lightgbm"]
    assert pip_packages("!pip install -r requirements.txt -i https://x/simple matminer") == ["matminer"]


def test_install_findings_name_packages_outside_the_course_environment():
    declared = course_packages(REPO / "source" / "research_challenge" / "requirements.txt")
    assert {"scikit-learn", "matminer", "torch", "xgboost"} <= set(declared)
    nb = quick_notebook("network")
    clean, changes = sanitise(nb, None)
    findings = install_findings(changes, declared)
    assert len(findings) == 1 and findings[0].status == "warn"
    assert "umap-learn" in findings[0].message and "not in the course environment" in findings[0].message
    _, changes = sanitise(_with_cell(quick_notebook("good"), "!pip install xgboost"), None)
    (ok,) = install_findings(changes, declared)
    assert ok.status == "info" and "already has xgboost" in ok.message


def test_missing_module_findings_say_what_to_do():
    declared = ["numpy", "scikit-learn"]
    findings = missing_module_findings(
        [
            (4, "ModuleNotFoundError", "No module named 'umap'"),
            (5, "ModuleNotFoundError", "No module named 'sklearn.does_not_exist'"),
            (6, "ZeroDivisionError", "division by zero"),
        ],
        declared,
    )
    by_id = {f.check_id: f for f in findings}
    missing = by_id["environment.missing_package"]
    assert (
        "umap" in missing.message and "umap-learn" in missing.message and "cell 5" in missing.message.lower()
    )
    assert "requirements.txt" in missing.advice
    assert "sklearn.does_not_exist" in by_id["environment.missing_module"].message


def test_parameters_tag_is_restored(reference):
    nb = quick_notebook("good")
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells[params].metadata.tags = []
    clean, changes = sanitise(nb, reference)
    assert "parameters" in clean.cells[params].metadata.tags
    assert "restored_parameters_tag" in _kinds(changes)
    assert injection_index(clean) == params + 1


def test_deleted_settings_cell_comes_back_and_no_instructor_cell_is_taken_for_it(reference):
    """The template with its Settings cell deleted: the locked set-up cell assigns `challenge` too
    (`challenge = str(challenge).strip().upper()`), but it is the instructor's, so the Settings cell
    comes back from the source before it and the parameters are injected after that."""
    nb = quick_notebook("good")
    settings = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    del nb.cells[settings]
    clean, changes = sanitise(nb, reference)
    tagged = [i for i, c in enumerate(clean.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and not clean.cells[tagged[0]].metadata.get("nbgrader")
    assert "restored_parameters_cell" in _kinds(changes) and "restored_parameters_tag" not in _kinds(changes)
    first_instructor_code = next(
        i
        for i, c in enumerate(clean.cells)
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")
    )
    assert tagged[0] < first_instructor_code  # the injected values exist before the set-up cell reads them
    assert injection_index(clean) == tagged[0] + 1


def test_a_notebook_written_without_the_template_runs_as_written(reference):
    """An earlier year's notebook (no instructor cell of this assignment): nothing is restored or
    inserted, no cell is tagged; papermill injects the parameters in a cell of their own at the top."""
    cells = [
        nbformat.v4.new_markdown_cell("# Band gaps: my model\nName: Ada, CID 0123"),
        nbformat.v4.new_code_cell(
            "challenge = 'B'  # my own variable, not the grader's\n"
            "from matminer.datasets import load_dataset\n"
            "df = load_dataset('matbench_expt_gap')"
        ),
        nbformat.v4.new_code_cell("!pip install matminer\nprint(len(df))"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    clean, changes = sanitise(nb, reference)
    assert _kinds(changes) == ["template_free", "neutralised_install"]
    assert [c.source.split("\n")[0] for c in clean.cells[:2]] == [c.source.split("\n")[0] for c in cells[:2]]
    assert len(clean.cells) == len(cells)
    assert not any("parameters" in c.metadata.get("tags", []) for c in clean.cells)
    assert injection_index(clean) == 0


def test_change_indices_follow_the_injected_parameters_cell(reference):
    nb = quick_notebook("tampered")
    clean, changes = sanitise(nb, reference)
    protocol = _index(clean, "protocol")[0]
    shifted = shift_for_injection(clean, copy.deepcopy(changes))
    assert next(c for c in shifted if c["kind"] == "restored_locked_cell")["cell"] == protocol + 1


def test_cache_key_depends_on_content_and_key_parameters_only(reference):
    env = {"python": "3.11", "packages": {"numpy": "2.0"}}
    params = {"challenge": "B", "seed": 1, "results_path": "r.json.gz", "n_jobs": 2, "data_dir": "/a"}
    a, _ = sanitise(quick_notebook("good"), reference)
    b, _ = sanitise(quick_notebook("good"), reference)
    for cell in b.cells:
        cell["id"] = "other-" + cell.get("id", "x")  # re-saving changes ids: not a change of content
    assert cache_key(a, params, env) == cache_key(b, params, env)
    assert cache_key(a, params, env) == cache_key(a, {**params, "n_jobs": 1, "data_dir": "/b"}, env)
    assert cache_key(a, params, env) != cache_key(a, {**params, "challenge": "D"}, env)
    assert cache_key(a, params, env) != cache_key(a, params, {**env, "packages": {"numpy": "2.1"}})
    c, _ = sanitise(quick_notebook("good", marker="changed"), reference)
    assert cache_key(a, params, env) != cache_key(c, params, env)


def _with_cell(nb, source):
    nb.cells.insert(3, nbformat.v4.new_code_cell(source))
    return nb


def test_trace_reader_validates_the_nonce(tmp_path):
    path = tmp_path / "protocol_trace.jsonl"
    assert not read_trace(path, "abc").valid and "no protocol trace" in read_trace(path, "abc").problem
    lines = [
        {"event": "trace_start", "nonce": "abc", "t": 1},
        {"event": "task_load", "task": "t", "cell": 3, "t": 2},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    good = read_trace(path, "abc")
    assert (
        good.valid
        and good.bad_lines == 1
        and [e["event"] for e in good.events] == ["trace_start", "task_load"]
    )
    assert "wrong nonce" in read_trace(path, "xyz").problem
    path.write_text(json.dumps(lines[1]) + "\n")
    assert "does not start" in read_trace(path, "abc").problem
    path.write_text("\n".join(json.dumps(x) for x in lines + lines[:1]) + "\n")
    assert "more than once" in read_trace(path, "abc").problem
