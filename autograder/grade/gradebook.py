"""The bridge to nbgrader's gradebook (nbgrader.api.Gradebook: SQLite by default, any database URL
nbgrader accepts), so that formgrader shows our results and manual grading there feeds back into
our marks.

What goes in, per submission (updated in place on re-grading, never duplicated):
  * the student and the submission (with its submission time);
  * the autograded test cells' scores, determined from the executed notebook as nbgrader's
    autograde does (`nbgrader.utils.determine_grade`), except that a test cell that did not run
    to completion scores 0 (nbgrader would give an output-less cell full marks);
  * for each manually graded cell the rubric names (`formgrader_cell`): our suggested mark and the
    evidence as `auto_comment`. No score until a marker grades or accepts the suggestion (then the
    accepted mark is the cell's `auto_score`): formgrader adds every cell's score into its total, so a
    suggestion there would make a total that looks final while the feedback page says *pending*; the
    cell stays "needs manual grading" instead. The marker's `manual_score` and `manual_comment` are
    never touched;
  * the student; one nobody named gets empty names (formgrader lists "last, first" beside the id, and
    nbgrader's missing names read "None, None");
  * nbgrader's late penalty (`late_submission_penalty`): the same fraction of nbgrader's score as
    the course's late policy took off our mark.

What comes out: the markers' manual scores (scaled to 0-100) and comments (with the record lines of
autograder.grade.marks: marker, override, accept, second marks), and any extension granted in nbgrader
(`nbgrader db`/formgrader), which moves the student's deadline. The gradebook is the one store of the
markers' marks: `store_marks` is how a marks CSV gets in (autograder.grade.marks_store).

SQLite allows one writer at a time: a marker saving in formgrader while a batch writes locks the file
for a moment. Every read and write here is retried (rolled back and done again) for up to
`LOCK_RETRY_SECONDS`, then ends in a GradebookError that names the processes holding the file.

The assignment and its cells are recorded by `autograder release` (nbgrader generate_assignment).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from autograder.course.config import ConfigError, nbgrader_course_settings
from autograder.errors import UserError
from autograder.grade.marks import (
    FIRST,
    FORMGRADER,
    CommentParts,
    ManualMark,
    MarkRow,
    join_comment,
    split_comment,
)
from autograder.grade.record import CAP_OVERRIDDEN, CriterionMark, Grade
from autograder.grade.rubric import Rubric
from autograder.records import ExecutionRecord

if TYPE_CHECKING:
    from autograder.course.config import Course

T = TypeVar("T")
# may_change(row, current): may a different mark already in the gradebook be replaced by this row?
MayChange = Callable[[MarkRow, tuple[float | None, CommentParts]], bool]

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 60.0  # how long a locked gradebook is waited for before giving up


@contextmanager
def _quiet() -> Iterator[None]:
    """nbgrader 0.9's add_submission triggers SQLAlchemy 2 "not in session" warnings that are
    harmless (nbgrader adds the objects itself right after); keep them out of the user's terminal."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


class GradebookError(UserError):
    """The gradebook cannot be used for this assignment; the message says what to do."""


def nbgrader_settings(course: Course) -> tuple[str, str]:
    """(db_url, course_id) as nbgrader sees them: from the course's nbgrader_config.py, with a
    relative SQLite path taken relative to the course root; defaults otherwise."""
    url, course_id = course.gradebook_url, course.config.course_id
    try:
        directory = nbgrader_course_settings(course.root)
    except ConfigError as error:
        raise GradebookError(str(error)) from error
    if directory.get("db_url"):
        url = str(directory["db_url"])
    if directory.get("course_id"):
        course_id = str(directory["course_id"])
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        url = prefix + str((Path(course.root) / url[len(prefix) :]).resolve())
    return url, course_id


@dataclass
class ManualGrades:
    marks: dict[str, ManualMark]  # criterion -> the marker's mark in the gradebook
    declaration_comment: str = ""
    general_comment: str = ""
    extension: timedelta | None = None


class GradebookBridge:
    """One open gradebook for a grading batch (single writer). Use as a context manager."""

    def __init__(self, db_url: str, course_id: str) -> None:
        from nbgrader.api import Gradebook

        self.db_url = db_url
        # nbgrader.api.Gradebook (nbgrader has no type hints); None until it is open
        self.gradebook: Any = None
        self._cohort_assignment: str | None = None  # whose marks manual_grades reads for the whole cohort
        self._cohort_marks: dict[str, ManualGrades] | None = None  # student -> marks, as read (None: not yet)
        self.gradebook = self._retrying(lambda: Gradebook(db_url, course_id=course_id))

    @classmethod
    def for_course(cls, course: Course) -> GradebookBridge:
        return cls(*nbgrader_settings(course))

    def __enter__(self) -> GradebookBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.gradebook is not None:
            self.gradebook.close()

    # --- lookup -----------------------------------------------------------------------------

    def notebooks(self, assignment: str) -> list[Any]:  # nbgrader.api.Notebook
        from nbgrader.api import MissingEntry

        try:
            found = self.gradebook.find_assignment(assignment)
        except MissingEntry as error:
            raise GradebookError(
                f"The gradebook has no assignment '{assignment}'. Run `autograder release` first: "
                "nbgrader records the assignment's cells in the gradebook then."
            ) from error
        if not found.notebooks:
            raise GradebookError(
                f"The gradebook's assignment '{assignment}' has no notebooks. Run `autograder release` again."
            )
        return list(found.notebooks)

    def _cells(self, notebook: Any) -> dict[str, Any]:
        """grade_id -> GradeCell/TaskCell of a master notebook."""
        return {cell.name: cell for cell in list(notebook.grade_cells) + list(notebook.task_cells)}

    def _find_grade(self, cell: str, notebook: str, assignment: str, student: str) -> Any:
        from nbgrader.api import MissingEntry

        try:
            return self.gradebook.find_grade(cell, notebook, assignment, student)
        except MissingEntry:
            return None

    def _find_comment(self, cell: str, notebook: str, assignment: str, student: str) -> Any:
        from nbgrader.api import MissingEntry

        try:
            return self.gradebook.find_comment(cell, notebook, assignment, student)
        except MissingEntry:
            return None

    # --- reading the markers' grades -------------------------------------------------------------

    def manual_grades(self, student: str, assignment: str, rubric: Rubric) -> ManualGrades:
        if assignment == self._cohort_assignment:
            if self._cohort_marks is None:  # the first student asked for, or marks stored since
                self._cohort_marks = self._retrying(lambda: self._read_cohort_marks(assignment, rubric))
            read = self._cohort_marks.pop(student, None)
            if read is not None:
                return read
        return self._retrying(lambda: self._manual_grades(student, assignment, rubric))

    def read_marks_by_cohort(self, assignment: str) -> None:
        """From now on manual_grades reads every submission's marks and comments of this assignment at
        once, in a few queries (one per table) rather than a handful per student: a batch grading them
        all. They are read when the first student is asked for (after any marks CSV was stored), and
        again after marks are stored."""
        self._cohort_assignment, self._cohort_marks = assignment, None

    def _read_cohort_marks(self, assignment: str, rubric: Rubric) -> dict[str, ManualGrades]:
        from nbgrader.api import Assignment, Comment, Grade, Notebook, SubmittedAssignment, SubmittedNotebook
        from sqlalchemy.orm import selectinload

        notebooks = selectinload(SubmittedAssignment.notebooks)
        submissions = (
            self.gradebook.db.query(SubmittedAssignment)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .filter(Assignment.name == assignment)
            .options(
                notebooks.selectinload(SubmittedNotebook.grades).selectinload(Grade.cell),
                notebooks.selectinload(SubmittedNotebook.comments).selectinload(Comment.cell),
                notebooks.selectinload(SubmittedNotebook.notebook).selectinload(Notebook._base_cells),
            )  # nbgrader keeps its cells in this relationship
            .all()
        )
        return {
            submission.student_id: self._submission_grades(submission, rubric) for submission in submissions
        }

    def _manual_grades(self, student: str, assignment: str, rubric: Rubric) -> ManualGrades:
        from nbgrader.api import MissingEntry

        try:
            submission = self.gradebook.find_submission(assignment, student)
        except MissingEntry:
            return ManualGrades({})
        return self._submission_grades(submission, rubric)

    def _submission_grades(self, submission: Any, rubric: Rubric) -> ManualGrades:
        result = ManualGrades({})
        result.extension = submission.extension
        cells = rubric.formgrader_cells
        # the submission's grades and comments in one query each (not two queries per cell: a re-grade of
        # 200 students spent 8 s in them); their cells are the master cells already loaded
        for submitted in submission.notebooks:
            masters = self._cells(submitted.notebook)
            grades = {grade.cell.name: grade for grade in submitted.grades}
            comments = {comment.cell.name: comment for comment in submitted.comments}
            for grade_id, criterion in cells.items():
                master = masters.get(grade_id)
                if master is None:
                    continue
                grade, comment = grades.get(grade_id), comments.get(grade_id)
                parts = split_comment(comment.manual_comment if comment is not None else "")
                mark = None
                if grade is not None and grade.manual_score is not None and master.max_score:
                    points = grade.manual_score + (grade.extra_credit or 0.0)
                    mark = round(min(100.0, max(0.0, 100.0 * points / master.max_score)), 2)
                if mark is not None or parts.text or parts.accept or parts.second_marks:
                    result.marks[criterion] = ManualMark(
                        criterion,
                        mark,
                        parts.text,
                        FORMGRADER,
                        f"formgrader cell {grade_id}",
                        accept_suggestion=parts.accept and mark is None,
                        marker=parts.marker,
                        override=parts.override,
                        second_marks=parts.second_marks,
                    )
            for cell, attribute in (
                (rubric.declaration_cell, "declaration_comment"),
                (rubric.general_cell, "general_comment"),
            ):
                comment = comments.get(cell) if cell and cell in masters else None
                if comment is not None and comment.manual_comment:
                    setattr(result, attribute, split_comment(comment.manual_comment).text)
        return result

    # --- the markers' marks from a spreadsheet ------------------------------------------------------

    def store_marks(
        self, assignment: str, rubric: Rubric, rows: list[MarkRow], *, may_change: MayChange
    ) -> dict[tuple[str, str], str]:
        """Write checked marks CSV rows into the gradebook, in one transaction: all of them or none.
        `may_change(row, current)` says whether a different mark already there may be replaced (the
        caller knows which marks an earlier import wrote); when it says no for any row, nothing is
        written and the rows are returned as conflicts (student, criterion) -> what is there."""
        self._cohort_marks = None  # what was read before is no longer what is there
        return self._retrying(lambda: self._store_marks(assignment, rubric, rows, may_change))

    def _cell_of(self, rubric: Rubric, criterion: str) -> str | None:
        if criterion == "declaration":
            return rubric.declaration_cell
        if criterion == "general":
            return rubric.general_cell
        return rubric.criteria[criterion].formgrader_cell

    def current_marks(
        self, assignment: str, rubric: Rubric, student: str
    ) -> dict[str, tuple[float | None, CommentParts]]:
        """criterion -> (the mark in the gradebook on the 0-100 scale, its comment split) for one student."""
        from nbgrader.api import MissingEntry

        out: dict[str, tuple[float | None, CommentParts]] = {}
        try:
            self.gradebook.find_submission(assignment, student)
        except MissingEntry:
            return out
        notebook = self.notebooks(assignment)[0]
        masters = self._cells(notebook)
        for criterion in list(rubric.criteria) + ["declaration", "general"]:
            cell = self._cell_of(rubric, criterion)
            if not cell or cell not in masters:
                continue
            grade = self._find_grade(cell, notebook.name, assignment, student)
            comment = self._find_comment(cell, notebook.name, assignment, student)
            mark = None
            if grade is not None and grade.manual_score is not None and masters[cell].max_score:
                mark = round(100.0 * grade.manual_score / masters[cell].max_score, 2)
            out[criterion] = (mark, split_comment(comment.manual_comment if comment is not None else ""))
        return out

    def _store_marks(
        self, assignment: str, rubric: Rubric, rows: list[MarkRow], may_change: MayChange
    ) -> dict[tuple[str, str], str]:
        notebooks = self.notebooks(assignment)
        if len(notebooks) != 1:
            raise GradebookError(
                f"The gradebook's assignment '{assignment}' has {len(notebooks)} notebooks; "
                "marks can be imported for a one-notebook assignment only."
            )
        notebook = notebooks[0]
        masters = self._cells(notebook)
        missing_cells = sorted(
            {
                self._cell_of(rubric, r.criterion) or r.criterion
                for r in rows
                if (self._cell_of(rubric, r.criterion) or "") not in masters
            }
        )
        if missing_cells:
            raise GradebookError(
                f"The released notebook has no formgrader cell(s) {', '.join(missing_cells)} "
                "named in the rubric; release the assignment again (`autograder release`)."
            )
        conflicts: dict[tuple[str, str], str] = {}
        try:
            with _quiet():
                by_student: dict[str, list[MarkRow]] = {}
                for row in rows:
                    by_student.setdefault(row.student, []).append(row)
                for student, student_rows in by_student.items():
                    self._add_student(student)
                    try:
                        self.gradebook.find_submission(assignment, student)
                    except Exception:
                        self.gradebook.update_or_create_submission(assignment, student)
                    current = self.current_marks(assignment, rubric, student)
                    for row in sorted(student_rows, key=lambda r: r.role != FIRST):
                        cell = self._cell_of(rubric, row.criterion)
                        assert cell is not None  # every row's cell is among the masters (checked above)
                        grade = self._find_grade(cell, notebook.name, assignment, student)
                        comment = self._find_comment(cell, notebook.name, assignment, student)
                        mark, parts = current.get(row.criterion, (None, CommentParts()))
                        if row.role == FIRST:
                            new = CommentParts(
                                row.comment, row.marker, row.override, row.accept, parts.second_marks
                            )
                            if (mark, parts) != (row.mark, new) and not may_change(row, (mark, parts)):
                                conflicts[(student, row.criterion)] = (
                                    f"{mark:g}" if mark is not None else "a comment"
                                ) + " entered in formgrader"
                                continue
                            if grade is not None and row.criterion not in ("declaration", "general"):
                                points = masters[cell].max_score or 0.0
                                grade.manual_score = (
                                    None if row.mark is None else round(row.mark * points / 100.0, 4)
                                )
                                grade.needs_manual_grade = row.mark is None and not row.accept
                        else:
                            from autograder.grade.marks import SecondMark

                            second_mark = row.mark
                            assert second_mark is not None  # read_marks_csv: a second mark has a mark
                            others = [m for m in parts.second_marks if m.marker != row.marker]
                            new = CommentParts(
                                parts.text,
                                parts.marker,
                                parts.override,
                                parts.accept,
                                others + [SecondMark(second_mark, row.marker, row.comment)],
                            )
                        if comment is not None:
                            comment.manual_comment = join_comment(new) or None
                        current[row.criterion] = (row.mark if row.role == FIRST else mark, new)
            if conflicts:
                self.gradebook.db.rollback()
            else:
                self.gradebook.db.commit()
        except BaseException:
            self.gradebook.db.rollback()
            raise
        return conflicts

    # --- a gradebook in use --------------------------------------------------------------------------

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run `action` (reads and writes of the gradebook), again after a rollback while SQLite says
        the database is locked, for up to LOCK_RETRY_SECONDS."""
        from sqlalchemy.exc import OperationalError

        deadline, pause = time.monotonic() + LOCK_RETRY_SECONDS, 0.2
        while True:
            try:
                with _quiet():
                    return action()
            except OperationalError as error:
                if "locked" not in str(error).lower() and "busy" not in str(error).lower():
                    raise
                if self.gradebook is not None:
                    self.gradebook.db.rollback()
                if time.monotonic() + pause > deadline:
                    raise GradebookError(
                        f"The gradebook {self.db_url} stayed locked for {LOCK_RETRY_SECONDS:.0f} s"
                        f"{_lock_holders(self.db_url)}. Save or close formgrader's open grade, then run the "
                        "command again: nothing of this attempt was written."
                    ) from error
                log.info("gradebook locked; retrying in %.1f s", pause)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    # --- writing our results -------------------------------------------------------------------------

    def _add_student(self, student: str) -> None:
        """The student in nbgrader's gradebook. Names are never copied from the roster; a student nobody
        named gets empty names (formgrader lists students as "last, first" beside the id, and nbgrader's
        missing names read "None, None"; the export's name columns stay empty). Names an instructor gave
        (`nbgrader db student import`) stay."""
        from nbgrader.api import MissingEntry

        try:
            found = self.gradebook.find_student(student)
        except MissingEntry:
            self.gradebook.add_student(student, last_name="", first_name="")
            return
        if found.last_name is None and found.first_name is None:
            found.last_name, found.first_name = "", ""

    def record(
        self,
        student: str,
        assignment: str,
        grade: Grade,
        rubric: Rubric,
        record: ExecutionRecord | None = None,
        executed_notebook: Path | None = None,
        submitted_at: str | None = None,
    ) -> dict[str, Any]:
        """Store one submission's results; returns what was written (for logs and tests)."""
        return self._retrying(
            lambda: self._record(student, assignment, grade, rubric, record, executed_notebook, submitted_at)
        )

    def _record(
        self,
        student: str,
        assignment: str,
        grade: Grade,
        rubric: Rubric,
        record: ExecutionRecord | None,
        executed_notebook: Path | None,
        submitted_at: str | None,
    ) -> dict[str, Any]:
        self.notebooks(assignment)  # raises GradebookError with advice when not released
        self._add_student(student)
        kwargs = {}
        from autograder.grade.lateness import parse_time

        moment = parse_time(submitted_at)
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            kwargs["timestamp"] = moment
        self.gradebook.update_or_create_submission(assignment, student, **kwargs)
        executed = self._read_notebook(executed_notebook)
        run_status = {c.grade_id: c.status for c in (record.cells if record else []) if c.grade_id}
        written: dict[str, Any] = {"tests": {}, "criteria": {}}
        for notebook in self.notebooks(assignment):
            masters = self._cells(notebook)
            for grade_id, master in masters.items():
                grade_row = self._find_grade(grade_id, notebook.name, assignment, student)
                if grade_row is None:
                    continue
                criterion = rubric.formgrader_cells.get(grade_id)
                if criterion is not None:
                    entry = grade.criterion(criterion) or CriterionMark(criterion, "", 0.0)
                    suggested = entry.suggested
                    if entry.caps and suggested is not None:
                        suggested = min(suggested, min(c["cap"] for c in entry.caps))
                    comment = self._find_comment(grade_id, notebook.name, assignment, student)
                    accepted = comment is not None and split_comment(comment.manual_comment).accept
                    # a suggestion is not a mark: only an accepted one counts in formgrader's total
                    grade_row.auto_score = (
                        round(suggested * master.max_score / 100.0, 2)
                        if accepted and suggested is not None and master.max_score
                        else None
                    )
                    grade_row.needs_manual_grade = grade_row.manual_score is None and not accepted
                    if comment is not None:
                        comment.auto_comment = self._criterion_comment(entry, executed, grade_id)
                    written["criteria"][grade_id] = grade_row.auto_score
                elif not master.max_score and master.cell_type == "markdown":
                    grade_row.needs_manual_grade = False  # an answer or feedback cell that carries no marks
                    if grade_id == rubric.declaration_cell:
                        comment = self._find_comment(grade_id, notebook.name, assignment, student)
                        if comment is not None:
                            comment.auto_comment = self._declaration_comment(grade)
                elif grade_id == rubric.declaration_cell:
                    comment = self._find_comment(grade_id, notebook.name, assignment, student)
                    if comment is not None:
                        comment.auto_comment = self._declaration_comment(grade)
                elif executed is not None and grade_id in executed and executed[grade_id].cell_type == "code":
                    score = self._test_score(executed[grade_id], run_status.get(grade_id))
                    grade_row.auto_score = score
                    grade_row.needs_manual_grade = grade_row.manual_score is not None or score is None
                    written["tests"][grade_id] = score
                elif executed is None and master.cell_type == "code" and record is not None:
                    grade_row.auto_score = 0.0  # nothing ran (intake error or no notebook)
                    grade_row.needs_manual_grade = grade_row.manual_score is not None
                    written["tests"][grade_id] = 0.0
        self.gradebook.db.commit()
        written["late_submission_penalty"] = self._record_late_penalty(assignment, student, grade)
        return written

    def _record_late_penalty(self, assignment: str, student: str, grade: Grade) -> float | None:
        """nbgrader's own late penalty (points off the notebook's score, shown by formgrader and
        `nbgrader export`): the same fraction of the nbgrader score as the course's late policy took off
        our mark. None (nbgrader's "no penalty") when on time, or while the mark is incomplete; it is
        set again at each re-grade, so grade again (`--no-execute`) after marking in formgrader."""
        from nbgrader.api import MissingEntry

        before, after = grade.overall.before_late, grade.overall.exact
        penalty = None
        for notebook in self.notebooks(assignment):
            try:
                submitted = self.gradebook.find_submission_notebook(notebook.name, assignment, student)
            except MissingEntry:
                continue
            penalty = None
            if before and after is not None and after < before:
                penalty = round((submitted.score or 0.0) * (1 - after / before), 2)
            submitted.late_submission_penalty = penalty
        self.gradebook.db.commit()
        return penalty

    @staticmethod
    def _read_notebook(path: Path | None) -> dict[str, Any] | None:
        if path is None or not Path(path).is_file():
            return None
        import nbformat

        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception as error:  # an unreadable notebook: the tests score 0, recorded by the caller
            log.warning("could not read %s for the gradebook: %s", Path(path).name, error)
            return None
        cells: dict[str, Any] = {}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id:
                cells[grade_id] = cell  # nbgrader's DeduplicateIds keeps the last copy too
        return cells

    @staticmethod
    def _test_score(cell: Any, status: str | None) -> float | None:
        from nbgrader.utils import determine_grade, is_grade

        if not is_grade(cell):
            return None
        if status is not None and status != "completed":
            return 0.0
        if status is None and cell.get("execution_count") is None and not cell.get("outputs"):
            return 0.0  # never ran
        score: float | None = determine_grade(cell, log)[0]
        return score

    @staticmethod
    def _criterion_comment(entry: CriterionMark, executed: dict[str, Any] | None, grade_id: str) -> str:
        lines = []
        if entry.suggested is not None:
            lines.append(f"Autograder suggestion: {entry.suggested:g}/100 (provisional until you grade).")
        else:
            lines.append("Autograder: no suggested mark for this criterion; please grade it.")
        for item in entry.evidence:
            if item.get("effect") == "limit":
                lines.append(
                    f"Suggestion limited to {item['limit']:g} by rubric rule {item['rule']} "
                    f"({item['check_id']}): {item['note']} Your own mark is not limited."
                )
        for cap in entry.caps:
            lines.append(
                f"Capped at {cap['cap']:g} by rubric rule {cap['rule']} ({cap['check_id']}): {cap['note']}"
            )
        if entry.caps:
            lines.append(
                "The cap is advice: to give a higher mark, add a line 'override: <your reason>' to your "
                "comment (it is shown to the module leader, not to the student)."
            )
        if entry.override:
            lines.append(f"{CAP_OVERRIDDEN}: {entry.override}")
        if entry.evidence:
            shown = ", ".join(f"{e['check_id']} {e['status']}" for e in entry.evidence[:12])
            lines.append(f"Evidence: {shown}.")
        if executed is not None and grade_id in executed:
            from nbgrader.utils import compute_checksum

            cell = executed[grade_id]
            checksum = cell.get("metadata", {}).get("nbgrader", {}).get("checksum")
            if checksum and checksum == compute_checksum(cell):
                lines.append("No response: the cell is as released.")
        return "\n".join(lines)

    @staticmethod
    def _declaration_comment(grade: Grade) -> str:
        items = [f for f in grade.findings if f.check_id.startswith("declaration.")]
        if not items:
            return "Autograder: no declaration check result."
        return "Autograder: " + "; ".join(f"{f.check_id} {f.status}: {f.message}" for f in items[:8])


def _lock_holders(db_url: str) -> str:
    """' (held by: jupyter-server pid 123, ...)' for a SQLite file other processes have open, if we can tell."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return ""
    try:
        import psutil
    except ImportError:
        return ""
    target, holders = str(Path(db_url[len(prefix) :]).resolve()), []
    me = os.getpid()
    for process in psutil.process_iter(["pid", "name", "username"]):
        if process.info["pid"] == me:
            continue
        try:
            if any(f.path == target for f in process.open_files()):
                holders.append(
                    f"{process.info['name']} pid {process.info['pid']} ({process.info['username']})"
                )
        except (psutil.Error, OSError):
            continue
    return f" (open in: {', '.join(holders)})" if holders else ""
