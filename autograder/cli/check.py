"""The students' self-check (autograder/selfcheck/)."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.cli.app import app


@app.command()
def check(
    notebook: Path = typer.Argument(..., help="The notebook to check (.ipynb)."),
    results: Path | None = typer.Option(
        None, "--results", help="Its results file (default: the one the notebook wrote beside it)."
    ),
    challenge: str | None = typer.Option(
        None,
        "--challenge",
        help="Your challenge letter (default: the notebook's Settings cell, else the "
        "Matbench task its code names).",
    ),
    student: str | None = typer.Option(
        None, "--student", help="Your student id: your challenge from the course's allocation."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON (stable keys) for tools."),
    execute: bool = typer.Option(
        False,
        "--execute",
        help="First run the notebook headlessly, as the grader runs it (the run is "
        "left beside it as NOTEBOOK.executed.ipynb).",
    ),
    download: bool = typer.Option(
        True, "--download/--no-download", help="Download the data set if it is missing (needs a network)."
    ),
):
    """Check a notebook with the graders' own checks before you submit. Exit status: 0 nothing fails,
    1 something fails, 2 the check could not be done (wrong path, not a notebook, data missing)."""
    from autograder.selfcheck import run_cli

    raise typer.Exit(
        run_cli(
            notebook,
            results=results,
            challenge=challenge,
            as_json=as_json,
            execute=execute,
            download=download,
            student=student,
        )
    )
