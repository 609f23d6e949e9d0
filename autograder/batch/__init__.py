"""`autograder grade`: a cohort through intake -> execute -> check -> grade -> report, in parallel,
resumable.

Each stage writes its own artefact per submission (autograder.layout), atomically, so a batch killed
at any moment (even SIGKILL) resumes where it stopped. From the execution record and the checks':

    no record / "running" / other cache key                  -> execute (again), then check
    "executed" / "failed", same key, no checks of that run   -> only the checks run
    "executed" / "failed", same key, checked                 -> nothing to run (unless --force or --no-execute)

and every submission is then graded (grade.json) and its feedback page written from that grade.

The cache key hashes the sanitised notebook, the parameters that change results (challenge, seed,
results path) and the environment (Python, package versions, autograder version); --force
executes everything again; --no-execute re-runs the checks (and the grading) on every stored
execution whose key still matches and says which ones are stale.

Each notebook is handed to the pool as soon as it is sanitised, so the first executions run while
the rest of the cohort is still being read. Executions run on a local pool of threads (each drives
one sandboxed subprocess, so threads are enough; the GIL is not involved) or, given --scheduler, on
a Dask distributed cluster that shares the course directory. The checks run here, in the main process, as each execution finishes, so
they never run inside a sandbox and need nothing from the workers but the files. One bad
submission never stops the batch.
"""

from __future__ import annotations

import sys

# jsonschema (imported by nbformat) compiles an RFC 3987 grammar at import when rfc3987_syntax is
# installed: 1.4 s here, for URI format checks notebook validation never makes (see run_one.py).
sys.modules.setdefault("rfc3987_syntax", None)

from autograder.nbgrader_import import skip_server_extensions

skip_server_extensions()  # nbgrader's Jupyter server extensions: 0.6 s of imports a batch never uses

import fcntl
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.execute.engine import EngineSettings, Job, execute_job, prepare_job
from autograder.layout import RESULT_FILE
from autograder.records import CHECKED, EXECUTED, FAILED, GRADED, INTAKE_ERROR, ExecutionRecord


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


@dataclass
class BatchSummary:
    assignment: str
    records: dict[str, ExecutionRecord] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    not_executed: list[str] = field(default_factory=list)  # --no-execute, never executed
    wall_seconds: float = 0.0
    workers: int = 1
    threads: int = 1
    sandbox: str = "bubblewrap"
    warnings: list[str] = field(default_factory=list)
    grading_error: str = ""
    # seconds: when planning and the executions ended, then the checks' and the grading's durations
    phases: dict[str, float] = field(default_factory=dict)

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
    from autograder.course.data import data_home
    from autograder.execute.sandbox import bwrap_status, check_layout, parse_size

    ex = course.config.execution
    warnings = []
    workers = options.workers if options.workers else (ex.workers or cores())
    if workers < 1:
        raise BatchError("--workers must be at least 1.")
    threads = ex.threads_per_kernel or max(1, cores() // workers)
    mode = ex.sandbox
    if mode not in ("auto", "bubblewrap", "none"):
        raise BatchError(f"[execution] sandbox = {mode!r} in autograder.toml: use auto, bubblewrap or none.")
    use_bwrap = True
    if not options.no_execute:
        usable, reason = bwrap_status()
        if mode == "none" or (not usable and options.allow_unsandboxed and mode == "auto"):
            use_bwrap = False
            if mode == "none" and not options.allow_unsandboxed:
                raise BatchError("autograder.toml sets [execution] sandbox = \"none\": grading without a sandbox lets "
                                 "student code read other submissions and the gradebook. Pass --allow-unsandboxed "
                                 "to confirm.")
            warnings.append("Grading WITHOUT a sandbox (--allow-unsandboxed): student code runs with your "
                            "permissions, can use the network and read every file you can.")
        elif not usable:
            raise BatchError(f"Cannot sandbox the notebooks: {reason}. Install bubblewrap, or pass "
                             "--allow-unsandboxed to grade without a sandbox (only for notebooks you trust).")
        if use_bwrap:
            check_layout(course.root)
    memory = parse_size(options.memory_limit if options.memory_limit is not None else ex.memory_limit)
    disk = parse_size(options.disk_limit if options.disk_limit is not None else ex.disk_limit)
    settings = EngineSettings(
        cell_timeout=options.cell_timeout if options.cell_timeout is not None else ex.cell_timeout,
        timeout=options.timeout if options.timeout is not None else ex.timeout,
        memory_limit=memory, disk_limit=disk, threads=threads, seed=ex.seed, use_bwrap=use_bwrap,
        data_dir=str(data_home().resolve()))
    return settings, workers, warnings


def _lock(course, assignment: str):
    """One batch per course and assignment at a time (released when the process dies)."""
    path = course.lock_path(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BatchError(f"Another `autograder grade {assignment}` is running on this course; wait for it to "
                         "finish (or stop it) first.") from None
    return handle


def _reference(course, assignment: str):
    from autograder.execute.sanitise import load_reference
    from autograder.intake import released_notebook_name

    path = course.source_dir(assignment) / released_notebook_name(course, assignment)
    if not path.is_file():
        notebooks = sorted(course.source_dir(assignment).glob("*.ipynb"))
        path = notebooks[0] if len(notebooks) == 1 else None
    return load_reference(path) if path else None


def _check_data(settings: EngineSettings, tasks: set[str]) -> None:
    from autograder.course.data import missing_message

    for task in sorted(tasks):
        if not (Path(settings.data_dir) / f"{task}.json.gz").is_file():
            raise BatchError(missing_message(task))


class _Checks:
    """The check stage (autograder.checks.run_check_stage) on each finished execution, timed."""

    def __init__(self):
        from autograder.checks import run_check_stage

        self.function, self.seconds = run_check_stage, 0.0

    def run(self, course, record: ExecutionRecord) -> None:
        started = time.monotonic()
        try:
            self.function(course, record.student_id, record.assignment)
        finally:
            self.seconds += time.monotonic() - started


def checked_execution(course, student: str, assignment: str) -> str | None:
    """The cache key of the execution the stored checks were made on (None: not checked)."""
    stored = course.load_checks(student, assignment)
    return stored.get("execution") if stored else None


def stage_status(course, student: str, assignment: str, record: ExecutionRecord | None = None) -> str:
    """How far one submission has come: the execution record's status (intake-error, running,
    failed...), then checked, then graded, each only for the current execution."""
    record = record or course.load_record(student, assignment)
    if record is None:
        return "pending"
    if record.status not in (EXECUTED, FAILED) or record.status == FAILED and not record.cells:
        return record.status
    if checked_execution(course, student, assignment) != record.cache_key:
        return record.status
    grade = course.load_grade(student, assignment)
    if grade is not None and grade.get("execution") == record.cache_key and grade.get("status") != "error":
        return GRADED if record.status == EXECUTED else record.status
    return CHECKED if record.status == EXECUTED else record.status


def plan(course, options: GradeOptions, settings: EngineSettings):
    """Decide per student: intake error, execute, check only, done, stale. Pure of side effects
    except intake-error records. Returns (assignment, {student: (kind, item)})."""
    assignment, students, allocation = batch_students(course, options)
    return assignment, {student: (kind, item) for student, kind, item
                        in plan_each(course, options, settings, assignment, students, allocation)}


def batch_students(course, options: GradeOptions) -> tuple[str, list[str], dict[str, str]]:
    """The assignment, the students with a submission of it (those asked for), and the allocation."""
    from autograder.course.allocation import read_allocation

    assignment = options.assignment or course.assignment
    students = course.submitted_students(assignment)
    if options.students:
        unknown = [s for s in options.students if s not in students]
        if unknown:
            raise BatchError(f"No submission of {assignment} for: {', '.join(unknown)} (looked in "
                             f"{course.root / 'submitted'}).")
        students = [s for s in students if s in options.students]
    return assignment, students, read_allocation(course.allocation_path, course.config.catalogue)


def plan_each(course, options: GradeOptions, settings: EngineSettings, assignment: str, students: list[str],
              allocation: dict[str, str]):
    """plan(), one student at a time: yields (student, kind, item), so that a batch can start the first
    executions while the later notebooks are still being read and sanitised."""
    from autograder.execute.environment import course_packages, fingerprint, requirements_path
    from autograder.intake import inspect_submission, record_intake_error

    catalogue = course.config.catalogue
    reference = _reference(course, assignment)
    declared = course_packages(requirements_path(course, assignment))
    environment = fingerprint(tuple(declared))
    for student in students:
        sub = inspect_submission(course, student, assignment)
        if not sub.ok:
            yield student, "intake", record_intake_error(course, sub)
            continue
        letter = allocation.get(student)
        if letter is None:
            record = ExecutionRecord(student_id=student, assignment=assignment, status=FAILED,
                                     submitted_at=sub.submitted_at,
                                     reason=f"{student} has no challenge in allocation.csv; run `autograder assign "
                                            "roster.csv` (or add a line to allocation.csv) and grade again.")
            record.environment["engine_error"] = True
            record.save(course.result_path(student, assignment))
            yield student, "unallocated", record
            continue
        task = catalogue.get(letter).task
        try:
            job = prepare_job(course, student, assignment, settings, letter, task, reference, environment,
                              declared, sub)
        except Exception as error:  # noqa: BLE001 - an unreadable notebook is this student's problem
            from autograder.intake import Submission

            bad = Submission(student, assignment, sub.folder, submitted_at=sub.submitted_at,
                             problem=f"the notebook could not be prepared for running ({type(error).__name__}: "
                                     f"{str(error)[:200]})")
            yield student, "intake", record_intake_error(course, bad)
            continue
        existing = course.load_record(student, assignment)
        same = (existing is not None and existing.cache_key == job.cache_key
                and not existing.environment.get("engine_error"))
        ran = existing is not None and existing.status in (EXECUTED, FAILED)
        if options.no_execute:
            if same and ran:
                yield student, "check", existing
            elif ran:
                yield student, "stale", existing
            else:
                yield student, "missing", existing
        elif options.force or not same or not ran:
            yield student, "execute", job
        elif checked_execution(course, student, assignment) != existing.cache_key:
            yield student, "check", existing
        else:
            yield student, "done", existing


def grade(course, options: GradeOptions, console=None) -> BatchSummary:
    from rich.console import Console

    console = console or Console(stderr=True)
    settings, workers, warnings = engine_settings(course, options)
    assignment = options.assignment or course.assignment
    lock = _lock(course, assignment)
    try:
        return _grade(course, options, settings, workers, warnings, console)
    finally:
        lock.close()


def _grade(course, options, settings, workers, warnings, console) -> BatchSummary:
    start = time.monotonic()
    for warning in warnings:
        console.print(f"[bold red]Warning:[/] {warning}")
    assignment, students, allocation = batch_students(course, options)
    summary = BatchSummary(assignment, workers=workers, threads=settings.threads, warnings=warnings,
                           sandbox="bubblewrap" if settings.use_bwrap else "none")
    if not options.no_execute:  # before any execution: a missing data set is the instructor's to fetch
        catalogue = course.config.catalogue
        _check_data(settings, {catalogue.get(allocation[s]).task for s in students if s in allocation})
    # a broken rubric or marks file stops the batch here, before hours of executions
    grading = _Grading(course, assignment, summary, console) if options.run_grading else None
    checks = _Checks()
    timer = {"planned": start}
    decisions: dict[str, tuple[str, object]] = {}

    def jobs_as_planned():
        """The executions, handed to the pool one by one as each notebook is sanitised."""
        for student, kind, item in plan_each(course, options, settings, assignment, students, allocation):
            decisions[student] = (kind, item)
            if kind == "execute":
                yield item
        timer["planned"] = time.monotonic()
        for student, (kind, item) in decisions.items():
            if kind in ("intake", "unallocated", "done", "stale", "missing"):
                if item is not None:
                    summary.records[student] = item
                {"done": summary.skipped, "stale": summary.stale, "missing": summary.not_executed}.get(
                    kind, []).append(student)
        for label, names, advice in (
                ("Stale", summary.stale, "changed since they were executed (or the environment did)"),
                ("Not executed yet", summary.not_executed, "have no stored execution")):
            if names:
                console.print(f"[yellow]{label}:[/] {len(names)} notebook(s) {advice}: {', '.join(names[:10])}"
                              f"{' ...' if len(names) > 10 else ''}; run without --no-execute to execute them.")

    def checked(record: ExecutionRecord) -> None:  # each execution, once checked, is graded at once
        checks.run(course, record)
        if grading is not None:
            grading.grade(record.student_id)

    def check_stored() -> None:  # runs while the executions are under way
        for student, (kind, item) in decisions.items():
            if kind == "check":
                checked(item)
                summary.records[student] = item
                summary.checked.append(student)

    jobs = jobs_as_planned()
    first = next(jobs, None)
    if first is not None:
        _execute_all(itertools.chain([first], jobs), workers, options, checked, summary, console, check_stored)
    else:
        check_stored()
    executed = time.monotonic()
    graded_meanwhile = grading.seconds if grading else 0.0
    if grading is not None:
        grading.finish(sorted(summary.records))
        summary.summary_path = grading.reports.summary_path
    from autograder.checks import load_check_findings

    for student, record in summary.records.items():
        summary.statuses[student] = stage_status(course, student, assignment, record)
        counts = summary.finding_counts.setdefault(student, {})
        for finding in list(record.findings) + load_check_findings(course, student, assignment):
            counts[finding.status] = counts.get(finding.status, 0) + 1
    summary.wall_seconds = time.monotonic() - start
    # the executions start as soon as the first notebook is planned, so the first two are moments in the batch
    summary.phases = {"all planned at": timer["planned"] - start, "all executed at": executed - start,
                      "checks (within execute)": checks.seconds, "grading (within execute)": graded_meanwhile,
                      "grading after": time.monotonic() - executed,
                      # plan, checks, grading and imports; the executions' own CPU is in each result.json
                      "CPU of this process": _own_cpu_seconds()}
    return summary


def _own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _execute_all(jobs, workers: int, options: GradeOptions, checked,
                 summary: BatchSummary, console, meanwhile) -> None:
    """Run the jobs (an iterable: each is submitted as soon as it is prepared) and check and grade each
    as it finishes; `meanwhile` runs once every job is submitted (the stored executions' checks)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    state = {"running": 0, "done": 0, "failed": 0}
    lock = threading.Lock()

    def describe() -> str:
        return (f"grading  [green]done {state['done']}[/]  [cyan]running {state['running']}[/]  "
                f"[red]failed {state['failed']}[/]")

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                        console=console, disable=not options.progress, transient=False)

    def finished(record_dict: dict) -> None:
        record = ExecutionRecord.from_dict(record_dict)
        checked(record)
        summary.records[record.student_id] = record
        summary.executed.append(record.student_id)
        with lock:
            state["running"] = max(0, state["running"] - 1)
            state["done"] += 1
            if record.status == FAILED:
                state["failed"] += 1

    with progress:
        task = progress.add_task(describe(), total=None)
        if options.scheduler:
            _run_dask(options.scheduler, jobs, state, lock, finished, progress, task, describe, summary, meanwhile)
        else:
            def run(job: Job) -> dict:
                with lock:
                    state["running"] += 1
                progress.update(task, description=describe())
                return execute_job(job)

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade") as pool:
                futures = {}
                for job in jobs:
                    futures[pool.submit(run, job)] = job
                    progress.update(task, total=len(futures))
                meanwhile()
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        result = future.result()
                    except Exception as error:  # noqa: BLE001 - execute_job records its own failures
                        result = _crashed(job, error)
                    finished(result)
                    progress.update(task, advance=1, description=describe())


def _run_dask(address: str, jobs, state: dict, lock, finished, progress, task, describe,
              summary: BatchSummary, meanwhile) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as error:
        raise BatchError("Dask distributed is not installed (pip install distributed).") from error
    try:
        client = Client(address, timeout="10s")
    except OSError as error:
        raise BatchError(f"Cannot reach the Dask scheduler at {address} ({error}). Start one with "
                         "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1` on machines "
                         "that see the course directory at the same path.") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=60)
        except (TimeoutError, OSError):
            raise BatchError(f"The Dask scheduler at {address} has no workers: start some with "
                             f"`dask worker {address} --nthreads 1` on machines that see the course directory "
                             "at the same path.") from None
        slots = sum(client.nthreads().values()) or 1
        summary.workers, summary.sandbox = slots, summary.sandbox + f" on Dask ({len(client.nthreads())} workers)"
        futures, by_key = [], {}
        for job in jobs:
            future = client.submit(execute_job, job, pure=False, key=f"grade-{job.student_id}-{os.urandom(4).hex()}")
            futures.append(future)
            by_key[future.key] = job
            progress.update(task, total=len(futures))
        with lock:
            state["running"] = min(slots, len(futures))
        progress.update(task, description=describe())
        meanwhile()
        for future in dask_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - a lost worker etc.
                result = _crashed(by_key[future.key], error)
            finished(result)
            with lock:
                state["running"] = min(slots, len(futures) - state["done"])
            progress.update(task, advance=1, description=describe())


def _crashed(job: Job, error: BaseException) -> dict:
    record = ExecutionRecord(student_id=job.student_id, assignment=job.assignment, status=FAILED,
                             challenge=job.challenge, task=job.task, cache_key=job.cache_key,
                             reason=f"The grader could not run this notebook: {type(error).__name__}: {error}")
    record.environment = {"engine_error": True}
    record.save(job.work_dir / RESULT_FILE)
    return record.to_dict()


class _Grading:
    """The grade and report stages, submission by submission as the batch checks them (while other
    executions still run): grade.json and the gradebook entry, then the feedback page from that
    grade; at the end the cohort summary. A failure here never loses the executions: they are on
    disk, and `autograder grade --no-execute` grades them again."""

    def __init__(self, course, assignment: str, summary: BatchSummary, console):
        from autograder.grade.grading import CohortGrading
        from autograder.report.cohort import ReportResult

        self.course, self.assignment = course, assignment
        self.summary, self.console = summary, console
        self.seconds, self.graded = 0.0, set()
        self.reports = ReportResult()
        started = time.monotonic()
        self.cohort = None
        try:  # a broken rubric or marks file stops the batch here, before hours of executions
            self.cohort = CohortGrading(course, assignment)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001 - say what failed; the executions still run and are kept
            self._failed(error)
        self.seconds += time.monotonic() - started

    def _failed(self, error: BaseException) -> None:
        self.cohort = None
        self.summary.grading_error = f"{type(error).__name__}: {error}"
        self.console.print(f"[bold red]The grading step failed:[/] {self.summary.grading_error}. The executions "
                           "and checks are stored; fix the problem and run `autograder grade --no-execute`.")

    def grade(self, student: str) -> None:
        from autograder.report.cohort import write_page

        if self.cohort is None or student in self.graded:
            return
        started = time.monotonic()
        grade = self.cohort.grade(student)  # records its own per-student errors
        write_page(self.course, self.assignment, student, grade, self.reports)
        self.graded.add(student)
        self.seconds += time.monotonic() - started

    def finish(self, students: list[str]) -> None:
        from autograder.report.summary import write_summary

        for student in students:
            self.grade(student)
        if self.cohort is None:
            return
        try:
            self.cohort.finish()
            self.reports.summary_path = write_summary(self.course, self.assignment, self.cohort.rubric)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001
            self._failed(error)


def status_table(summary: BatchSummary):
    from rich.table import Table

    table = Table(title=f"{summary.assignment}: {len(summary.records)} submission(s)", show_lines=False)
    for column, justify in (("student", "left"), ("status", "left"), ("cells", "right"), ("wall s", "right"),
                            ("CPU s", "right"), ("peak MB", "right"), ("findings", "left"), ("reason", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    colours = {GRADED: "green", CHECKED: "cyan", EXECUTED: "cyan", FAILED: "red", INTAKE_ERROR: "magenta"}
    for student in sorted(summary.records):
        r = summary.records[student]
        ran = sum(1 for c in r.cells if c.status in ("completed", "failed"))
        findings = " ".join(f"{k} {v}" for k, v in sorted(summary.finding_counts.get(student, {}).items()))
        note = r.reason
        if student in summary.skipped:
            note = (note + " " if note else "") + "(stored: unchanged since it was executed)"
        status = summary.status(student)
        table.add_row(student, f"[{colours.get(status, 'white')}]{status}[/]",
                      f"{ran}/{len(r.cells)}" if r.cells else "", _fmt(r.wall_seconds), _fmt(r.cpu_seconds),
                      _fmt(r.peak_memory_mb, 0), findings, note[:160])
    return table


def _fmt(value, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"
