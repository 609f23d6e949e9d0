"""A batch's options and settings: what the instructor asked for (GradeOptions), what the batch
found (BatchSummary), the engine settings from the course configuration, and the one-batch lock."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.data import data_home
from autograder.errors import UserError
from autograder.execute import sandbox as sb
from autograder.execute.engine import EngineSettings
from autograder.layout import CONFIG_FILE
from autograder.records import ExecutionRecord


class BatchError(UserError):
    pass


@dataclass
class GradeOptions:
    assignment: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    cell_timeout: int | None = None
    timeout: int | None = None
    memory_limit: str | None = None
    disk_limit: str | None = None
    force: bool = False
    no_execute: bool = False
    allow_unsandboxed: bool = False
    students: list[str] | None = None
    progress: bool = True
    run_grading: bool = True
    feature_cache: bool = True  # --no-feature-cache: every notebook computes its own features


@dataclass
class BatchSummary:
    assignment: str
    records: dict[str, ExecutionRecord] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    not_executed: list[str] = field(default_factory=list)  # --no-execute, never executed
    interrupted: list[str] = field(default_factory=list)  # stopped (or never started) when the batch stopped
    kept_previous: list[str] = field(
        default_factory=list
    )  # of those, the ones whose previous execution stands
    not_started: list[str] = field(default_factory=list)  # of those, the ones that never started
    wall_seconds: float = 0.0
    workers: int = 1
    threads: int = 1
    sandbox: str = "bubblewrap"
    warnings: list[str] = field(default_factory=list)
    grading_error: str = ""
    # seconds: when planning and the executions ended, then the checks' and the grading's durations
    phases: dict[str, float] = field(default_factory=dict)
    featurised: object = None  # the cohort's featurisation cache (execute.feature_cache.Precomputed), if used

    statuses: dict[str, str] = field(default_factory=dict)  # student -> how far it came (stage_status)
    finding_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # student -> status -> count
    summary_path: Path | None = None

    def status(self, student: str) -> str:
        return self.statuses.get(student) or self.records[student].status

    def count(self, status: str) -> int:
        return sum(1 for student in self.records if self.status(student) == status)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def engine_settings(course, options: GradeOptions) -> tuple[EngineSettings, int, list[str]]:
    """Settings for this batch (course configuration, overridden by the options) and the number
    of workers; plus warnings to show once."""
    ex = course.config.execution
    warnings = []
    workers = options.workers if options.workers else (ex.workers or cores())
    if workers < 1:
        raise BatchError("--workers must be at least 1.")
    threads = ex.threads_per_kernel or max(1, cores() // workers)
    mode = ex.sandbox
    if mode not in ("auto", "bubblewrap", "none"):
        raise BatchError(f"[execution] sandbox = {mode!r} in {CONFIG_FILE}: use auto, bubblewrap or none.")
    use_bwrap = True
    if not options.no_execute:
        usable, reason = sb.bwrap_status()
        if mode == "none" or (not usable and options.allow_unsandboxed and mode == "auto"):
            use_bwrap = False
            if mode == "none" and not options.allow_unsandboxed:
                raise BatchError(
                    f'{CONFIG_FILE} sets [execution] sandbox = "none": grading without a sandbox lets '
                    "student code read other submissions and the gradebook. Pass --allow-unsandboxed "
                    "to confirm."
                )
            warnings.append(
                "Grading WITHOUT a sandbox (--allow-unsandboxed): student code runs with your "
                "permissions, can use the network and read every file you can."
            )
        elif not usable:
            raise BatchError(
                f"Cannot sandbox the notebooks: {reason}. Install bubblewrap, or pass "
                "--allow-unsandboxed to grade without a sandbox (only for notebooks you trust)."
            )
        if use_bwrap:
            sb.check_layout(course.root)
    memory = sb.parse_size(options.memory_limit if options.memory_limit is not None else ex.memory_limit)
    disk = sb.parse_size(options.disk_limit if options.disk_limit is not None else ex.disk_limit)
    settings = EngineSettings(
        cell_timeout=options.cell_timeout if options.cell_timeout is not None else ex.cell_timeout,
        timeout=options.timeout if options.timeout is not None else ex.timeout,
        memory_limit=memory,
        disk_limit=disk,
        threads=threads,
        seed=ex.seed,
        use_bwrap=use_bwrap,
        data_dir=str(data_home().resolve()),
        max_cell_output=sb.parse_size(ex.max_cell_output),
        max_notebook_output=sb.parse_size(ex.max_notebook_output),
    )
    return settings, workers, warnings


class BatchLock:
    """The batch's lock on its file; closing it removes the file, so a finished batch leaves no lock behind."""

    def __init__(self, handle, path: Path):
        self.handle, self.path = handle, path

    def close(self) -> None:
        try:
            if os.stat(self.path).st_ino == os.fstat(self.handle.fileno()).st_ino:
                os.unlink(self.path)  # still ours: remove it while we hold the lock
        except OSError:
            pass
        self.handle.close()


def lock_batch(course, assignment: str) -> BatchLock:
    """One batch per course and assignment at a time (released when the process dies)."""
    path = course.lock_path(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+")  # noqa: SIM115 - held open: the lock lasts as long as the handle
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise BatchError(
                f"Another `autograder grade {assignment}` is running on this course; wait for it to "
                "finish (or stop it) first."
            ) from None
        try:  # a batch that finished between our open and our lock removed the file: lock the new one
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return BatchLock(handle, path)
        except FileNotFoundError:
            pass
        handle.close()
