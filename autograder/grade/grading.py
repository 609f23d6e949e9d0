"""Grade a cohort from stored executions: marks, feedback pages, gradebook, cohort summary.

`CohortGrading` is used by `autograder grade` during a batch, grading each submission as its
execution is checked (and again by `autograder grade --no-execute` after marks change);
`grade_cohort(course, assignment, student_ids=None)` grades stored executions in one go. For each student it
reads `autograded/{student}/{assignment}/result.json` (the ExecutionRecord with its findings),
the presentation recording kept with the submission, the markers' marks (formgrader via the
gradebook, and `marks/<assignment>.csv` or `marks.csv` at the course root), and writes:

  autograded/{student}/{assignment}/grade.json   the marks, for markers and tools
  feedback/{student}/{assignment}/index.html      the student's feedback page (self-contained)

then updates nbgrader's gradebook and writes the cohort summary
`reports/{assignment}/summary.html`. Nothing here executes student code, and one broken
submission never stops the batch: its grade.json records the error.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.records import ExecutionRecord, Finding, write_json_atomic

log = logging.getLogger(__name__)

GRADE_FILE = "grade.json"
FEEDBACK_FILE = "index.html"


@dataclass
class CohortResult:
    assignment: str
    graded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # student -> what went wrong
    warnings: list[str] = field(default_factory=list)
    summary_path: Path | None = None
    statuses: dict[str, str] = field(default_factory=dict)  # student -> final/provisional/incomplete


def summary_path(course, assignment: str) -> Path:
    return Path(course.root) / "reports" / assignment / "summary.html"


def graded_students(course, assignment: str) -> list[str]:
    base = Path(course.root) / "autograded"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / assignment / "result.json").is_file())


def load_grades(course, assignment: str) -> dict[str, dict]:
    """Every grade.json of the assignment: student -> grade."""
    import json

    base = Path(course.root) / "autograded"
    grades = {}
    if base.is_dir():
        for folder in sorted(base.iterdir()):
            path = folder / assignment / GRADE_FILE
            if path.is_file():
                try:
                    grades[folder.name] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    log.warning("unreadable %s: %s", path, error)
    return grades


def grade_cohort(course, assignment: str | None = None, student_ids: list[str] | None = None,
                 *, update_gradebook: bool = True, write_summary: bool = True) -> CohortResult:
    assignment = assignment or course.assignment
    grading = CohortGrading(course, assignment, update_gradebook=update_gradebook)
    try:
        for student in (list(student_ids) if student_ids else graded_students(course, assignment)):
            grading.grade(student)
    finally:
        result = grading.finish(write_summary=write_summary)
    return result


class CohortGrading:
    """Grades the submissions of one assignment one at a time, then writes the cohort summary.

    `autograder grade` grades each submission as soon as its execution is checked, while the other
    executions are still running, so that the marks and feedback pages cost no extra wall time."""

    def __init__(self, course, assignment: str, *, update_gradebook: bool = True):
        from autograder.course.allocation import read_allocation
        from autograder.grade.marks import read_course_marks
        from autograder.grade.rubric import load_rubric

        self.course, self.assignment = course, assignment
        self.rubric = load_rubric(course.rubric_path)
        self.csv_marks = read_course_marks(course, self.rubric, assignment)
        self.allocation = read_allocation(course.allocation_path, course.config.catalogue)
        self.result = CohortResult(assignment)
        self.update_gradebook = update_gradebook
        self._bridge, self._gradebook_tried = None, False

    @property
    def bridge(self):
        """The gradebook, opened when the first submission is graded: its 0.4 s of imports and database
        set-up then overlap the executions instead of delaying the first one."""
        if self.update_gradebook and not self._gradebook_tried:
            self._gradebook_tried = True
            self._bridge = self._open_gradebook()
        return self._bridge

    def _open_gradebook(self):
        from autograder.grade.gradebook import GradebookBridge, GradebookError

        bridge = None
        try:
            bridge = GradebookBridge.for_course(self.course)
            bridge.notebooks(self.assignment)
            return bridge
        except Exception as error:  # a database that cannot be opened must not stop the marks
            reason = str(error) if isinstance(error, GradebookError) else f"{type(error).__name__}: {error}"
            self.result.warnings.append(f"Gradebook not updated: {reason}")
            if bridge is not None:
                bridge.close()
        return None

    def grade(self, student: str) -> None:
        """Mark one submission; a broken one records its error in grade.json and never stops the cohort."""
        try:
            grade = grade_submission(self.course, self.assignment, student, self.rubric,
                                     self.csv_marks.get(student, {}), self.allocation.get(student), self.bridge)
            self.result.graded.append(student)
            self.result.statuses[student] = grade["status"]
        except Exception as error:
            log.exception("grading %s failed", student)
            self.result.errors[student] = f"{type(error).__name__}: {error}"
            write_json_atomic(self.course.autograded_dir(student, self.assignment) / GRADE_FILE, {
                "student_id": student, "assignment": self.assignment, "status": "error",
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(limit=6), "generated_at": _now()})

    def finish(self, write_summary: bool = True) -> CohortResult:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        if write_summary:
            from autograder.report.summary import write_summary as write_cohort_summary

            self.result.summary_path = write_cohort_summary(self.course, self.assignment, self.rubric)
        return self.result


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_record(course, student: str, assignment: str) -> ExecutionRecord:
    path = course.autograded_dir(student, assignment) / "result.json"
    if not path.is_file():
        from autograder.records import PENDING

        return ExecutionRecord(student_id=student, assignment=assignment, status=PENDING,
                               reason="This submission has not been run yet.")
    return ExecutionRecord.load(path)


def grade_submission(course, assignment: str, student: str, rubric, csv_marks: dict, letter: str | None,
                     bridge=None) -> dict:
    """Mark one submission, write grade.json and its feedback page, update the gradebook."""
    from autograder.grade.marks import assess_lateness, combine, find_recordings, presentation_findings

    record = load_record(course, student, assignment)
    folder = course.autograded_dir(student, assignment)
    recordings = find_recordings(course.submitted_dir(student, assignment), folder)
    talk_findings, talk_facts = presentation_findings(recordings, course.config.presentation)
    findings: list[Finding] = list(record.findings) + talk_findings

    manual = None
    gradebook_note = ""
    if bridge is not None:
        try:
            manual = bridge.manual_grades(student, assignment, rubric)
        except Exception as error:
            gradebook_note = f"formgrader marks not read: {error}"
    formgrader_marks = manual.marks if manual else {}
    lateness = assess_lateness(course.config.late, course.config.deadline, record.submitted_at,
                               manual.extension if manual else None)
    grade = combine(rubric, findings, formgrader_marks, csv_marks, lateness, course.config.late)

    catalogue = course.config.catalogue
    challenge = None
    key = record.challenge or letter
    if key:
        try:
            challenge = catalogue.get(key)
        except ValueError:
            challenge = None
    analysis, analysis_error = None, ""
    if challenge is not None and record.results_file and (folder / record.results_file).is_file():
        from autograder.report.results import ResultsFileError, analyse

        try:
            analysis = analyse(challenge, folder / record.results_file)
        except ResultsFileError as error:
            analysis_error = str(error)
        except Exception as error:  # data missing on this machine, a malformed file...
            analysis_error = f"{type(error).__name__}: {error}"
    elif challenge is not None:
        analysis_error = "no results file was written by the run"

    comments = {k: m.comment for k, m in csv_marks.items() if k in ("general", "declaration") and m.comment}
    if manual and manual.declaration_comment:
        comments["declaration"] = "\n\n".join(filter(None, [manual.declaration_comment, comments.get("declaration")]))
    grade.update({
        "student_id": student,
        "assignment": assignment,
        "challenge": challenge.letter if challenge else None,
        "task": challenge.task if challenge else record.task,
        "run": {"status": record.status, "reason": record.reason, "wall_seconds": record.wall_seconds,
                "cpu_seconds": record.cpu_seconds, "peak_memory_mb": record.peak_memory_mb,
                "sandbox": record.sandbox, "submitted_at": record.submitted_at,
                "cells_failed": [c.index for c in record.cells if c.status not in ("completed",)]},
        "results": analysis.to_dict() if analysis else None,
        "results_error": analysis_error,
        "presentation": talk_facts,
        "comments": comments,
        "findings": [asdict(f) for f in findings],
        "rubric": {"title": rubric.title, "sha256": rubric.sha256},
        "generated_at": _now(),
    })
    if gradebook_note:
        grade["attention"].append({"flag": "Gradebook", "check_id": "", "status": "warn", "message": gradebook_note})
    write_json_atomic(folder / GRADE_FILE, grade)

    from autograder.report.feedback import write_feedback

    write_feedback(course, assignment, student, grade, challenge, analysis, record)

    if bridge is not None:
        notebook = folder / record.notebook if record.notebook else None
        bridge.record(student, assignment, grade, rubric, record, notebook, record.submitted_at)
    return grade


