"""The report stage for a cohort: each student's feedback page and the cohort summary, from the
grade.json files the grade stage wrote (nothing is recomputed here).

A page is content-addressed: its key is a hash of exactly what it shows (the template's context,
with each chart standing as the key of what it is drawn from, see autograder.report.figures), of the
templates and of the code that formats them. A page whose key is the one it was last written with is
left as it is, drawing nothing; a changed page takes the charts that did not change from
autograded/.cache/figures and draws only the others. The one thing left out of the key is the time
the page was generated, so an unchanged page keeps the time of its last change."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grade.record import Grade, read_grades
from autograder.layout import read_cache_key, write_text_atomic
from autograder.report import environment, figures, rendering_version
from autograder.report.feedback import TEMPLATE, page_context
from autograder.report.summary import write_summary

log = logging.getLogger(__name__)

UNKEYED = ("generated",)  # the moment of drawing: not what the page is about


@dataclass
class ReportResult:
    pages: dict[str, Path] = field(default_factory=dict)  # student -> feedback page
    errors: dict[str, str] = field(default_factory=dict)  # student -> why their page was not written
    summary_path: Path | None = None
    rewritten: list[str] = field(default_factory=list)  # students whose page changed (and was written)
    charts_drawn: int = 0  # charts drawn for those pages (the others were kept from an earlier run)


def page_key(context: dict) -> str:
    """The hash of what a page shows (its charts by their keys), its template and rendering code."""
    shown = {k: v for k, v in context.items() if k not in UNKEYED}
    blob = json.dumps([TEMPLATE, rendering_version(), shown], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_feedback_page(
    course: Any,
    assignment: str,
    student: str,
    grade: Grade | None,
    result: ReportResult | None = None,
    bands: Any = None,
) -> Path | None:
    """One student's page, written only when what it shows changed (None: no grade to show);
    `bands` as page_context takes them."""
    result = result if result is not None else ReportResult()
    with figures.deferred(course.figure_cache_dir) as drawings:
        context = page_context(course, assignment, student, grade, bands)
    if context is None:
        return None
    path, key_path = course.feedback_page(student, assignment), course.page_key_path(student, assignment)
    key = page_key(context)
    if path.is_file() and read_cache_key(key_path) == key:
        return path
    context = drawings.resolve(context)
    result.charts_drawn += len(drawings.drawn)
    html = environment().get_template(TEMPLATE).render(**context)
    write_text_atomic(path, html)
    write_text_atomic(key_path, key + "\n")  # after the page: a page killed half-way is drawn again
    result.rewritten.append(student)
    return path


def write_page(
    course: Any, assignment: str, student: str, grade: Grade | None, result: ReportResult, bands: Any = None
) -> None:
    """One student's page; a page that cannot be drawn is recorded, never stops the cohort."""

    try:
        path = write_feedback_page(course, assignment, student, grade, result, bands)
    except Exception as error:  # noqa: BLE001 - one broken page must not stop the others
        log.exception("feedback page of %s failed", student)
        result.errors[student] = f"{type(error).__name__}: {error}"
        return
    if path is not None:
        result.pages[student] = path


def write_cohort_reports(
    course, assignment: str | None = None, rubric=None, students: list[str] | None = None
) -> ReportResult:
    """Every student's feedback page (or those given) and the cohort summary."""

    assignment = assignment or course.assignment
    result = ReportResult()
    grades = read_grades(course, assignment)
    for student in students if students is not None else sorted(grades):
        write_page(course, assignment, student, grades.get(student), result)
    result.summary_path = write_summary(course, assignment, rubric)
    return result
