"""Where the executions run: a registry of runners, as papermill's engine registry.

A runner takes the jobs (an iterable: each is handed over as soon as it is prepared) and reports
each one as it starts and finishes; `meanwhile` runs once every job is handed over (the batch uses
it to check the stored executions while the new ones run). Two are registered:

    local  a pool of threads, each driving one sandboxed subprocess (threads are enough: the work is
           in the subprocess, the GIL is not involved)
    dask   a Dask distributed cluster that sees the course directory at the same path

`run_executions` drives one with the batch's progress display.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from autograder.batch.options import BatchError, BatchSummary
from autograder.batch.planning import BatchPlan
from autograder.execute import sandbox as sb
from autograder.execute.engine import Job, execute_job
from autograder.layout import RESULT_FILE
from autograder.records import FAILED, INTERRUPTED, ExecutionRecord


class Runners:
    """The runners by name (`RUNNERS.register("local", LocalRunner)`)."""

    def __init__(self):
        self._runners: dict[str, type] = {}

    def register(self, name: str, runner: type) -> None:
        self._runners[name] = runner

    def get(self, name: str) -> type:
        try:
            return self._runners[name]
        except KeyError:
            raise BatchError(f"Unknown runner {name!r}; known: {', '.join(sorted(self._runners))}.") from None


RUNNERS = Runners()


class LocalRunner:
    def __init__(self, plan: BatchPlan, summary: BatchSummary):
        self.workers = plan.workers

    def run(
        self,
        jobs: Iterable[Job],
        started: Callable[[Job], None],
        finished: Callable[[dict], None],
        submitted: Callable[[int], None],
        meanwhile: Callable[[], None],
    ) -> None:
        def run(job: Job) -> dict:
            started(job)
            return execute_job(job)

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grade") as pool:
            futures = {}
            for job in jobs:
                futures[pool.submit(run, job)] = job
                submitted(len(futures))
            meanwhile()
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - execute_job records its own failures
                    result = crashed(futures[future], error)
                finished(result)


class DaskRunner:
    def __init__(self, plan: BatchPlan, summary: BatchSummary):
        self.address, self.summary = plan.options.scheduler, summary

    def run(
        self,
        jobs: Iterable[Job],
        started: Callable[[Job], None],
        finished: Callable[[dict], None],
        submitted: Callable[[int], None],
        meanwhile: Callable[[], None],
    ) -> None:
        address = self.address
        try:
            from distributed import Client
            from distributed import as_completed as dask_completed
        except ImportError as error:
            raise BatchError("Dask distributed is not installed (pip install distributed).") from error
        try:
            client = Client(address, timeout="10s")
        except OSError as error:
            raise BatchError(
                f"Cannot reach the Dask scheduler at {address} ({error}). Start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1` on machines "
                "that see the course directory at the same path."
            ) from None
        with client:
            try:
                client.wait_for_workers(1, timeout=60)
            except (TimeoutError, OSError):
                raise BatchError(
                    f"The Dask scheduler at {address} has no workers: start some with "
                    f"`dask worker {address} --nthreads 1` on machines that see the course "
                    "directory at the same path."
                ) from None
            slots = sum(client.nthreads().values()) or 1
            summary = self.summary
            summary.workers, summary.sandbox = (
                slots,
                summary.sandbox + f" on Dask ({len(client.nthreads())} workers)",
            )
            futures, by_key = [], {}
            for job in jobs:
                future = client.submit(
                    execute_job, job, pure=False, key=f"grade-{job.student_id}-{os.urandom(4).hex()}"
                )
                futures.append(future)
                by_key[future.key] = job
                submitted(len(futures))
            for job in list(by_key.values())[:slots]:  # the cluster starts as many as it has slots
                started(job)
            meanwhile()
            waiting = list(by_key.values())[slots:]
            for future in dask_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - a lost worker etc.
                    result = crashed(by_key[future.key], error)
                finished(result)
                if (
                    sb.STOP.is_set()
                ):  # stopping: what has not started never will (runs under way are cancelled)
                    client.cancel(futures)
                    break
                if waiting:
                    started(waiting.pop(0))


RUNNERS.register("local", LocalRunner)
RUNNERS.register("dask", DaskRunner)


def crashed(job: Job, error: BaseException) -> dict:
    """The record of a job whose runner failed (not the notebook): it runs again next time."""
    record = ExecutionRecord(
        student_id=job.student_id,
        assignment=job.assignment,
        status=FAILED,
        challenge=job.challenge,
        task=job.task,
        cache_key=job.cache_key,
        reason=f"The grader could not run this notebook: {type(error).__name__}: {error}",
    )
    record.environment = {"engine_error": True}
    record.save(job.work_dir / RESULT_FILE)
    return record.to_dict()


def run_executions(
    jobs: Iterable[Job],
    plan: BatchPlan,
    checked: Callable,
    summary: BatchSummary,
    console,
    meanwhile: Callable[[], None],
) -> None:
    """Run the jobs on the chosen runner and check and grade each as it finishes, with a progress
    line (done / running / failed / interrupted). `checked` gets every finished record, also an
    interrupted one (the batch decides what stays on disk)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    state = {"running": 0, "done": 0, "failed": 0, "interrupted": 0}
    lock = threading.Lock()

    def describe() -> str:
        return (
            f"grading  [green]done {state['done']}[/]  [cyan]running {state['running']}[/]  "
            f"[red]failed {state['failed']}[/]"
            + (f"  [yellow]interrupted {state['interrupted']}[/]" if state["interrupted"] else "")
        )

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=not plan.options.progress,
        transient=False,
    )

    with progress:
        task = progress.add_task(describe(), total=None)

        def started(job: Job) -> None:
            with lock:
                state["running"] += 1
            progress.update(task, description=describe())

        def finished(record_dict: dict) -> None:
            record = ExecutionRecord.from_dict(record_dict)
            checked(record)
            summary.records[record.student_id] = record
            (summary.interrupted if record.status == INTERRUPTED else summary.executed).append(
                record.student_id
            )
            with lock:
                state["running"] = max(0, state["running"] - 1)
                if record.status == INTERRUPTED:
                    state["interrupted"] += 1
                else:
                    state["done"] += 1
                if record.status == FAILED:
                    state["failed"] += 1
            progress.update(task, advance=1, description=describe())

        runner = RUNNERS.get("dask" if plan.options.scheduler else "local")(plan, summary)
        runner.run(jobs, started, finished, lambda n: progress.update(task, total=n), meanwhile)
