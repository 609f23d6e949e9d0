"""`autograder release-feedback`: each student's feedback page back through nbgrader's exchange.

Who gets a page: a student whose mark is final (provisional too with include_provisional), whose page
(feedback/<student>/<assignment>/index.html) is written, and whose graded submission came through
the exchange and is still the one collected (a resubmission collected since is graded first). What
goes: that page, with the student's notebook as the grader ran it (notebook.html) put at its end, in
one file, because nbgrader's fetch_feedback gives a student one file per notebook submitted. Only
the student's own two pages are read; nothing under reports/ (the summary, moderation, similarity:
markers only) is ever released.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.exchange import Exchange, release_feedback_pages
from autograder.errors import UserError
from autograder.grade.record import ERROR, FINAL, INCOMPLETE, PROVISIONAL, Grade, read_grades
from autograder.intake import read_timestamp, released_notebook_name
from autograder.layout import AUTOGRADED, MARKS_FILE

_NOTEBOOK_LINK = re.compile(r'href="notebook\.html"')
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_MAIN = re.compile(r"<main>(.*?)</main>", re.S)
_POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
NOTEBOOK_SECTION = "your-notebook"  # the id of the notebook's section in the released page


class FeedbackReleaseError(UserError):
    pass


@dataclass
class FeedbackRelease:
    released: dict[str, Path] = field(default_factory=dict)  # student -> the page's file in the exchange
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (student, why)

    def to_json(self, assignment: str, exchange: Exchange) -> dict:
        return {
            "assignment": assignment,
            "exchange": str(exchange.root),
            "course_id": exchange.course_id,
            "released": {student: str(path) for student, path in sorted(self.released.items())},
            "left_out": [{"student_id": s, "reason": why} for s, why in self.left_out],
        }


def one_file_page(page: str, notebook: str | None) -> str:
    """The feedback page with the notebook page's cells in a section at its end (its styles and its
    Content-Security-Policy with them), the links to notebook.html pointing there."""
    if notebook is None:
        return page
    main, style = _MAIN.search(notebook), _STYLE.search(notebook)
    if main is None:
        return page
    section = (
        f'<section class="card" id="{NOTEBOOK_SECTION}" aria-labelledby="{NOTEBOOK_SECTION}-title">\n'
        f'<h2 id="{NOTEBOOK_SECTION}-title">Your notebook as the grader ran it</h2>\n{main.group(1)}</section>\n'
    )
    page = _NOTEBOOK_LINK.sub(f'href="#{NOTEBOOK_SECTION}"', page)
    policy = _POLICY.search(notebook)
    head = (policy.group(0) + "\n" if policy else "") + (
        f"<style>{style.group(1)}</style>\n" if style else ""
    )
    page = page.replace("</head>", head + "</head>", 1)
    at = page.rfind("</main>")
    return page[:at] + section + page[at:] if at >= 0 else page


def _why_not(course, assignment: str, student: str, grade: Grade, include_provisional: bool) -> str:
    """'' if the student's page may go out; else why not, in plain words."""
    if grade.status == ERROR or grade.is_error:
        return "not graded (a grading error)"
    if grade.status == INCOMPLETE:
        return "incomplete (parts not marked)"
    if grade.status == PROVISIONAL and not include_provisional:
        return "provisional (suggested marks not confirmed)"
    if grade.status not in (FINAL, PROVISIONAL):
        return f"status {grade.status}"
    if not course.feedback_page(student, assignment).is_file():
        return "no feedback page (run `autograder report`)"
    if not course.submission_secret_path(student, assignment).is_file():
        return "not submitted through the exchange (nbgrader's fetch_feedback finds only what `nbgrader submit` sent)"
    if read_timestamp(course.submitted_dir(student, assignment)) != grade.run.submitted_at:
        return "resubmitted since it was graded (run `autograder grade`)"
    return ""


def release_feedback(
    course, assignment: str, exchange: Exchange, *, include_provisional: bool = False
) -> FeedbackRelease:
    """Every releasable student's page into the exchange; who was left out, and why. Nothing is
    released (an error) when no student's page may go."""
    grades = read_grades(course, assignment)
    if not grades:
        raise FeedbackReleaseError(
            f"No graded submissions of '{assignment}' in {course.root / AUTOGRADED}: run "
            f"`autograder grade {assignment}` first."
        )
    result, pages = FeedbackRelease(), {}
    for student, grade in sorted(grades.items()):
        why = _why_not(course, assignment, student, grade, include_provisional)
        if why:
            result.left_out.append((student, why))
            continue
        notebook_page = course.notebook_page(student, assignment)
        page = one_file_page(
            course.feedback_page(student, assignment).read_text(encoding="utf-8"),
            notebook_page.read_text(encoding="utf-8") if notebook_page.is_file() else None,
        )
        stored = course.load_submission(student, assignment) or {}
        pages[student] = (stored.get("notebook") or released_notebook_name(course, assignment), page)
    if not pages:
        listed = "; ".join(f"{s}: {why}" for s, why in result.left_out[:5])
        more = f" and {len(result.left_out) - 5} more" if len(result.left_out) > 5 else ""
        raise FeedbackReleaseError(
            f"No feedback to release for '{assignment}' ({listed}{more}). Marks become final when the markers' "
            f"marks are in (formgrader or {MARKS_FILE}, then `autograder grade --no-execute`); "
            "--include-provisional releases provisional ones too."
        )
    result.released = release_feedback_pages(course, assignment, exchange, pages)
    return result
