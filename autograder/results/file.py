"""Reading a matbench results file without importing matbench.

`MatbenchBenchmark.to_file` of the PyPI matbench 0.6 writes PLAIN JSON even when the name ends in
`.gz`; matbench from GitHub (PR #251) writes real gzip. We sniff the gzip magic bytes (1f 8b) and
parse the JSON ourselves. Layout:

    {"@module", "@class", "version", "benchmark_name",
     "tasks": {task: {"dataset_name", "benchmark_name",
                      "results": {"fold_i": {"data": {mbid: pred}, "parameters": {},
                                             "scores": {...}, "uncertainty": ...}}}},
     "user_metadata", "datestamp", "hash"}

`hash` is sha256 over the JSON of everything else with keys sorted at every level
(matbench.util.hash_dictionary), so we can tell whether a file was edited after matbench wrote it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


class ResultsFileError(Exception):
    """The results file cannot be read as a matbench results file; the message says why."""


@dataclass
class FoldResult:
    fold: int
    data: dict[str, Any]  # mbid -> prediction (as stored: float, bool, int, None, str...)
    parameters: object = None
    scores: dict[str, Any] = field(default_factory=dict)
    uncertainty: object = None


@dataclass
class TaskResult:
    task: str
    folds: dict[int, FoldResult]  # parsed folds (keys fold_0..fold_4)
    bad_fold_keys: list[str] = field(default_factory=list)  # keys not of the form fold_<0-4>
    problems: list[str] = field(default_factory=list)  # structure problems of this task's entry


@dataclass
class ResultsFile:
    path: Path
    raw: dict[str, Any]
    compressed: bool  # real gzip on disk
    sha256: str  # of the bytes on disk
    size: int
    mtime: float
    tasks: dict[str, TaskResult]
    problems: list[str] = field(default_factory=list)

    @property
    def stored_hash(self) -> str | None:
        value = self.raw.get("hash")
        return value if isinstance(value, str) else None

    def hash_matches(self) -> bool | None:
        """True/False when the file carries a hash; None when it has none."""
        if self.stored_hash is None:
            return None
        return matbench_hash(self.raw) == self.stored_hash


def _immutify(d: dict[str, Any]) -> dict[str, Any]:
    """matbench.util.immutify_dictionary for JSON-loaded data: keys sorted at every dict level."""
    out = {}
    for key, value in d.items():
        out[key] = _immutify(value) if isinstance(value, dict) else value
    return dict(sorted(out.items(), key=lambda item: item[0]))


def matbench_hash(raw: dict[str, Any]) -> str:
    """The hash matbench stores in `hash`: sha256 of json.dumps of the sorted dict without it."""
    body = {k: v for k, v in raw.items() if k != "hash"}
    return hashlib.sha256(json.dumps(_immutify(body)).encode("utf-8")).hexdigest()


def read_bytes_as_json(blob: bytes, name: str = "results file") -> object:
    compressed = blob[:2] == GZIP_MAGIC
    if compressed:
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as error:
            raise ResultsFileError(
                f"{name} starts like a gzip file but cannot be decompressed "
                f"({error}); it is damaged or incomplete."
            ) from error
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ResultsFileError(f"{name} is neither JSON text nor gzip-compressed JSON.") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsFileError(
            f"{name} is not valid JSON ({error.msg} at line {error.lineno}); "
            "it may have been cut short while being written."
        ) from error


def load_results(path: Path | str) -> ResultsFile:
    """Read and parse a matbench results file (plain JSON or gzip). Raises ResultsFileError with a
    plain message when it is not one; structure problems that still allow reading are listed in
    `problems` (file level) and `TaskResult.problems`."""
    path = Path(path)
    try:
        blob = path.read_bytes()
        stat = path.stat()
    except OSError as error:
        raise ResultsFileError(f"the results file {path.name} cannot be read ({error.strerror}).") from error
    raw = read_bytes_as_json(blob, f"the results file {path.name}")
    if not isinstance(raw, dict):
        raise ResultsFileError(
            f"the results file {path.name} holds a JSON {type(raw).__name__}, "
            "not matbench's results object; write it with mb.to_file(...)."
        )
    tasks_raw = raw.get("tasks")
    if not isinstance(tasks_raw, dict):
        raise ResultsFileError(
            f"the results file {path.name} has no 'tasks' entry; it was not written "
            "by MatbenchBenchmark.to_file."
        )
    problems = []
    for key in ("version", "benchmark_name", "datestamp", "hash"):
        if key not in raw:
            problems.append(f"top-level key '{key}' is missing")
    if raw.get("benchmark_name") not in (None, "matbench_v0.1"):
        problems.append(f"benchmark_name is {raw.get('benchmark_name')!r}, not 'matbench_v0.1'")
    tasks = {}
    for task, entry in tasks_raw.items():
        tasks[task] = _parse_task(task, entry)
    return ResultsFile(
        path=path,
        raw=raw,
        compressed=blob[:2] == GZIP_MAGIC,
        sha256=hashlib.sha256(blob).hexdigest(),
        size=len(blob),
        mtime=stat.st_mtime,
        tasks=tasks,
        problems=problems,
    )


def _parse_task(task: str, entry: object) -> TaskResult:
    result = TaskResult(task=task, folds={})
    if not isinstance(entry, dict):
        result.problems.append(f"the entry of {task} is not an object")
        return result
    if entry.get("dataset_name") not in (None, task):
        result.problems.append(f"the entry under {task} says dataset_name {entry.get('dataset_name')!r}")
    folds = entry.get("results")
    if not isinstance(folds, dict):
        result.problems.append(f"{task} has no 'results'")
        return result
    for key, fold_entry in folds.items():
        number = key.removeprefix("fold_")
        if not key.startswith("fold_") or not number.isdigit() or int(number) > 4:
            result.bad_fold_keys.append(key)
            continue
        if not isinstance(fold_entry, dict):
            result.problems.append(f"{task} {key} is not an object")
            continue
        data = fold_entry.get("data")
        if not isinstance(data, dict):
            result.problems.append(f"{task} {key} has no 'data' (predictions by id)")
            data = {}
        for required in ("scores", "parameters"):
            if required not in fold_entry:
                result.problems.append(f"{task} {key} has no '{required}'")
        scores = fold_entry.get("scores")
        result.folds[int(number)] = FoldResult(
            fold=int(number),
            data=data,
            parameters=fold_entry.get("parameters"),
            scores=scores if isinstance(scores, dict) else {},
            uncertainty=fold_entry.get("uncertainty"),
        )
    return result


def build_results_dict(
    task: str,
    fold_predictions: dict[int, dict[str, Any]],
    scores: dict[int, dict[str, Any]] | None = None,
    user_metadata: dict[str, Any] | None = None,
    datestamp: str = "2026.01.01 12:00.00.000000",
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A results object in matbench's layout with a valid hash (for tests and for converting the
    leaderboard's prediction files)."""
    results = {}
    for fold, preds in sorted(fold_predictions.items()):
        results[f"fold_{fold}"] = {
            "data": dict(preds),
            "parameters": dict(parameters or {}),
            "scores": dict((scores or {}).get(fold, {})),
            "uncertainty": None,
        }
    raw = {
        "@module": "matbench.bench",
        "@class": "MatbenchBenchmark",
        "version": "0.6",
        "tasks": {
            task: {
                "@module": "matbench.task",
                "@class": "MatbenchTask",
                "benchmark_name": "matbench_v0.1",
                "dataset_name": task,
                "results": results,
            }
        },
        "user_metadata": dict(user_metadata or {}),
        "benchmark_name": "matbench_v0.1",
        "datestamp": datestamp,
    }
    raw["hash"] = matbench_hash(raw)
    return raw


def write_results(path: Path | str, raw: dict[str, Any], compress: bool = False) -> Path:
    path = Path(path)
    blob = json.dumps(raw).encode("utf-8")
    path.write_bytes(gzip.compress(blob) if compress else blob)
    return path
