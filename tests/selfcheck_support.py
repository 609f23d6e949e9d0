"""Helpers for the self-check tests (tests/test_selfcheck_*.py): notebooks built from the released
notebook and its reference solution with nbformat, results files built from the real ground truth,
and the `autograder check` command run as a student runs it (a fresh process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RELEASED = REPO / "release" / "research_challenge" / "research_challenge.ipynb"
SOURCE = REPO / "source" / "research_challenge" / "research_challenge.ipynb"
HEAVY = ("matbench", "matminer", "pymatgen", "papermill", "nbgrader", "matplotlib")


def solved(challenge: str = "B") -> nbformat.NotebookNode:
    """The released notebook with the reference solution written in and `challenge` set, as a student
    hands it in (not executed)."""
    from autograder.course.release import solved_copy

    nb = solved_copy(RELEASED, SOURCE)
    set_parameter(nb, "challenge", challenge)
    return nb


def set_parameter(nb, name: str, value) -> None:
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    pattern = re.compile(rf"^{name}\s*=.*?(\s*#.*)?$", re.MULTILINE)
    assert pattern.search(cell.source), f"no {name} in the parameters cell"
    cell.source = pattern.sub(lambda m: f"{name} = {value!r}{m.group(1) or ''}", cell.source, count=1)


def cell_by_grade_id(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def dummy_results(task: str = "matbench_expt_gap", folds=range(5)) -> dict:
    """matbench's Dummy (each fold predicts the mean of its training targets), as a results file
    matbench would write (valid hash), for the official folds of the real data set."""
    import numpy as np

    from autograder.course.data import load_ground_truth
    from autograder.results.file import build_results_dict

    truth = load_ground_truth(task)
    targets = truth.target_of()
    predictions = {}
    for fold in folds:
        mean = float(np.mean([targets[m] for m in truth.train_ids(fold)]))
        predictions[fold] = {m: mean for m in truth.test_ids(fold)}
    return build_results_dict(task, predictions)


def drop_fold(raw: dict, fold: int) -> dict:
    """A results object without one fold, re-hashed as matbench would have written it."""
    from autograder.results.file import matbench_hash

    raw = json.loads(json.dumps(raw))
    for entry in raw["tasks"].values():
        entry["results"].pop(f"fold_{fold}")
    raw["hash"] = matbench_hash(raw)
    return raw


def run_check(*args, cwd: Path = REPO, env: dict | None = None, timeout: float = 600):
    """`autograder check ARGS` in a fresh process: (exit status, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.pop("COLUMNS", None)
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "check", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def run_check_json(*args, **kwargs) -> tuple[int, dict]:
    code, out, err = run_check(*args, "--json", **kwargs)
    try:
        return code, json.loads(out)
    except json.JSONDecodeError as error:
        raise AssertionError(f"--json printed no JSON (exit {code}):\n{out}\n{err}") from error


def items(report: dict) -> dict[str, dict]:
    return {item["check_id"]: item for item in report["items"]}


def note_kinds(report: dict) -> list[str]:
    return [n["kind"] for n in report["notes"]]
