"""Into and out of the one store of marks (nbgrader's gradebook): `marks import`, `marks export`, and
the import of the course's marks CSV that `autograder grade` does when the file changed.

An import never overwrites what a person entered elsewhere: a mark that differs from what the last
import wrote was changed in formgrader since, and the import stops on it (naming the line) unless the
instructor says `--replace`. The gradebook takes the whole file in one transaction, or nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.course.allocation import Allocation, read_allocation
from autograder.grade.marks import (
    FIRST,
    SECOND,
    CommentParts,
    KnownStudents,
    MarkRow,
    MarksError,
    read_marks_csv,
)
from autograder.grade.rubric import Rubric, load_rubric

if TYPE_CHECKING:
    from autograder.course.config import Course
    from autograder.grade.gradebook import GradebookBridge


@dataclass
class ImportResult:
    path: Path
    rows: int = 0
    changed: int = 0
    students: list[str] = field(default_factory=list)
    skipped: bool = False  # the file had not changed since its last import


def known_students(course: Course, assignment: str, allocation: Allocation | None = None) -> KnownStudents:
    """Who may have marks, with ids compared as the course says (the one check of every marks file:
    `marks import` and `grade` report the same problems); `allocation` as the batch read it (None:
    read allocation.csv)."""
    if allocation is None:
        allocation = read_allocation(
            course.allocation_path, course.config.catalogue, course.config.case_sensitive_ids
        )
    return KnownStudents(
        allocation, set(course.submitted_students(assignment)) | set(course.executed_students(assignment))
    )


def _stored_form(row: MarkRow) -> dict[str, Any]:
    return {
        "mark": row.mark,
        "comment": row.comment,
        "marker": row.marker,
        "override": row.override,
        "accept": row.accept,
        "line": row.line,
    }


def _open_bridge(course: Course, assignment: str) -> GradebookBridge:
    from autograder.grade.gradebook import GradebookBridge, GradebookError

    try:
        bridge = GradebookBridge.for_course(course)
    except GradebookError:
        raise
    except Exception as error:
        raise GradebookError(f"The gradebook cannot be opened ({type(error).__name__}: {error}).") from error
    try:
        bridge.notebooks(assignment)
    except BaseException:
        bridge.close()
        raise
    return bridge


def import_marks(
    course: Course,
    assignment: str,
    path: Path,
    *,
    replace: bool = False,
    rubric: Rubric | None = None,
    bridge: GradebookBridge | None = None,
    allocation: Allocation | None = None,
) -> ImportResult:
    """Check a marks CSV as a whole and store it in the gradebook (all rows or none)."""
    path = Path(path)
    if not path.is_file():
        raise MarksError(
            f"{path}: no such file. The marks CSV has the columns student_id, criterion, mark, "
            "comment (and optionally marker, override, role)."
        )
    rubric = rubric or load_rubric(course.rubric_path)
    rows = read_marks_csv(path, rubric, known_students(course, assignment, allocation))
    log = course.load_marks_import_log(assignment)
    previous = log.get("marks", {})

    def may_change(row: MarkRow, current: tuple[float | None, CommentParts]) -> bool:
        mark, parts = current
        if replace or (mark is None and not parts.text and not parts.accept and not parts.override):
            return True
        before = previous.get(row.student, {}).get(row.criterion)
        return before is not None and (
            before["mark"],
            before["comment"],
            before["marker"],
            before["override"],
            before["accept"],
        ) == (mark, parts.text, parts.marker, parts.override, parts.accept)

    def same_as_last_import(row: MarkRow) -> bool:
        before = previous.get(row.student, {}).get(row.criterion)
        now = _stored_form(row)
        return (
            row.role == FIRST
            and before is not None
            and all(before.get(k) == now[k] for k in now if k != "line")
        )

    # only what changed since the last import goes in: a file of 200 students with one new mark costs one
    # student's writes (and a row equal to the last import never undoes a later change in formgrader)
    changed = [row for row in rows if replace or not same_as_last_import(row)]
    conflicts = {}
    if changed:
        own = bridge is None
        bridge = bridge or _open_bridge(course, assignment)
        try:
            conflicts = bridge.store_marks(assignment, rubric, changed, may_change=may_change)
        finally:
            if own:
                bridge.close()
    if conflicts:
        lines = {(r.student, r.criterion): r.line for r in rows if r.role == FIRST}
        listed = "\n  ".join(
            f"line {lines[key]}: {key[0]} / {key[1]}: the gradebook has {what}"
            for key, what in sorted(conflicts.items(), key=lambda item: lines[item[0]])
        )
        raise MarksError(
            f"{path}: {len(conflicts)} mark(s) were changed in formgrader since the last import, and "
            f"the file would overwrite them; nothing was applied:\n  {listed}\n"
            "Bring the file up to date (`autograder marks export`), or run `autograder marks import "
            "--replace` if the file is the decision that counts."
        )
    for row in rows:
        if row.role == FIRST:
            previous.setdefault(row.student, {})[row.criterion] = _stored_form(row)
    files = log.get("files", {})
    files[str(path.resolve())] = _digest(path)
    course.save_marks_import_log(assignment, {"files": files, "marks": previous})
    return ImportResult(
        path, rows=len(rows), changed=len(changed), students=sorted({r.student for r in rows})
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def import_course_marks(
    course: Course,
    assignment: str,
    rubric: Rubric,
    bridge: GradebookBridge | None,
    allocation: Allocation | None = None,
) -> list[ImportResult]:
    """The course's marks CSVs (marks/<assignment>.csv, marks.csv), imported when they changed since
    their last import: what `autograder grade` does before it grades anyone."""
    paths = course.marks_csv_paths(assignment)
    if not paths:
        return []
    students = known_students(course, assignment, allocation)
    rows_of = {path: read_marks_csv(path, rubric, students) for path in paths}  # a bad file: its lines, first
    if bridge is None:
        raise MarksError(
            f"{paths[0]} holds marks, but the gradebook, where marks are kept, cannot be opened. "
            "Release the assignment first (`autograder release`), then grade again."
        )
    if len(paths) > 1:  # the same mark in both files would leave the winner to the order of the imports
        seen: dict[tuple[str, str, str], str] = {}
        for path in paths:
            for row in rows_of[path]:
                key = (row.student, row.criterion, row.role)
                if key in seen:
                    raise MarksError(
                        f"{path}, line {row.line}: {row.student} / {row.criterion} is also given in "
                        f"{seen[key]}; keep it in one file. Nothing was applied."
                    )
                seen[key] = f"{path.name}, line {row.line}"
    files = course.load_marks_import_log(assignment).get("files", {})
    results = []
    for path in paths:
        if files.get(str(path.resolve())) == _digest(path):
            results.append(ImportResult(path, skipped=True))
            continue
        results.append(
            import_marks(course, assignment, path, rubric=rubric, bridge=bridge, allocation=allocation)
        )
    return results


def stored_rows(course: Course, assignment: str, rubric: Rubric | None = None) -> list[MarkRow]:
    """Every mark and comment the gradebook holds for the assignment, as marks CSV rows (what
    `marks export` writes: importing it again changes nothing)."""
    rubric = rubric or load_rubric(course.rubric_path)
    students = sorted(known_students(course, assignment).allocated)
    rows: list[MarkRow] = []
    bridge = _open_bridge(course, assignment)
    try:
        for student in students:
            current = bridge._retrying(partial(bridge.current_marks, assignment, rubric, student))
            for criterion, (mark, parts) in current.items():
                if mark is not None or parts.text or parts.accept or parts.override:
                    rows.append(
                        MarkRow(
                            0,
                            student,
                            criterion,
                            mark,
                            parts.accept and mark is None,
                            parts.text,
                            parts.marker,
                            parts.override,
                            FIRST,
                        )
                    )
                for second in parts.second_marks:
                    rows.append(
                        MarkRow(
                            0,
                            student,
                            criterion,
                            second.mark,
                            False,
                            second.comment,
                            second.marker,
                            "",
                            SECOND,
                        )
                    )
    finally:
        bridge.close()
    return rows
