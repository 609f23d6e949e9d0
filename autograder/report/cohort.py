"""The report stage for a cohort: each student's feedback page and the cohort summary, from the
grade.json files the grade stage wrote (nothing is recomputed here)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from autograder.report.feedback import write_feedback
from autograder.report.summary import write_summary

log = logging.getLogger(__name__)


@dataclass
class ReportResult:
    pages: dict[str, Path] = field(default_factory=dict)  # student -> feedback page
    errors: dict[str, str] = field(default_factory=dict)  # student -> why their page was not written
    summary_path: Path | None = None


def write_page(course, assignment: str, student: str, grade: dict | None, result: ReportResult) -> None:
    """One student's page; a page that cannot be drawn is recorded, never stops the cohort."""

    try:
        path = write_feedback(course, assignment, student, grade)
    except Exception as error:  # noqa: BLE001 - one broken page must not stop the others
        log.exception("feedback page of %s failed", student)
        result.errors[student] = f"{type(error).__name__}: {error}"
        return
    if path is not None:
        result.pages[student] = path


def write_cohort_reports(course, assignment: str | None = None, rubric=None,
                         students: list[str] | None = None) -> ReportResult:
    """Every student's feedback page (or those given) and the cohort summary."""

    assignment = assignment or course.assignment
    result = ReportResult()
    grades = course.load_grades(assignment)
    for student in (students if students is not None else sorted(grades)):
        write_page(course, assignment, student, grades.get(student), result)
    result.summary_path = write_summary(course, assignment, rubric)
    return result
