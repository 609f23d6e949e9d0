"""Setting a course up: release the assignment, allocate challenges, the demo course."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from autograder.cli.app import CourseOption, _course, app
from autograder.layout import ALLOCATION_FILE


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
