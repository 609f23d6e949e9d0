"""Helpers for the checks' tests: notebooks built from the released notebook, results files built
from the official leaderboard predictions or the ground truth."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import numpy as np

from autograder.results.file import build_results_dict, write_results

REPO = Path(__file__).resolve().parents[1]
RELEASED = REPO / "release" / "research_challenge" / "research_challenge.ipynb"
CORPUS = REPO / "tests" / "corpus"
LEADERBOARD = REPO.parent / "shared" / "matbench-data" / "leaderboard"


def released() -> dict:
    return json.loads(RELEASED.read_text(encoding="utf-8"))


def corpus_notebook(case: str) -> dict:
    return json.loads((CORPUS / case / "research_challenge.ipynb").read_text(encoding="utf-8"))


def _index(nb: dict, grade_id: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def source_of(nb: dict, grade_id: str) -> str:
    src = nb["cells"][_index(nb, grade_id)]["source"]
    return "".join(src) if isinstance(src, list) else src


def with_cells(nb: dict, **sources: str) -> dict:
    """A copy of `nb` with the cells of these grade ids replaced."""
    nb = copy.deepcopy(nb)
    for grade_id, text in sources.items():
        nb["cells"][_index(nb, grade_id)]["source"] = text
    return nb


def add_cell(nb: dict, after: str, text: str, kind: str = "code", **fields) -> dict:
    nb = copy.deepcopy(nb)
    cell = {"cell_type": kind, "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    cell.update(fields)
    nb["cells"].insert(_index(nb, after) + 1, cell)
    return nb


def without(nb: dict, grade_id: str) -> dict:
    nb = copy.deepcopy(nb)
    del nb["cells"][_index(nb, grade_id)]
    return nb


def write_notebook(path: Path, nb: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def leaderboard_predictions(algorithm_file: str, task: str) -> dict[int, dict]:
    with gzip.open(LEADERBOARD / f"{algorithm_file}.json.gz", "rt") as handle:
        board = json.load(handle)
    folds = board["tasks"][task]
    return {int(k.split("_")[1]): dict(v["predictions"]) for k, v in folds.items()}


def leaderboard_scores(algorithm_file: str, task: str) -> dict[int, dict]:
    with gzip.open(LEADERBOARD / f"{algorithm_file}.json.gz", "rt") as handle:
        board = json.load(handle)
    return {int(k.split("_")[1]): v["scores"] for k, v in board["tasks"][task].items()}


def results_file(
    path: Path, task: str, folds: dict[int, dict], compress: bool = False, scores=None, **kwargs
) -> Path:
    return write_results(path, build_results_dict(task, folds, scores=scores, **kwargs), compress=compress)


def truth_predictions(truth, noise: float = 0.0, seed: int = 0) -> dict[int, dict]:
    """Per fold {mbid: target (+ noise)} for a regression task."""
    rng = np.random.default_rng(seed)
    targets = truth.target_of()
    return {
        f: {
            m: float(targets[m] + rng.normal(scale=noise)) if noise else float(targets[m])
            for m in truth.test_ids(f)
        }
        for f in range(5)
    }


def statuses(findings) -> dict[str, str]:
    """check id -> status (one finding per check in this package)."""
    out = {}
    for finding in findings:
        assert finding.check_id not in out, f"two findings for {finding.check_id}"
        out[finding.check_id] = finding.status
    return out
