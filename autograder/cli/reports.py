"""Marks out of the course: the VLE export, the cohort's pages (autograder/report/) and the students'
pages back through nbgrader's exchange."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from autograder.cli.app import CourseOption, ExchangeOption, JsonOption, _course, app, emit_json
from autograder.errors import UserError
from autograder.layout import AUTOGRADED, FEEDBACK


@app.command()
def export(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="CSV file to write (default: export/FORMAT.csv); - for standard output. An existing file "
        "is replaced only with --force; a file the course reads, never.",
    ),
    format: str = typer.Option(
        "blackboard",
        "--format",
        metavar="blackboard|plain",
        help="Blackboard Grade Centre upload, or plain (every criterion).",
    ),
    include_provisional: bool = typer.Option(
        False,
        "--include-provisional",
        help="Also export provisional marks (suggestions not confirmed by a marker).",
    ),
    column: str | None = typer.Option(
        None,
        "--column",
        metavar="NAME",
        help="Blackboard column name (default: blackboard_column in the rubric's export section).",
    ),
    column_id: str | None = typer.Option(
        None,
        "--column-id",
        metavar="ID",
        help="Blackboard Grade Centre column id (Quick Column Information); empty = new column.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists."),
    as_json: bool = JsonOption,
    course: Path | None = CourseOption,
):
    """Write the marks as a CSV the VLE imports (Blackboard Grade Centre layout, or plain). Only final
    marks, unless --include-provisional; who is left out, and why, is listed."""
    from autograder.report.export import STDOUT, export_marks

    the_course = _course(course)
    assignment = the_course.check_assignment(assignment)
    if as_json and output == STDOUT:
        raise UserError(
            "--json and -o - would both write to standard output: give the export a file with -o, "
            "or leave out --json."
        )
    result = export_marks(
        the_course,
        assignment,
        output,
        format,
        include_provisional=include_provisional,
        column=column,
        column_id=column_id,
        force=force,
    )
    if result.path is None:
        sys.stdout.buffer.write(result.text.encode("utf-8"))
        sys.stdout.flush()
    elif as_json:
        emit_json(result.to_json(assignment, format))
    else:
        typer.echo(
            f"{len(result.written)} student(s) written to {result.path} ({format})"
            + (", replacing the file that was there." if result.replaced else ".")
        )
    if result.left_out and not as_json:
        typer.echo(
            f"{len(result.left_out)} left out (no final mark yet): "
            + ", ".join(f"{s} ({why})" for s, why in result.left_out),
            err=True,
        )


@app.command()
def report(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    as_json: bool = JsonOption,
    course: Path | None = CourseOption,
):
    """Write the feedback pages and the cohort summary (reports/ASSIGNMENT/summary.html) from the stored
    grades. Exit status 1 if a page could not be written."""
    from autograder.grade.record import read_grades
    from autograder.report.cohort import write_cohort_reports
    from autograder.report.export import ExportError

    the_course = _course(course)
    assignment = the_course.check_assignment(assignment)
    if not read_grades(the_course, assignment):
        raise ExportError(
            f"No graded submissions of '{assignment}' in {the_course.root / AUTOGRADED}: run "
            f"`autograder grade {assignment}` first."
        )
    result = write_cohort_reports(the_course, assignment)
    if as_json:
        emit_json(
            {
                "assignment": assignment,
                "summary": str(result.summary_path),
                "pages": {student: str(path) for student, path in sorted(result.pages.items())},
                "errors": dict(sorted(result.errors.items())),
            }
        )
    else:
        typer.echo(
            f"Feedback pages: {len(result.pages)} written, in {the_course.root / FEEDBACK}/<student>/"
            f"{assignment}/."
        )
        typer.echo(f"Cohort summary: {result.summary_path}")
    for student, error in sorted(result.errors.items()):
        typer.echo(f"  {student}: page not written ({error})", err=True)
    raise typer.Exit(1 if result.errors else 0)


@app.command("release-feedback")
def release_feedback(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    exchange: Path | None = ExchangeOption,
    include_provisional: bool = typer.Option(
        False,
        "--include-provisional",
        help="Also release the pages of provisional marks (suggestions not confirmed by a marker).",
    ),
    as_json: bool = JsonOption,
    course: Path | None = CourseOption,
):
    """Put each student's feedback page (with their notebook as the grader ran it) in nbgrader's exchange,
    where `nbgrader fetch_feedback` gets it: only final marks, unless --include-provisional; never a page
    for markers (reports/). Who is left out, and why, is listed."""
    from autograder.course.exchange import exchange_for
    from autograder.report.feedback_release import release_feedback as do_release

    the_course = _course(course)
    assignment = the_course.check_assignment(assignment)
    target = exchange_for(the_course, exchange)
    result = do_release(the_course, assignment, target, include_provisional=include_provisional)
    if as_json:
        emit_json(result.to_json(assignment, target))
    else:
        typer.echo(
            f"{len(result.released)} feedback page(s) released to {target.feedback_dir} "
            f"({', '.join(sorted(result.released))}): students run `nbgrader fetch_feedback {assignment}`."
        )
    if result.left_out and not as_json:
        typer.echo(
            f"{len(result.left_out)} left out: " + ", ".join(f"{s} ({why})" for s, why in result.left_out),
            err=True,
        )
