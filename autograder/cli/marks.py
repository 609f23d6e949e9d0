"""`autograder marks`: the markers' marks in and out of their one store, nbgrader's gradebook
(autograder/grade/marks_store.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from autograder.cli.app import App, CourseOption, Group, JsonOption, _course, app, emit_json

marks_app = App(
    cls=Group,
    no_args_is_help=True,
    help="The markers' marks: import a spreadsheet into the gradebook, export what it holds.",
)
app.add_typer(marks_app, name="marks")


@marks_app.command("import")
def marks_import(
    file: Path = typer.Argument(
        ..., help="Marks CSV: student_id, criterion, mark, comment (optional: marker, override, role)."
    ),
    assignment: str | None = typer.Option(None, "--assignment", help="Assignment (default: the course's)."),
    replace: bool = typer.Option(
        False, "--replace", help="Replace marks changed in formgrader since the last import."
    ),
    as_json: bool = JsonOption,
    course: Path | None = CourseOption,
):
    """Check a marks CSV as a whole and store it in the gradebook (all rows or none). Then run
    `autograder grade --no-execute` to update the marks and pages."""
    from autograder.grade.marks_store import import_marks

    the_course = _course(course)
    name = the_course.check_assignment(assignment)
    result = import_marks(the_course, name, file, replace=replace)
    if as_json:
        emit_json(
            {
                "command": "marks import",
                "assignment": name,
                "file": str(result.path),
                "rows": result.rows,
                "changed": result.changed,
                "students": result.students,
            }
        )
        return
    typer.echo(
        f"{result.rows} line(s) for {len(result.students)} student(s) in {result.path}: {result.changed} new or "
        "changed since the last import, stored in the gradebook. Run `autograder grade --no-execute` to "
        "update the marks and feedback pages."
    )


@marks_app.command("export")
def marks_export(
    output: str = typer.Option(
        "-", "--output", "-o", metavar="FILE", help="CSV to write (default: - , standard output)."
    ),
    assignment: str | None = typer.Option(None, "--assignment", help="Assignment (default: the course's)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
    course: Path | None = CourseOption,
):
    """Write every mark and comment the gradebook holds as a marks CSV (`marks import` of it changes
    nothing): the spreadsheet for markers who do not use formgrader."""
    import io

    from autograder.errors import UserError
    from autograder.grade.marks import write_marks_csv
    from autograder.grade.marks_store import stored_rows
    from autograder.layout import write_text_atomic

    the_course = _course(course)
    name = the_course.check_assignment(assignment)
    path = None
    if output != "-":
        path = Path(output)
        if path.exists() and not force:
            raise UserError(
                f"{path} already exists (it may hold a marker's work). Pass --force to replace it, "
                "give another --output, or -o - for standard output."
            )
    buffer = io.StringIO()
    write_marks_csv(stored_rows(the_course, name), buffer)
    if path is None:
        sys.stdout.write(buffer.getvalue())
    else:
        write_text_atomic(path, buffer.getvalue())
        typer.echo(f"Marks written to {path}.", err=True)
