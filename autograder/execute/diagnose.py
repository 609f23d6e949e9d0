"""What went wrong in a run, as findings: the diagnosis of one execution, after the engine has run it
and set its status (autograder.execute.engine keeps the orchestration: sanitise, run, record).

`diagnose` is the one entry: it returns the run's findings in a fixed order, one function per kind:

    output_cut          outputs cut to the grader's bound, per cell and per notebook
    run_stopped         the run stopped: memory, disk, whole-notebook or cell budget, kernel died, not run
    cells_interrupted   cells that hit the per-cell budget while the notebook went on
    out_of_memory       a process stopped for memory, a cell's MemoryError
    network_blocked     a cell that tried the internet
    outside_files       a cell that used a file outside the notebook's folder
    missing_files       a cell that read a file that was not handed in
    cell_errors         any other error, the first one first, tied to an explained error before it
    package_findings    modules not installed, installs the grader neutralised (autograder.execute.environment)
    sanitise_changes    locked cells restored, locked cells copied
    links_removed       links out of the notebook's folder, removed before grading

Cells are numbered as the student numbers them (`student_index`): the engine uses the same helpers
for its status message and its cell runs.
"""

from __future__ import annotations

import re

from autograder.execute import sandbox as sb
from autograder.findings import make
from autograder.layout import RESULTS_FILE
from autograder.records import (
    COULD_NOT_RUN,
    FAIL,
    FAILED,
    INFO,
    MARKER,
    WARN,
    CellRun,
    ExecutionRecord,
    Finding,
)

_NETWORK_HINTS = (
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "No address associated",
    "Failed to establish a new connection",
    "getaddrinfo failed",
    "nodename nor servname",
)
_FS_HINTS = ("Read-only file system", "Permission denied", "No such file or directory: '/")
_NETWORK_ERRORS = ("URLError", "ConnectionError", "gaierror", "MaxRetryError", "NewConnectionError")
BUDGET_ENAME = "Timeout"  # the error engine._cell_runs gives the cell the whole-notebook budget stopped

ErrorCell = tuple[int, str, str]  # (student's cell index, error name, error value)


def diagnose(
    record: ExecutionRecord,
    outcome: dict,
    result: sb.SandboxResult,
    nb,
    settings,
    *,
    changes: list[dict],
    declared_packages: list[str],
    cuts: list[dict],
    removed_links: list[str],
    cleared: list[str],
) -> list[Finding]:
    """The findings of one run, in this order. `record` has its status, reason and cells; `nb` is the
    executed notebook with its outputs bound (None when none came back); `settings` the run's
    EngineSettings; `changes` the sanitising changes; `cuts` the outputs cut (outputs.bound_notebook);
    `removed_links` and `cleared` the links and files the engine removed after the run."""
    errors = error_cells(nb)
    stopped = stopped_cell(record) if record.status == FAILED else None
    memory = [(i, e, v) for i, e, v in errors if e == "MemoryError"]
    network = [(i, e, v) for i, e, v in errors if any(h in v for h in _NETWORK_HINTS) or e in _NETWORK_ERRORS]
    filesystem = [(i, e, v) for i, e, v in errors if any(h in v for h in _FS_HINTS)]
    missing = [
        (i, e, v, name)
        for i, e, v in errors
        if (name := _missing_file(e, v)) and i not in {j for j, _, _ in filesystem}
    ]
    explained = {i for i, _, _ in memory + network + filesystem} | {i for i, *_ in missing}
    changes = [_renumbered(change, nb) for change in changes]

    findings = output_cut(nb, cuts, settings)
    findings += run_stopped(record, outcome, result, nb, stopped)
    findings += cells_interrupted(record, nb, settings, stopped)
    findings += out_of_memory(record, result, settings, memory)
    findings += network_blocked(network)
    findings += outside_files(filesystem)
    findings += missing_files(missing)
    findings += cell_errors(errors, explained)
    findings += package_findings(errors, changes, declared_packages)
    findings += sanitise_changes(changes)
    for finding in findings:
        if finding.check_id == "execution.disk":
            finding.details.update(written_mb=round(result.disk_bytes / 1024**2, 1), removed=cleared[:50])
    findings += links_removed(removed_links)
    return findings


# --- cells as the student numbers them --------------------------------------------------------------


def student_index(nb, index: int) -> int:
    """A cell's 0-based position as the student numbers it: papermill's injected-parameters cell, which the
    grader adds after the parameters cell, is not counted (messages say "cell N" of the student's notebook)."""
    if nb is None:
        return index
    from autograder.execute.sanitise import INJECTED_TAG

    return index - sum(1 for cell in nb.cells[:index] if INJECTED_TAG in cell.metadata.get("tags", []))


def error_cells(nb) -> list[ErrorCell]:
    """(student's cell index, error name, error value) of every cell whose output is an error."""
    found = []
    if nb is None:
        return found
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                found.append(
                    (student_index(nb, index), output.get("ename", ""), str(output.get("evalue", "")))
                )
    return found


def stopped_cell(record: ExecutionRecord) -> CellRun | None:
    """The cell the run was stopped in: the kernel killed, or the whole-notebook budget ran out
    (not a cell that only hit the per-cell limit: the notebook went on after that one)."""
    return (
        next((c for c in record.cells if c.status == "killed"), None)
        or next(
            (
                c
                for c in record.cells
                if c.status == "timeout" and (c.error or {}).get("ename") == BUDGET_ENAME
            ),
            None,
        )
        or next((c for c in record.cells if c.status in ("killed", "timeout")), None)
    )


_NO_FILE = re.compile(r"No such file or directory: '([^'/][^']*)'")


def _missing_file(ename: str, evalue: str) -> str | None:
    """The relative path a FileNotFoundError names (a file the notebook expected beside it)."""
    if ename not in ("FileNotFoundError", "OSError", "IOError"):
        return None
    match = _NO_FILE.search(evalue or "")
    return match.group(1) if match else None


def _renumbered(change: dict, nb) -> dict:
    """A sanitising change with its cell numbers as the student numbers them."""
    change = dict(change)
    if change.get("cell") is not None:
        change["cell"] = student_index(nb, change["cell"])
    if change.get("copies"):
        change["copies"] = [student_index(nb, c) for c in change["copies"]]
    return change


# --- one function per kind of finding ------------------------------------------------------------------


def output_cut(nb, cuts: list[dict], settings) -> list[Finding]:
    """The outputs cut in the executed notebook (none when nothing was cut)."""
    if not cuts:
        return []
    first = cuts[0]
    cells = ", ".join(str(student_index(nb, c["cell"]) + 1) for c in cuts[:8]) + (
        " ..." if len(cuts) > 8 else ""
    )
    size = sb.format_size(first["bytes"]) if first["bytes"] >= 1024**2 else f"{first['bytes'] // 1024} KB"
    lines = f" ({first['lines']:,} lines)" if first.get("lines") else ""
    return [
        make(
            "execution.output_cut",
            WARN,
            f"The output of cell{'s' if len(cuts) > 1 else ''} {cells} was cut in the executed notebook: cell "
            f"{student_index(nb, first['cell']) + 1} printed {size}{lines}, and the grader keeps "
            f"{sb.format_size(settings.max_cell_output)} per cell and {sb.format_size(settings.max_notebook_output)} "
            "for the whole notebook. The start and the end of each output are kept, with a note where it was cut.",
            advice="Print less: a summary, the first rows (`df.head()`), or progress every few hundred steps; "
            "write long logs to a file instead.",
            details={
                "cuts": [{**c, "cell": student_index(nb, c["cell"])} for c in cuts[:50]],
                "max_cell_output": settings.max_cell_output,
                "max_notebook_output": settings.max_notebook_output,
            },
        )
    ]


_STOPPED_ADVICE = {
    "execution.memory": "Use less memory: smaller feature sets, fewer models kept at once, float32, "
    "or process the data in batches. Check your notebook's peak memory before submitting.",
    "execution.disk": f"Write fewer and smaller files: keep {RESULTS_FILE} and small figures, and do not "
    "save every model or copies of the data set.",
    "execution.notebook_timeout": "Make the notebook faster: fewer hyper-parameter combinations, smaller "
    "models, or fewer epochs; run it top to bottom and time it before submitting.",
    "execution.cell_timeout": "A cell should not run for longer than the budget; look for a loop that never "
    "ends or that waits for input.",
    "execution.kernel_died": "Run the notebook from top to bottom in a fresh kernel and find the cell that "
    "stops the kernel; remove calls such as os._exit or exit().",
}


def _failed_by_errors(record: ExecutionRecord, outcome: dict, result: sb.SandboxResult) -> bool:
    """Failed only because cells raised (every cell ran): the execution.cell_errors finding says it all."""
    return (
        record.status == FAILED
        and not result.killed
        and not outcome.get("deadline_hit")
        and not outcome.get("exception")
        and not record.results_file
        and any(c.status == "failed" for c in record.cells)
    )


def _stopped_check(outcome: dict, result: sb.SandboxResult) -> str:
    """The finding id of why a failed run stopped (execution.not_run: the grader could not run it)."""
    exception = (outcome.get("exception") or {}).get("type")
    if result.killed == "memory":
        return "execution.memory"
    if result.killed == "disk":
        return "execution.disk"
    if outcome.get("deadline_hit") or result.killed == "timeout":
        return "execution.notebook_timeout"
    if exception == "CellTimeoutError":
        return "execution.cell_timeout"
    if exception == "DeadKernelError":
        return "execution.kernel_died"
    return "execution.not_run"


def run_stopped(
    record: ExecutionRecord, outcome: dict, result: sb.SandboxResult, nb, stopped: CellRun | None
) -> list[Finding]:
    """Why a failed run stopped, with the record's reason as its message (none when the run did not
    fail, or failed only because cells raised: cell_errors says that)."""
    if record.status != FAILED or _failed_by_errors(record, outcome, result):
        return []
    cell = stopped
    check = _stopped_check(outcome, result)
    return [
        make(
            check,
            FAIL if check != "execution.not_run" else COULD_NOT_RUN,
            record.reason,
            advice=_STOPPED_ADVICE.get(check, ""),
            visibility=MARKER if check == "execution.not_run" else "student",
            details={
                "cell": student_index(nb, cell.index) if cell else None,
                "wall_seconds": record.wall_seconds,
                "peak_memory_mb": record.peak_memory_mb,
            },
        )
    ]


def cells_interrupted(record: ExecutionRecord, nb, settings, stopped: CellRun | None) -> list[Finding]:
    """The cells the per-cell budget interrupted, one finding each (not the one the run stopped in)."""
    # cells that hit the per-cell limit and were interrupted while the notebook went on (also when the
    # whole-notebook budget ran out later: both are said, each where it happened)
    timeouts = [c for c in record.cells if c.status == "timeout" and c is not stopped]
    return [
        make(
            "execution.cell_timeout",
            FAIL,
            f"Cell {student_index(nb, cell.index) + 1} ran longer than {settings.cell_timeout} s (the "
            "time budget for one cell) and was interrupted; the cells after it still ran.",
            advice="Make that cell faster, or look for a loop that never ends.",
            details={"cell": student_index(nb, cell.index)},
        )
        for cell in timeouts
    ]


def out_of_memory(
    record: ExecutionRecord, result: sb.SandboxResult, settings, memory: list[ErrorCell]
) -> list[Finding]:
    """A process the notebook started was stopped for memory while the notebook went on, and the
    cells that raised MemoryError."""
    findings = []
    if result.oom_kills and record.status != FAILED:
        findings.append(
            make(
                "execution.memory",
                WARN,
                f"A process the notebook started used more memory than the limit for one submission "
                f"({sb.format_size(settings.memory_limit)}) and was stopped; the notebook went on.",
                advice="Use fewer parallel workers (n_jobs) or less memory per worker.",
                details={"processes_stopped": result.oom_kills},
            )
        )
    if memory:
        findings.append(
            make(
                "execution.memory",
                FAIL,
                f"Cell {memory[0][0] + 1} ran out of memory (the limit for one submission is "
                f"{sb.format_size(settings.memory_limit)}).",
                advice="Use less memory: smaller feature sets, float32, or batches.",
                details={"cells": [i for i, _, _ in memory]},
            )
        )
    return findings


def network_blocked(network: list[ErrorCell]) -> list[Finding]:
    """The cells whose error says they tried the internet (the sandbox has none)."""
    if not network:
        return []
    return [
        make(
            "execution.network",
            WARN,
            f"Cell {network[0][0] + 1} tried to use the internet, which is not available when "
            "notebooks are graded.",
            advice="Load data from the course's data (the data_dir parameter / MATMINER_DATA) "
            "and do not download anything while the notebook runs.",
            details={"cells": [i for i, _, _ in network]},
        )
    ]


def outside_files(filesystem: list[ErrorCell]) -> list[Finding]:
    """The cells whose error says they used a file outside the notebook's folder."""
    if not filesystem:
        return []
    return [
        make(
            "execution.filesystem",
            WARN,
            f"Cell {filesystem[0][0] + 1} tried to use a file outside the notebook's own folder; "
            "when notebooks are graded only that folder (and the course data) can be used.",
            advice="Use relative paths to files in the notebook's folder, and the data_dir "
            "parameter for the Matbench data; do not use absolute paths of your computer.",
            details={"cells": [i for i, _, _ in filesystem]},
        )
    ]


def missing_files(missing: list[tuple[int, str, str, str]]) -> list[Finding]:
    """The cells that read a relative file not handed in: (cell, error name, error value, file)."""
    if not missing:
        return []
    # the first file not handed in (later reads of it fail for the same reason)
    index, _, _, name = missing[0]
    dataset = name.startswith("matbench_") or name.endswith((".json.gz", ".json.bz2"))
    return [
        make(
            "execution.missing_file",
            FAIL,
            f"Cell {index + 1} reads `{name}`, a file that was not handed in with the notebook, so "
            "it failed when the grader ran it (the grader runs the notebook in a folder that holds "
            "only what you submitted).",
            advice=(
                "Load the Matbench data with matminer's `load_dataset(...)` or the Matbench "
                "task (`task.load()`): the grader provides every data set."
                if dataset
                else "Submit the file with the notebook, or make it in the notebook itself."
            ),
            details={"cells": [i for i, _, _, _ in missing], "files": sorted({n for *_, n in missing})},
        )
    ]


def cell_errors(errors: list[ErrorCell], explained: set[int]) -> list[Finding]:
    """Any other error: the notebook does not run from top to bottom as the grader runs it. `explained`
    holds the cells an earlier finding explains; a missing module is package_findings'."""
    other = [(i, e, v) for i, e, v in errors if i not in explained and e != "ModuleNotFoundError"]
    if not other:
        return []
    index, ename, evalue = other[0]
    earlier = [
        i for i in sorted(explained | {i for i, e, _ in errors if e == "ModuleNotFoundError"}) if i < index
    ]
    cause = f" (it may follow from the error in cell {earlier[0] + 1}, explained above)" if earlier else ""
    return [
        make(
            "execution.cell_errors",
            FAIL,
            f"{len(other)} cell(s) raised an error when the grader ran the notebook from top to "
            f"bottom; the first, cell {index + 1}, raised {ename}: {evalue[:200]}{cause}",
            advice="Restart the kernel and run all cells, then fix the first error (later ones "
            "often follow from it); `autograder check --execute` runs it as the grader does.",
            details={"cells": [{"cell": i, "ename": e, "evalue": v[:300]} for i, e, v in other[:10]]},
        )
    ]


def package_findings(errors: list[ErrorCell], changes: list[dict], declared: list[str]) -> list[Finding]:
    """Modules the notebook imported that are not installed, then the installs the sanitiser
    neutralised (`changes` renumbered as the student numbers the cells)."""
    from autograder.execute.environment import install_findings, missing_module_findings

    return missing_module_findings(errors, declared) + install_findings(changes, declared)


def sanitise_changes(changes: list[dict]) -> list[Finding]:
    """The locked cells the sanitiser restored and copied, in the order of the changes (renumbered as
    the student numbers the cells)."""
    findings = []
    for change in changes:
        kind = change.get("kind")
        if kind in ("restored_locked_cell", "restored_deleted_cell"):
            findings.append(
                make(
                    "sanitise.restored_cell",
                    WARN,
                    f"{change['message']} (cell {change['cell'] + 1})",
                    advice="Do not edit or delete the locked cells: the grader always runs "
                    "the instructor's version.",
                    details={k: v for k, v in change.items() if k != "message"},
                )
            )
        elif kind == "duplicate_grade_id":
            copies = ", ".join(str(c + 1) for c in change.get("copies", []))
            findings.append(
                make(
                    "sanitise.duplicate_cell",
                    INFO,
                    f"{change['message']} (cells {copies})",
                    advice="Copying a locked cell is fine; change the copy, not the original.",
                    details={k: v for k, v in change.items() if k != "message"},
                )
            )
    return findings


def links_removed(removed_links: list[str]) -> list[Finding]:
    """The links to files outside the notebook's folder the engine removed after the run."""
    if not removed_links:
        return []
    return [
        make(
            "execution.links_removed",
            WARN,
            f"The notebook created links to files outside its folder ({', '.join(removed_links[:5])}); "
            "they were removed before grading.",
            details={"links": removed_links},
        )
    ]
