"""The stages after execution, as the batch runs them on each finished execution: the checks
(checks.json, score.json), then the grade (grade.json, the gradebook) and the feedback page."""

from __future__ import annotations

import time

from autograder.batch.options import BatchSummary
from autograder.batch.planning import BatchPlan
from autograder.checks import run_check_stage
from autograder.errors import UserError
from autograder.grade.grading import CohortGrading
from autograder.records import ExecutionRecord
from autograder.report.cohort import ReportResult, write_page
from autograder.report.summary import write_summary


class CheckStage:
    """The check stage (autograder.checks.run_check_stage) on each finished execution, timed."""

    def __init__(self, plan: BatchPlan):
        self.plan, self.seconds = plan, 0.0

    def run(self, record: ExecutionRecord) -> None:
        started = time.monotonic()
        try:
            run_check_stage(self.plan.course, record.student_id, record.assignment, self.plan.allocation)
        finally:
            self.seconds += time.monotonic() - started


class GradeStage:
    """The grade and report stages, submission by submission as the batch checks them (while other
    executions still run): grade.json and the gradebook entry, then the feedback page from that
    grade; at the end the cohort summary. A failure here never loses the executions: they are on
    disk, and `autograder grade --no-execute` grades them again."""

    def __init__(self, plan: BatchPlan, summary: BatchSummary, console):
        course, assignment = plan.course, plan.assignment
        self.course, self.assignment, self.plan = course, assignment, plan
        self.summary, self.console = summary, console
        self.seconds = 0.0
        self.graded: set[str] = set()
        self.reports = ReportResult()
        started = time.monotonic()
        self.cohort = None
        try:  # a broken rubric or marks file stops the batch here, before hours of executions
            self.cohort = CohortGrading(course, assignment, rubric=plan.rubric, allocation=plan.allocation)
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001 - say what failed; the executions still run and are kept
            self._failed(error)
        self.seconds += time.monotonic() - started

    def _failed(self, error: BaseException) -> None:
        self.cohort = None
        self.summary.grading_error = f"{type(error).__name__}: {error}"
        self.console.print(
            f"[bold red]The grading step failed:[/] {self.summary.grading_error}. The executions "
            "and checks are stored; fix the problem and run `autograder grade --no-execute`."
        )

    def grade(self, student: str) -> None:
        if self.cohort is None or student in self.graded:
            return
        started = time.monotonic()
        grade = self.cohort.grade(student)  # records its own per-student errors
        write_page(self.course, self.assignment, student, grade, self.reports, self.cohort.rubric.bands)
        self.graded.add(student)
        self.seconds += time.monotonic() - started

    def finish(self, students: list[str]) -> None:
        for student in students:
            self.grade(student)
        if self.cohort is None:
            return
        try:
            self.cohort.finish()
            self.reports.summary_path = write_summary(
                self.course, self.assignment, self.plan.rubric, self.plan.allocation
            )
        except UserError:
            raise
        except Exception as error:  # noqa: BLE001
            self._failed(error)
