"""Intake and the grading pipeline (autograder/intake.py, execute/, checks/, grade/, report/, batch/)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from autograder.cli.app import CourseOption, _course, app


@app.command()
def collect(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
            zip_file: Optional[Path] = typer.Option(
                None, "--zip", help="A Blackboard 'Download assignment' zip to unpack into submitted/."),
            force: bool = typer.Option(False, "--force", help="Replace submissions already collected, even if newer."),
            course: Optional[Path] = CourseOption):
    """Take in submissions (nbgrader's submitted/ folder, or a Blackboard zip) and check each can be graded."""
    from autograder.intake import collect_submitted, collect_zip

    the_course = _course(course)
    ignored: list[str] = []
    if zip_file is not None:
        subs, ignored = collect_zip(the_course, zip_file, assignment, force=force)
    else:
        subs = collect_submitted(the_course, assignment)
    good = [s for s in subs if s.ok]
    for sub in subs:
        extra = []
        if sub.recordings:
            extra.append(f"recording(s): {', '.join(sub.recordings)}")
        extra += sub.notes
        line = f"{sub.student_id:20s} {'ok' if sub.ok else 'INTAKE ERROR'}  {sub.submitted_at or 'no time'}"
        typer.echo(line + (f"  {sub.problem}" if sub.problem else "") + (f"  ({'; '.join(extra)})" if extra else ""))
    if ignored:
        typer.echo(f"{len(ignored)} file(s) in the zip are not Blackboard submissions and were ignored: "
                   + ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else ""), err=True)
    typer.echo(f"{len(good)} submission(s) ready to grade, {len(subs) - len(good)} intake error(s).")


@app.command()
def grade(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
          course: Optional[Path] = CourseOption,
          workers: Optional[int] = typer.Option(None, "--workers", help="Submissions run at once (default: cores)."),
          scheduler: Optional[str] = typer.Option(
              None, "--scheduler", help="Dask scheduler address (tcp://host:8786): run on that cluster instead."),
          cell_timeout: Optional[int] = typer.Option(None, "--cell-timeout", help="Seconds one cell may run."),
          timeout: Optional[int] = typer.Option(None, "--timeout", help="Seconds the whole notebook may run."),
          memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="Per submission, e.g. 8G."),
          disk_limit: Optional[str] = typer.Option(
              None, "--disk-limit", help="Files one submission may write (its folder and home), e.g. 4G."),
          force: bool = typer.Option(False, "--force", help="Execute again even when nothing changed."),
          no_execute: bool = typer.Option(
              False, "--no-execute", help="Only re-check and re-grade stored executions (nothing runs)."),
          allow_unsandboxed: bool = typer.Option(
              False, "--allow-unsandboxed", help="Grade without bubblewrap (student code runs with your rights)."),
          student: Optional[list[str]] = typer.Option(None, "--student", help="Only these students (repeatable)."),
          quiet: bool = typer.Option(False, "--quiet", help="No progress display.")):
    """Run every submission headlessly in a sandbox, check it and grade it. Resumable: a killed batch
    picks up where it stopped, and executions of unchanged notebooks are reused (--force runs them again)."""
    from rich.console import Console

    from autograder.batch import GradeOptions, status_table
    from autograder.batch import grade as run_grade

    the_course = _course(course)
    console = Console(stderr=True)
    summary = run_grade(the_course, GradeOptions(
        assignment=assignment, workers=workers, scheduler=scheduler, cell_timeout=cell_timeout, timeout=timeout,
        memory_limit=memory_limit, disk_limit=disk_limit, force=force, no_execute=no_execute,
        allow_unsandboxed=allow_unsandboxed, students=student or None, progress=not quiet), console=console)
    Console(width=None if sys.stdout.isatty() else 160).print(status_table(summary))
    typer.echo(f"{len(summary.executed)} executed, {len(summary.checked)} re-checked, {len(summary.skipped)} "
               f"unchanged, {len(summary.stale)} stale; {summary.wall_seconds:.1f} s with {summary.workers} "
               f"worker(s) x {summary.threads} thread(s), sandbox: {summary.sandbox}.")
    typer.echo("time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.phases.items()))
    raise typer.Exit(1 if summary.grading_error else 0)
