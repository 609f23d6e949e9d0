"""Marks out of the course: the VLE export and the cohort's pages (autograder/report/)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from autograder.cli.app import CourseOption, _course, app


@app.command()
def export(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
           output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
           format: str = typer.Option("blackboard", "--format", help="blackboard (Grade Centre upload) or plain."),
           include_provisional: bool = typer.Option(
               False, help="Also export provisional marks (suggestions not confirmed by a marker)."),
           column: Optional[str] = typer.Option(None, help="Blackboard column name (default: the rubric's [export])."),
           column_id: Optional[str] = typer.Option(
               None, help="Blackboard Grade Centre column id (Quick Column Information); empty = new column."),
           course: Optional[Path] = CourseOption):
    """Write the marks as a CSV the VLE imports (Blackboard Grade Centre layout, or plain)."""
    from autograder.report.export import export_marks

    the_course = _course(course)
    result = export_marks(the_course, assignment or the_course.assignment, output, format,
                          include_provisional=include_provisional, column=column, column_id=column_id)
    typer.echo(f"{len(result.written)} student(s) written to {result.path} ({format}).")
    if result.left_out:
        typer.echo(f"{len(result.left_out)} left out (no final mark yet): "
                   + ", ".join(f"{s} ({why})" for s, why in result.left_out), err=True)


@app.command()
def report(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
           course: Optional[Path] = CourseOption):
    """Write the feedback pages and the cohort summary (reports/ASSIGNMENT/summary.html) from the stored grades."""
    from autograder.report.cohort import write_cohort_reports

    the_course = _course(course)
    result = write_cohort_reports(the_course, assignment or the_course.assignment)
    typer.echo(f"Feedback pages: {len(result.pages)} written.")
    for student, error in sorted(result.errors.items()):
        typer.echo(f"  {student}: page not written ({error})", err=True)
    typer.echo(f"Cohort summary: {result.summary_path}")
