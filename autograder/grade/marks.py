"""Manual marks: what markers give, and the one place they are kept.

The store of record is nbgrader's gradebook (autograder.grade.gradebook): a marker's mark for a
criterion is the manual score of that criterion's manually graded cell (the rubric's
`formgrader_cell`, whose points are the criterion's weight), and their comment is the cell's manual
comment. Whether a marker grades in formgrader or a spreadsheet is imported (`autograder marks import`,
or the course's marks CSV, imported by `autograder grade` when it changed), the mark lands in the same
cell, and every surface (feedback page, summary, gradebook, export) reads it from there.

What nbgrader's schema has no field for is kept as short lines at the end of the cell's comment, which
a marker in formgrader can type too, and which are never shown to the student:

    marker: AB                 who gave the mark (for moderation)
    override: <reason>         the marker's mark stands although an automatic cap is lower
    accept                     the marker confirms the autograder's suggested mark
    second mark: 64 by CD      a second marker's mark (moderation); the first mark still counts

The marks CSV (student_id, criterion, mark, comment, and optionally marker, override, role) is read
here and checked as a whole: unknown students (with the closest known id), students without a
challenge, unknown criteria, criteria the rubric leaves to the autograder, duplicate rows (both lines
named), marks out of range. Nothing is applied from a file with an error.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from autograder.course.allocation import Allocation
from autograder.errors import UserError
from autograder.grade.rubric import Rubric

FORMGRADER, CSV_SOURCE, SUGGESTED, CONFIRMED = "formgrader", "marks CSV", "suggested", "confirmed"
ACCEPT_WORDS = ("accept", "accepted", "suggested")
COMMENT_ONLY = ("general", "declaration")  # CSV "criteria" that carry a comment but no mark
FIRST, SECOND = "first", "second"  # a row's role: the mark that counts, or a moderator's second mark
CSV_COLUMNS = ("student_id", "criterion", "mark", "comment", "marker", "override", "role")


class MarksError(UserError, ValueError):
    """A marks file that cannot be used; the message names the line."""


@dataclass
class SecondMark:
    mark: float
    marker: str = ""
    comment: str = ""


@dataclass
class ManualMark:
    criterion: str  # rubric criterion key, or "general" / "declaration" for comments
    mark: float | None  # 0-100; None = comment only (or an accepted suggestion)
    comment: str = ""  # what the student sees
    source: str = CSV_SOURCE  # FORMGRADER | CSV_SOURCE
    where: str = ""  # file and line, or the formgrader cell (for markers only)
    accept_suggestion: bool = False
    marker: str = ""
    override: str = ""  # the marker's reason for keeping a mark above an automatic cap
    second_marks: list[SecondMark] = field(default_factory=list)


# --- the lines kept at the end of a formgrader comment ------------------------------------------------

_META_LINE = re.compile(r"^\s*(marker|override|second mark)\s*:\s*(.*?)\s*$", re.IGNORECASE)
_ACCEPT_LINE = re.compile(r"^\s*accept(ed)?\s*\.?\s*$", re.IGNORECASE)
_SECOND = re.compile(r"^(\d+(?:\.\d+)?)\s*%?\s*(?:by\s+([^:]*))?(?::\s*(.*))?$", re.IGNORECASE)


@dataclass
class CommentParts:
    text: str = ""  # student-visible
    marker: str = ""
    override: str = ""
    accept: bool = False
    second_marks: list[SecondMark] = field(default_factory=list)


def split_comment(comment: str | None) -> CommentParts:
    """A formgrader comment split into what the student sees and the marker's record lines."""
    parts, kept = CommentParts(), []
    for line in (comment or "").splitlines():
        meta = _META_LINE.match(line)
        if meta:
            key, value = meta.group(1).lower(), meta.group(2)
            if key == "marker":
                parts.marker = value
            elif key == "override":
                parts.override = value or "(no reason given)"
            else:
                second = _SECOND.match(value)
                if second:
                    parts.second_marks.append(
                        SecondMark(
                            float(second.group(1)),
                            (second.group(2) or "").strip(),
                            (second.group(3) or "").strip(),
                        )
                    )
            continue
        if _ACCEPT_LINE.match(line):
            parts.accept = True
            continue
        kept.append(line)
    parts.text = "\n".join(kept).strip()
    return parts


def join_comment(parts: CommentParts) -> str:
    """The formgrader comment that `split_comment` reads back as `parts`."""
    lines = [parts.text.strip()] if parts.text.strip() else []
    if parts.accept:
        lines.append("accept")
    if parts.marker:
        lines.append(f"marker: {parts.marker}")
    if parts.override:
        lines.append(f"override: {parts.override}")
    for second in parts.second_marks:
        lines.append(
            f"second mark: {second.mark:g}"
            + (f" by {second.marker}" if second.marker else "")
            + (f": {' '.join(second.comment.split())}" if second.comment else "")
        )
    return "\n".join(lines)


# --- the marks CSV ---------------------------------------------------------------------------------


@dataclass
class MarkRow:
    """One line of a marks CSV, checked."""

    line: int
    student: str
    criterion: str  # a rubric criterion key, or "general" / "declaration"
    mark: float | None
    accept: bool
    comment: str
    marker: str
    override: str
    role: str  # FIRST | SECOND

    @property
    def where(self) -> str:
        return f"line {self.line}"


@dataclass
class KnownStudents:
    """Who may have marks: the students of the allocation (with their challenge) and any whose
    submission was collected. Ids are compared as the allocation compares them (the course's
    `case_sensitive_ids`)."""

    allocated: Allocation  # student -> challenge letter
    submitted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not isinstance(self.allocated, Allocation):
            self.allocated = Allocation(self.allocated)

    def spelling(self, student: str) -> str | None:
        """The id as the allocation spells it (what the gradebook knows the student by), or None."""
        return self.allocated.spelling(student)

    def problem(self, student: str) -> str | None:
        if student in self.allocated:
            return None
        everyone = sorted(set(self.allocated) | self.submitted)
        if Allocation(dict.fromkeys(self.submitted, ""), self.allocated.case_sensitive).spelling(student):
            return (
                f"{student} has a submission but no challenge in the allocation; add them with "
                "`autograder assign` first."
            )
        folded = {s.lower(): s for s in everyone}
        close = (
            [folded[student.lower()]]
            if student.lower() in folded
            else difflib.get_close_matches(student, everyone, n=1, cutoff=0.6)
        )
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"unknown student id '{student}'.{hint} Known students are those of the allocation (`autograder assign`)."


def read_marks_csv(path: Path, rubric: Rubric, students: KnownStudents | None = None) -> list[MarkRow]:
    """The rows of a marks CSV, checked as a whole: every problem is collected and raised together,
    each with its line, so that nothing is applied from a file with an error. A missing file has no rows."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise MarksError(f"{path} is not UTF-8 text; save it as CSV (UTF-8).") from error
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    missing = [h for h in ("student_id", "criterion", "mark") if h not in header]
    if missing:
        raise MarksError(
            f"{path}, line 1: the header must have student_id, criterion, mark and "
            f"(optionally) comment, marker, override, role; missing: {', '.join(missing)}."
        )
    unknown_columns = [h for h in header if h and h not in CSV_COLUMNS]
    if unknown_columns:
        raise MarksError(
            f"{path}, line 1: unknown column(s) {', '.join(unknown_columns)}; the columns are "
            f"{', '.join(CSV_COLUMNS)}."
        )
    col = {name: header.index(name) for name in header if name}
    problems: list[str] = []
    result: list[MarkRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    marked_by_hand = {c.key for c in rubric.criteria.values() if c.formgrader_cell}
    names = ", ".join(sorted(marked_by_hand) + list(COMMENT_ONLY))
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            return row[col[name]].strip() if name in col and col[name] < len(row) else ""

        where = f"{path}, line {number}"
        student, criterion_name, raw_mark = cell("student_id"), cell("criterion"), cell("mark")
        role = (cell("role") or FIRST).lower()
        if not student:
            problems.append(f"{where}: no student_id.")
            continue
        if students is not None and (problem := students.problem(student)):
            problems.append(f"{where}: {problem}")
            continue
        if students is not None:
            student = students.spelling(student) or student  # a known student: the allocation's spelling
        lowered = criterion_name.lower()
        criterion = rubric.resolve_criterion(criterion_name)
        if criterion is None and lowered in COMMENT_ONLY + ("llm_declaration", "overall"):
            criterion = (
                "declaration"
                if lowered == "llm_declaration"
                else ("general" if lowered == "overall" else lowered)
            )
        if criterion is None:
            close = difflib.get_close_matches(
                lowered, rubric.criterion_names() + list(COMMENT_ONLY), n=1, cutoff=0.5
            )
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"{where}: unknown criterion '{criterion_name}'.{hint} Criteria: {names}.")
            continue
        if criterion not in COMMENT_ONLY and criterion not in marked_by_hand:
            problems.append(
                f"{where}: '{criterion}' is left to the autograder by the rubric (it has no "
                "formgrader_cell), so it takes no marker's mark."
            )
            continue
        if role not in (FIRST, SECOND):
            problems.append(
                f"{where}: role '{role}' is neither 'first' (the mark that counts) nor 'second' "
                "(a moderator's second mark)."
            )
            continue
        key = (student, criterion, role)
        if key in seen:
            problems.append(
                f"{where}: {student} / {criterion}{' (second mark)' if role == SECOND else ''} is "
                f"already given on line {seen[key]}; keep one line per student and criterion."
            )
            continue
        seen[key] = number
        mark, accept = None, False
        if raw_mark.lower() in ACCEPT_WORDS:
            accept = True
        elif raw_mark:
            try:
                mark = float(raw_mark.rstrip("%"))
            except ValueError:
                problems.append(
                    f"{where}: mark '{raw_mark}' is not a number (0-100, or 'accept' to confirm "
                    "the suggested mark)."
                )
                continue
            if not math.isfinite(mark) or not 0 <= mark <= 100:
                problems.append(f"{where}: mark {raw_mark} is outside 0-100.")
                continue
        if criterion in COMMENT_ONLY and (mark is not None or accept):
            problems.append(f"{where}: '{criterion}' takes a comment only, not a mark.")
            continue
        if role == SECOND and (mark is None or criterion in COMMENT_ONLY):
            problems.append(f"{where}: a second mark needs a number for a marked criterion.")
            continue
        override = cell("override")
        if override and criterion in COMMENT_ONLY:
            problems.append(f"{where}: an override applies to a criterion's mark, not to '{criterion}'.")
            continue
        result.append(
            MarkRow(number, student, criterion, mark, accept, cell("comment"), cell("marker"), override, role)
        )
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more."] if len(problems) > 20 else [])
        raise MarksError(
            f"{path} has {len(problems)} problem(s); nothing was applied:\n  " + "\n  ".join(shown)
        )
    return result


def write_marks_csv(rows: list[MarkRow], stream: TextIO) -> None:
    """The marks CSV that `read_marks_csv` reads back as `rows` (what `marks export` writes)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        mark = "accept" if row.accept else ("" if row.mark is None else f"{row.mark:g}")
        writer.writerow(
            [
                row.student,
                row.criterion,
                mark,
                row.comment,
                row.marker,
                row.override,
                "" if row.role == FIRST else row.role,
            ]
        )
