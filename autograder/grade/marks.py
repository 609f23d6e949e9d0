"""Manual marks: what markers enter, in formgrader (read by autograder.grade.gradebook) or in the
marks CSV. The arithmetic that combines them with the findings is autograder.grade.combine.

Sources of manual marks
  * nbgrader's formgrader: manual grades on the manually graded cells named in the rubric
    (`formgrader_cell`), read from the gradebook by autograder.grade.gradebook (scaled to 0-100);
  * the marks CSV `marks/<assignment>.csv` (student_id, criterion, mark, comment) for what no
    notebook shows, above all the presentation. A mark of `accept` confirms the suggested mark.
    A CSV mark wins over a formgrader mark for the same criterion (it is the later, explicit
    decision), and the difference is flagged for the instructor.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UserError
from autograder.grade.rubric import Rubric

FORMGRADER, CSV_SOURCE, SUGGESTED, CONFIRMED = "formgrader", "marks CSV", "suggested", "confirmed"
ACCEPT_WORDS = ("accept", "accepted", "suggested")
COMMENT_ONLY = ("general", "declaration")  # CSV "criteria" that carry a comment but no mark



class MarksError(UserError, ValueError):
    """A marks file that cannot be used; the message names the line."""


@dataclass
class ManualMark:
    criterion: str  # rubric criterion key, or "general" / "declaration" for comments
    mark: float | None  # 0-100; None = comment only
    comment: str = ""
    source: str = CSV_SOURCE  # FORMGRADER | CSV_SOURCE
    where: str = ""  # file and line, or the formgrader cell (for markers only)
    accept_suggestion: bool = False


# --- the marks CSV ---------------------------------------------------------------------------------

def read_course_marks(course, rubric: Rubric, assignment: str | None = None) -> dict[str, dict[str, ManualMark]]:
    """All manual marks from the course's marks CSV(s); the same student and criterion in two
    files is an error naming both places."""
    merged: dict[str, dict[str, ManualMark]] = {}
    for path in course.marks_csv_paths(assignment):
        for student, marks in read_marks_csv(path, rubric).items():
            for criterion, mark in marks.items():
                earlier = merged.get(student, {}).get(criterion)
                if earlier is not None:
                    raise MarksError(f"{mark.where}: {student} / {criterion} is also given in {earlier.where}; "
                                     "keep it in one file.")
                merged.setdefault(student, {})[criterion] = mark
    return merged


def read_marks_csv(path: Path, rubric: Rubric) -> dict[str, dict[str, ManualMark]]:
    """student_id -> criterion -> ManualMark, from a CSV with columns student_id, criterion, mark,
    comment. Errors name the line. A missing file means no manual marks yet."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise MarksError(f"{path} is not UTF-8 text; save it as CSV (UTF-8).") from error
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return {}
    header = [h.strip().lower() for h in rows[0]]
    needed = ("student_id", "criterion", "mark")
    missing = [h for h in needed if h not in header]
    if missing:
        raise MarksError(f"{path}, line 1: the header must have student_id, criterion, mark and "
                         f"(optionally) comment; missing: {', '.join(missing)}.")
    col = {name: header.index(name) for name in header}
    result: dict[str, dict[str, ManualMark]] = {}
    seen: dict[tuple[str, str], int] = {}
    names = ", ".join(rubric.criterion_names() + list(COMMENT_ONLY))
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda name: row[col[name]].strip() if name in col and col[name] < len(row) else ""  # noqa: E731
        student, criterion_name, raw_mark, comment = cell("student_id"), cell("criterion"), cell("mark"), cell("comment")
        if not student:
            raise MarksError(f"{path}, line {number}: no student_id.")
        lowered = criterion_name.strip().lower()
        criterion = rubric.resolve_criterion(criterion_name)
        if criterion is None and lowered in COMMENT_ONLY + ("llm_declaration", "overall"):
            criterion = "declaration" if lowered == "llm_declaration" else ("general" if lowered == "overall" else lowered)
        if criterion is None:
            import difflib

            close = difflib.get_close_matches(lowered, rubric.criterion_names() + list(COMMENT_ONLY), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise MarksError(f"{path}, line {number}: unknown criterion '{criterion_name}'.{hint} "
                             f"Criteria: {names}.")
        key = (student, criterion)
        if key in seen:
            raise MarksError(f"{path}, line {number}: {student} / {criterion} is already given on line "
                             f"{seen[key]}; keep one line per student and criterion.")
        seen[key] = number
        mark, accept = None, False
        if raw_mark.lower() in ACCEPT_WORDS:
            accept = True
        elif raw_mark:
            try:
                mark = float(raw_mark.rstrip("%"))
            except ValueError as error:
                raise MarksError(f"{path}, line {number}: mark '{raw_mark}' is not a number "
                                 "(0-100, or 'accept' to confirm the suggested mark).") from error
            if not math.isfinite(mark) or not 0 <= mark <= 100:
                raise MarksError(f"{path}, line {number}: mark {raw_mark} is outside 0-100.")
        if criterion in COMMENT_ONLY and (mark is not None or accept):
            raise MarksError(f"{path}, line {number}: '{criterion}' takes a comment only, not a mark.")
        result.setdefault(student, {})[criterion] = ManualMark(
            criterion, mark, comment, CSV_SOURCE, f"{path.name}, line {number}", accept)
    return result
