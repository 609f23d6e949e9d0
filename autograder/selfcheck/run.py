"""`--execute`: run the notebook as the grader does, with the grading engine (execute_job) in a
temporary folder, and give the check what that run left: the executed notebook, its results file,
the protocol trace and the execution record (`_Run`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.layout import EXECUTED_COPY_SUFFIX, TRACE_FILE
from autograder.records import STUDENT, Finding
from autograder.selfcheck.report import Note, SelfCheckError


@dataclass
class _Run:
    notebook: Path  # the executed notebook, in the temporary work folder
    results: Path
    trace: Path | None
    record: object  # ExecutionRecord
    nonce: str | None
    summary: dict
    notes: list[Note]
    root: Path  # the temporary folder to remove
    engine_findings: list[Finding] = field(default_factory=list)


def _execute(path: Path, challenge, course, progress) -> _Run:
    """Run the notebook with the grading engine (autograder.execute.engine.execute_job), as a batch
    would: the notebook sanitised against the instructor's (or released) notebook, the same papermill
    parameters (challenge, data_dir, seed, n_jobs, results_path), the protocol trace, the course's
    budgets, and the bubblewrap sandbox when it works here (else unsandboxed, and the report says so).
    Only the notebook goes in: files beside it are not copied, as the grader only gets the notebook.
    `challenge` is already known (checklist._challenge_to_run). While it runs, `progress` hears which
    cell runs and for how long; afterwards the executed notebook is copied beside the student's
    (executed_copy_path), where they can open it."""
    import tempfile

    from autograder.course import data
    from autograder.course.config import CourseConfig

    config = course.config if course is not None else CourseConfig()
    if not data.dataset_path(challenge.task).exists():
        try:
            with contextlib.redirect_stdout(sys.stderr):
                data.fetch(challenge.task)
        except data.DataMissingError as error:
            raise SelfCheckError(
                f"The notebook cannot run without its data set. {error}", "data-missing"
            ) from None

    try:
        import nbformat

        from autograder.execute import engine
        from autograder.execute import sandbox as sb
        from autograder.execute.sanitise import load_reference, sanitise, shift_for_injection
    except ImportError as error:
        raise SelfCheckError(
            f"`--execute` needs the grading engine, which cannot be loaded here ({error}). Run the "
            "notebook top to bottom yourself, save it, and check it without --execute.",
            "execute-unavailable",
        ) from None

    usable, why = sb.bwrap_status()
    notes = []
    if not usable:
        notes.append(
            Note(
                "unsandboxed",
                f"The notebook ran UNSANDBOXED on this machine ({why}): it could use the "
                "network and files outside its folder, which the grader's sandbox "
                "forbids. Errors of that kind show up only when the grader runs it.",
            )
        )
    execution = config.execution
    settings = engine.EngineSettings(
        cell_timeout=execution.cell_timeout,
        timeout=execution.timeout,
        memory_limit=sb.parse_size(execution.memory_limit),
        disk_limit=sb.parse_size(execution.disk_limit),
        threads=execution.threads_per_kernel or max(1, os.cpu_count() or 1),
        seed=execution.seed,
        use_bwrap=usable,
        data_dir=str(data.data_home()),
    )
    reference_path = None
    if course is not None:
        source = course.source_dir() / f"{course.assignment}.ipynb"
        reference_path = source if source.is_file() else None
    if reference_path is None:
        from autograder.checks.context import find_released_notebook

        reference_path = find_released_notebook(course)
    nb = nbformat.read(path, as_version=4)
    clean, changes = sanitise(nb, load_reference(reference_path) if reference_path else None)
    changes = shift_for_injection(clean, changes)  # as the grader's (engine.prepare_job)
    parameters = engine.sandbox_parameters(settings, challenge.letter)
    root = Path(tempfile.mkdtemp(prefix="autograder-check-"))
    assignment = course.assignment if course is not None else "research_challenge"
    support = _hand_in_beside(path, root, assignment, settings.results_path)
    if support:
        notes.append(
            Note(
                "ran-with-files",
                "The notebook ran with the files beside it ("
                + ", ".join(support[:8])
                + (" …" if len(support) > 8 else "")
                + "), as the grader runs it with the files you hand "
                "in: hand them in with the notebook.",
            )
        )
    declared = _declared_packages(course, path)
    job = engine.Job(
        course_root=str(root),
        student_id="self-check",
        assignment=assignment,
        notebook_name=_released_name(course, reference_path, path),
        submitted_at=None,
        challenge=challenge.letter,
        task=challenge.task,
        sanitised=nbformat.writes(clean),
        changes=changes,
        parameters=parameters,
        cache_key="",
        environment={},
        declared_packages=declared,
        settings=settings,
        support_files=support,
    )
    if progress:
        progress(
            f"Running {path.name} from top to bottom as the grader does "
            f"({'in the bubblewrap sandbox' if usable else 'UNSANDBOXED'}; challenge {challenge.letter}, "
            f"{settings.threads} core{'s' if settings.threads > 1 else ''})… this takes as long as the "
            "notebook takes."
        )
    from autograder.records import ExecutionRecord

    watcher = _CellProgress(progress) if progress else None
    try:
        record = ExecutionRecord.from_dict(engine.execute_job(job, on_notebook=watcher))
    finally:
        if watcher is not None:
            watcher.stop()
    work = job.work_dir
    summary = {
        "status": record.status,
        "reason": record.reason,
        "sandbox": record.sandbox,
        "wall_seconds": record.wall_seconds,
        "cpu_seconds": record.cpu_seconds,
        "peak_memory_mb": record.peak_memory_mb,
        "parameters": {k: v for k, v in parameters.items() if k != "data_dir"},
        "sanitised": [c.get("message", "") for c in changes],
        "failed_cells": failed_cells(record),
    }
    copy = _keep_executed_copy(work / job.notebook_name, path)
    summary["executed_copy"] = str(copy) if copy is not None else None
    if progress:
        progress(run_summary(summary))
    results = work / record.results_file if record.results_file else job.files_dir / settings.results_path
    trace = work / (record.trace_file or TRACE_FILE)
    engine_findings, missing = _as_this_machine_sees_it(record.findings, declared)
    if missing:
        notes.append(
            Note(
                "course-environment-missing",
                f"Your notebook could not run here: this Python lacks {', '.join(missing)}, which the course "
                "environment provides (requirements.txt lists "
                f"{'it' if len(missing) == 1 else 'them'}) and the grader has. Install the course "
                "environment in this Python (`pip install -r requirements.txt && pip install --no-deps "
                "matbench==0.6`, in the released folder) and check again; or run the notebook in the course "
                "environment yourself, save it, and check it without --execute. What failed below because "
                "of it says nothing about your work.",
            )
        )
    return _Run(
        notebook=work / job.notebook_name,
        results=results,
        trace=trace,
        record=record,
        nonce=(record.environment or {}).get("trace_nonce"),
        summary=summary,
        notes=notes,
        root=root,
        engine_findings=engine_findings,
    )


def _as_this_machine_sees_it(findings: list[Finding], declared: list[str]) -> tuple[list[Finding], list[str]]:
    """The engine's findings for the student, said of the machine the check ran on: a package the course
    environment has but this Python lacks is the machine's, not the notebook's (returned apart, for a note);
    with no requirements.txt to go by, a missing package is one this Python lacks, not one the course
    environment lacks."""
    import dataclasses

    shown, missing = [], []
    for finding in findings:
        if finding.check_id == "environment.declared_but_missing":
            missing.append(str((finding.details or {}).get("package") or ""))
        elif finding.visibility != STUDENT:
            continue
        elif (
            finding.check_id == "environment.missing_package"
            and not declared
            and (finding.details or {}).get("package")
        ):
            details = finding.details
            shown.append(
                dataclasses.replace(
                    finding,
                    message=f"Cell {details['cell'] + 1} imports `{details['module'].split('.')[0]}` (package "
                    f"{details['package']}), which this Python does not have; no requirements.txt beside "
                    "the notebook says whether the course environment has it.",
                    advice="Check with the course environment (requirements.txt, released with the assignment): install "
                    "it and check again, or ask the instructor to add the package well before the deadline.",
                )
            )
        else:
            shown.append(finding)
    return shown, [m for m in missing if m]


def _released_name(course, reference_path, path: Path) -> str:
    """The name the grader gives the notebook when it runs it (the released notebook's)."""
    if course is not None:
        from autograder.intake import released_notebook_name

        return released_notebook_name(course)
    return reference_path.name if reference_path is not None else path.name


def _hand_in_beside(path: Path, root: Path, assignment: str, results_name: str) -> list[str]:
    """The files beside the notebook that the grader would run it with if they were handed in with it
    (intake's sorting of a submission folder, and the engine's choice of support files), copied where
    the engine takes a submission's files from."""
    from autograder.intake import IGNORED_NAMES, _classify
    from autograder.layout import ENGINE_FILES, submitted_dir

    try:
        _, _, others = _classify(path.parent)
    except OSError:
        return []
    names = [n for n in others if n not in IGNORED_NAMES and n not in ENGINE_FILES and n != results_name]
    target = submitted_dir(root, "self-check", assignment)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        source = path.parent / name
        if source.is_file() and not source.is_symlink():
            with contextlib.suppress(OSError):
                shutil.copyfile(source, target / name)
                copied.append(name)
    return copied


def _declared_packages(course, path: Path) -> list[str]:
    """The course environment's packages, for the engine's findings on a missing package: the course's
    requirements.txt, else (a student's released folder) the requirements.txt beside the notebook."""
    try:
        from autograder.execute.environment import REQUIREMENTS, course_packages, requirements_path

        if course is not None and requirements_path(course).is_file():
            return course_packages(requirements_path(course))
        return course_packages(path.parent / REQUIREMENTS)
    except Exception:  # noqa: BLE001 - only sharpens a message
        return []


def executed_copy_path(path: Path) -> Path:
    """Where --execute leaves the run it checked: NB.executed.ipynb beside NB.ipynb (a name that can
    never be the student's own file: checking NB.executed.ipynb gives NB.executed.executed.ipynb)."""
    stem = path.name.removesuffix(".ipynb")
    return path.with_name(stem + EXECUTED_COPY_SUFFIX)


def _keep_executed_copy(executed: Path, original: Path) -> Path | None:
    """Copy the executed notebook beside the student's; a folder we may not write to only costs the
    copy (the check goes on)."""
    if not executed.is_file():
        return None
    target = executed_copy_path(original)
    try:
        shutil.copyfile(executed, target)
    except OSError:
        return None
    return target


def failed_cells(record) -> list[dict]:
    """The cells that did not complete, each by its number as the student counts it (1-based, papermill's
    injected parameters cell not counted: the engine's messages number cells so too)."""
    return [
        {
            "cell": c.number or c.index + 1,
            "status": c.status,
            "error": f"{(c.error or {}).get('ename', '')}: {(c.error or {}).get('evalue', '')}".strip(": ")[
                :300
            ],
        }
        for c in record.cells
        if c.status not in ("completed", "pending")
    ]


def run_summary(summary: dict) -> str:
    """One line on how the run went: its time, its status, how many cells failed and the first."""
    failed = summary.get("failed_cells") or []
    text = f"Ran in {summary.get('wall_seconds') or 0:.0f} s: "
    if failed:
        first = failed[0]
        text += (
            f"{len(failed)} cell{'s' if len(failed) > 1 else ''} failed, the first cell {first['cell']}"
            + (f" ({first['error']})" if first.get("error") else f" ({first['status']})")
        )
    elif summary.get("status") == "executed":
        text += "every cell ran without an error"
    else:
        text += str(summary.get("status"))
    if summary.get("reason"):
        text += f". {summary['reason'].rstrip('.')}"
    if summary.get("executed_copy"):
        text += f". The executed notebook: {summary['executed_copy']}"
    return text + "."


class _CellProgress:
    """Tells which cell runs and for how long, from the engine's snapshots of the running notebook
    (papermill marks the running cell), and every `every` seconds while one cell keeps running.
    Never raises: progress must not break the run."""

    def __init__(self, progress, every: float = 30.0):
        self.progress, self.every = progress, every
        self.started = time.monotonic()
        self.current: tuple[int, int, str] | None = None  # (cell number, of how many, first line)
        self.since = self.started
        self.lock = threading.Lock()
        self.done = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()

    def __call__(self, payload: bytes) -> None:
        from autograder.execute.sanitise import INJECTED_TAG

        try:
            # cells numbered as the student counts them (as every message does): all cells, papermill's
            # injected parameters cell left out
            cells = [
                c
                for c in json.loads(payload).get("cells", [])
                if INJECTED_TAG not in (c.get("metadata", {}).get("tags") or [])
            ]
            running = next(
                (
                    n
                    for n, c in enumerate(cells, 1)
                    if (c.get("metadata", {}).get("papermill") or {}).get("status") == "running"
                ),
                None,
            )
            if running is None:
                return
            with self.lock:
                if self.current is not None and self.current[0] == running:
                    return
                source = cells[running - 1].get("source", "")
                source = "".join(source) if isinstance(source, list) else str(source)
                first = next((line.strip() for line in source.splitlines() if line.strip()), "")
                self.current, self.since = (running, len(cells), first[:60]), time.monotonic()
            self._say()
        except Exception:  # noqa: BLE001, S110 - a torn or odd snapshot: no progress line, the run goes on
            pass

    def _say(self, still: bool = False) -> None:
        with self.lock:
            if self.current is None:
                return
            number, total, first = self.current
            now = time.monotonic()
            text = (
                f"  cell {number} of {total} {'still running' if still else 'running'}"
                + (f" ({now - self.since:.0f} s in this cell" if still else f" ({first}" if first else " (")
                + f", {now - self.started:.0f} s so far)"
            )
        self.progress(text)

    def _tick(self) -> None:
        while not self.done.wait(self.every):
            if self.current is not None and time.monotonic() - self.since >= self.every:
                self._say(still=True)

    def stop(self) -> None:
        self.done.set()
