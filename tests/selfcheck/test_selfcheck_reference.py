"""The self-check on real executed notebooks (issue 6, "Done when"): the reference solution executed
with papermill passes; typical faults made from it with nbformat (a declaration holding only the
template's prompts, an own train/test split, one fold missing) give the expected checklist and exit
status; `autograder.self_check()` is called from inside a notebook executed with papermill.

One papermill run of the reference solution (challenge B, about a minute) is shared by the module."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from selfcheck_support import (
    RELEASED,
    cell_by_grade_id,
    drop_fold,
    items,
    note_kinds,
    run_check,
    run_check_json,
    solved,
    write,
)

from autograder.records import FAIL, PASS, WARN

pytestmark = pytest.mark.slow

OWN_SPLIT = """# My own evaluation: a quick hold-out split.
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

features = featurise(task.df[input_column])
X_train, X_test, y_train, y_test = train_test_split(features, task.df[target_column], test_size=0.2,
                                                    random_state=seed)
model = train_model(X_train, y_train)
print(f"MAE = {mean_absolute_error(y_test, predict(model, X_test)):.4f}")
"""


# The kernel papermill starts here is not sandboxed, so nothing bounds its OpenMP threads: beside the other
# test processes on two cores, threads that spin while they wait made this run ten times slower (42 s alone,
# 410 s beside two other test processes). One thread that sleeps while it waits gives the same predictions.
KERNEL_THREADS = {
    "OMP_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _execute(notebook: Path, **parameters) -> Path:
    import papermill

    saved = {name: os.environ.get(name) for name in KERNEL_THREADS}
    os.environ.update(KERNEL_THREADS)  # the kernel inherits the environment of this process
    try:
        papermill.execute_notebook(
            str(notebook),
            str(notebook),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=False,
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_data) -> Path:
    """A student's folder after running the reference solution top to bottom: the executed notebook
    (challenge B) and the results.json.gz its protocol cell wrote."""
    folder = tmp_path_factory.mktemp("reference")
    notebook = write(solved("B"), folder / "research_challenge.ipynb")
    _execute(notebook, n_jobs=2)
    assert (folder / "results.json.gz").is_file()
    return folder


@pytest.fixture
def student(reference, tmp_path) -> Path:
    """A private copy of the executed reference folder, to break."""
    folder = tmp_path / "student"
    shutil.copytree(reference, folder)
    return folder


def _fails(report: dict) -> set[str]:
    return {i["check_id"] for i in report["items"] if i["status"] == FAIL}


def test_reference_solution_executed_passes(reference):
    code, report = run_check_json(reference / "research_challenge.ipynb")
    assert code == 0, _fails(report)
    assert report["verdict"] == "pass" and not _fails(report)
    found = items(report)
    for check_id in (
        "protocol.results_file",
        "protocol.task",
        "protocol.folds_complete",
        "protocol.test_ids",
        "protocol.prediction_values",
        "protocol.own_split",
        "declaration.complete",
        "selfcheck.printed_score",
    ):
        assert found[check_id]["status"] == PASS, (check_id, found[check_id]["message"])
    score = report["score"]
    assert score["complete"] and score["metric"] == "mae"
    assert 0.3 < score["mean"] < 0.6  # gradient boosting on Magpie features: around RF-SCM/Magpie
    assert isinstance(score["rank"], int) and 1 <= score["rank"] <= score["entries"] + 1
    assert [r["label"] for r in report["leaderboard"]] == ["best", "MODNet", "RF-SCM/Magpie", "Dummy"]
    assert set(note_kinds(report)) <= {"released-copy-missing"}

    code, out, _ = run_check(reference / "research_challenge.ipynb")
    flat = " ".join(out.split())
    assert code == 0 and "Must fix" not in out
    assert f"Your MAE: {score['mean']:.4f} ± {score['std']:.4f} eV over the 5 official folds" in flat
    assert "Result: Nothing fails in the graders' automatic checks." in flat


def test_declaration_with_only_the_template_prompts(student):
    notebook = student / "research_challenge.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    released = nbformat.read(RELEASED, as_version=4)
    cell_by_grade_id(nb, "llm_declaration").source = cell_by_grade_id(released, "llm_declaration").source
    write(nb, notebook)
    code, report = run_check_json(notebook)
    assert code == 1
    assert _fails(report) == {"declaration.complete"}
    assert "none of them is answered" in items(report)["declaration.complete"]["message"]
    code, out, _ = run_check(notebook)
    must_fix = out.split("Must fix:")[1].split("\n\n")[0]
    assert "LLM usage declaration answered" in must_fix and 'write "No, I did not use an LLM"' in " ".join(
        must_fix.split()
    )


def test_own_train_test_split_instead_of_the_protocol(student):
    """The older template's way: the model evaluated on an own split, the protocol cell deleted, no
    results file."""
    notebook = student / "research_challenge.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.remove(cell_by_grade_id(nb, "protocol"))
    analysis = cell_by_grade_id(nb, "analysis")
    analysis.source = OWN_SPLIT
    analysis.outputs = [nbformat.v4.new_output("stream", name="stdout", text="MAE = 0.4021\n")]
    write(nb, notebook)
    (student / "results.json.gz").unlink()
    code, report = run_check_json(notebook)
    assert code == 1
    assert {"protocol.api_used", "protocol.own_split", "protocol.results_file"} <= _fails(report)
    assert "train_test_split" in items(report)["protocol.own_split"]["message"]
    assert "no-results" in note_kinds(report)


def test_own_split_beside_the_protocol_is_a_warning_only(student):
    notebook = student / "research_challenge.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell_by_grade_id(nb, "analysis").source += "\n\n" + OWN_SPLIT
    write(nb, notebook)
    code, report = run_check_json(notebook)
    assert code == 0, _fails(report)
    assert items(report)["protocol.own_split"]["status"] == WARN


def test_one_fold_missing(student):
    results = student / "results.json.gz"
    raw = json.loads(results.read_bytes())
    results.write_text(json.dumps(drop_fold(raw, 2)), encoding="utf-8")
    code, report = run_check_json(student / "research_challenge.ipynb")
    assert code == 1
    assert "protocol.folds_complete" in _fails(report)
    assert "missing: 2" in items(report)["protocol.folds_complete"]["message"]
    # the notebook printed the five-fold score: its outputs and the results file disagree now
    assert items(report)["selfcheck.printed_score"]["status"] == WARN
    assert report["score"]["folds_scored"] == 4 and report["score"]["rank"] is None


def test_execute_catches_a_notebook_that_only_worked_in_the_students_kernel(student):
    """Run top to bottom, results saved, then the model cell deleted and the notebook saved: the saved
    outputs and results still look right, but the code reads a name nothing defines any more, which the
    check without a run already fails; `--execute` shows the fresh run stopping on it."""
    notebook = student / "research_challenge.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.remove(cell_by_grade_id(nb, "model"))
    write(nb, notebook)

    code, saved = run_check_json(notebook)  # the notebook as saved, with the results of the old run
    assert code == 1 and _fails(saved) == {"code.lint"}, _fails(saved)
    assert "train_model" in items(saved)["code.lint"]["message"]

    code, report = run_check_json("--execute", notebook)
    assert code == 1
    run = report["execution"]
    assert run["failed_cells"], run
    assert "NameError" in run["failed_cells"][0]["error"] and "train_model" in run["failed_cells"][0]["error"]
    assert "protocol.results_file" in _fails(report)  # the run wrote no results
    # the student's files untouched (the old results file too); the fresh run left beside them to open
    assert sorted(p.name for p in student.iterdir()) == [
        "research_challenge.executed.ipynb",
        "research_challenge.ipynb",
        "results.json.gz",
    ]
    assert "NameError" in (student / "research_challenge.executed.ipynb").read_text()


def test_self_check_called_inside_a_notebook(reference, tmp_path):
    """A notebook that calls autograder.self_check(...) executed with papermill: the checklist comes
    out as a rendered HTML table (display_data), for a path given and for VS Code's global."""
    folder = tmp_path / "calls"
    shutil.copytree(reference, folder)
    shutil.copy(RELEASED, folder / "untouched.ipynb")
    caller = nbformat.v4.new_notebook()
    caller.cells = [
        nbformat.v4.new_code_cell("import autograder"),
        nbformat.v4.new_code_cell('autograder.self_check("research_challenge.ipynb")'),
        nbformat.v4.new_code_cell(
            'from pathlib import Path\n__vsc_ipynb_file__ = str(Path("untouched.ipynb").resolve())\n'
            "autograder.self_check()"
        ),
        nbformat.v4.new_code_cell('autograder.self_check("reseach_challenge.ipynb")'),
    ]
    caller.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = write(caller, folder / "caller.ipynb")
    _execute(notebook)
    done = nbformat.read(notebook, as_version=4)

    def html_of(cell):
        assert not [o for o in cell.outputs if o.output_type in ("error", "execute_result")], cell.outputs
        shown = [o.data["text/html"] for o in cell.outputs if o.output_type == "display_data"]
        assert len(shown) == 1, cell.outputs
        return shown[0]

    passing = html_of(done.cells[1])
    assert "<table" in passing and 'data-exit-code="0"' in passing
    assert "Self-check of research_challenge.ipynb: challenge B (matbench_expt_gap)" in passing
    assert "Your MAE:" in passing and "RF-SCM/Magpie" in passing
    assert "Checked the notebook as last saved" in passing

    untouched = html_of(done.cells[2])  # found through __vsc_ipynb_file__
    assert "Self-check of untouched.ipynb" in untouched and 'data-exit-code="1"' in untouched
    assert "Your work is missing" in untouched and 'data-status="fail"' in untouched

    typo = html_of(done.cells[3])
    assert "There is no file reseach_challenge.ipynb. Did you mean research_challenge.ipynb?" in typo
