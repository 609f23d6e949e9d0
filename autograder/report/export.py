"""Export marks for the VLE: `autograder export ASSIGNMENT --output FILE [--format blackboard|plain]`.

blackboard  Blackboard Learn (Original) Grade Centre upload: "Work Offline > Upload". The layout
            is the one Grade Centre's own "Download > Selected column" file has, so that a file
            can be checked against a download: every field in double quotes, a header row, then
            one row per student keyed on Username:
              "Last Name","First Name","Username","<Column> [Total Pts: 100 Score] |<column id>",
              "Grading Notes","Notes Format","Feedback to Learner","Feedback Format"
            Grade Centre matches the column by the id after "|" (from "Quick Column Information");
            a header without an id makes Blackboard create a new column, named as given. Notes and
            feedback are SMART_TEXT. UTF-8 with a byte-order mark, CRLF line ends.
            Only final marks are exported (provisional ones with include_provisional); students
            whose mark is incomplete are left out and listed, never exported as a number.
plain       every graded student: status, overall mark, band, late penalty, each criterion's mark.

Nothing is lost: the output (default export/<format>.csv) is written atomically, an existing file is
replaced only with `force`, and a file the course reads (its configuration, the rubric, the
allocation, the markers' marks, the gradebook, anything under source/, release/ or submitted/) is
never written, `force` or not. The output "-" is standard output.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.grade.record import FINAL, INCOMPLETE, LATE_SUBMISSION, PROVISIONAL, Grade, read_grades
from autograder.grade.rubric import load_rubric
from autograder.layout import MARKS_FILE, RELEASE, SOURCE, SUBMITTED, write_text_atomic

STDOUT = "-"

FORMATS = ("blackboard", "plain")


class ExportError(UserError):
    pass


@dataclass
class ExportResult:
    path: Path | None  # None: standard output
    written: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (student, why)
    text: str = ""  # what was written (a byte-order mark first for blackboard)
    replaced: bool = False  # an existing file was replaced (force)

    def to_json(self, assignment: str, fmt: str) -> dict:
        return {
            "assignment": assignment,
            "format": fmt,
            "path": None if self.path is None else str(self.path.absolute()),
            "replaced": self.replaced,
            "written": self.written,
            "left_out": [{"student_id": s, "reason": why} for s, why in self.left_out],
        }


def course_input(course, path: Path) -> str:
    """What the course reads from `path` ('' if nothing): such a file is never an export's output."""
    path = Path(path).resolve()
    named = {
        course.config_path: "the course configuration",
        course.nbgrader_config_path: "nbgrader's configuration",
        course.allocation_path: "the allocation of challenges",
        course.gradebook_path: "the gradebook",
        course.root / MARKS_FILE: "the markers' marks",
        course.rubric_path: "the rubric",
    }
    for assignment in course.known_assignments():
        named[course.marks_csv_path(assignment)] = "the markers' marks"
        named[course.default_rubric_path(assignment)] = "the rubric"
    for known, what in named.items():
        if Path(known).resolve() == path:
            return what
    for folder, what in (
        (SOURCE, "the assignment's source"),
        (RELEASE, "the released assignment"),
        (SUBMITTED, "the students' submissions"),
    ):
        if path.is_relative_to((course.root / folder).resolve()):
            return what
    return ""


def check_output(course, output: Path | str | None, fmt: str, force: bool = False) -> Path | None:
    """Where the export goes (None: standard output), checked before anything is computed or written."""
    if str(output) == STDOUT:
        return None
    path = Path(output) if output is not None else course.export_path(fmt)
    what = course_input(course, path)
    if what:
        raise ExportError(
            f"{path} is {what}, which the course reads: an export never writes there. "
            f"Give another --output (default {course.export_path(fmt)}), or -o - for standard output."
        )
    if path.is_dir():
        raise ExportError(f"{path} is a folder; give the CSV file to write, e.g. {path / (fmt + '.csv')}.")
    if path.exists() and not force:
        raise ExportError(
            f"{path} already exists. Pass --force to replace it, give another --output, "
            "or -o - to write to standard output."
        )
    return path


def _names(course) -> dict[str, tuple[str, str]]:
    """student -> (last name, first name) from nbgrader's gradebook, where an instructor put them
    (`nbgrader db student import`); empty otherwise. The roster's names are never copied."""
    try:
        from nbgrader.api import Gradebook

        from autograder.grade.gradebook import nbgrader_settings

        url, course_id = nbgrader_settings(course)
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).exists():
            return {}
        with Gradebook(url, course_id=course_id) as gradebook:
            return {s.id: (s.last_name or "", s.first_name or "") for s in gradebook.students}
    except Exception:
        return {}


def blackboard_header(column: str, column_id: str) -> str:
    column = column.strip() or "Research challenge"
    return f"{column} [Total Pts: 100 Score] |{column_id.strip()}" if column_id.strip() else column


def feedback_text(grade: Grade) -> str:
    overall = grade.overall
    parts = [f"{c.title} {c.mark:g}" for c in grade.criteria if c.mark is not None]
    text = f"Overall mark {overall.mark} ({overall.band_label})."
    if grade.status != FINAL:
        text += " Provisional: not every part is confirmed by a marker yet."
    if overall.late_penalty:
        text += f" {LATE_SUBMISSION}: {overall.late_penalty}."
    return text + " " + "; ".join(parts) + ". Your feedback page explains each mark."


def audit_columns(grade: Grade) -> tuple[str, str, str]:
    """(markers, overrides, capped) of one grade: "criterion: ..." items joined by "; "."""
    criteria = grade.criteria
    markers = "; ".join(f"{c.key}: {c.marker}" for c in criteria if c.marker)
    overrides = "; ".join(
        f"{c.key}: cap {min(x['cap'] for x in c.caps):g} overridden, {c.override}"
        for c in criteria
        if c.override and c.caps
    )
    capped = "; ".join(
        f"{c.key}: {c.uncapped:g} capped at {c.mark:g}"
        for c in criteria
        if c.uncapped is not None and c.mark is not None
    )
    return markers, overrides, capped


def grading_notes(grade: Grade) -> str:
    flags = sorted({a.flag for a in grade.attention})
    note = f"autograder: status {grade.status}; lateness {grade.lateness.state}"
    if grade.overall.exact is not None:
        note += f"; unrounded {grade.overall.exact:.2f}"
    if flags:
        note += "; flags: " + ", ".join(flags)
    _, overrides, _ = audit_columns(grade)
    if overrides:
        note += "; " + overrides
    return note


def export_marks(
    course,
    assignment: str,
    output: Path | str | None = None,
    fmt: str = "blackboard",
    *,
    include_provisional: bool = False,
    column: str | None = None,
    column_id: str | None = None,
    rubric=None,
    force: bool = False,
) -> ExportResult:
    """Write the export to `output` (default export/<fmt>.csv; "-": nothing is written, the text is in
    the result for the caller to print)."""
    if fmt not in FORMATS:
        import difflib

        close = difflib.get_close_matches(fmt, FORMATS, n=1, cutoff=0.5)
        raise ExportError(
            f"Unknown export format '{fmt}'.{f' Did you mean {close[0]!r}?' if close else ''} "
            f"Formats: {', '.join(FORMATS)}."
        )
    grades = read_grades(course, assignment)
    if not grades:
        raise ExportError(
            f"No graded submissions of '{assignment}' in {course.root / 'autograded'}: "
            "run `autograder grade` first."
        )
    output = check_output(course, output, fmt, force)
    rubric = rubric or load_rubric(course.rubric_path)
    result = ExportResult(output)
    buffer = io.StringIO()
    if fmt == "blackboard":
        names = _names(course)
        column = column if column is not None else rubric.export.get("blackboard_column", rubric.title)
        column_id = column_id if column_id is not None else rubric.export.get("blackboard_column_id", "")
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(
            [
                "Last Name",
                "First Name",
                "Username",
                blackboard_header(column, column_id),
                "Grading Notes",
                "Notes Format",
                "Feedback to Learner",
                "Feedback Format",
            ]
        )
        for student, grade in sorted(grades.items()):
            status = grade.status
            mark = grade.overall.mark
            exportable = status == FINAL or (include_provisional and status == PROVISIONAL)
            if not exportable or mark is None:
                why = {
                    PROVISIONAL: "provisional (suggested marks not confirmed)",
                    INCOMPLETE: "incomplete (parts not marked)",
                }.get(status, f"status {status}")
                result.left_out.append((student, why))
                continue
            last, first = names.get(student, ("", ""))
            writer.writerow(
                [
                    last,
                    first,
                    student,
                    str(mark),
                    grading_notes(grade),
                    "SMART_TEXT",
                    feedback_text(grade),
                    "SMART_TEXT",
                ]
            )
            result.written.append(student)
        data = "\ufeff" + buffer.getvalue()
    else:
        keys = rubric.criterion_names()
        writer = csv.writer(buffer, lineterminator="\n")
        # the audit columns: who gave each mark, the caps a marker overrode (with the reason), the caps
        # that lowered a mark
        writer.writerow(
            [
                "student_id",
                "challenge",
                "task",
                "status",
                "overall_mark",
                "band",
                "late_penalty",
                *keys,
                "missing",
                "markers",
                "overrides",
                "capped",
            ]
        )
        for student, grade in sorted(grades.items()):
            overall = grade.overall
            marks = {c.key: c.mark for c in grade.criteria}
            writer.writerow(
                [
                    student,
                    grade.challenge or "",
                    grade.task or "",
                    grade.status,
                    "" if overall.mark is None else overall.mark,
                    overall.band_label,
                    overall.late_penalty,
                    *["" if marks.get(k) is None else f"{marks[k]:g}" for k in keys],
                    "; ".join(grade.missing),
                    *audit_columns(grade),
                ]
            )
            result.written.append(student)
        data = buffer.getvalue()
    result.text = data
    if output is not None:
        result.replaced = output.exists()
        write_text_atomic(output, data)
    return result
