"""The `autograder` application object and what its commands share (the course option).

Errors a user can fix (autograder.errors.UserError) end as one line on stderr and exit status 2.
Heavy modules are imported inside the commands so that `autograder check` starts fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Autograder for the Matbench research challenge (nbgrader + papermill).")
data_app = typer.Typer(no_args_is_help=True, help="Matbench data sets: status, fetch, verify.")
app.add_typer(data_app, name="data")

CourseOption = typer.Option(None, "--course", help="Course directory (default: the current one).")


def _course(course_dir: Path | None):
    from autograder.course.config import Course

    return Course.open(course_dir)


def _tasks(course_dir: Path | None, tasks: list[str] | None) -> list[str]:
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
