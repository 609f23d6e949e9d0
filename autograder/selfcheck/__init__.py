"""The student self-check: the graders' own checks on one notebook, on a laptop, in seconds.

    autograder check NOTEBOOK.ipynb [--results PATH] [--challenge X | --student ID] [--json] [--execute]
    import autograder; autograder.self_check()          (inside the notebook)

`check()` reads the notebook as saved (its outputs) and the results file it wrote, runs every
registered check (autograder.checks) and keeps what a student may see; `--execute` first runs the
notebook headlessly with the grading engine (same parameters, protocol trace, sandbox when
bubblewrap is there, the files beside it as if handed in) in a temporary folder, tells which cell
runs, and leaves the run beside the notebook (NOTEBOOK.executed.ipynb). A notebook of another
assignment is refused in one sentence (exit 2). The outcome is a `Report`: a checklist (each item
passed or not, why, what to do), the recomputed score beside the leaderboard's reference points,
what only the grader checks, and plain notes on the tool's use (no results yet, a results file of
another task, data missing, the challenge inferred from the task the code names).

It installs without the instructor's stack (pyproject's core dependencies; the `grader` extra is the
rest): nothing here imports nbgrader, Dask, matplotlib, pandas or matminer
(tests/selfcheck/test_selfcheck_install.py).

Exit status (`Report.exit_code`): 0 nothing fails; 1 the work fails a check; 2 the tool could not
be used (a wrong path, a file that is not a notebook, the data set missing...). Tool errors are
`SelfCheckError` (a UserError), raised before any check runs.

Start-up matters (a student runs this again and again): nothing heavy is imported here. numpy comes
with the checks' scoring; rich, jinja2, IPython and the engine only on the paths that need them.

Where things are (each module imports only those above it in this list, at import and on use, and
none imports this package itself):

    labels.py     the checklist's words: label_of (short names, from autograder.findings), the
                  statuses' order, words and marks, the exit codes
    render.py     the text, rich and HTML views of a Report, read through its fields (it imports no
                  Report, so the dependency goes one way)
    report.py     Report, Note, SelfCheckError, the verdict, the --json layout (to_dict); its views
                  (render_text / print / to_html) import render.py when called, so --json never loads it
    locate.py     finding the files: the path a user gave, the course around it, the notebook open in
                  a kernel (JupyterLab, Jupyter Notebook, VS Code, Colab)
    run.py        --execute: running the notebook as the grader does (the grading engine)
    checklist.py  check(): building the Report: its notes, the self-check's own checks, the score
    __init__.py   self_check() (in a notebook), run_cli() (`autograder check`), the public names
"""

from __future__ import annotations

import contextlib
import json
import sys

from autograder.errors import UserError
from autograder.selfcheck.checklist import check
from autograder.selfcheck.labels import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNUSABLE,
    PRINTED_SCORE_ID,
    STATUS_MARK,
    STATUS_ORDER,
    STATUS_WORD,
    label_of,
)
from autograder.selfcheck.locate import (
    _colab_results,
    _user_namespace,
    explain_unreadable,
    find_course,
    find_open_notebook,
    resolve_notebook,
)
from autograder.selfcheck.report import (
    BLOCKING_NOTES,
    SCHEMA,
    Note,
    Report,
    SelfCheckError,
)

__all__ = [
    "BLOCKING_NOTES",
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "PRINTED_SCORE_ID",
    "SCHEMA",
    "STATUS_MARK",
    "STATUS_ORDER",
    "STATUS_WORD",
    "Note",
    "Report",
    "SelfCheckError",
    "check",
    "explain_unreadable",
    "find_course",
    "find_open_notebook",
    "label_of",
    "resolve_notebook",
    "run_cli",
    "self_check",
]


# --- inside a notebook ----------------------------------------------------------------------------


def self_check(notebook=None, results=None, challenge=None, student=None):
    """Check the notebook that is open (or the one given) with the graders' own checks.

    In a notebook the checklist is shown as a table and nothing is returned (call
    `autograder.selfcheck.check(path)` for the Report itself); elsewhere it is printed and the Report
    returned. Problems with the tool itself are explained, not raised as tracebacks."""
    in_kernel = "ipykernel" in sys.modules and _user_namespace() != {}
    try:
        how = "given"
        if notebook is None:
            notebook, how = find_open_notebook()
        results_arg = results
        if how == "colab" and results is None:
            results_arg = _colab_results(notebook)
        report = check(
            notebook,
            results=results_arg,
            where="notebook",
            challenge=challenge,
            student=student,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except UserError as error:
        if in_kernel:
            import html

            from IPython.display import HTML, display

            display(
                HTML(
                    f'<div class="autograder-selfcheck" style="padding: 0.5em; background: #fdecea; '
                    f'border-left: 4px solid #c0392b">Self-check: {html.escape(str(error))}</div>'
                )
            )
            return None
        raise
    if in_kernel:
        from IPython.display import HTML, display

        display(HTML(report.to_html()))
        return None
    report.print()
    return report


# --- the command line ------------------------------------------------------------------------------


def run_cli(
    notebook,
    results=None,
    challenge=None,
    as_json: bool = False,
    execute: bool = False,
    download: bool = True,
    student: str | None = None,
) -> int:
    """`autograder check`: print the checklist (or JSON) and return the exit status."""

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for stream in (sys.stdout, sys.stderr):  # a Windows console or a pipe may not encode ✓ or →
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")

    try:
        report = check(
            notebook,
            results=results,
            challenge=challenge,
            execute=execute,
            download=download,
            progress=progress,
            student=student,
        )
    except UserError as error:
        kind = getattr(error, "kind", "usage")
        if as_json:
            print(
                json.dumps(
                    {
                        "schema": SCHEMA,
                        "verdict": "unusable",
                        "exit_code": EXIT_UNUSABLE,
                        "error": {"kind": kind, "message": str(error)},
                    },
                    indent=1,
                )
            )
        else:
            print(f"Error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if as_json:
        print(report.to_json())
    else:
        report.print()
    return report.exit_code
