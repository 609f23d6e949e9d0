"""Matbench data on disk: find, fetch and verify the data sets; ground-truth targets and the
official folds for grading.

The data sets live in matminer's cache (`$MATMINER_DATA`, or matminer's own `datasets/` folder),
as matminer writes them: `<task>.json.gz`, gzipped pandas JSON in "split" orientation. We read the
targets straight from that file (no pymatgen objects are built), regenerate the official folds
with scikit-learn exactly as matbench did, and keep both in a small cache so that checking a
notebook takes well under a second after the first time.

A file found on disk is never checked against matminer's download hash: copies rebuilt for offline
use are equivalent, not byte-identical (see shared/matbench-data/PROVENANCE.md). `verify` checks
what matters instead: row count, columns, target type, and the ids/order against the official folds.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.course.challenges import FOLD_SETTINGS, task_info
from autograder.errors import UserError

CACHE_VERSION = 1
_ELEMENT = re.compile(r"[A-Z][a-z]?")


class DataMissingError(UserError, FileNotFoundError):
    """A data set is not on disk (and could not be downloaded)."""


class DataInvalidError(UserError, ValueError):
    """A data set is on disk but is not the Matbench data set it claims to be."""


def data_home() -> Path:
    """Where matminer keeps its data sets: `$MATMINER_DATA`, else matminer's `datasets/` folder."""
    if os.environ.get("MATMINER_DATA"):
        return Path(os.environ["MATMINER_DATA"]).expanduser()
    spec = importlib.util.find_spec("matminer")
    if spec is None or not spec.submodule_search_locations:
        return Path.home() / "matminer_data"
    return Path(list(spec.submodule_search_locations)[0]) / "datasets"


def dataset_file(task: str) -> str:
    """The file name matminer gives a data set."""
    return f"{task}.json.gz"


def dataset_path(task: str) -> Path:
    return data_home() / dataset_file(task)


def missing_message(task: str) -> str:
    path = dataset_path(task)
    return (
        f"The data set {task} is not on this machine: {path} does not exist. "
        f"With a network, run `autograder data fetch {task}` (matminer downloads it). "
        f"Without one, copy {task}.json.gz from a machine that has it into {path.parent}, "
        "or point MATMINER_DATA at a folder that holds it."
    )


def mbids(task: str, n_rows: int) -> list[str]:
    """matbench's ids: `mb-<task>-NNNN`, the 1-based row number zero-padded (matbench.data_ops.load)."""
    width = math.floor(math.log(n_rows, 10)) + 1
    prefix = task.replace("matbench", "mb").replace("_", "-")
    return [f"{prefix}-{i + 1:0{width}d}" for i in range(n_rows)]


def chemical_system(elements) -> str:
    return "-".join(sorted(set(elements)))


def _elements_of(value) -> list[str]:
    """Elements of an input: a composition string, or a structure serialised by pymatgen/monty."""
    if isinstance(value, str):
        return _ELEMENT.findall(value)
    if isinstance(value, dict) and "sites" in value:
        return [sp["element"] for site in value["sites"] for sp in site.get("species", [])]
    return []


def _read_split_json(path: Path) -> dict:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, EOFError, json.JSONDecodeError) as error:
        raise DataInvalidError(
            f"{path} is not a readable matminer data file ({error}). Delete it and fetch it again."
        ) from error


@dataclass
class GroundTruth:
    """Targets of one task in the official row order, with the official test fold of every row."""

    task: str
    mbids: list[str]
    targets: np.ndarray  # float for regression, bool for classification
    chemsys: list[str]  # chemical system of every row, e.g. "Ga-N"
    test_fold: np.ndarray  # the official test fold (0..4) of every row

    @property
    def n_folds(self) -> int:
        return int(FOLD_SETTINGS["n_splits"])

    def test_ids(self, fold: int) -> list[str]:
        return [m for m, f in zip(self.mbids, self.test_fold) if f == fold]

    def train_ids(self, fold: int) -> list[str]:
        return [m for m, f in zip(self.mbids, self.test_fold) if f != fold]

    def target_of(self) -> dict[str, float]:
        return dict(zip(self.mbids, self.targets.tolist()))

    def index_of(self) -> dict[str, int]:
        return {m: i for i, m in enumerate(self.mbids)}


def official_test_folds(targets: np.ndarray, task_type: str) -> np.ndarray:
    """The official test fold of every row: KFold (regression) or StratifiedKFold (classification)
    with n_splits=5, shuffle=True, random_state=18012019, over the rows in order."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if task_type == "classification" else KFold)(**FOLD_SETTINGS)
    fold_of = np.full(len(targets), -1, dtype=int)
    rows = np.zeros((len(targets), 1))
    for fold, (_, test) in enumerate(splitter.split(rows, targets)):
        fold_of[test] = fold
    return fold_of


def _cache_dir() -> Path:
    base = os.environ.get("AUTOGRADER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "autograder"
    )
    return Path(base)


def _cache_key(path: Path) -> str:
    stat = path.stat()
    raw = f"{CACHE_VERSION}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


# matbench's own target artifacts (mbid, composition, target per row, official order), shipped with the
# package: the score is recomputed from them where the data set itself is not on the machine
ARTIFACTS = Path(__file__).resolve().parent / "ground_truth"


def artifact_path(task: str) -> Path:
    return ARTIFACTS / f"{task}.json.bz2"


def ground_truth_available(task: str) -> bool:
    """Whether load_ground_truth can answer: the data set is on disk, or matbench's artifact is shipped."""
    return dataset_path(task).exists() or artifact_path(task).is_file()


def load_ground_truth(task: str, use_cache: bool = True) -> GroundTruth:
    """Targets, ids, chemical systems and official folds of a task, from the data set on disk, else from
    matbench's own target artifact shipped with the package (a student's checker without the data)."""
    info = task_info(task)
    path = dataset_path(task)
    if not path.exists():
        if artifact_path(task).is_file():
            return _ground_truth_from_artifact(task, artifact_path(task), info)
        raise DataMissingError(missing_message(task))
    cache_file = _cache_dir() / f"{task}-{_cache_key(path)}.json.gz"
    if use_cache and cache_file.exists():
        try:
            with gzip.open(cache_file, "rt", encoding="utf-8") as handle:
                cached = json.load(handle)
            dtype = bool if info["task_type"] == "classification" else float
            return GroundTruth(
                task,
                cached["mbids"],
                np.asarray(cached["targets"], dtype=dtype),
                cached["chemsys"],
                np.asarray(cached["test_fold"], dtype=int),
            )
        except (OSError, EOFError, KeyError, json.JSONDecodeError):
            pass  # a damaged cache is rebuilt below
    truth = _ground_truth_from_file(task, path, info)
    if use_cache:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as handle:
                json.dump(
                    {
                        "mbids": truth.mbids,
                        "targets": truth.targets.tolist(),
                        "chemsys": truth.chemsys,
                        "test_fold": truth.test_fold.tolist(),
                    },
                    handle,
                )
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only home (sandbox, computer room) only costs speed
    return truth


def _ground_truth_from_artifact(task: str, path: Path, info: dict) -> GroundTruth:
    """matbench's artifact: {column: {row: value}} with `mbid`, `composition` and the target."""
    import bz2

    try:
        with bz2.open(path, "rt", encoding="utf-8") as handle:
            columns = json.load(handle)
        rows = sorted(columns["mbid"], key=int)
        ids = [columns["mbid"][r] for r in rows]
        values = [columns[info["target"]][r] for r in rows]
        compositions = [columns["composition"][r] for r in rows]
    except (OSError, EOFError, KeyError, ValueError) as error:
        raise DataInvalidError(
            f"{path}, matbench's targets shipped with the autograder, cannot be read ({error}): "
            f"reinstall the autograder, or put the data set at {dataset_path(task)}."
        ) from error
    if ids != mbids(task, len(ids)):
        raise DataInvalidError(
            f"{path} does not list {task}'s rows in the official order: reinstall the autograder."
        )
    dtype = bool if info["task_type"] == "classification" else float
    targets = np.asarray([bool(v) for v in values] if dtype is bool else values, dtype=dtype)
    return GroundTruth(
        task,
        ids,
        targets,
        [chemical_system(_elements_of(c)) for c in compositions],
        official_test_folds(targets, info["task_type"]),
    )


def _ground_truth_from_file(task: str, path: Path, info: dict) -> GroundTruth:
    raw = _read_split_json(path)
    columns = raw.get("columns", [])
    if info["target"] not in columns or info["input_type"] not in columns:
        raise DataInvalidError(
            f"{path} has columns {columns}, but {task} needs '{info['input_type']}' and "
            f"'{info['target']}'. It is not the Matbench data set; delete it and fetch it again."
        )
    t_col, i_col = columns.index(info["target"]), columns.index(info["input_type"])
    rows = raw["data"]
    if info["task_type"] == "classification":
        targets = np.asarray([bool(r[t_col]) for r in rows], dtype=bool)
    else:
        targets = np.asarray([r[t_col] for r in rows], dtype=float)
    chemsys = [chemical_system(_elements_of(r[i_col])) for r in rows]
    return GroundTruth(
        task, mbids(task, len(rows)), targets, chemsys, official_test_folds(targets, info["task_type"])
    )


# --- status, fetch, verify (the `autograder data` commands) ------------------------------------


@dataclass
class DataStatus:
    task: str
    path: Path
    present: bool
    size_bytes: int = 0


def status(tasks: list[str]) -> list[DataStatus]:
    result = []
    for task in tasks:
        task_info(task)
        path = dataset_path(task)
        present = path.exists()
        result.append(DataStatus(task, path, present, path.stat().st_size if present else 0))
    return result


def fetch(task: str) -> Path:
    """Download a data set through matminer into its cache (a file already there is kept)."""
    task_info(task)
    path = dataset_path(task)
    if path.exists():
        return path
    try:
        from matminer.datasets import load_dataset

        load_dataset(task, data_home=str(path.parent), download_if_missing=True)
    except Exception as error:  # matminer raises bare Exceptions, urllib errors, IOErrors...
        raise DataMissingError(
            f"Could not download {task} ({type(error).__name__}: {error}). " + missing_message(task)
        ) from error
    if not path.exists():
        raise DataMissingError(missing_message(task))
    return path


@dataclass
class VerifyReport:
    task: str
    problems: list[str]
    facts: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _matbench_validation_file() -> Path | None:
    spec = importlib.util.find_spec("matbench")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "matbench_v0.1_validation.json"
    return path if path.exists() else None


def load_official_splits(task: str) -> dict | None:
    """The frozen folds of matbench's `matbench_v0.1_validation.json` for a task, if matbench is
    installed: {"fold_0": {"train": [...], "test": [...]}, ...}."""
    path = _matbench_validation_file()
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["splits"][task]


def verify(task: str) -> VerifyReport:
    """Check a data set on disk: rows, columns, target type, and ids/order against the folds."""
    info = task_info(task)
    path = dataset_path(task)
    if not path.exists():
        return VerifyReport(task, [missing_message(task)], [])
    problems: list[str] = []
    facts: list[str] = []
    raw = _read_split_json(path)
    columns = raw.get("columns", [])
    for column in (info["input_type"], info["target"]):
        if column not in columns:
            problems.append(f"column '{column}' is missing (columns: {columns})")
    n_rows = len(raw.get("data", []))
    if n_rows != info["n_samples"]:
        problems.append(f"{n_rows} rows, Matbench v0.1 has {info['n_samples']}")
    index = raw.get("index", [])
    if list(index) != list(range(n_rows)):
        problems.append("the row index is not 0..n-1 in order, so matbench ids would not match rows")
    if problems:
        return VerifyReport(task, problems, facts)
    t_col = columns.index(info["target"])
    values = [r[t_col] for r in raw["data"]]
    if info["task_type"] == "classification":
        if not all(isinstance(v, bool) for v in values):
            problems.append(f"target '{info['target']}' is not boolean")
    elif not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        problems.append(f"target '{info['target']}' is not a finite number in every row")
    facts.append(f"{n_rows} rows, columns {columns}")
    if problems:
        return VerifyReport(task, problems, facts)
    truth = load_ground_truth(task, use_cache=False)
    splits = load_official_splits(task)
    if splits is None:
        facts.append(
            "matbench is not installed: folds regenerated with scikit-learn, "
            "not compared with matbench_v0.1_validation.json"
        )
    else:
        for fold in range(truth.n_folds):
            official = splits[f"fold_{fold}"]
            if truth.test_ids(fold) != official["test"] or truth.train_ids(fold) != official["train"]:
                problems.append(
                    f"fold {fold}: ids/order differ from matbench's official split; "
                    "the rows are not in Matbench order"
                )
        if not problems:
            facts.append("ids and row order give exactly matbench's official 5 folds")
    return VerifyReport(task, problems, facts)
