"""Grade submissions from the stored artefacts of the earlier stages: one `grade.json` each.

`CohortGrading` is used by `autograder grade` during a batch, grading each submission as soon as its
checks are stored (and again by `autograder grade --no-execute` after marks change). For each student
it reads the execution record and the checks' findings, the stored Score, the presentation
recording kept with the submission and the markers' marks (from their one store, the gradebook;
a changed marks CSV is imported into it first, autograder.grade.marks_store), combines them with the rubric and the late policy, writes `grade.json` and updates
nbgrader's gradebook. It renders nothing: the feedback pages and the cohort summary are
`autograder.report`'s, built from grade.json. Nothing here executes student code, and one broken
submission never stops the batch: its grade.json records the error.

Re-grading skips what did not change: a grade equal to the stored one (all but the moment it was
made) is not written again, so grade.json keeps that moment and its page stays as it is; and the
gradebook entry is written only when what it is written from changed (the grade, the rubric, the
execution record and executed notebook, the gradebook file and the code that writes it), its key kept
in autograded/.cache/gradebook. Delete that folder to write every entry again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.checks import load_check_findings
from autograder.course.allocation import Allocation, read_allocation
from autograder.grade.combine import combine
from autograder.grade.lateness import assess_lateness
from autograder.grade.record import (
    ERROR,
    GRADEBOOK_NOT_READ,
    AttentionFlag,
    Grade,
    RubricRef,
    RunSummary,
    write_grade,
)
from autograder.grade.recordings import find_recordings, presentation_findings
from autograder.grade.rubric import Rubric, load_rubric
from autograder.layout import read_cache_key, write_text_atomic
from autograder.records import FAILED, PENDING, WARN, ExecutionRecord, Finding

if TYPE_CHECKING:
    from autograder.course.config import Course
    from autograder.grade.gradebook import GradebookBridge
    from autograder.grade.marks_store import ImportResult

log = logging.getLogger(__name__)


@dataclass
class CohortResult:
    assignment: str
    graded: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # student -> what went wrong
    warnings: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # student -> final/provisional/incomplete


def grade_cohort(
    course: Course,
    assignment: str | None = None,
    student_ids: list[str] | None = None,
    *,
    update_gradebook: bool = True,
) -> CohortResult:
    """Grade stored executions in one go (every executed student, or those given)."""
    assignment = assignment or course.assignment
    grading = CohortGrading(course, assignment, update_gradebook=update_gradebook)
    try:
        for student in list(student_ids) if student_ids else course.executed_students(assignment):
            grading.grade(student)
    finally:
        result = grading.finish()
    return result


class CohortGrading:
    """Grades the submissions of one assignment one at a time.

    `autograder grade` grades each submission as soon as its execution is checked, while the other
    executions are still running, so that the marks and feedback pages cost no extra wall time."""

    def __init__(
        self,
        course: Course,
        assignment: str,
        *,
        update_gradebook: bool = True,
        rubric: Rubric | None = None,
        allocation: Allocation | None = None,
    ) -> None:
        """`rubric` and `allocation` as the batch read them (None: read from the course)."""
        self.course, self.assignment = course, assignment
        self.rubric = rubric or load_rubric(course.rubric_path)
        self.allocation = (
            allocation
            if allocation is not None
            else read_allocation(
                course.allocation_path, course.config.catalogue, course.config.case_sensitive_ids
            )
        )
        self.result = CohortResult(assignment)
        self.update_gradebook = update_gradebook
        self._bridge: GradebookBridge | None = None
        self._gradebook_tried = False
        self.imported: list[ImportResult] = []
        if update_gradebook and course.marks_csv_paths(assignment):
            # a changed marks CSV goes into the store before anyone is graded; a bad one stops here,
            # before anything is written (the message names its lines)
            from autograder.grade.marks_store import import_course_marks

            self.imported = import_course_marks(course, assignment, self.rubric, self.bridge, self.allocation)

    @property
    def bridge(self) -> GradebookBridge | None:
        """The gradebook, opened when the first submission is graded: its 0.4 s of imports and database
        set-up then overlap the executions instead of delaying the first one."""
        if self.update_gradebook and not self._gradebook_tried:
            self._gradebook_tried = True
            self._bridge = self._open_gradebook()
        return self._bridge

    def _open_gradebook(self) -> GradebookBridge | None:
        from autograder.grade.gradebook import GradebookBridge, GradebookError

        bridge = None
        try:
            bridge = GradebookBridge.for_course(self.course)
            bridge.notebooks(self.assignment)
            bridge.read_marks_by_cohort(self.assignment)
            return bridge
        except Exception as error:  # a database that cannot be opened must not stop the marks
            reason = str(error) if isinstance(error, GradebookError) else f"{type(error).__name__}: {error}"
            self.result.warnings.append(f"Gradebook not updated: {reason}")
            if bridge is not None:
                bridge.close()
        return None

    def grade(self, student: str) -> Grade:
        """Mark one submission and return its grade; a broken one records its error in grade.json
        and never stops the cohort."""
        try:
            grade = grade_submission(
                self.course, self.assignment, student, self.rubric, self.allocation.get(student), self.bridge
            )
            self.result.graded.append(student)
            self.result.statuses[student] = grade.status
        except Exception as error:
            log.exception("grading %s failed", student)
            self.result.errors[student] = f"{type(error).__name__}: {error}"
            grade = Grade(
                status=ERROR,
                student_id=student,
                assignment=self.assignment,
                error=f"{type(error).__name__}: {error}",
                traceback=traceback.format_exc(limit=6),
                generated_at=_now(),
            )
            write_grade(self.course, student, self.assignment, grade)
        return grade

    def finish(self) -> CohortResult:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        return self.result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_record(course: Course, student: str, assignment: str) -> ExecutionRecord:
    """The execution record, or a pending one when the submission has not been run."""
    record = course.load_record(student, assignment)
    if record is None:
        return ExecutionRecord(
            student_id=student,
            assignment=assignment,
            status=PENDING,
            reason="This submission has not been run yet.",
        )
    return record


def submission_findings(
    course: Course, student: str, assignment: str, record: ExecutionRecord
) -> list[Finding]:
    """The evidence of the earlier stages: the engine's findings and the checks' (stored apart)."""

    return list(record.findings) + load_check_findings(course, student, assignment)


def grade_submission(
    course: Any, assignment: str, student: str, rubric: Rubric, letter: str | None, bridge: Any = None
) -> Grade:
    """Mark one submission, write grade.json, update the gradebook; returns the grade."""

    record = load_record(course, student, assignment)
    folder = course.autograded_dir(student, assignment)
    recordings = find_recordings(course.submitted_dir(student, assignment), folder)
    talk_findings, talk_facts = presentation_findings(recordings, course.config.presentation)
    findings = submission_findings(course, student, assignment, record) + talk_findings

    manual = None
    gradebook_note = ""
    if bridge is not None:
        try:
            manual = bridge.manual_grades(student, assignment, rubric)
        except Exception as error:
            gradebook_note = f"formgrader marks not read: {error}"
    lateness = assess_lateness(
        course.config.late, course.config.deadline, record.submitted_at, manual.extension if manual else None
    )
    grade = combine(rubric, findings, manual.marks if manual else {}, lateness, course.config.late)
    notebook_path = folder / record.notebook if record.notebook else None
    _number_cells(record, notebook_path)
    first_error = None
    if record.status == FAILED:
        # a failed run is called a failed run: the protocol's caps say the run failed (the protocol could
        # not be checked), not that it was not followed, and the page shows the student's own traceback
        first_error = failed_cell(notebook_path, record)
        because = (
            f"cell {first_error['cell']} raised {first_error['ename']}"
            if first_error
            else (record.reason or "it did not run to the end").rstrip(".")
        )
        for criterion in grade.criteria:
            for cap in criterion.caps:
                if cap["check_id"].startswith("protocol."):
                    cap["note"] = (
                        f"The notebook's run failed ({because}), so the protocol could not be checked and "
                        "there are no results to compare with the leaderboard."
                    )

    catalogue = course.config.catalogue
    challenge = None
    key = record.challenge or letter
    if key:
        try:
            challenge = catalogue.get(key)
        except ValueError:
            challenge = None
    score = course.load_score(student, assignment) if challenge is not None else None
    if score is not None and challenge is not None and score.get("task") != challenge.task:
        score = None  # a Score of another task (the allocation changed since the checks ran)
    results_error = ""
    if challenge is not None and score is None:
        results_error = (
            "no results file was written by the run"
            if not record.results_file
            else "the results file holds no predictions that could be scored for " + challenge.task
        )

    comments = {
        k: text
        for k, text in (
            ("general", manual.general_comment if manual else ""),
            ("declaration", manual.declaration_comment if manual else ""),
        )
        if text
    }
    grade.student_id, grade.assignment = student, assignment
    grade.challenge = challenge.letter if challenge else None
    grade.task = challenge.task if challenge else record.task
    grade.execution = record.cache_key
    grade.run = RunSummary(
        status=record.status,
        reason=record.reason,
        wall_seconds=record.wall_seconds,
        cpu_seconds=record.cpu_seconds,
        peak_memory_mb=record.peak_memory_mb,
        sandbox=record.sandbox,
        submitted_at=record.submitted_at,
        notebook=record.notebook,
        # numbered as the student counts their cells (from 1, papermill's injected cell not counted)
        cells_failed=[c.number or c.index + 1 for c in record.cells if c.status not in ("completed",)],
        first_error=first_error,
        feature_cache=record.environment.get("feature_cache") or None,
    )
    grade.results, grade.results_error = score, results_error
    grade.presentation, grade.comments = talk_facts, comments
    grade.findings = list(findings)
    grade.rubric = RubricRef(rubric.title, rubric.sha256)
    grade.generated_at = _now()
    if gradebook_note:
        grade.attention.append(AttentionFlag(GRADEBOOK_NOT_READ, "", WARN, gradebook_note))
    stored = course.load_grade(student, assignment)  # as stored: a key it lacks or has besides is a change
    if stored is not None and _grade_content(stored) == _grade_content(grade.to_json()):
        grade.generated_at = stored.get("generated_at", grade.generated_at)  # unchanged: left as it is
    else:
        write_grade(course, student, assignment, grade)

    if bridge is not None:
        notebook = folder / record.notebook if record.notebook else None
        key_path = course.gradebook_key_path(student, assignment)
        key = _gradebook_key(course, grade, rubric, folder, notebook)
        if read_cache_key(key_path) != key:
            bridge.record(student, assignment, grade, rubric, record, notebook, record.submitted_at)
            write_text_atomic(key_path, key + "\n")
    return grade


def _grade_content(grade: dict[str, Any]) -> str:
    """A grade as stored, but for the moment it was made."""
    return json.dumps({k: v for k, v in grade.items() if k != "generated_at"}, sort_keys=True, default=str)


def _stat(path: Path | None) -> list[int] | None:
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns] if info is not None else None


@functools.lru_cache(maxsize=1)
def _gradebook_code() -> str:
    from autograder.grade import (
        gradebook,  # the module that writes the entry (its 0.4 s of imports are paid anyway)
    )

    return hashlib.sha256(Path(gradebook.__file__).read_bytes()).hexdigest()


def _gradebook_key(course: Any, grade: Grade, rubric: Rubric, folder: Path, notebook: Path | None) -> str:
    """A hash of everything a gradebook entry is written from."""
    database = _stat(course.gradebook_path)
    try:
        identity = [course.gradebook_path.stat().st_ino, course.gradebook_path.stat().st_dev]
    except OSError:
        identity = None
    blob = json.dumps(
        [
            _grade_content(grade.to_json()),
            rubric.sha256,
            _stat(course.result_path(grade.student_id, grade.assignment)),
            _stat(notebook),
            identity,
            database is not None,
            _gradebook_code(),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _number_cells(record: ExecutionRecord, notebook_path: Path | None) -> None:
    """Give cell records written before they carried the student's numbering (`CellRun.number`) their
    number, from the executed notebook (papermill's injected cell not counted); only a record with a
    cell that did not complete needs it."""
    if all(c.number is not None or c.injected for c in record.cells if c.status != "completed"):
        return
    if notebook_path is None or not Path(notebook_path).is_file():
        return
    import nbformat  # only for an old record with failed cells

    try:
        cells = nbformat.read(str(notebook_path), as_version=4).cells
    except (OSError, ValueError):
        return
    injected = [i for i, cell in enumerate(cells) if "injected-parameters" in cell.metadata.get("tags", [])]
    for run in record.cells:
        if run.index in injected:
            run.injected = True
        elif run.number is None:
            run.number = run.index + 1 - sum(1 for i in injected if i < run.index)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IN_COUNTER = re.compile(r"(?:Cell In|Input In) ?\[(\d+)\]")


def failed_cell(notebook_path: Path | None, record: ExecutionRecord) -> dict[str, Any] | None:
    """The first cell that raised when the grader ran the notebook: its number as the student counts it,
    the error, and the traceback's frames in the student's own code (papermill and library frames left
    out: the student can act only on their cell)."""
    first = next((c for c in record.cells if c.status == "failed" and c.error), None)
    if first is None or first.error is None:
        return None
    found = {
        "cell": first.number or first.index + 1,
        "ename": first.error.get("ename") or "Error",
        "evalue": str(first.error.get("evalue") or "")[:500],
        "traceback": "",
    }
    if notebook_path is None or not Path(notebook_path).is_file():
        return found
    import nbformat  # only for a failed run: its traceback

    try:
        cells = nbformat.read(str(notebook_path), as_version=4).cells
        cell = cells[first.index]
    except (OSError, ValueError, IndexError):
        return found
    # IPython names a frame by the execution counter ("Cell In[9], line 17"); the student counts cells
    numbers = {
        cells[c.index].get("execution_count"): c.number or c.index + 1
        for c in record.cells
        if not c.injected and c.index < len(cells) and cells[c.index].get("execution_count") is not None
    }

    def in_their_numbering(match: re.Match[str]) -> str:
        number = numbers.get(int(match.group(1)))
        return f"Your cell {number}" if number else match.group(0)

    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        own, frame = [], None
        for line in "\n".join(_ANSI.sub("", text) for text in output.get("traceback", [])).splitlines():
            if line.startswith(("Cell In[", "Input In [")):
                frame = [_IN_COUNTER.sub(in_their_numbering, line)]
                own.append(frame)
            elif (
                line.startswith(("File ", f"{found['ename']}:"))
                or set(line.strip()) == {"-"}
                or "Traceback (most recent call last)" in line
            ):
                frame = None  # a library's frame, the banner or the error line (added once below)
            elif frame is not None and line.strip():
                frame.append(line)
        found["traceback"] = "\n\n".join(
            ["\n".join(f) for f in own] + [f"{found['ename']}: {found['evalue']}"]
        )[:4000]
        break
    return found
