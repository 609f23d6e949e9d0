"""`autograder check` without executing anything: the released notebook untouched, the tool-use
mistakes a student makes (wrong path, not a notebook, results of another task, no results yet, data
missing and no network), the score beside the leaderboard, the printed-score warning, the JSON
layout, and the light import path. Every case runs the real command in a fresh process or the real
`check()` on real files; results files hold real predictions for the official folds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from selfcheck_support import (
    HEAVY,
    RELEASED,
    REPO,
    cell_by_grade_id,
    drop_fold,
    dummy_results,
    items,
    note_kinds,
    run_check,
    run_check_json,
    solved,
    write,
)

from autograder.records import FAIL, PASS, WARN

DUMMY_MAE = 1.1435  # the leaderboard's Dummy for matbench_expt_gap


@pytest.fixture(scope="module")
def dummy_raw(shared_data) -> dict:
    return dummy_results("matbench_expt_gap")


@pytest.fixture
def student_folder(tmp_path, dummy_raw) -> Path:
    """A student's folder: the solved notebook (challenge B, saved without outputs) and a results file
    holding matbench's Dummy predictions on the official folds."""
    write(solved("B"), tmp_path / "research_challenge.ipynb")
    (tmp_path / "results.json.gz").write_text(json.dumps(dummy_raw), encoding="utf-8")
    return tmp_path


# --- the released notebook, untouched -------------------------------------------------------------


def test_released_notebook_untouched_fails_and_says_the_work_is_missing(tmp_path):
    notebook = tmp_path / "research_challenge.ipynb"
    shutil.copy(RELEASED, notebook)
    code, out, err = run_check(notebook)
    assert code == 1, out + err
    flat = " ".join(out.split())
    assert (
        "Your work is missing: `featurise`, `train_model` and `predict` are still the template's empty "
        "functions; 6 answers still say YOUR ANSWER HERE." in flat
    )
    assert "Must fix:" in out
    must_fix = out.split("Must fix:")[1].split("Worth a look:")[0]
    assert "LLM usage declaration answered" in must_fix
    assert "Results file saved" in must_fix
    assert "No results file yet" in out and "--execute" in out
    assert "exit status 1" in out

    code, report = run_check_json(notebook)
    assert code == 1 and report["verdict"] == "fail" and report["exit_code"] == 1
    assert note_kinds(report)[:2] == ["work-missing", "no-results"]
    assert "challenge-unknown" in note_kinds(report)  # challenge = "" in the released Settings cell
    found = items(report)
    assert found["declaration.complete"]["status"] == FAIL
    assert found["protocol.results_file"]["status"] == FAIL
    assert report["score"] is None and report["challenge"] is None


def test_challenge_option_gives_the_leaderboard_even_without_results(tmp_path):
    notebook = tmp_path / "research_challenge.ipynb"
    shutil.copy(RELEASED, notebook)
    code, report = run_check_json(notebook, "--challenge", "D")
    assert code == 1
    assert report["challenge"] == {"letter": "D", "task": "matbench_glass", "source": "given"}
    assert "challenge-unknown" not in note_kinds(report)
    # glass: the best entry is MODNet itself, so it is not repeated
    assert [(r["label"], r["algorithm"]) for r in report["leaderboard"]] == [
        ("best", "MODNet (v0.1.12)"),
        ("RF-SCM/Magpie", "RF-SCM/Magpie"),
        ("Dummy", "Dummy"),
    ]


def _template_free(path: Path, *code: str) -> Path:
    """A notebook written without the template (an earlier year's style), cells of code given."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("##**My band-gap model**\nAda, CID 0123")]
        + [nbformat.v4.new_code_cell(c) for c in code]
    )
    nbformat.write(nb, path)
    return path


def test_a_template_free_notebook_naming_one_task_is_checked_as_that_challenge(tmp_path):
    notebook = _template_free(
        tmp_path / "my_model.ipynb",
        "from matminer.datasets import load_dataset\ndf = load_dataset('matbench_glass')  # glass formers",
    )
    code, report = run_check_json(notebook)
    assert report["challenge"] == {"letter": "D", "task": "matbench_glass", "source": "named in the code"}
    assert "challenge-inferred" in note_kinds(report) and "challenge-unknown" not in note_kinds(report)
    inferred = next(n for n in report["notes"] if n["kind"] == "challenge-inferred")["message"]
    assert "matbench_glass" in inferred and "--challenge" in inferred
    # no message about a template this notebook never used
    assert "work-missing" not in note_kinds(report)
    assert not any("Settings cell" in n["message"] for n in report["notes"])


def test_a_template_free_notebook_naming_two_tasks_or_none_asks_for_the_challenge(tmp_path):
    two = _template_free(
        tmp_path / "two.ipynb", "a = load_dataset('matbench_glass')\nb = load_dataset('matbench_expt_gap')"
    )
    code, report = run_check_json(
        two
    )  # exit 1 here: it has no declaration either (a failure beats "unusable")
    assert code == 1 and report["challenge"] is None
    unknown = next(n for n in report["notes"] if n["kind"] == "challenge-unknown")["message"]
    assert "matbench_glass and matbench_expt_gap" in unknown and "--challenge" in unknown
    none = _template_free(
        tmp_path / "none.ipynb",
        "from matbench.bench import MatbenchBenchmark\nmb = MatbenchBenchmark(autoload=False)  # every task",
    )
    code, report = run_check_json(none)
    assert code == 1 and report["challenge"] is None
    unknown = next(n for n in report["notes"] if n["kind"] == "challenge-unknown")["message"]
    assert "names no Matbench task" in unknown and "Settings cell" not in unknown
    code, out, err = run_check(two, "--execute")  # nothing runs: it asks first
    assert code == 2 and "matbench_glass (D) and matbench_expt_gap (B)" in err and "--challenge" in err
    assert not (tmp_path / "two.executed.ipynb").exists()


def test_another_assignments_notebook_is_told_so_in_one_sentence(tmp_path):
    """An nbgrader problem set of another course (its own grade ids, no Matbench): exit 2, no checklist."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Problem set 1\nWrite `squares(n)`."),
            nbformat.v4.new_code_cell(
                'def squares(n):\n    """The squares of 1..n."""\n    return [i ** 2 for i in range(1, n + 1)]',
                metadata={
                    "nbgrader": {
                        "grade": False,
                        "solution": True,
                        "locked": False,
                        "grade_id": "squares",
                        "schema_version": 3,
                    }
                },
            ),
            nbformat.v4.new_code_cell(
                "assert squares(3) == [1, 4, 9]",
                metadata={
                    "nbgrader": {
                        "grade": True,
                        "solution": False,
                        "locked": True,
                        "points": 1,
                        "grade_id": "correct_squares",
                        "schema_version": 3,
                    }
                },
            ),
        ]
    )
    notebook = tmp_path / "ps1.ipynb"
    nbformat.write(nb, notebook)
    for args in ((), ("--execute",)):
        code, out, err = run_check(notebook, *args)
        assert code == 2 and out == "", (args, out)
        assert err.strip() == (
            "Error: ps1.ipynb is not the research challenge notebook: it has none of the "
            "assignment's cells and never mentions Matbench, matminer or pymatgen, so there is "
            "nothing here for this checker to check."
        )
    code, report = run_check_json(notebook)
    assert code == 2 and report["error"]["kind"] == "not-this-assignment"
    assert not (tmp_path / "ps1.executed.ipynb").exists()


def test_student_id_gives_the_challenge_from_the_allocation(tmp_path, course_dir):
    folder = course_dir / "work"
    notebook = write(solved(""), folder / "research_challenge.ipynb")  # challenge left empty
    (course_dir / "allocation.csv").write_text("student_id,challenge\nab123,D\n", encoding="utf-8")
    code, report = run_check_json(notebook, "--student", "ab123", cwd=folder)
    assert report["challenge"] == {"letter": "D", "task": "matbench_glass", "source": "allocation"}
    assert "challenge-allocated" in note_kinds(report) and "challenge-unknown" not in note_kinds(report)
    code, report = run_check_json(notebook, "--student", "zz999", cwd=folder)
    assert (
        code == 2 and report["error"]["kind"] == "challenge-unknown" and "zz999" in report["error"]["message"]
    )


def test_unknown_challenge_letter_is_a_tool_error(student_folder):
    code, out, err = run_check(student_folder / "research_challenge.ipynb", "--challenge", "Z")
    assert code == 2 and out == ""
    assert "Unknown challenge 'Z'" in err and "B (matbench_expt_gap)" in err


# --- wrong paths and files that are not notebooks ---------------------------------------------------


def test_wrong_path_suggests_the_notebooks_in_the_folder(tmp_path):
    shutil.copy(RELEASED, tmp_path / "research_challenge.ipynb")
    shutil.copy(RELEASED, tmp_path / "draft.ipynb")
    code, out, err = run_check("research_challenge (1).ipynb", cwd=tmp_path)
    assert code == 2 and out == ""
    assert "There is no file research_challenge (1).ipynb." in err
    assert "Did you mean research_challenge.ipynb?" in err
    assert "Notebooks in this folder: draft.ipynb, research_challenge.ipynb." in err

    code, report = run_check_json(tmp_path / "missing" / "x.ipynb")
    assert code == 2 and report["verdict"] == "unusable"
    assert report["error"]["kind"] == "not-found" and "does not exist" in report["error"]["message"]


def test_a_folder_without_notebooks_and_a_folder_with_one(tmp_path):
    code, _, err = run_check(tmp_path)
    assert code == 2 and "no notebook (.ipynb) in it" in err
    shutil.copy(RELEASED, tmp_path / "mine.ipynb")
    code, report = run_check_json(tmp_path)  # one notebook in the folder: that one
    assert code == 1 and report["notebook"].endswith("mine.ipynb")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        (
            "research_challenge.py",
            "# %%\nimport numpy as np\nprint(np.pi)\n",
            "is a Python script, not a Jupyter notebook",
        ),
        (
            "research_challenge.ipynb",
            "import numpy as np\n\nmae = 0.4\n",
            "is a Python script, not a Jupyter notebook",
        ),
        ("research_challenge.ipynb", "", "is empty (0 bytes)"),
        (
            "research_challenge.ipynb",
            "<!DOCTYPE html><html><body>notebook</body></html>",
            "is a web page (HTML)",
        ),
        (
            "research_challenge.ipynb",
            '{"cells": "none", "metadata": {}}',
            "is JSON but not a Jupyter notebook",
        ),
    ],
)
def test_files_that_are_not_notebooks_get_a_plain_answer(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content, encoding="utf-8")
    code, out, err = run_check(tmp_path / name)
    assert code == 2 and out == ""
    assert expected in err, err
    assert "Traceback" not in err


def test_half_written_notebook_points_to_the_checkpoint(tmp_path):
    text = RELEASED.read_text(encoding="utf-8")
    notebook = tmp_path / "research_challenge.ipynb"
    notebook.write_text(text[: len(text) // 2], encoding="utf-8")
    code, _, err = run_check(notebook)
    assert code == 2 and "is cut short" in err and "save it again" in err
    checkpoints = tmp_path / ".ipynb_checkpoints"
    checkpoints.mkdir()
    shutil.copy(RELEASED, checkpoints / "research_challenge-checkpoint.ipynb")
    code, _, err = run_check(notebook)
    assert code == 2 and "research_challenge-checkpoint.ipynb" in err


# --- results files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phonons_raw(shared_data) -> dict:
    return dummy_results("matbench_phonons")


def test_results_file_of_another_task_given_by_hand_is_a_tool_error(student_folder, phonons_raw, tmp_path):
    other = tmp_path / "other" / "results.json.gz"
    other.parent.mkdir()
    other.write_text(json.dumps(phonons_raw), encoding="utf-8")
    code, out, err = run_check(student_folder / "research_challenge.ipynb", "--results", other)
    assert code == 2 and out == ""
    assert "holds results for matbench_phonons (challenge A), but this notebook is for challenge B" in err


def test_results_file_of_another_task_beside_the_notebook_fails_the_task_check(student_folder, phonons_raw):
    (student_folder / "results.json.gz").write_text(json.dumps(phonons_raw), encoding="utf-8")
    code, report = run_check_json(student_folder / "research_challenge.ipynb")
    assert code == 1
    assert "results-other-task" in note_kinds(report)
    assert items(report)["protocol.task"]["status"] == FAIL
    assert "matbench_phonons" in items(report)["protocol.task"]["message"]


def test_results_option_with_a_missing_or_unreadable_file(student_folder):
    code, _, err = run_check(
        student_folder / "research_challenge.ipynb", "--results", student_folder / "nope.json.gz"
    )
    assert code == 2 and "There is no results file" in err and "results.json.gz" in err
    code, report = run_check_json(
        student_folder / "research_challenge.ipynb", "--results", student_folder / "research_challenge.ipynb"
    )
    assert code == 2 and report["error"]["kind"] == "results-unreadable"
    assert "is not a matbench results file" in report["error"]["message"]


def test_no_results_file_yet_says_run_it_first_or_use_execute(student_folder):
    (student_folder / "results.json.gz").unlink()
    code, out, err = run_check(student_folder / "research_challenge.ipynb")
    assert code == 1 and "Traceback" not in err
    flat = " ".join(out.split())
    assert "No results file yet" in flat and "Run the notebook top to bottom first" in flat
    assert "autograder check --execute" in flat


def test_without_the_data_set_the_score_is_recomputed_and_execute_says_what_to_do(student_folder, tmp_path):
    """A student's light checker has no data set (no MATMINER_DATA, no matminer): the plain check recomputes the
    score from matbench's targets shipped with it; only --execute, whose notebook loads the data, needs it."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    # No network: every request goes to a proxy on a closed port (fails at once, also on machines online).
    offline = {
        "MATMINER_DATA": str(empty),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    code, report = run_check_json(student_folder / "research_challenge.ipynb", env=offline)
    _, with_data = run_check_json(student_folder / "research_challenge.ipynb")
    assert "data-missing" not in note_kinds(report) and code != 2
    assert report["score"] is not None and report["score"] == with_data["score"]
    code, out, err = run_check(
        student_folder / "research_challenge.ipynb", "--execute", "--no-download", env=offline
    )
    flat = " ".join((out + err).split())
    assert code == 2 and "is not on this machine" in flat
    assert "autograder data fetch matbench_expt_gap" in flat and "MATMINER_DATA" in flat


# --- the score beside the leaderboard, and the printed score ----------------------------------------


def test_score_is_recomputed_and_shown_beside_the_leaderboard(student_folder):
    _, report = run_check_json(student_folder / "research_challenge.ipynb")
    score = report["score"]
    assert score["metric"] == "mae" and score["unit"] == "eV" and score["complete"]
    assert round(score["mean"], 4) == DUMMY_MAE  # matbench's Dummy reproduces the leaderboard's Dummy
    # 1.14350x: just behind the leaderboard's Dummy (1.1435), last of 12 entries + this one
    assert score["mean"] > DUMMY_MAE and score["rank"] == 13 and score["entries"] == 12
    assert [r["label"] for r in report["leaderboard"]] == ["best", "MODNet", "RF-SCM/Magpie", "Dummy"]
    assert report["leaderboard"][0]["algorithm"] == "Darwin"
    assert items(report)["selfcheck.printed_score"]["status"] == "info"  # saved without outputs
    _code, out, _ = run_check(student_folder / "research_challenge.ipynb")
    flat = " ".join(out.split())
    assert "Your MAE: 1.1435 ± 0.0310 eV over the 5 official folds, which would rank 13 of 13" in flat
    assert (
        "Leaderboard (lower is better): best (Darwin) 0.2865 ± 0.0083; MODNet 0.3327 ± 0.0239; "
        "RF-SCM/Magpie 0.4461 ± 0.0177; Dummy 1.1435 ± 0.0310." in flat
    )


def _print_in_protocol_cell(nb, mean: float, std: float, fold0: float) -> None:
    """Outputs as the locked protocol cell prints them."""
    cell = cell_by_grade_id(nb, "protocol")
    cell.execution_count = 7
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text=(
                f"fold 0: mae = {fold0:.4f}\nmatbench_expt_gap: mae = {mean:.4f} ± {std:.4f} over the 5 folds (60 s); "
                "predictions saved to results.json.gz\n"
            ),
        )
    ]


def test_printed_score_that_differs_from_the_results_file_is_warned(student_folder):
    from autograder.selfcheck import check

    notebook = student_folder / "research_challenge.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    _print_in_protocol_cell(nb, 0.4410, 0.0222, 0.4115)  # outputs of another run than the saved results
    write(nb, notebook)
    report = check(notebook)
    printed = next(f for f in report.items if f.check_id == "selfcheck.printed_score")
    assert printed.status == WARN
    assert "it printed MAE 0.4410 ± 0.0222, the results file gives 1.1435 ± 0.0310" in printed.message
    assert "Restart the kernel" in printed.advice

    recomputed = report.score
    _print_in_protocol_cell(nb, recomputed["mean"], recomputed["std"], recomputed["folds"]["0"])
    write(nb, notebook)
    printed = next(f for f in check(notebook).items if f.check_id == "selfcheck.printed_score")
    assert printed.status == PASS, printed.message
    # the summary agrees but one fold's printed score does not: still two different runs
    _print_in_protocol_cell(nb, recomputed["mean"], recomputed["std"], recomputed["folds"]["0"] + 0.01)
    write(nb, notebook)
    printed = next(f for f in check(notebook).items if f.check_id == "selfcheck.printed_score")
    assert printed.status == WARN and "fold 0 differ" in printed.message


def test_one_fold_missing_fails_and_is_not_compared_with_the_leaderboard(student_folder, dummy_raw):
    (student_folder / "results.json.gz").write_text(json.dumps(drop_fold(dummy_raw, 4)), encoding="utf-8")
    code, report = run_check_json(student_folder / "research_challenge.ipynb")
    assert code == 1
    found = items(report)
    assert found["protocol.folds_complete"]["status"] == FAIL
    assert "missing: 4" in found["protocol.folds_complete"]["message"]
    assert report["score"]["folds_scored"] == 4 and not report["score"]["complete"]
    assert report["score"]["rank"] is None
    code, out, _ = run_check(student_folder / "research_challenge.ipynb")
    assert "over 4 of 5 folds only: not comparable with the leaderboard" in " ".join(out.split())


def test_json_layout_is_stable(student_folder):
    code, report = run_check_json(student_folder / "research_challenge.ipynb")
    assert set(report) == {
        "schema",
        "autograder_version",
        "notebook",
        "results",
        "challenge",
        "verdict",
        "exit_code",
        "counts",
        "items",
        "score",
        "leaderboard",
        "notes",
        "execution",
        "seconds",
        "checked_when_graded",
    }
    assert report["schema"] == 1 and report["execution"] is None
    assert set(report["counts"]) == {"fail", "warn", "could-not-run", "info", "pass", "not-applicable"}
    for item in report["items"]:
        assert set(item) == {"check_id", "criterion", "status", "label", "message", "advice"}
    assert set(report["score"]) >= {"metric", "label", "unit", "mean", "std", "folds", "complete", "rank"}
    for ref in report["leaderboard"]:
        assert set(ref) == {"label", "algorithm", "mean", "std"}
    # only what a student may see: no marker-only finding (e.g. the plausibility check)
    assert "protocol.plausibility" not in items(report)
    assert code == report["exit_code"]


# --- speed: the light import path ---------------------------------------------------------------------


def test_check_imports_nothing_heavy(student_folder):
    """The path `autograder check` takes must not import the heavy libraries (issue 6: < 2 s)."""
    script = (
        "import sys, runpy\n"
        f"sys.argv = ['autograder', 'check', {str(student_folder / 'research_challenge.ipynb')!r}]\n"
        "try:\n"
        "    runpy.run_module('autograder', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(" + repr(HEAVY) + "))\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("HEAVY="))
    assert line == "HEAVY=", line
