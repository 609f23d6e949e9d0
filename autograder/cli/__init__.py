"""The `autograder` command. Thin: every command is a call into a module.

Each file here holds one group of commands, registered on the one `app` (cli/app.py); they are
imported in the order of a term, which is the order `autograder --help` lists them in.
Errors a user can fix (autograder.errors.UserError) end as one line on stderr and exit status 2.
Heavy modules are imported inside the commands so that `autograder check` starts fast.
"""

from __future__ import annotations

import sys

import typer

# In the order of a term: set up, data, the students' self-check, grading, reports and marks out.
from autograder.cli import check, course, data, grading, marks, reports, similarity  # noqa: F401,I001  (registers the commands)
from autograder.cli.app import app
from autograder.errors import UserError

__all__ = ["app", "main"]


def main():
    try:
        app()
    except UserError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
