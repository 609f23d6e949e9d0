"""Setting a course up: a new course, release the assignment, allocate challenges, the demo course."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.cli.app import CourseOption, ExchangeOption, _course, app
from autograder.errors import UserError
from autograder.layout import ALLOCATION_FILE, CONFIG_FILE, EXAMPLE_ROSTER_FILE


@app.command()
def init(
    directory: Path | None = typer.Argument(
        None, metavar="DIR", help="Folder for the new course (default: the current one); new or empty."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Use a non-empty folder too: add the missing course files, keep every file already there.",
    ),
):
    """Start a new course from the package's own files: the assignment with its reference solution, the
    rubric, autograder.toml, nbgrader_config.py and an example roster (like `nbgrader quickstart`)."""
    from autograder.course.init import init_course

    result = init_course(directory, force=force)
    typer.echo(
        f"New course in {result.root}: {len(result.written)} file(s) written"
        + (f", {len(result.kept)} already there and kept ({', '.join(result.kept)})" if result.kept else "")
        + "."
    )
    for relative in result.written:
        typer.echo(f"  {relative}")
    where = "" if directory is None else f" --course {result.root}"
    typer.echo(
        f"Next: edit the assignment in source/ and the settings in {CONFIG_FILE}, then\n"
        f"  autograder release{where}\n  autograder assign {EXAMPLE_ROSTER_FILE}{where}   "
        f"(your roster: a CSV with a student_id column)"
    )


@app.command()
def release(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    exchange: Path | None = ExchangeOption,
    course: Path | None = CourseOption,
):
    """Generate the student version (release/) from source/ with nbgrader; with an exchange (--exchange,
    or [course] exchange), publish it there too for `nbgrader fetch_assignment`."""
    from autograder.course.exchange import configured, exchange_for, publish_release
    from autograder.course.release import release as do_release

    the_course = _course(course)
    assignment = the_course.check_assignment(assignment)
    # the exchange's settings (its folder, the course id) are checked before anything is written
    target = exchange_for(the_course, exchange) if configured(the_course, exchange) else None
    for path in do_release(the_course, assignment):
        typer.echo(f"released {path}")
    if target is not None:
        outbound = publish_release(the_course, assignment, target)
        typer.echo(
            f"published to nbgrader's exchange: {outbound} ({len(list(outbound.iterdir()))} file(s); course "
            f"'{target.course_id}': students run `nbgrader fetch_assignment {assignment}`)"
        )


@app.command()
def assign(
    roster: Path = typer.Argument(..., help="CSV with a student_id column (other columns are ignored)."),
    course: Path | None = CourseOption,
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help=f"Ignore {ALLOCATION_FILE} and allocate everyone anew "
        "(with --force if that changes anyone's challenge).",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help=f"Remove students of {ALLOCATION_FILE} who are not on the roster, and let "
        "--fresh change challenges.",
    ),
):
    """Give each student one challenge (balanced, reproducible) in allocation.csv; students already
    allocated keep theirs."""
    from collections import Counter

    from autograder.course.allocation import assign_roster

    the_course = _course(course)
    result = assign_roster(
        roster,
        the_course.allocation_path,
        the_course.config.catalogue,
        seed=the_course.config.execution.seed,
        keep_existing=not fresh,
        force=force,
        case_sensitive=the_course.config.case_sensitive_ids,
    )
    counts = Counter(result.allocation.values())
    summary = ", ".join(
        f"{c.letter} ({c.short_name}): {counts[c.letter]}" for c in the_course.config.catalogue
    )
    typer.echo(
        f"{len(result.allocation)} students allocated in {the_course.allocation_path} "
        f"({len(result.new)} new): {summary}"
    )
    if result.removed:
        typer.echo(f"Removed (not on the roster): {', '.join(result.removed)}", err=True)
    if result.changed:
        typer.echo(f"Challenge changed (--fresh): {', '.join(result.changed)}", err=True)


@app.command()
def demo(
    course: Path = typer.Option(
        Path("demo-course"),
        "--course",
        metavar="DIR",
        help="Where to build the demo course (replaced if it exists).",
    ),
    workers: int = typer.Option(0, "--workers", metavar="N", help="Submissions graded at once (0: cores)."),
):
    """Build a demo course from scratch and run a term end to end (what `make demo` runs)."""
    from autograder.demo import ROSTER
    from autograder.demo import main as run_demo

    if course.is_dir() and any(course.iterdir()):  # replaced only if it is an earlier demo course
        from autograder.course.allocation import read_allocation
        from autograder.course.config import Course

        try:
            demo_ids = set(read_allocation(course / ALLOCATION_FILE, Course.open(course).config.catalogue))
        except UserError:
            demo_ids = set()
        if demo_ids != {student for student, _ in ROSTER}:
            raise UserError(
                f"{course} exists and is not a demo course: the demo builds its course from scratch and "
                "would delete what is there. Give a new folder with --course."
            )
    elif course.exists() and not course.is_dir():
        raise UserError(f"{course} is a file; give a folder for the demo course with --course.")
    run_demo(course, workers=workers)
