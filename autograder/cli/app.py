"""The `autograder` application object and what its commands share (the course option, `--json`).

Errors a user can fix (autograder.errors.UserError) end as one line on stderr and exit status 2.
Exit status of every command: 0 done, 1 done but something needs looking at (said on stderr),
2 could not run (the message says what to do; nothing was written).
Heavy modules are imported inside the commands so that `autograder check` starts fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.core import TyperCommand, TyperGroup

from autograder.errors import UserError
from autograder.version import __version__

# `autograder --help` lists the commands in the order of a term; commands not named here follow.
TERM_ORDER = (
    "init",
    "release",
    "assign",
    "data",
    "check",
    "collect",
    "grade",
    "marks",
    "report",
    "similarity",
    "export",
    "release-feedback",
    "demo",
)


def _real_metavars(params: list) -> list:
    """A flag takes no value (Typer would show <bool> after it, and '[default: no-x]'); an argument
    is named in capitals, as in every Unix usage line."""
    for param in params:
        if getattr(param, "is_flag", False):
            if param.metavar is None:
                param.metavar = ""
            if param.default is False or param.default is None:
                param.show_default = False
        elif param.param_type_name == "argument" and param.metavar is None:
            param.metavar = param.name.upper()
    return params


class Command(TyperCommand):
    """A command whose help shows real metavars: ROSTER, [ASSIGNMENT], no type after a flag."""

    def get_params(self, ctx) -> list:
        return _real_metavars(super().get_params(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.params:
            if param.param_type_name == "argument":
                name = (param.metavar or param.name or "") + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class Group(TyperGroup):
    def get_params(self, ctx) -> list:
        return _real_metavars(super().get_params(ctx))

    def list_commands(self, ctx) -> list[str]:
        names = list(super().list_commands(ctx))
        rank = {name: index for index, name in enumerate(TERM_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(TERM_ORDER)), names.index(name)))


class App(typer.Typer):
    """typer.Typer whose commands are `Command`s (so that check.py and the others need nothing)."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or Command, **kwargs)


app = App(
    cls=Group,
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Autograder for the Matbench research challenge (nbgrader + papermill). "
    "Exit status: 0 done, 1 something to look at, 2 could not run (nothing written).",
)
data_app = App(cls=Group, no_args_is_help=True, help="Matbench data sets: status, fetch, verify.")
app.add_typer(data_app, name="data")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"autograder {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool | None = typer.Option(
        None, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
):
    """Autograder for the Matbench research challenge (nbgrader + papermill). Exit status: 0 done,
    1 something to look at, 2 could not run (nothing written)."""


CourseOption = typer.Option(
    None, "--course", metavar="DIR", help="Course directory (default: the current one)."
)
JsonOption = typer.Option(False, "--json", help="Print the outcome as JSON (stable keys, see the README).")
QuietOption = typer.Option(False, "--quiet", "-q", help="Print only problems.")
ExchangeOption = typer.Option(
    None,
    "--exchange",
    metavar="DIR",
    help="nbgrader's exchange (its Exchange.root) to use (default: the course's `exchange = ...` under "
    "[course], if set).",
)


def _course(course_dir: Path | None):
    """The course the command works on; a folder that is not a course is an error (nothing written)."""
    from autograder.course.config import Course

    return Course.open(course_dir, require_course=True)


def _course_or_defaults(course_dir: Path | None):
    """For commands that work outside a course too (data): the course given, else the current folder
    if it is one, else the default configuration."""
    from autograder.course.config import Course, is_course_dir

    if course_dir is None and not is_course_dir(Path.cwd()):
        return Course(root=Path.cwd().resolve())
    return _course(course_dir)


def emit_json(data: dict) -> None:
    """One JSON document on stdout, with the version of the tool that wrote it."""
    typer.echo(json.dumps({"autograder_version": __version__, **data}, indent=2, default=str))


def _tasks(course_dir: Path | None, tasks: list[str] | None) -> list[str]:
    catalogue = _course_or_defaults(course_dir).config.catalogue
    if not tasks:
        return [c.task for c in catalogue]
    from autograder.course.challenges import MATBENCH_V01_TASKS, task_info

    result = []
    for key in tasks:
        try:
            result.append(catalogue.get(key).task)
        except UserError:
            try:
                task_info(key)  # any Matbench v0.1 task is fine here
            except UserError as error:
                from autograder.course.config import closest

                ours = [c.task for c in catalogue]
                hint = closest(key, [*catalogue.letters, *ours, *MATBENCH_V01_TASKS], cutoff=0.5)
                raise UserError(
                    f"Unknown Matbench v0.1 task '{key}', and not a challenge of this course.{hint} Its challenges: "
                    + ", ".join(f"{c.letter} ({c.task})" for c in catalogue)
                    + "; any Matbench v0.1 task name works too."
                ) from error
            result.append(key)
    return result
