"""`autograder grade`: a cohort through intake -> execute -> check -> grade -> report, in parallel,
resumable.

The batch is planned first (planning.prepare_batch: the students asked for, the allocation, the
rubric and the markers' marks, the sandbox and the data sets, each read and checked once, before the
lock is taken); every stage then takes that plan. Each stage writes its own artefact per submission
(autograder.layout), atomically, so a batch killed at any moment (even SIGKILL) resumes where it
stopped. From the execution record and the checks':

    no record / "running" / "interrupted" / other cache key  -> execute (again), then check
    "executed" / "failed", same key, no checks of that run   -> only the checks run
    "executed" / "failed", same key, checked                 -> nothing to run (unless --force or --no-execute)

and every submission is then graded (grade.json) and its feedback page written from that grade.
Each run executes beside the stored execution and is swapped in only when complete; Ctrl-C, SIGTERM
and a full disk stop the batch without losing anything (batch/faults.py).

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
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not importable"

from autograder.nbgrader_import import skip_server_extensions

skip_server_extensions()  # nbgrader's Jupyter server extensions: 0.6 s of imports a batch never uses

import itertools
import shutil
import time

from autograder.batch.faults import BatchInterrupted, BatchStop, DiskFull
from autograder.batch.features import prepare_feature_cache
from autograder.batch.options import (
    BatchError,
    BatchSummary,
    GradeOptions,
    cores,
    engine_settings,
    lock_batch,
)
from autograder.batch.planning import (
    BatchPlan,
    batch_students,
    checked_execution,
    plan_each,
    prepare_batch,
    stage_status,
)
from autograder.batch.runners import RUNNERS, run_executions
from autograder.batch.stages import CheckStage, GradeStage
from autograder.batch.table import status_table
from autograder.checks import load_check_findings
from autograder.execute.engine import is_disk_full
from autograder.records import INTERRUPTED, ExecutionRecord
from autograder.report.similarity import similarity_step

__all__ = [
    "RUNNERS",
    "BatchError",
    "BatchInterrupted",
    "BatchPlan",
    "BatchSummary",
    "DiskFull",
    "GradeOptions",
    "batch_students",
    "checked_execution",
    "cores",
    "engine_settings",
    "grade",
    "plan_each",
    "prepare_batch",
    "run_batch",
    "stage_status",
    "status_table",
]


def grade(course, options: GradeOptions, console=None) -> BatchSummary:
    """Plan the batch (every name and file checked), then run it."""
    return run_batch(prepare_batch(course, options), console)


def run_batch(plan: BatchPlan, console=None) -> BatchSummary:
    """Run a prepared batch under the batch's lock (taken only now: a plan that failed left none)."""
    from rich.console import Console

    console = console or Console(stderr=True)
    lock = lock_batch(plan.course, plan.assignment)
    try:
        with BatchStop(console) as stop:
            return _grade(plan, console, stop)
    finally:
        lock.close()


def _grade(plan: BatchPlan, console, stop: BatchStop) -> BatchSummary:
    start = time.monotonic()
    course, assignment, settings = plan.course, plan.assignment, plan.settings
    for warning in plan.warnings:
        console.print(f"[bold red]Warning:[/] {warning}")
    summary = BatchSummary(
        assignment,
        workers=plan.workers,
        threads=settings.threads,
        warnings=plan.warnings,
        sandbox="bubblewrap" if settings.use_bwrap else "none",
    )
    # a grading step that cannot start (the gradebook, say) is reported here, before hours of executions
    grading = GradeStage(plan, summary, console) if plan.options.run_grading else None
    after = AfterExecution(plan, summary, grading, stop, console)
    featurised = prepare_feature_cache(plan, console)
    if featurised is not None:
        summary.featurised = featurised
    planned = PlannedExecutions(plan, stop)
    jobs = iter(planned)
    first = next(jobs, None)
    if first is not None:
        run_executions(
            itertools.chain([first], jobs),
            plan,
            after.take,
            summary,
            console,
            meanwhile=lambda: after.take_stored(planned),
        )
    else:
        after.take_stored(planned)
    executed = time.monotonic()
    graded_meanwhile = grading.seconds if grading else 0.0
    if grading is not None and not stop.stopped:
        if course.config.similarity.enabled:  # before the summary: its attention list shows the pairs
            similarity_step(course, assignment, console)
        try:
            grading.finish(sorted(summary.records))
        except Exception as error:
            if not is_disk_full(error):
                raise
            stop.full(error)
        summary.summary_path = grading.reports.summary_path

    for student, record in summary.records.items():
        summary.statuses[student] = stage_status(course, student, assignment, record)
        counts = summary.finding_counts.setdefault(student, {})
        for finding in list(record.findings) + load_check_findings(course, student, assignment):
            counts[finding.status] = counts.get(finding.status, 0) + 1
    summary.wall_seconds = time.monotonic() - start
    # the executions start as soon as the first notebook is planned, so the first two are moments in the batch
    summary.phases = {
        "featurised for the cohort": featurised.wall_seconds if featurised else 0.0,
        "all planned at": (planned.finished_at or start) - start,
        "all executed at": executed - start,
        "checks (within execute)": after.checks.seconds,
        "grading (within execute)": graded_meanwhile,
        "grading after": time.monotonic() - executed,
        # plan, checks, grading and imports; the executions' own CPU is in each result.json
        "CPU of this process": _own_cpu_seconds(),
    }
    if stop.stopped:
        raise _stopped(course, summary, stop)
    return summary


class PlannedExecutions:
    """The plan's decisions, student by student: iterating yields the executions, each handed to the
    pool as soon as its notebook is sanitised; the other decisions are kept in `decisions`."""

    def __init__(self, plan: BatchPlan, stop: BatchStop):
        self.plan, self.stop = plan, stop
        self.decisions: dict[str, tuple[str, object]] = {}
        self.finished_at: float | None = None  # when the last notebook was planned

    def __iter__(self):
        for student, kind, item in plan_each(self.plan):
            if self.stop.stopped:
                break
            self.decisions[student] = (kind, item)
            if kind == "execute":
                item.staged = True  # beside the stored execution, swapped in when complete
                yield item
        self.finished_at = time.monotonic()


class AfterExecution:
    """What follows an execution: its swap into place, its checks and its grade, as each one
    finishes; and, while the executions run, the same for the stored executions that need only
    the checks."""

    def __init__(
        self, plan: BatchPlan, summary: BatchSummary, grading: GradeStage | None, stop: BatchStop, console
    ):
        self.plan, self.summary, self.grading, self.stop, self.console = plan, summary, grading, stop, console
        self.checks = CheckStage(plan)

    def take(self, record: ExecutionRecord) -> None:
        """One finished execution (also an interrupted one: what stays on disk is decided here)."""
        course, student, assignment = self.plan.course, record.student_id, self.plan.assignment
        if record.status == INTERRUPTED:
            if record.environment.get("disk_full"):
                self.stop.full(record.environment["disk_full"])
            if record.environment.get("disk_full") or course.load_record(student, assignment) is not None:
                # the previous execution stands (or there is none, and a half-written run is worth nothing)
                course.discard_staging(student, assignment)
                if course.load_record(student, assignment) is not None:
                    self.summary.kept_previous.append(student)
            elif course.staging_dir(student, assignment).is_dir():
                course.install_execution(student, assignment)  # "interrupted": it runs again next time
            else:
                self.summary.not_started.append(student)
            return
        if course.staging_dir(student, assignment).is_dir():
            course.install_execution(student, assignment)
        try:
            self.checks.run(record)
            if self.grading is not None:
                self.grading.grade(student)
        except Exception as error:
            if not is_disk_full(error):
                raise
            self.stop.full(
                error
            )  # the execution is in place; its checks and grade are made at the next batch

    def take_stored(self, planned: PlannedExecutions) -> None:
        """Once every notebook is planned: the submissions nothing runs for go into the summary, and
        those that need only the checks are checked (and graded)."""
        summary = self.summary
        lists = {"done": summary.skipped, "stale": summary.stale, "missing": summary.not_executed}
        for student, (kind, item) in planned.decisions.items():
            if kind in ("intake", "unallocated", "done", "stale", "missing"):
                if isinstance(item, ExecutionRecord):  # or None (no stored execution)
                    summary.records[student] = item
                lists.get(kind, []).append(student)
        for label, names, advice in (
            ("Stale", summary.stale, "changed since they were executed (or the environment did)"),
            ("Not executed yet", summary.not_executed, "have no stored execution"),
        ):
            if names:
                self.console.print(
                    f"[yellow]{label}:[/] {len(names)} notebook(s) {advice}: {', '.join(names[:10])}"
                    f"{' ...' if len(names) > 10 else ''}; run without --no-execute to execute them."
                )
        for student, (kind, item) in planned.decisions.items():
            if self.stop.stopped:
                break
            if kind == "check" and isinstance(item, ExecutionRecord):  # a check's item: the stored execution
                self.take(item)
                summary.records[student] = item
                summary.checked.append(student)


def _stopped(course, summary: BatchSummary, stop: BatchStop):
    """What the batch stopped, what it kept, and how to resume, as one error."""
    stopped = sorted(set(summary.interrupted) - set(summary.kept_previous) - set(summary.not_started))
    finished = [s for s in summary.records if s not in summary.interrupted]
    parts = [f"{len(finished)} submission(s) finished and are kept"]
    if stopped:
        parts.append(
            f"stopped, {'to run again' if stop.disk_full else 'recorded as interrupted'}: "
            f"{', '.join(stopped[:10])}{' ...' if len(stopped) > 10 else ''}"
        )
    if summary.not_started:
        parts.append(
            f"not started: {', '.join(summary.not_started[:10])}{' ...' if len(summary.not_started) > 10 else ''}"
        )
    if summary.kept_previous:
        parts.append(
            f"re-runs stopped, previous execution, grade and page kept: {', '.join(summary.kept_previous[:10])}"
        )
    if stop.disk_full:
        free = _free_space(course.root)
        return DiskFull(
            f"The disk holding the course ({course.root}) is full{free}: {stop.disk_full}. The batch "
            f"stopped; {'; '.join(parts)}. Free some space, then run `autograder grade` again: it resumes "
            "where it stopped.",
            summary,
        )
    return BatchInterrupted(
        f"Stopped by {stop.reason}: {'; '.join(parts)}. Run `autograder grade` again to resume "
        "(finished submissions are not run again).",
        summary,
    )


def _free_space(root) -> str:
    try:
        return f" ({shutil.disk_usage(root).free // 1024**2} MB free)"
    except OSError:
        return ""


def _own_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
