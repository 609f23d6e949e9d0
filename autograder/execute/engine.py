"""Execute one submission: sanitise, run in the sandbox, record. Writes the submission's execution
folder (autograder.layout): the executed notebook (the submitted name), the results file (if the run
wrote it), the protocol trace, the log and the ExecutionRecord. The record's status and reason are
set here; its findings (what went wrong, and why) come from autograder.execute.diagnose.

Split in two so that a batch can decide cheaply what to run and ship the rest anywhere:
`prepare_job` (main process: intake check, allocation, sanitising, cache key) and `execute_job`
(a thread of the local pool or a Dask worker: the sandboxed run and the files it leaves). Both are
plain functions of plain data.

The record is this stage's status file: "running" while a run is under way (so a batch killed at
that moment runs it again), then "executed" or "failed". The later stages write their own files and
never this one. Inside the sandbox the record is bind-mounted read-only, so a notebook cannot forge it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from autograder.execute import sandbox as sb
from autograder.execute.diagnose import BUDGET_ENAME, diagnose, error_cells, stopped_cell, student_index
from autograder.execute.trace import read_trace
from autograder.findings import make
from autograder.layout import (
    ENGINE_FILES,
    LOG_FILE,
    NOTEBOOK_FILES_DIR,
    RESULT_FILE,
    RESULTS_FILE,
    TRACE_FILE,
    autograded_dir,
    is_recording,
    staging_dir,
    submitted_dir,
)
from autograder.records import (
    COULD_NOT_RUN,
    EXECUTED,
    FAILED,
    INTERRUPTED,
    MARKER,
    RUNNING,
    CellRun,
    ExecutionRecord,
)

RESULTS_KEEP_BYTES = 64 * 1024**2  # matbench results of the largest task are about 1 MB
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
    "NUMBA_NUM_THREADS",
)


@dataclass
class EngineSettings:
    cell_timeout: int = 1200
    timeout: int = 2700
    memory_limit: int | None = 8 * 1024**3
    disk_limit: int | None = 4 * 1024**3  # what a run may write to its folder and its home
    threads: int = 1
    seed: int = 2026
    use_bwrap: bool = True
    data_dir: str = ""  # host path of the matbench data cache
    feature_cache: str = ""  # host path of the cohort's featurisations (shown read-only), "" for none
    kernel_name: str = "python3"
    results_path: str = RESULTS_FILE
    grace_seconds: float = 60.0  # beyond `timeout`, before the sandbox is killed from outside
    max_cell_output: int | None = 1024**2  # bytes of output kept per cell in the executed notebook
    max_notebook_output: int | None = 5 * 1024**2  # and for the whole notebook (autograder.execute.outputs)


@dataclass
class Job:
    course_root: str
    student_id: str
    assignment: str
    notebook_name: str
    submitted_at: str | None
    challenge: str
    task: str
    sanitised: str  # notebook JSON
    changes: list[dict]
    parameters: dict
    cache_key: str
    environment: dict
    declared_packages: list[str]
    settings: EngineSettings
    support_files: list[str] = field(default_factory=list)
    staged: bool = False  # run beside the stored execution (a batch swaps it in when complete)

    @property
    def work_dir(self) -> Path:
        if self.staged:
            return staging_dir(self.course_root, self.student_id, self.assignment)
        return autograded_dir(self.course_root, self.student_id, self.assignment)

    @property
    def files_dir(self) -> Path:
        """The notebook's working folder: the only one it can write to, apart from the grader's files."""
        return self.work_dir / NOTEBOOK_FILES_DIR


# --- preparing -------------------------------------------------------------------------------------


def key_parameters(parameters: dict) -> dict:
    """The parameters that change what a notebook computes (n_jobs and the data path do not)."""
    return {k: v for k, v in parameters.items() if k not in ("n_jobs", "data_dir")}


def notebook_fingerprint(nb) -> list:
    """What of a notebook can change its execution: cell types, sources, nbgrader ids and tags
    (cell ids and metadata noise excluded, so re-saving a notebook does not invalidate the cache)."""
    return [
        [
            c.cell_type,
            c.source,
            c.metadata.get("nbgrader", {}).get("grade_id"),
            sorted(c.metadata.get("tags", [])),
        ]
        for c in nb.cells
    ] + [nb.metadata.get("kernelspec", {}).get("name")]


def cache_key(nb, parameters: dict, environment: dict) -> str:
    blob = json.dumps(
        {
            "notebook": notebook_fingerprint(nb),
            "parameters": key_parameters(parameters),
            "environment": environment,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def sandbox_parameters(settings: EngineSettings, challenge: str) -> dict:
    return {
        "challenge": challenge,
        "data_dir": sb.SANDBOX_DATA if settings.use_bwrap else settings.data_dir,
        "seed": settings.seed,
        "n_jobs": settings.threads,
        "results_path": settings.results_path,
    }


def prepare_job(
    course,
    student_id: str,
    assignment: str,
    settings: EngineSettings,
    challenge: str,
    task: str,
    reference,
    environment: dict,
    declared: list[str],
    submission,
) -> Job:
    """Sanitise the submission (an ok intake.Submission) and compute its cache key."""
    import nbformat

    from autograder.execute.sanitise import sanitise, shift_for_injection
    from autograder.intake import IGNORED_NAMES

    with warnings.catch_warnings():  # nbformat repairs ids duplicated by copied cells, noisily
        warnings.simplefilter("ignore")
        nb = nbformat.read(submission.folder / submission.notebook, as_version=4)
    clean, changes = sanitise(nb, reference)
    changes = shift_for_injection(clean, changes)
    parameters = sandbox_parameters(settings, challenge)
    support = [
        name
        for name in submission.other_files
        if name not in IGNORED_NAMES
        and name not in ENGINE_FILES
        and name != settings.results_path
        and not is_recording(name)
    ]
    from autograder.intake import released_notebook_name

    return Job(
        course_root=str(course.root),
        student_id=student_id,
        assignment=assignment,
        notebook_name=released_notebook_name(course, assignment),
        submitted_at=submission.submitted_at,
        challenge=challenge,
        task=task,
        sanitised=nbformat.writes(clean),
        changes=changes,
        parameters=parameters,
        cache_key=cache_key(clean, parameters, environment),
        environment=environment,
        declared_packages=declared,
        settings=settings,
        support_files=support,
    )


# --- executing -------------------------------------------------------------------------------------

# The runner is started from the autograder package that is grading (the sandbox binds it), not from
# whichever copy an editable install's finder points to: a second checkout grades with its own code.
RUN_ONE = (
    f"import runpy, sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r}); "
    "runpy.run_module('autograder.execute.run_one', run_name='__main__', alter_sys=True)"
)


def _sandbox_env(settings: EngineSettings, home: str, tmp: str) -> dict:
    threads = str(max(1, settings.threads))
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": tmp,
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "NUMBA_CACHE_DIR": f"{home}/.cache/numba",
        "XDG_CACHE_HOME": f"{home}/.cache",
        "XDG_CONFIG_HOME": f"{home}/.config",
        "XDG_DATA_HOME": f"{home}/.local/share",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "MATMINER_DATA": sb.SANDBOX_DATA if settings.use_bwrap else settings.data_dir,
        "PYTHONHASHSEED": str(settings.seed % 4294967296),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NBGRADER_EXECUTION": "autograde",
        "AUTOGRADER": "1",
    }
    env.update({name: threads for name in THREAD_VARIABLES})
    return env


def _data_binds(data_dir: str) -> dict[str, Path]:
    """The data sets only (matminer's <name>.json.gz files), not whatever else sits in the cache folder."""
    if not data_dir or not Path(data_dir).is_dir():
        return {}
    return {
        f"{sb.SANDBOX_DATA}/{p.name}": p.resolve()
        for p in sorted(Path(data_dir).glob("*.json.gz"))
        if p.is_file()
    }


def _feature_binds(settings: EngineSettings) -> dict[str, Path]:
    """The cohort's featurisation cache, read-only: no notebook can change what another one reads."""
    if not settings.feature_cache or not settings.use_bwrap or not Path(settings.feature_cache).is_dir():
        return {}
    return {sb.SANDBOX_FEATURES: Path(settings.feature_cache).resolve()}


def _feature_cache_inside(settings: EngineSettings, task: str) -> str:
    """Where the kernel finds its task's featurisations ("" for none): one folder a task, since an entry
    is named by the featuriser alone."""
    if not settings.feature_cache or not Path(settings.feature_cache).is_dir():
        return ""
    root = sb.SANDBOX_FEATURES if settings.use_bwrap else str(Path(settings.feature_cache).resolve())
    return f"{root}/{task}"


def _clear(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _copy_support(job: Job) -> None:
    source = submitted_dir(job.course_root, job.student_id, job.assignment)
    for name in job.support_files:
        path = source / name
        if path.is_file() and not path.is_symlink():
            shutil.copyfile(path, job.files_dir / name)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file the sandbox may have tampered with: never through a link it planted."""
    try:
        if path.is_symlink() or path.exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    except OSError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _read_private(path: Path, inside: Path) -> bytes | None:
    """Read a file the sandbox could have replaced, only if it really is inside `inside`."""
    if not os.path.realpath(path).startswith(os.path.realpath(inside) + os.sep):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _remove_links(folder: Path) -> list[str]:
    """Symbolic links a run left could make us (or the checks) read or write outside the folder."""
    removed = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                path.unlink()
                removed.append(str(path.relative_to(folder)))
    return removed


def _clear_written(work: Path, job: Job, settings: EngineSettings) -> list[str]:
    """After a run stopped for writing too much: remove what it wrote to its folder, so that one notebook
    cannot fill the grading machine's disk for the rest of the batch. Kept: the files that came with the
    submission and a results file of plausible size."""
    keep = set(job.support_files)
    removed = []
    for root, dirs, files in os.walk(work, topdown=False):
        for name in files:
            path = Path(root) / name
            relative = str(path.relative_to(work))
            if relative in keep or (
                relative == settings.results_path and path.stat().st_size <= RESULTS_KEEP_BYTES
            ):
                continue
            path.unlink()
            removed.append(relative)
        for name in dirs:
            try:
                (Path(root) / name).rmdir()
            except OSError:
                pass
    return sorted(removed)


def execute_job(job: Job, on_notebook=None) -> dict:
    """Run the job's notebook in the sandbox and record it. Returns ExecutionRecord.to_dict().
    on_notebook: called with each snapshot of the running notebook (bytes), for progress."""
    settings = job.settings
    work = job.work_dir
    record = ExecutionRecord(
        student_id=job.student_id,
        assignment=job.assignment,
        status=RUNNING,
        challenge=job.challenge,
        task=job.task,
        submitted_at=job.submitted_at,
        notebook=job.notebook_name,
        sandbox="bubblewrap" if settings.use_bwrap else "none",
        sanitise=job.changes,
        parameters=job.parameters,
        cache_key=job.cache_key,
    )
    nonce = secrets.token_hex(16)
    record.environment = {
        **job.environment,
        "trace_nonce": nonce,
        "threads": settings.threads,
        "host": socket.gethostname(),
        "worker_pid": os.getpid(),
        "memory_limit": settings.memory_limit,
    }
    if sb.STOP.is_set():  # the batch is stopping: this run never starts, and nothing is touched
        return _interrupted(record).to_dict()
    private = Path(tempfile.mkdtemp(prefix=f"autograder-{job.student_id}-"))
    try:
        _clear(work)
        job.files_dir.mkdir()
        _copy_support(job)
        record.save(work / RESULT_FILE)
        return _execute(job, record, work, private, nonce, on_notebook).to_dict()
    except OSError as error:
        if not is_disk_full(error):
            return _engine_error(record, work, error)
        record = _interrupted(record, disk_full=str(error))
        try:
            record.save(work / RESULT_FILE)
        except OSError:
            pass  # the disk is full: the batch says so, and runs this notebook again next time
        return record.to_dict()
    except Exception as error:  # noqa: BLE001 - an engine failure is recorded, never raised into the batch
        return _engine_error(record, work, error)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def is_disk_full(error: BaseException) -> bool:
    """The file system ran out of space (or the user's quota): the grading machine's problem."""
    return (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        type(error).__name__ == "OperationalError" and "disk is full" in str(error)
    )  # SQLite's words


def _interrupted(record: ExecutionRecord, disk_full: str = "") -> ExecutionRecord:
    record.status = INTERRUPTED
    record.reason = (
        f"The disk holding the course ran out of space while this notebook ran ({disk_full}); it runs "
        "again at the next `autograder grade`, once space is freed."
        if disk_full
        else "The batch was stopped while this notebook ran; it runs again at the next `autograder grade`."
    )
    if disk_full:
        record.environment["disk_full"] = disk_full  # the error, for the batch's message
    record.findings = []
    return record


def _engine_error(record: ExecutionRecord, work: Path, error: BaseException) -> dict:
    record.status, record.reason = (
        FAILED,
        f"The grader could not run this notebook: {type(error).__name__}: {error}",
    )
    record.environment["engine_error"] = True
    record.findings = [
        make(
            "execution.engine_error",
            COULD_NOT_RUN,
            "The grader could not run this notebook because of a problem on the "
            "grading machine, not in the notebook.",
            visibility=MARKER,
            details={"error": f"{type(error).__name__}: {error}"[:1000]},
        )
    ]
    try:
        record.save(work / RESULT_FILE)
    except OSError as full:
        if not is_disk_full(full):
            raise
        return _interrupted(record, disk_full=str(full)).to_dict()
    return record.to_dict()


def _execute(
    job: Job, record: ExecutionRecord, work: Path, private: Path, nonce: str, on_notebook=None
) -> ExecutionRecord:
    import nbformat

    settings = job.settings
    files = job.files_dir  # the notebook's working folder; the grader's files are in `work`, out of its reach
    home = private / "home"
    for sub in (".cache/numba", ".config/matplotlib", ".local/share/jupyter", ".ipython", ".jupyter"):
        (home / sub).mkdir(parents=True)  # writable caches for numba, matplotlib, fontconfig, IPython
    log_path = private / LOG_FILE
    if settings.use_bwrap:
        inner_home, inner_work, tmp = sb.SANDBOX_HOME, f"{sb.SANDBOX_HOME}/{job.assignment}", "/tmp"
    else:
        (home / "tmp").mkdir()
        inner_home, inner_work, tmp = str(home), str(files), str(home / "tmp")
    trace_inner = f"{inner_home}/.autograder/trace/{TRACE_FILE}"
    spec = sb.SandboxSpec(
        work_dir=files,
        home_dir=home,
        inner_work_dir=inner_work,
        env=_sandbox_env(settings, inner_home, tmp),
        readonly={**_data_binds(settings.data_dir), **_feature_binds(settings)},
        memory_limit=settings.memory_limit,
        disk_limit=settings.disk_limit,
        hard_timeout=(settings.timeout + settings.grace_seconds) if settings.timeout else None,
        use_bwrap=settings.use_bwrap,
    )
    payload = {
        "notebook": job.sanitised,
        "parameters": job.parameters,
        "kernel_name": settings.kernel_name,
        "cell_timeout": settings.cell_timeout or None,
        "timeout": settings.timeout or None,
        "memory_limit": settings.memory_limit,
        "nonce": nonce,
        "trace_path": trace_inner,
        "max_cell_output": settings.max_cell_output,
        "feature_cache": _feature_cache_inside(settings, job.task),
    }
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(
            f"# {job.student_id}/{job.assignment}: started {time.strftime('%Y-%m-%d %H:%M:%S')}, "
            f"sandbox={record.sandbox}, cell budget {settings.cell_timeout} s, notebook budget "
            f"{settings.timeout} s, memory {sb.format_size(settings.memory_limit)}\n"
        )
    inner = [sys.executable, "-I", "-c", RUN_ONE, "{frame_fd}"]
    result = sb.run_sandboxed(spec, inner, json.dumps(payload).encode(), log_path, on_notebook=on_notebook)

    record.wall_seconds = round(result.wall_seconds, 3)
    record.cpu_seconds = round(result.cpu_seconds, 3)
    record.peak_memory_mb = round(result.peak_memory_bytes / 1024**2, 1)
    record.environment["memory_method"] = result.memory_method
    if result.killed == "interrupted":  # the batch is stopping: a partial run is worth nothing
        record = _interrupted(record)
        record.save(work / RESULT_FILE)
        return record
    removed_links = _remove_links(files)
    cleared = _clear_written(files, job, settings) if result.killed == "disk" else []

    outcome = result.outcome or {}
    nb = None
    if result.notebook:
        try:
            nb = nbformat.reads(result.notebook.decode("utf-8"), as_version=4)
        except Exception:  # noqa: BLE001 - a torn snapshot
            nb = None
    cuts: list[dict] = []
    if nb is not None:
        from autograder.execute.outputs import bound_notebook  # with nbformat: only when a notebook ran
        from autograder.execute.sanitise import PAPERMILL_ERROR_TAG

        nb.cells = [c for c in nb.cells if PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]
        if _course_disk_full(work, nb):
            raise OSError(errno.ENOSPC, "No space left on device: the notebook's writes failed", str(work))
        record.cells = _cell_runs(nb, outcome, result)
        cuts = bound_notebook(nb, settings.max_cell_output, settings.max_notebook_output)
        _write_private(work / job.notebook_name, nbformat.writes(nb).encode("utf-8"))
    trace_bytes = _read_private(home / ".autograder" / "trace" / TRACE_FILE, home)
    if trace_bytes is not None:
        _write_private(work / TRACE_FILE, trace_bytes)
        record.trace_file = TRACE_FILE
    results = files / settings.results_path
    if results.is_file() and not results.is_symlink():
        record.results_file = f"{NOTEBOOK_FILES_DIR}/{settings.results_path}"
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(
            f"\n# finished: exit {result.returncode}, killed={result.killed}, wall {record.wall_seconds} s, "
            f"cpu {record.cpu_seconds} s, peak {record.peak_memory_mb} MB, memory limit by "
            f"{result.memory_method}; outcome {json.dumps({k: v for k, v in outcome.items() if k != 'started'})}\n"
        )
    _write_private(work / LOG_FILE, log_path.read_bytes())

    record.status, record.reason = _status(job, record, outcome, result, nb)
    if record.reason and nb is None:
        record.environment["engine_error"] = outcome.get("exception") is not None or not result.outcome
    findings = diagnose(
        record,
        outcome,
        result,
        nb,
        settings,
        changes=job.changes,
        declared_packages=job.declared_packages,
        cuts=cuts,
        removed_links=removed_links,
        cleared=cleared,
    )
    if record.trace_file:
        trace = read_trace(work / TRACE_FILE, nonce)
        if not trace.valid:
            record.environment["trace_problem"] = trace.problem
        served = feature_cache_use(trace.events)
        if served:
            record.environment["feature_cache"] = served
    record.findings = findings
    record.save(work / RESULT_FILE)
    return record


def feature_cache_use(events: list[dict]) -> dict:
    """What the kernel read from the cohort's featurisation cache: entries served, the CPU seconds their
    computation took when the cache was filled, and each call it could not serve, with the reason."""
    served = [e for e in events if e.get("event") == "feature_cache" and e.get("served")]
    missed = [e for e in events if e.get("event") == "feature_cache" and not e.get("served")]
    if not served and not missed:
        return {}
    return {
        "served": sum(int(e.get("served") or 0) for e in served),
        "seconds_saved": round(sum(float(e.get("seconds_saved") or 0) for e in served), 1),
        "not_served": [f"{e.get('featuriser')}: {e.get('reason')}"[:200] for e in missed][:10],
    }


DISK_FULL_MARGIN = 16 * 1024**2  # free bytes below which "No space left on device" is the course disk's


def _course_disk_full(work: Path, nb) -> bool:
    """A cell failed for want of space and the course's file system (the one the run wrote to) is full:
    the grading machine's problem, not the student's (their own over-writing is the disk limit's)."""
    if not any("No space left on device" in v for _, _, v in error_cells(nb)):
        return False
    try:
        return shutil.disk_usage(work).free < DISK_FULL_MARGIN
    except OSError:
        return True


def _describe_exit(code) -> str:
    if code is None:
        return "it stopped for an unknown reason"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGSEGV:
            return f"it crashed ({name}, a segmentation fault, usually a bug in compiled code or a library)"
        if -code == signal.SIGKILL:
            return f"it was killed ({name}; often the system running out of memory)"
        return f"it was stopped by {name}"
    return f"it exited with status {code} (for example sys.exit() in a library, or os._exit({code}))"


def _cell_runs(nb, outcome: dict, result: sb.SandboxResult) -> list[CellRun]:
    exception = (outcome.get("exception") or {}).get("type")
    stopped_at = outcome.get("current_cell") if exception in ("DeadKernelError", "CellTimeoutError") else None
    from autograder.execute.sanitise import INJECTED_TAG

    budget = outcome.get("deadline_hit") or result.killed == "timeout"
    runs = []
    reached = True
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        ours = cell.metadata.get("autograder") or {}
        pm = cell.metadata.get("papermill") or {}
        error = ours.get("error")
        if ours.get("status"):
            status = ours["status"]
        elif index == stopped_at or pm.get("status") == "running":
            status = "timeout" if (budget or exception == "CellTimeoutError") else "killed"
            reached = False
            if status == "killed":
                error = {
                    "ename": "DeadKernelError",
                    "evalue": "the kernel stopped: "
                    + {"memory": "out of memory", "disk": "it wrote more files than the disk limit"}.get(
                        result.killed, _describe_exit(outcome.get("kernel_exit"))
                    ),
                }
            else:
                error = {
                    "ename": BUDGET_ENAME,
                    "evalue": "the time budget ran out while this cell was running",
                }
        elif not cell.source.strip() and reached:
            status = "completed"
        else:
            status = "pending"
            reached = False
        if status == "failed" and not error:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    error = {"ename": output.get("ename"), "evalue": str(output.get("evalue"))[:500]}
                    break
        pm_status = {"completed": "completed", "pending": "pending"}.get(status, "failed")
        if pm:
            pm["status"] = pm_status  # papermill marks never-run cells "completed" after a kernel death
        injected = INJECTED_TAG in cell.metadata.get("tags", [])
        runs.append(
            CellRun(
                index=index,
                status=status,
                cell_id=cell.get("id"),
                grade_id=cell.metadata.get("nbgrader", {}).get("grade_id"),
                duration=pm.get("duration"),
                error=error,
                number=None if injected else student_index(nb, index) + 1,
                injected=injected,
            )
        )
    return runs


def _minutes(seconds) -> str:
    return f"{seconds / 60:.0f} min" if seconds and seconds >= 120 else f"{seconds} s"


def _not_run(nb, record: ExecutionRecord) -> str:
    """Which cells did not run, as the student numbers them ("cells 84 to 97")."""
    pending = [student_index(nb, c.index) + 1 for c in record.cells if c.status == "pending"]
    if not pending:
        return "no cell after it was left"
    if len(pending) == 1:
        return f"cell {pending[0]} did not run"
    return f"cells {pending[0]} to {pending[-1]} ({len(pending)} code cells) did not run"


def _status(
    job: Job, record: ExecutionRecord, outcome: dict, result: sb.SandboxResult, nb
) -> tuple[str, str]:
    settings = job.settings
    stopped = stopped_cell(record)
    where = f" in cell {student_index(nb, stopped.index) + 1}" if stopped else ""
    exception = outcome.get("exception") or {}
    if result.killed == "memory":
        return FAILED, (
            f"The notebook used more memory than the limit for one submission "
            f"({sb.format_size(settings.memory_limit)}) and was stopped{where}; the cells after it "
            "did not run."
        )
    if result.killed == "disk":
        return FAILED, (
            f"The notebook wrote more than {sb.format_size(settings.disk_limit)} of files (the limit for "
            f"one submission, in its folder and home) and was stopped{where}; the cells after it did not "
            "run, and the files it wrote were removed."
        )
    if outcome.get("deadline_hit") or result.killed == "timeout":
        return FAILED, (
            f"The notebook did not finish within {_minutes(settings.timeout)}, the time budget for the "
            f"whole notebook: the budget ran out{where}, and {_not_run(nb, record)}."
        )
    if exception.get("type") == "CellTimeoutError":
        which = f"Cell {student_index(nb, stopped.index) + 1}" if stopped else "A cell"
        return FAILED, (
            f"{which} ran longer than {settings.cell_timeout} s (the time budget for one cell) and "
            "could not be interrupted; the notebook was stopped there and the cells after it did not run."
        )
    if exception.get("type") == "DeadKernelError":
        return FAILED, (
            f"The Python kernel stopped{where}: {_describe_exit(outcome.get('kernel_exit'))}. "
            "The cells after it did not run."
        )
    if nb is None or not result.outcome:
        detail = exception.get("message") or f"the sandbox exited with status {result.returncode}"
        return FAILED, f"The grader could not run this notebook ({detail}). See {LOG_FILE}."
    if exception:
        return (
            FAILED,
            f"The grader could not finish running this notebook ({exception.get('type')}: "
            f"{exception.get('message', '')[:300]}). See {LOG_FILE}.",
        )
    raised = [c for c in record.cells if c.status == "failed"]
    if raised and not record.results_file:  # every cell ran, but the protocol never saved its results
        error = raised[0].error or {}
        more = f"; {len(raised)} cells raised an error in all" if len(raised) > 1 else ""
        return FAILED, (
            f"Cell {student_index(nb, raised[0].index) + 1} raised {error.get('ename')}: "
            f"{str(error.get('evalue'))[:200]}, and the notebook did not save its results "
            f"({settings.results_path}){more}."
        )
    return EXECUTED, ""
