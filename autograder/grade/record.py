"""The grade record: what the grade stage stores for one submission (grade.json) and the report
stage reads (the feedback page, the summary, moderation, the export), as typed records.

`combine` (autograder.grade.combine) builds a `Grade` from the findings and the marks, `grading`
fills in the rest and writes `Grade.to_json()`; `read_grade` and `read_grades` give the stored
grades back as records. The JSON is the one grade.json always had: `to_json(from_json(data))` is
`data` for every grade written today, and a grade.json of an earlier version, lacking a key written
since, still loads (the key takes its default). A grading error is a `Grade` too (status ERROR): its
grade.json holds only who, what went wrong and when.

The grade's statuses and the names of the attention flags the grade and report stages raise are
declared here, once (a rubric's own flags are the rubric's; its failed-run flag defaults to
FAILED_RUN_FLAG).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from autograder.grade.lateness import Lateness
from autograder.records import WARN, Finding

JSON = dict[str, Any]

# --- the statuses of a grade ---------------------------------------------------------------------

# FINAL: every criterion marked by a marker; PROVISIONAL: an overall mark, with a part not confirmed
# (a suggestion, a cap awaiting the marker, an unknown submission time); INCOMPLETE: a criterion
# without a mark, so no overall mark; ERROR: the submission could not be graded (grade.json says why)
FINAL, PROVISIONAL, INCOMPLETE, ERROR = "final", "provisional", "incomplete", "error"
GRADE_STATUSES = (FINAL, PROVISIONAL, INCOMPLETE, ERROR)

# --- the attention flags -------------------------------------------------------------------------

FAILED_RUN_FLAG = (
    "Failed run"  # a failed run's flag when no rule of the rubric names one (Rubric.failed_run_flag)
)
LATE_SUBMISSION = "Late submission"
SUBMISSION_TIME_UNKNOWN = "Submission time unknown"
NOTHING_TO_ACCEPT = "Nothing to accept"  # 'accept' given where there is no suggestion
CAP_OVERRIDDEN = "Cap overridden by the marker"
ABOVE_CAP = "Mark above an automatic cap"  # a marker's mark above a cap, without an override
GRADEBOOK_NOT_READ = "Gradebook"  # the markers' marks could not be read from the gradebook
# raised by the report stage's summary, never stored in a grade.json
GRADING_ERROR = "Grading error"
NO_SUBMISSION_GRADED = "No submission graded"
SIMILAR_WORK = "Similar work"  # a pair above the similarity threshold (autograder.similarity)
FLAGS = (
    FAILED_RUN_FLAG,
    LATE_SUBMISSION,
    SUBMISSION_TIME_UNKNOWN,
    NOTHING_TO_ACCEPT,
    CAP_OVERRIDDEN,
    ABOVE_CAP,
    GRADEBOOK_NOT_READ,
    GRADING_ERROR,
    NO_SUBMISSION_GRADED,
    SIMILAR_WORK,
)


@dataclass
class AttentionFlag:
    """One item of the instructor's "needs attention" list."""

    flag: str
    check_id: str = ""  # the finding that raised it ("" = raised by the grade itself)
    status: str = WARN
    message: str = ""

    @classmethod
    def from_json(cls, data: JSON) -> AttentionFlag:
        return cls(
            str(data.get("flag", "")),
            str(data.get("check_id") or ""),
            str(data.get("status", WARN)),
            str(data.get("message") or ""),
        )


@dataclass
class CriterionMark:
    """One criterion's mark and how it was reached."""

    key: str
    title: str
    weight: float
    mark: float | None = None  # the mark that counts (after caps); None = missing
    source: str = ""  # FORMGRADER | CSV_SOURCE | SUGGESTED | CONFIRMED | "" (missing)
    provisional: bool = True
    suggested: float | None = None
    manual: float | None = None
    uncapped: float | None = None
    caps: list[dict[str, Any]] = field(default_factory=list)  # {"cap", "rule", "check_id", "note"}
    comment: str = ""  # the marker's comment (student-visible)
    band: str = ""
    band_label: str = ""
    descriptor: str = ""
    # {"check_id", "status", "effect", "rule", and "marks" | "cap" | "limit", "note"}
    evidence: list[dict[str, Any]] = field(default_factory=list)
    marker: str = ""  # who gave the mark that counts ("" = a suggestion, or not recorded)
    override: str = ""  # the marker's reason for keeping their mark above an automatic cap
    second_marks: list[dict[str, Any]] = field(default_factory=list)  # {"mark", "marker", "comment"}

    @classmethod
    def from_json(cls, data: JSON) -> CriterionMark:
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        known.setdefault("key", "")
        known.setdefault("title", "")
        known.setdefault("weight", 0.0)
        return cls(**known)


@dataclass
class Overall:
    """The overall mark: None (and the band "") while a criterion has no mark."""

    mark: int | None = None  # rounded half up, after the late penalty
    exact: float | None = None  # after the late penalty, unrounded
    before_late: float | None = None  # the weighted mark of the criteria
    band: str = ""
    band_label: str = ""
    late_penalty: str = ""  # what the late policy did ("" = nothing)
    partial: float | None = None  # the weighted mark of the criteria marked so far
    marked_weight: float | None = None
    total_weight: float | None = None

    @classmethod
    def from_json(cls, data: JSON) -> Overall:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class RunSummary:
    """How the grader's run of the notebook went (from the execution record, result.json)."""

    status: str = ""  # the ExecutionRecord's status: executed, failed, intake-error...
    reason: str = ""
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    sandbox: str = "none"
    submitted_at: str | None = None
    notebook: str | None = None  # the executed notebook's file name in the execution folder
    cells_failed: list[int] = field(default_factory=list)  # as the student counts their cells
    first_error: dict[str, Any] | None = None  # {"cell", "ename", "evalue", "traceback"}
    # what the kernel read from the cohort's featurisation cache ({"served", "seconds_saved", "not_served"});
    # written only when it read something (grade.json of a run without the cache is as before)
    feature_cache: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: JSON) -> RunSummary:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class RubricRef:
    """The rubric a grade was made with."""

    title: str = ""
    sha256: str = ""


def _lateness(data: JSON | None) -> Lateness:
    names = {f.name for f in fields(Lateness)}
    known = {k: v for k, v in (data or {}).items() if k in names}
    known.setdefault("state", "unknown")
    return Lateness(**known)


@dataclass
class Grade:
    """The whole grade of one submission (grade.json)."""

    status: str = ERROR  # FINAL | PROVISIONAL | INCOMPLETE | ERROR
    overall: Overall = field(default_factory=Overall)
    criteria: list[CriterionMark] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # the parts without a mark, in words
    provisional_parts: list[str] = field(default_factory=list)  # why the mark is provisional
    lateness: Lateness = field(default_factory=lambda: Lateness("unknown"))
    attention: list[AttentionFlag] = field(default_factory=list)
    # filled in by autograder.grade.grading
    student_id: str = ""
    assignment: str = ""
    challenge: str | None = None  # the challenge's letter
    task: str | None = None  # its Matbench task
    execution: str | None = None  # the cache key of the execution graded (None: not recorded)
    run: RunSummary = field(default_factory=RunSummary)
    results: dict[str, Any] | None = None  # the stored Score (score.json), None when there is none
    results_error: str = ""  # why there is no Score
    presentation: dict[str, Any] = field(default_factory=dict)  # the recording's facts
    comments: dict[str, str] = field(default_factory=dict)  # "general", "declaration" -> the marker's
    findings: list[Finding] = field(default_factory=list)
    rubric: RubricRef = field(default_factory=RubricRef)
    generated_at: str = ""  # ISO time
    # a grading error (status ERROR)
    error: str = ""
    traceback: str = ""

    @property
    def is_error(self) -> bool:
        return self.status == ERROR

    def criterion(self, key: str) -> CriterionMark | None:
        return next((c for c in self.criteria if c.key == key), None)

    @property
    def flags(self) -> list[str]:
        """The names of its attention flags, each once, in order."""
        return list(dict.fromkeys(a.flag for a in self.attention if a.flag))

    def to_json(self) -> JSON:
        """grade.json's content (its keys in the order they were always written)."""
        if self.is_error:
            return {
                "student_id": self.student_id,
                "assignment": self.assignment,
                "status": self.status,
                "error": self.error,
                "traceback": self.traceback,
                "generated_at": self.generated_at,
            }
        return {
            "status": self.status,
            "overall": asdict(self.overall),
            "criteria": [asdict(c) for c in self.criteria],
            "missing": list(self.missing),
            "provisional_parts": list(self.provisional_parts),
            "lateness": asdict(self.lateness),
            "attention": [asdict(a) for a in self.attention],
            "student_id": self.student_id,
            "assignment": self.assignment,
            "challenge": self.challenge,
            "task": self.task,
            "execution": self.execution,
            "run": {k: v for k, v in asdict(self.run).items() if k != "feature_cache" or v},
            "results": self.results,
            "results_error": self.results_error,
            "presentation": self.presentation,
            "comments": dict(self.comments),
            "findings": [asdict(f) for f in self.findings],
            "rubric": asdict(self.rubric),
            "generated_at": self.generated_at,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Grade:
        """A stored grade.json (of this version or an earlier one: a missing key takes its default)."""
        rubric = data.get("rubric") or {}
        return cls(
            status=str(data.get("status", ERROR)),
            overall=Overall.from_json(data.get("overall") or {}),
            criteria=[CriterionMark.from_json(c) for c in data.get("criteria") or []],
            missing=list(data.get("missing") or []),
            provisional_parts=list(data.get("provisional_parts") or []),
            lateness=_lateness(data.get("lateness")),
            attention=[AttentionFlag.from_json(a) for a in data.get("attention") or []],
            student_id=str(data.get("student_id", "")),
            assignment=str(data.get("assignment", "")),
            challenge=data.get("challenge"),
            task=data.get("task"),
            execution=data.get("execution"),
            run=RunSummary.from_json(data.get("run") or {}),
            results=data.get("results"),
            results_error=str(data.get("results_error") or ""),
            presentation=dict(data.get("presentation") or {}),
            comments=dict(data.get("comments") or {}),
            findings=[Finding.from_dict(f) for f in data.get("findings") or []],
            rubric=RubricRef(str(rubric.get("title", "")), str(rubric.get("sha256", ""))),
            generated_at=str(data.get("generated_at", "")),
            error=str(data.get("error", "")),
            traceback=str(data.get("traceback", "")),
        )


# --- stored -------------------------------------------------------------------------------------


class GradeStore(Protocol):
    """Where the grades are (autograder.layout.CourseLayout): grade.json as JSON."""

    def load_grade(self, student_id: str, assignment: str | None = None) -> JSON | None: ...

    def load_grades(self, assignment: str | None = None) -> dict[str, JSON]: ...

    def save_grade(self, student_id: str, assignment: str | None, grade: JSON) -> Path: ...


def read_grade(course: GradeStore, student: str, assignment: str | None = None) -> Grade | None:
    """One stored grade (None: not graded, or grade.json unreadable)."""
    data = course.load_grade(student, assignment)
    return Grade.from_json(data) if data is not None else None


def read_grades(course: GradeStore, assignment: str | None = None) -> dict[str, Grade]:
    """Every stored grade of the assignment: student -> grade."""
    return {student: Grade.from_json(data) for student, data in course.load_grades(assignment).items()}


def write_grade(course: GradeStore, student: str, assignment: str | None, grade: Grade) -> Path:
    """grade.json, written atomically."""
    return course.save_grade(student, assignment, grade.to_json())
