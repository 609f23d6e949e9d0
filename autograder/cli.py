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
from autograder.layout import ALLOCATION_FILE

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Autograder for the Matbench research challenge (nbgrader + papermill).")
data_app = typer.Typer(no_args_is_help=True, help="Matbench data sets: status, fetch, verify.")
app.add_typer(data_app, name="data")

CourseOption = typer.Option(None, "--course", help="Course directory (default: the current one).")


def _course(course_dir: Optional[Path]):
    from autograder.course.config import Course

    return Course.open(course_dir)


def _tasks(course_dir: Optional[Path], tasks: Optional[list[str]]) -> list[str]:
    catalogue = _course(course_dir).config.catalogue
    if not tasks:
        return [c.task for c in catalogue]
    from autograder.course.challenges import task_info

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


# --- release and allocation -------------------------------------------------------------------------

@app.command()
def release(assignment: Optional[str] = typer.Argument(None, help="Assignment (default: the course's)."),
            course: Optional[Path] = CourseOption):
    """Generate the student version (release/) from source/ with nbgrader."""
    from autograder.course.release import release as do_release

    for path in do_release(_course(course), assignment):
        typer.echo(f"released {path}")


@app.command()
def assign(roster: Path = typer.Argument(..., help="CSV with a student_id column."),
           course: Optional[Path] = CourseOption,
           fresh: bool = typer.Option(False, help=f"Ignore {ALLOCATION_FILE} and allocate everyone anew.")):
    """Give each student one challenge (balanced, reproducible) in allocation.csv."""
    from collections import Counter

    from autograder.course.allocation import assign as do_assign

    the_course = _course(course)
    result = do_assign(roster, the_course.allocation_path, the_course.config.catalogue,
                       seed=the_course.config.execution.seed, keep_existing=not fresh)
    counts = Counter(result.values())
    summary = ", ".join(f"{c.letter} ({c.short_name}): {counts[c.letter]}" for c in the_course.config.catalogue)
    typer.echo(f"{len(result)} students allocated in {the_course.allocation_path}: {summary}")


@app.command()
def demo(course: Path = typer.Option(Path("demo-course"), "--course", help="Where to build the demo course."),
         workers: int = typer.Option(0, help="Submissions graded at once (0: number of cores).")):
    """Build a demo course from scratch and run a term end to end (what `make demo` runs)."""
    from autograder.demo import main as run_demo

    run_demo(course, workers=workers)


# --- marks: export and the cohort summary (autograder/report/) ----------------------------------------

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


# --- student self-check (autograder/selfcheck/) ------------------------------------------------------

@app.command()
def check(notebook: Path = typer.Argument(..., help="The notebook to check (.ipynb)."),
          results: Optional[Path] = typer.Option(
              None, "--results", help="Its results file (default: the one the notebook wrote beside it)."),
          challenge: Optional[str] = typer.Option(
              None, "--challenge", help="Your challenge letter (default: the notebook's Settings cell)."),
          as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON (stable keys) for tools."),
          execute: bool = typer.Option(
              False, "--execute", help="First run the notebook headlessly, as the grader runs it."),
          download: bool = typer.Option(
              True, "--download/--no-download", help="Download the data set if it is missing (needs a network).")):
    """Check a notebook with the graders' own checks before you submit. Exit status: 0 nothing fails,
    1 something fails, 2 the check could not be done (wrong path, not a notebook, data missing)."""
    from autograder.selfcheck import run_cli

    raise typer.Exit(run_cli(notebook, results=results, challenge=challenge, as_json=as_json, execute=execute,
                             download=download))


# --- intake and the grading pipeline (autograder/intake.py, execute/, checks/, grade/, report/, batch/) --

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


def main():
    try:
        app()
    except UserError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
