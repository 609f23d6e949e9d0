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
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.grade.rubric import load_rubric

FORMATS = ("blackboard", "plain")


class ExportError(UserError):
    pass


@dataclass
class ExportResult:
    path: Path
    written: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (student, why)


def _names(course) -> dict[str, tuple[str, str]]:
    """student -> (last name, first name) from nbgrader's gradebook, where an instructor put them
    (`nbgrader db student import`); empty otherwise. The roster's names are never copied."""
    try:
        from nbgrader.api import Gradebook

        from autograder.grade.gradebook import nbgrader_settings

        url, course_id = nbgrader_settings(course)
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            return {}
        with Gradebook(url, course_id=course_id) as gradebook:
            return {s.id: (s.last_name or "", s.first_name or "") for s in gradebook.students}
    except Exception:
        return {}


def blackboard_header(column: str, column_id: str) -> str:
    column = column.strip() or "Research challenge"
    return f"{column} [Total Pts: 100 Score] |{column_id.strip()}" if column_id.strip() else column


def feedback_text(grade: dict) -> str:
    overall = grade.get("overall", {})
    parts = [f"{c['title']} {c['mark']:g}" for c in grade.get("criteria", []) if c.get("mark") is not None]
    text = f"Overall mark {overall.get('mark')} ({overall.get('band_label', '')})."
    if grade.get("status") != "final":
        text += " Provisional: not every part is confirmed by a marker yet."
    if overall.get("late_penalty"):
        text += f" Late submission: {overall['late_penalty']}."
    return text + " " + "; ".join(parts) + ". Your feedback page explains each mark."


def grading_notes(grade: dict) -> str:
    lateness = grade.get("lateness", {})
    flags = sorted({a["flag"] for a in grade.get("attention", [])})
    note = f"autograder: status {grade.get('status')}; lateness {lateness.get('state', 'unknown')}"
    if grade.get("overall", {}).get("exact") is not None:
        note += f"; unrounded {grade['overall']['exact']:.2f}"
    if flags:
        note += "; flags: " + ", ".join(flags)
    return note


def export_marks(course, assignment: str, output: Path, fmt: str = "blackboard", *,
                 include_provisional: bool = False, column: str | None = None,
                 column_id: str | None = None, rubric=None) -> ExportResult:

    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format '{fmt}'. Formats: {', '.join(FORMATS)}.")
    rubric = rubric or load_rubric(course.rubric_path)
    grades = course.load_grades(assignment)
    if not grades:
        raise ExportError(f"No graded submissions of '{assignment}' in {course.root / 'autograded'}: "
                          "run `autograder grade` first.")
    output = Path(output)
    result = ExportResult(output)
    buffer = io.StringIO()
    if fmt == "blackboard":
        names = _names(course)
        column = column if column is not None else rubric.export.get("blackboard_column", rubric.title)
        column_id = column_id if column_id is not None else rubric.export.get("blackboard_column_id", "")
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(["Last Name", "First Name", "Username", blackboard_header(column, column_id),
                         "Grading Notes", "Notes Format", "Feedback to Learner", "Feedback Format"])
        for student, grade in sorted(grades.items()):
            status = grade.get("status")
            mark = grade.get("overall", {}).get("mark")
            exportable = status == "final" or (include_provisional and status == "provisional")
            if not exportable or mark is None:
                why = {"provisional": "provisional (suggested marks not confirmed)",
                       "incomplete": "incomplete (parts not marked)"}.get(status, f"status {status}")
                result.left_out.append((student, why))
                continue
            last, first = names.get(student, ("", ""))
            writer.writerow([last, first, student, str(mark), grading_notes(grade), "SMART_TEXT",
                             feedback_text(grade), "SMART_TEXT"])
            result.written.append(student)
        data = "\ufeff" + buffer.getvalue()
    else:
        keys = rubric.criterion_names()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["student_id", "challenge", "task", "status", "overall_mark", "band", "late_penalty",
                         *keys, "missing"])
        for student, grade in sorted(grades.items()):
            overall = grade.get("overall", {})
            marks = {c["key"]: c.get("mark") for c in grade.get("criteria", [])}
            writer.writerow([student, grade.get("challenge") or "", grade.get("task") or "", grade.get("status", ""),
                             "" if overall.get("mark") is None else overall["mark"], overall.get("band_label", ""),
                             overall.get("late_penalty", ""),
                             *["" if marks.get(k) is None else f"{marks[k]:g}" for k in keys],
                             "; ".join(grade.get("missing", []))])
            result.written.append(student)
        data = buffer.getvalue()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode("utf-8"))
    os.replace(tmp, output)
    return result
