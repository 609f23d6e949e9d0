"""What the check stage of one submission reads, as one key: when the key stored in checks.json is the
key of the files as they are now, the stored findings and Score are those the checks would make again,
so the stage reuses them instead of re-reading the results file, the notebook and the ground truth
(`autograder grade --no-execute` after a marks or a rubric change).

The key is a hash of: the execution's cache key; size and modification time of every file of the
execution folder the checks read (record, executed notebook, results file, trace) and of the Score
files; the submitted notebooks; the student's challenge in the allocation; the released notebook(s);
the course configuration and the declaration templates it names; the task's data set; and the
autograder package itself (its code and data, hashed once per process), so a new check or a fix
re-checks every submission.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from autograder.layout import CHECKS_FILE, GRADE_FILE, SCORE_ARRAYS_FILE, SCORE_FILE

WRITTEN_LATER = (
    CHECKS_FILE,
    SCORE_FILE,
    SCORE_ARRAYS_FILE,
    GRADE_FILE,
)  # by this stage and the next: not inputs


def _stat(path: Path) -> list | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [path.name, info.st_size, info.st_mtime_ns]


@functools.lru_cache(maxsize=1)
def package_hash() -> str:
    """The autograder package's files (code, templates, data), hashed once per process."""
    root = Path(__file__).resolve().parents[1]  # autograder/: this module is autograder/checks/inputs.py
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check_inputs_key(course, student: str, assignment: str, record, allocation=None) -> str | None:
    """The key of everything the check stage reads for this submission (None: no execution record);
    `allocation` as the batch read it (None: read allocation.csv)."""
    if record is None:
        return None
    from autograder.course.allocation import read_allocation
    from autograder.course.data import dataset_path

    folder = course.autograded_dir(student, assignment)
    own = (
        sorted(_stat(p) for p in folder.iterdir() if p.is_file() and p.name not in WRITTEN_LATER)
        if folder.is_dir()
        else []
    )
    if record.results_file:  # the run's results file, in the notebook's own folder
        own.append(_stat(folder / record.results_file))
    scored = [
        (folder / name).is_file() for name in (SCORE_FILE, SCORE_ARRAYS_FILE)
    ]  # a Score removed: checked again
    submitted = course.submitted_dir(student, assignment)
    handed_in = sorted(_stat(p) for p in submitted.glob("*.ipynb")) if submitted.is_dir() else []
    released = course.release_dir(assignment)
    releases = sorted(_stat(p) for p in released.glob("*.ipynb")) if released.is_dir() else []
    try:
        if allocation is None:
            allocation = read_allocation(course.allocation_path, course.config.catalogue)
        letter = allocation.get(student)
    except Exception:  # noqa: BLE001 - a broken allocation: the checks say so, and run every time
        return None
    settings = course.config.declaration
    templates = [_stat(Path(course.root) / name) for name in settings.templates]
    task = record.task or ""
    data = _stat(dataset_path(task)) if task else None
    blob = json.dumps(
        [
            record.cache_key,
            own,
            scored,
            handed_in,
            letter,
            releases,
            _stat(course.config_path),
            templates,
            data,
            package_hash(),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
