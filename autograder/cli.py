"""The `autograder` command. Thin: every command is a call into a module.

Errors a user can fix (autograder.errors.UserError) end as one line on stderr and exit status 2.
Heavy modules are imported inside the commands so that `autograder check` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from autograder.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Autograder for the Matbench research challenge (nbgrader + papermill).")
data_app = typer.Typer(no_args_is_help=True, help="Matbench data sets: status, fetch, verify.")
app.add_typer(data_app, name="data")

CourseOption = typer.Option(None, "--course", help="Course directory (default: the current one).")


def _course(course_dir: Optional[Path]):
    from autograder.config import Course

    return Course.open(course_dir)


def _tasks(course_dir: Optional[Path], tasks: Optional[list[str]]) -> list[str]:
    catalogue = _course(course_dir).config.catalogue
    if not tasks:
        return [c.task for c in catalogue]
    from autograder.challenges import task_info

    result = []
    for key in tasks:
        try:
            result.append(catalogue.get(key).task)
        except UserError:
            task_info(key)  # any Matbench v0.1 task is fine here; otherwise list the valid ones
            result.append(key)
    return result


# --- data -----------------------------------------------------------------------------------------

@data_app.command("status")
def data_status(tasks: Optional[list[str]] = typer.Argument(None, help="Tasks or challenge letters."),
                course: Optional[Path] = CourseOption):
    """Which data sets are on this machine, and where."""
    from autograder import data

    missing = 0
    for row in data.status(_tasks(course, tasks)):
        if row.present:
            typer.echo(f"{row.task:24s} present  {row.size_bytes / 1e6:7.1f} MB  {row.path}")
        else:
            missing += 1
            typer.echo(f"{row.task:24s} MISSING  {data.missing_message(row.task)}")
    raise typer.Exit(1 if missing else 0)


@data_app.command("fetch")
def data_fetch(tasks: Optional[list[str]] = typer.Argument(None, help="Tasks or challenge letters."),
               course: Optional[Path] = CourseOption):
    """Download missing data sets through matminer (needs a network)."""
    from autograder import data

    for task in _tasks(course, tasks):
        typer.echo(f"{task}: {data.fetch(task)}")


@data_app.command("verify")
def data_verify(tasks: Optional[list[str]] = typer.Argument(None, help="Tasks or challenge letters."),
                course: Optional[Path] = CourseOption):
    """Check rows, columns, target type and ids/order against the official folds."""
    from autograder import data

    failed = 0
    for task in _tasks(course, tasks):
        report = data.verify(task)
        if report.ok:
            typer.echo(f"{task}: OK ({'; '.join(report.facts)})")
        else:
            failed += 1
            typer.echo(f"{task}: PROBLEM: {'; '.join(report.problems)}")
    raise typer.Exit(1 if failed else 0)


# --- release and allocation -------------------------------------------------------------------------

@app.command()
def release(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
            course: Optional[Path] = CourseOption):
    """Generate the student version (release/) from source/ with nbgrader."""
    from autograder.release import release as do_release

    for path in do_release(_course(course), assignment):
        typer.echo(f"released {path}")


@app.command()
def assign(roster: Path = typer.Argument(..., help="CSV with a student_id column."),
           course: Optional[Path] = CourseOption,
           fresh: bool = typer.Option(False, help="Ignore allocation.csv and allocate everyone anew.")):
    """Give each student one challenge (balanced, reproducible) in allocation.csv."""
    from collections import Counter

    from autograder.allocation import assign as do_assign

    the_course = _course(course)
    result = do_assign(roster, the_course.allocation_path, the_course.config.catalogue,
                       seed=the_course.config.execution.seed, keep_existing=not fresh)
    counts = Counter(result.values())
    summary = ", ".join(f"{c.letter} ({c.short_name}): {counts[c.letter]}" for c in the_course.config.catalogue)
    typer.echo(f"{len(result)} students allocated in {the_course.allocation_path}: {summary}")


def main():
    try:
        app()
    except UserError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
