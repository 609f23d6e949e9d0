"""`autograder data`: the Matbench data sets on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.cli.app import CourseOption, JsonOption, _tasks, data_app, emit_json


@data_app.command("status")
def data_status(
    tasks: list[str] | None = typer.Argument(None, help="Tasks or challenge letters."),
    course: Path | None = CourseOption,
    as_json: bool = JsonOption,
):
    """Which data sets are on this machine, and where. Exit status 1 if one is missing."""
    from rich.filesize import decimal

    from autograder.course import data

    rows = data.status(_tasks(course, tasks))
    missing = [row for row in rows if not row.present]
    if as_json:
        emit_json(
            {
                "data_dir": str(data.data_home()),
                "datasets": [
                    {
                        "task": row.task,
                        "present": row.present,
                        "path": str(row.path),
                        "size_bytes": row.size_bytes if row.present else None,
                        "problem": None if row.present else data.missing_message(row.task),
                    }
                    for row in rows
                ],
            }
        )
    else:
        for row in rows:
            if row.present:
                typer.echo(f"{row.task:24s} present  {decimal(row.size_bytes):>9s}  {row.path}")
            else:
                typer.echo(f"{row.task:24s} MISSING  {data.missing_message(row.task)}")
    raise typer.Exit(1 if missing else 0)


@data_app.command("fetch")
def data_fetch(
    tasks: list[str] | None = typer.Argument(None, help="Tasks or challenge letters."),
    course: Path | None = CourseOption,
):
    """Download missing data sets through matminer (needs a network)."""
    from autograder.course import data

    for task in _tasks(course, tasks):
        typer.echo(f"{task}: {data.fetch(task)}")


@data_app.command("verify")
def data_verify(
    tasks: list[str] | None = typer.Argument(None, help="Tasks or challenge letters."),
    course: Path | None = CourseOption,
):
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
