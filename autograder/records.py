"""The records that flow between the stages (where each is stored: autograder.layout).

    intake  -> Submission          the student's files, when they were handed in
    execute -> ExecutionRecord      status, cells, budgets, the engine's own findings
    check   -> [Finding]            the checks' findings (and the one Score, autograder.results.score)
    grade   -> Grade                marks, caps, lateness, attention flags (autograder.grade.record)
    report  -> feedback pages, the cohort summary, exports (read the grade only)

Every record is plain JSON so any stage can be re-run alone and a person can read it.
This module is imported by the student self-check: keep it free of heavy imports.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# --- findings (what a check says) ----------------------------------------------------------------

PASS, WARN, FAIL, NOT_APPLICABLE, COULD_NOT_RUN, INFO = (
    "pass",
    "warn",
    "fail",
    "not-applicable",
    "could-not-run",
    "info",
)
FINDING_STATUSES = (PASS, WARN, FAIL, NOT_APPLICABLE, COULD_NOT_RUN, INFO)

# Rubric criteria a finding may inform ("general" = execution, intake: informs no single criterion).
CRITERIA = ("data_preparation", "model_choice", "training_testing", "code", "presentation", "general")

STUDENT, MARKER = "student", "marker"  # who may see a finding: the student (and markers), or markers only


@dataclass
class Finding:
    """One piece of evidence from one check.

    check_id: dotted id, family first (`protocol.folds_complete`, `declaration.answered`) so that
    tools can select families. A check that could not run says COULD_NOT_RUN, never PASS."""

    check_id: str
    criterion: str
    status: str
    message: str  # plain words a student understands
    advice: str = ""  # what to do next (empty when nothing to do)
    visibility: str = STUDENT
    details: dict[str, Any] = field(default_factory=dict)  # JSON-able figures for reports

    def __post_init__(self) -> None:
        if self.status not in FINDING_STATUSES:
            raise ValueError(f"{self.check_id}: unknown status {self.status!r}")
        if self.criterion not in CRITERIA:
            raise ValueError(f"{self.check_id}: unknown criterion {self.criterion!r}")
        if self.visibility not in (STUDENT, MARKER):
            raise ValueError(f"{self.check_id}: unknown visibility {self.visibility!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# --- execution (what running a submission produced) ---------------------------------------------

# ExecutionRecord.status values (the execute stage's own). FAILED: the run did not go through (a budget,
# the kernel died, or a cell raised and the protocol did not save its results); INTERRUPTED: the batch was
# stopped (Ctrl-C, SIGTERM, a full disk) while it ran, nobody's fault: it runs again next time.
PENDING, RUNNING, EXECUTED, FAILED, INTAKE_ERROR, INTERRUPTED = (
    "pending",
    "running",
    "executed",
    "failed",
    "intake-error",
    "interrupted",
)
# What the later stages add, each in its own artefact: the checks ran, the grade was written.
CHECKED, GRADED = "checked", "graded"


@dataclass
class CellRun:
    """How one code cell of the executed notebook ran (from papermill's cell metadata)."""

    index: int
    status: str  # completed | failed | pending (never ran) | timeout | killed
    cell_id: str | None = None
    grade_id: str | None = None  # nbgrader grade_id, if the cell is an nbgrader cell
    duration: float | None = None
    error: dict[str, Any] | None = None  # {"ename": ..., "evalue": ...}
    number: int | None = (
        None  # the cell's number as the student counts it (papermill's injected cell not counted)
    )
    injected: bool = (
        False  # papermill's injected-parameters cell: the grader's, not the student's (no number)
    )


@dataclass
class ExecutionRecord:
    """What running one submission produced (the execute stage's artefact, result.json)."""

    student_id: str
    assignment: str
    status: str = PENDING
    reason: str = ""  # plain words when status is failed / interrupted / intake-error
    challenge: str | None = None  # letter from the allocation
    task: str | None = None  # matbench task name
    submitted_at: str | None = None  # ISO time, from nbgrader timestamp.txt or the VLE receipt
    notebook: str | None = None  # executed notebook, file name inside the folder
    results_file: str | None = None  # results.json.gz written by the run, if any
    trace_file: str | None = None  # protocol trace written by the run, if any
    sandbox: str = "none"  # "bubblewrap" | "none"
    cells: list[CellRun] = field(default_factory=list)
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    sanitise: list[dict[str, Any]] = field(default_factory=list)  # what was changed before execution
    parameters: dict[str, Any] = field(default_factory=dict)  # papermill parameters injected
    cache_key: str = ""  # hash of notebook content + parameters + environment
    environment: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionRecord:
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["cells"] = [CellRun(**c) for c in kwargs.get("cells", [])]
        kwargs["findings"] = [Finding.from_dict(f) for f in kwargs.get("findings", [])]
        return cls(**kwargs)

    @classmethod
    def load(cls, path: Path) -> ExecutionRecord:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON so that a reader (or a killed batch) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
