"""Intake and the grading pipeline (autograder/intake.py, execute/, checks/, grade/, report/, batch/)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from autograder.cli.app import CourseOption, ExchangeOption, JsonOption, QuietOption, _course, app, emit_json
from autograder.errors import UserError
from autograder.grade.record import ERROR, FINAL
from autograder.layout import MARKS_FILE

# With more students than this, `grade` ends with the counts and the attention list instead of one
# line per student.
LINES_UP_TO = 30


@app.command()
def collect(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    zip_file: Path | None = typer.Option(
        None,
        "--zip",
        metavar="FILE",
        help="A Blackboard 'Download assignment' zip to unpack into submitted/.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace submissions already collected, even if newer."
    ),
    exchange: Path | None = ExchangeOption,
    as_json: bool = JsonOption,
    quiet: bool = QuietOption,
    course: Path | None = CourseOption,
):
    """Take in submissions (nbgrader's exchange with nbgrader collect, when one is given or configured;
    nbgrader's submitted/ folder; or a Blackboard zip) and check each can be graded."""
    from autograder.course.exchange import collect_inbound, configured, exchange_for
    from autograder.intake import collect_submitted, collect_zip, no_submissions

    the_course = _course(course)
    assignment = the_course.check_assignment(assignment)
    ignored: list[str] = []
    from_exchange = None
    if zip_file is not None and exchange is not None:
        raise UserError("--zip and --exchange: collect from one of them at a time.")
    if zip_file is not None:
        subs, ignored = collect_zip(the_course, zip_file, assignment, force=force)
    else:
        if configured(the_course, exchange):
            target = exchange_for(the_course, exchange)
            collected = collect_inbound(the_course, assignment, target)
            from_exchange = {
                "root": str(target.root),
                "course_id": target.course_id,
                "new": collected.new,
                "replaced": collected.replaced,
            }
        if not the_course.submitted_students(assignment):
            raise no_submissions(the_course, assignment)
        subs = collect_submitted(the_course, assignment)
    good = [s for s in subs if s.ok]
    if as_json:
        emit_json(
            {
                "assignment": assignment,
                "exchange": from_exchange,
                "ready": len(good),
                "intake_errors": len(subs) - len(good),
                "ignored": ignored,
                "submissions": [
                    {
                        "student_id": s.student_id,
                        "ok": s.ok,
                        "problem": s.problem or None,
                        "submitted_at": s.submitted_at,
                        "source": s.source,
                        "notebook": s.notebook,
                        "recordings": s.recordings,
                        "notes": s.notes,
                    }
                    for s in subs
                ],
            }
        )
        return
    if from_exchange is not None and not quiet:
        typer.echo(
            f"From nbgrader's exchange {from_exchange['root']} (course '{from_exchange['course_id']}'): "
            f"{len(from_exchange['new'])} new, {len(from_exchange['replaced'])} replaced by a later submission"
            + (f" ({', '.join(from_exchange['replaced'])})" if from_exchange["replaced"] else "")
            + "."
        )
    for sub in subs:
        if quiet and sub.ok:
            continue
        extra = []
        if sub.recordings:
            extra.append(f"recording(s): {', '.join(sub.recordings)}")
        extra += sub.notes
        line = f"{sub.student_id:20s} {'ok' if sub.ok else 'INTAKE ERROR'}  {sub.submitted_at or 'no time'}"
        typer.echo(
            line + (f"  {sub.problem}" if sub.problem else "") + (f"  ({'; '.join(extra)})" if extra else "")
        )
    if ignored:
        typer.echo(
            f"{len(ignored)} file(s) in the zip are not Blackboard submissions and were ignored: "
            + ", ".join(ignored[:10])
            + (" ..." if len(ignored) > 10 else ""),
            err=True,
        )
    if not quiet:
        typer.echo(f"{len(good)} submission(s) ready to grade, {len(subs) - len(good)} intake error(s).")


@app.command()
def grade(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    course: Path | None = CourseOption,
    workers: int | None = typer.Option(
        None, "--workers", metavar="N", help="Submissions run at once (default: cores)."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786): run on that cluster instead.",
    ),
    cell_timeout: int | None = typer.Option(
        None, "--cell-timeout", metavar="SECONDS", help="Seconds one cell may run."
    ),
    timeout: int | None = typer.Option(
        None, "--timeout", metavar="SECONDS", help="Seconds the whole notebook may run."
    ),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", metavar="SIZE", help="Per submission, e.g. 8G."
    ),
    disk_limit: str | None = typer.Option(
        None,
        "--disk-limit",
        metavar="SIZE",
        help="Files one submission may write (its folder and home), e.g. 4G.",
    ),
    force: bool = typer.Option(False, "--force", help="Execute again even when nothing changed."),
    no_execute: bool = typer.Option(
        False, "--no-execute", help="Only re-check and re-grade stored executions (nothing runs)."
    ),
    allow_unsandboxed: bool = typer.Option(
        False, "--allow-unsandboxed", help="Grade without bubblewrap (student code runs with your rights)."
    ),
    student: list[str] | None = typer.Option(
        None, "--student", metavar="ID", help="Only these students (repeatable)."
    ),
    no_feature_cache: bool = typer.Option(
        False,
        "--no-feature-cache",
        help="Every notebook computes its own features (no featurising once for the cohort).",
    ),
    as_json: bool = JsonOption,
    quiet: bool = QuietOption,
    timings: bool = typer.Option(
        False,
        "--timings",
        help="Also print each execution (cells, wall and CPU time, memory) and where the batch's time went.",
    ),
):
    """Run every submission headlessly in a sandbox, check it and grade it. Resumable: a killed batch
    picks up where it stopped, and executions of unchanged notebooks are reused (--force runs them again).
    Exit status 1 if the grading step failed."""
    the_course = _course(course)
    from rich.console import Console

    from autograder.batch import (
        BatchInterrupted,
        DiskFull,
        GradeOptions,
        prepare_batch,
        run_batch,
        status_table,
    )

    # every name typed and every file read is checked here, before the batch's lock or any folder is made
    plan = prepare_batch(
        the_course,
        GradeOptions(
            assignment=assignment,
            workers=workers,
            scheduler=scheduler,
            cell_timeout=cell_timeout,
            timeout=timeout,
            memory_limit=memory_limit,
            disk_limit=disk_limit,
            force=force,
            no_execute=no_execute,
            allow_unsandboxed=allow_unsandboxed,
            students=student or None,
            progress=not (quiet or as_json),
            feature_cache=not no_feature_cache,
        ),
    )
    console = Console(stderr=True, quiet=as_json and not sys.stderr.isatty())
    try:
        summary = run_batch(plan, console=console)
    except (
        BatchInterrupted,
        DiskFull,
    ) as stopped:  # Ctrl-C, SIGTERM, a full disk: what stopped, how to resume
        import signal  # only here: a further Ctrl-C while Python shuts down must not turn exit 130 into a crash

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stopped.summary is not None and stopped.summary.records and not as_json:
            Console(width=None if sys.stdout.isatty() else 160).print(status_table(stopped.summary))
        typer.echo(f"Error: {stopped}", err=True)
        raise typer.Exit(getattr(stopped, "exit_code", 2)) from None
    outcome = grade_outcome(the_course, summary)
    if as_json:
        emit_json(outcome)
    else:
        if timings:
            Console(width=None if sys.stdout.isatty() else 160).print(status_table(summary))
        assert plan.rubric is not None  # the grade command always grades
        _print_outcome(outcome, quiet, plan.rubric.failed_run_flag)
        # what the batch did, in one line (with --quiet too: it is the whole of a quiet run's good news)
        typer.echo(
            f"{len(summary.executed)} executed, {len(summary.checked)} re-checked, {len(summary.skipped)} "
            f"unchanged, {len(summary.stale)} stale; {summary.wall_seconds:.1f} s with {summary.workers} "
            f"worker(s) x {summary.threads} thread(s), sandbox: {summary.sandbox}."
        )
        if timings:
            typer.echo(
                "time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.phases.items())
            )
    raise typer.Exit(1 if summary.grading_error else 0)


def grade_outcome(course, summary) -> dict:
    """What `grade` tells the instructor, from the batch summary and the grades it wrote (stable keys,
    documented in the README's `--json` table)."""
    from autograder.grade.record import read_grades

    assignment = summary.assignment
    grades = read_grades(course, assignment)
    students = {}
    for student in sorted(summary.records):
        record, grade = summary.records[student], grades.get(student)
        if grade is not None and grade.execution not in (None, record.cache_key):
            grade = None  # a grade of an earlier execution is not this run's
        page = course.feedback_page(student, assignment)
        students[student] = {
            "run": summary.status(student),
            # final | provisional | incomplete | error | None (not graded)
            "status": grade.status if grade is not None else None,
            "mark": grade.overall.mark if grade is not None else None,
            "attention": sorted(set(grade.flags)) if grade is not None else [],
            "reason": record.reason or None,
            "feedback_page": str(page) if page.is_file() else None,
        }
    counts: dict[str, int] = {}
    for info in students.values():
        key = info["status"] or "not graded"
        counts[key] = counts.get(key, 0) + 1
    export_ready = sum(
        1 for info in students.values() if info["status"] == FINAL and info["mark"] is not None
    )
    return {
        "assignment": assignment,
        "students": students,
        "counts": dict(sorted(counts.items())),
        "runs": {
            status: sum(1 for i in students.values() if i["run"] == status)
            for status in sorted({i["run"] for i in students.values()})
        },
        "executed": summary.executed,
        "checked": summary.checked,
        "unchanged": summary.skipped,
        "stale": summary.stale,
        "not_executed": summary.not_executed,
        "export_ready": export_ready,
        "feedback_pages": str(course.feedback_page("<student>", assignment)),
        "summary": None if summary.summary_path is None else str(summary.summary_path),
        "grading_error": summary.grading_error or None,
        "warnings": summary.warnings,
        "wall_seconds": round(summary.wall_seconds, 2),
        "workers": summary.workers,
        "sandbox": summary.sandbox,
    }


def _problem(info: dict, failed_run_flag: str) -> bool:
    """A student `--quiet` still names: the run did not go through (the rubric's flag of a failed run
    among the attention flags), or no grade could be given."""
    return (
        info["run"] in ("failed", "intake-error", "interrupted", "running", "pending")
        or info["status"] in (None, ERROR)
        or bool(info["reason"])
        or failed_run_flag in info["attention"]
    )


def _print_outcome(outcome: dict, quiet: bool, failed_run_flag: str) -> None:
    students = outcome["students"]
    shown = {s: i for s, i in students.items() if _problem(i, failed_run_flag)} if quiet else students
    if quiet or len(students) <= LINES_UP_TO:
        width = max((len(s) for s in shown), default=0)
        for student, info in shown.items():
            typer.echo(_line(student, info, width))
        if quiet:
            return
    else:
        typer.echo(
            f"{len(students)} submission(s): "
            + ", ".join(f"{n} {k}" for k, n in outcome["counts"].items())
            + "; runs: "
            + ", ".join(f"{n} {k}" for k, n in outcome["runs"].items())
            + "."
        )
        attention = {s: i for s, i in students.items() if _problem(i, failed_run_flag) or i["attention"]}
        if attention:
            typer.echo(f"Needs attention ({len(attention)}):")
            width = max(len(s) for s in attention)
            for student, info in attention.items():
                typer.echo("  " + _line(student, info, width))
    final = outcome["counts"].get(FINAL, 0)
    typer.echo(f"Feedback pages: {outcome['feedback_pages']}")
    if outcome["summary"]:
        typer.echo(f"Cohort summary: {outcome['summary']}")
    typer.echo(
        f"Export-ready: {outcome['export_ready']} final mark(s) of {len(students)}"
        + (
            f"; `autograder export {outcome['assignment']}` writes them for the VLE."
            if final
            else f"; marks become final when the markers' marks are in (formgrader or {MARKS_FILE}), then "
            "`autograder grade --no-execute`."
        )
    )


def _line(student: str, info: dict, width: int) -> str:
    mark = "" if info["mark"] is None else f"{info['mark']:g}"
    notes = list(info["attention"])
    if info["reason"] and info["run"] not in ("graded",):
        notes.append(info["reason"])
    line = f"{student:{width}s}  {info['run']:12s} {mark:>5s}  {info['status'] or 'not graded':11s}"
    return (line + (f"  {'; '.join(notes)[:200]}" if notes else "")).rstrip()
