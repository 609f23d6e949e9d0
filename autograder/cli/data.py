"""`autograder data`: the Matbench data sets on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from autograder.cli.app import CourseOption, _tasks, data_app


@data_app.command("status")
def data_status(tasks: Optional[list[str]] = typer.Argument(None, help="Tasks or challenge letters."),
                course: Optional[Path] = CourseOption):
    """Which data sets are on this machine, and where."""
    from autograder.course import data

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
    from autograder.course import data

    for task in _tasks(course, tasks):
        typer.echo(f"{task}: {data.fetch(task)}")


@data_app.command("verify")
def data_verify(tasks: Optional[list[str]] = typer.Argument(None, help="Tasks or challenge letters."),
                course: Optional[Path] = CourseOption):
    """Check rows, columns, target type and ids/order against the official folds."""
    from autograder.course import data

    failed = 0
    for task in _tasks(course, tasks):
        report = data.verify(task)
        if report.ok:
            typer.echo(f"{task}: OK ({'; '.join(report.facts)})")
        else:
            failed += 1
            typer.echo(f"{task}: PROBLEM: {'; '.join(report.problems)}")
    raise typer.Exit(1 if failed else 0)
