"""The student self-check: the graders' own checks on one notebook, on a laptop, in seconds.

    autograder check NOTEBOOK.ipynb [--results PATH] [--challenge X] [--json] [--execute]
    import autograder; autograder.self_check()          (inside the notebook)

`check()` reads the notebook as saved (its outputs) and the results file it wrote, runs every
registered check (autograder.checks) and keeps what a student may see; `--execute` first runs the
notebook headlessly with the grading engine (same parameters, protocol trace, sandbox when
bubblewrap is there) in a temporary folder. The outcome is a `Report`: a checklist (each item
passed or not, why, what to do), the recomputed score beside the leaderboard's reference points,
and plain notes on the tool's use (no results yet, a results file of another task, data missing).

Exit status (`Report.exit_code`): 0 nothing fails; 1 the work fails a check; 2 the tool could not
be used (a wrong path, a file that is not a notebook, the data set missing...). Tool errors are
`SelfCheckError` (a UserError), raised before any check runs.

Start-up matters (a student runs this again and again): nothing heavy is imported here. numpy comes
with the checks' scoring; rich, jinja2, IPython and the engine only on the paths that need them.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.records import (
    COULD_NOT_RUN,
    FAIL,
    INFO,
    NOT_APPLICABLE,
    PASS,
    STUDENT,
    WARN,
    Finding,
)

SCHEMA = 1  # version of the --json layout; bump when a key changes meaning
EXIT_OK, EXIT_FAIL, EXIT_UNUSABLE = 0, 1, 2
PRINTED_SCORE_ID = "selfcheck.printed_score"
RESULTS_FILE = "results.json.gz"

# Short names for the checklist (the checks' own descriptions are sentences). Unknown ids fall back
# to the check's description, so a new check shows up without a change here.
LABELS = {
    "code.lint": "Code passes the linter",
    "code.annotation": "Code is annotated",
    "code.organisation": "Code is organised",
    "code.execution_order": "Run from top to bottom",
    "code.errors_left": "No errors left in the outputs",
    "code.run_time": "Run time and memory",
    "execution.order": "Run from top to bottom",
    "execution.errors_left": "No errors left in the outputs",
    "execution.run": "Runs from top to bottom as the grader runs it",
    "execution.run_time": "Run time and memory",
    # made by the grading engine during --execute
    "execution.ran": "Runs from top to bottom as the grader runs it",
    "execution.cell_errors": "No errors when run from the top",
    "execution.memory": "Within the memory limit",
    "execution.disk": "Within the disk limit",
    "execution.notebook_timeout": "Within the time limit",
    "execution.cell_timeout": "No cell over the time limit",
    "execution.kernel_died": "The kernel keeps running",
    "execution.network": "No internet needed",
    "execution.filesystem": "Files only in the notebook's folder",
    "execution.links_removed": "No links outside the folder",
    "environment.missing_module": "Only the course's packages",
    "environment.missing_package": "Only the course's packages",
    "environment.pip_install": "No package installs in the notebook",
    "sanitise.restored_cell": "Locked cells unchanged",
    "sanitise.duplicate_cell": "Copied locked cells",
    "declaration.present": "LLM usage declaration present",
    "declaration.complete": "LLM usage declaration answered",
    "protocol.api_used": "Matbench API used",
    "protocol.results_file": "Results file saved",
    "protocol.written_by_run": "Results file written by this run",
    "protocol.task": "Results are for your challenge",
    "protocol.folds_complete": "All five folds recorded",
    "protocol.test_ids": "Predictions for the official test materials",
    "protocol.prediction_values": "Predictions are valid numbers",
    "protocol.scores": "Score recomputed from your predictions",
    "protocol.claimed_scores": "Scores quoted in your text",
    "protocol.trace": "Protocol trace of the run",
    "protocol.test_targets": "Test targets never requested",
    "protocol.full_data_in_loop": "Model code uses only its fold's data",
    "protocol.record_twice": "Each fold recorded once",
    "protocol.own_split": "No split of your own instead of the folds",
    "protocol.subsample": "Trained on all the data",
    "protocol.preprocessing_leak": "Pre-processing fitted inside the folds",
    "protocol.test_tuning": "No tuning on test data",
    "protocol.alignment": "Predictions in the test materials' order",
    "leaderboard.rank": "Leaderboard rank",
    "leaderboard.extrapolation": "Interpolation vs extrapolation",
    "practice.features": "Features",
    "practice.preprocessing": "Pre-processing",
    "practice.data_checks": "Data examined",
    "practice.baseline": "Baseline compared",
    "practice.model_justification": "Model choice justified",
    "practice.answers": "Written answers filled in",
    "practice.inner_validation": "Validation inside the training folds",
    "practice.uncertainty": "Uncertainty",
    "practice.interpretability": "Interpretability",
    "practice.error_analysis": "Error analysis",
    "practice.extrapolation": "Extrapolation test",
    PRINTED_SCORE_ID: "Printed score matches the saved results",
}
# Shown in the score block rather than as checklist rows (unless they fail or warn).
SCORE_ITEMS = ("protocol.scores", "leaderboard.rank")
STATUS_ORDER = {FAIL: 0, WARN: 1, COULD_NOT_RUN: 2, INFO: 3, PASS: 4, NOT_APPLICABLE: 5}
STATUS_WORD = {FAIL: "FAIL", WARN: "WARN", COULD_NOT_RUN: "NOT CHECKED", INFO: "NOTE", PASS: "PASS",
               NOT_APPLICABLE: "N/A"}
STATUS_MARK = {FAIL: "✗", WARN: "!", COULD_NOT_RUN: "?", INFO: "·", PASS: "✓", NOT_APPLICABLE: "–"}
# Notes that mean the check is incomplete for a reason of the tool, not of the work: exit status 2
# when nothing fails.
BLOCKING_NOTES = ("data-missing", "challenge-unknown")

_SUMMARY_LINE = re.compile(r"(matbench_\w+): (mae|rocauc) = (\S+) ± (\S+) over the 5 folds")
_FOLD_LINE = re.compile(r"^fold (\d): (mae|rocauc) = (\S+)\s*$", re.MULTILINE)
_TEMPLATE_FUNCTIONS = ("featurise", "train_model", "predict")


class SelfCheckError(UserError):
    """The self-check cannot be used on what it was given; the message says what to do.

    kind (stable, for --json): not-found, not-a-notebook, results-not-found, results-unreadable,
    results-other-task, cannot-find-notebook, execute-unavailable."""

    def __init__(self, message: str, kind: str = "usage"):
        super().__init__(message)
        self.kind = kind


@dataclass
class Note:
    """Something about how the tool was used (not a finding about the work)."""

    kind: str  # stable id: no-results, results-other-task, challenge-unknown, data-missing, ...
    message: str


@dataclass
class Report:
    notebook: Path
    results: Path | None
    items: list[Finding]  # what the student may see, in the checks' order
    challenge: object = None  # autograder.course.challenges.Challenge
    challenge_source: str = ""
    score: dict | None = None
    references: list[dict] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    execution: dict | None = None  # --execute: how the run went
    notebook_saved_at: float | None = None
    seconds: float = 0.0

    # --- verdict -------------------------------------------------------------------------------
    def count(self, status: str) -> int:
        return sum(1 for f in self.items if f.status == status)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.items if f.status == FAIL]

    @property
    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAIL
        if any(n.kind in BLOCKING_NOTES for n in self.notes):
            return EXIT_UNUSABLE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "pass", EXIT_FAIL: "fail", EXIT_UNUSABLE: "incomplete"}[self.exit_code]

    def summary_line(self) -> str:
        n_fail, n_warn = self.count(FAIL), self.count(WARN)
        if self.exit_code == EXIT_FAIL:
            text = (f"{n_fail} item{'s' if n_fail != 1 else ''} fail{'s' if n_fail == 1 else ''}: "
                    "fix them and check again.")
        elif self.exit_code == EXIT_UNUSABLE:
            text = "Nothing fails, but the check is incomplete (see the notes above)."
        else:
            text = "Nothing fails in the graders' automatic checks."
        if n_warn:
            text += f" {n_warn} warning{'s' if n_warn != 1 else ''} to look at."
        return text

    # --- outputs -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The --json layout (keys are stable; `schema` changes when one changes meaning)."""
        from autograder import __version__

        ch = self.challenge
        return {
            "schema": SCHEMA,
            "autograder_version": __version__,
            "notebook": str(self.notebook),
            "results": str(self.results) if self.results else None,
            "challenge": ({"letter": ch.letter, "task": ch.task, "source": self.challenge_source}
                          if ch is not None else None),
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "counts": {s: self.count(s) for s in STATUS_ORDER},
            "items": [{"check_id": f.check_id, "criterion": f.criterion, "status": f.status,
                       "label": label_of(f.check_id), "message": f.message, "advice": f.advice}
                      for f in self.items],
            "score": self.score,
            "leaderboard": self.references,
            "notes": [{"kind": n.kind, "message": n.message} for n in self.notes],
            "execution": self.execution,
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=_json_default)

    def render_text(self, width: int = 100) -> str:
        return _render_text(self, width)

    def print(self, file=None, rich: bool | None = None) -> None:
        file = file or sys.stdout
        if rich is None:
            rich = hasattr(file, "isatty") and file.isatty() and not os.environ.get("NO_COLOR")
        if rich:
            _render_rich(self, file)
        else:
            file.write(_render_text(self, _terminal_width()) + "\n")

    def to_html(self) -> str:
        return _render_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def label_of(check_id: str) -> str:
    if check_id in LABELS:
        return LABELS[check_id]
    try:
        from autograder.checks import registry

        spec = registry().get(check_id)
        if spec and spec.description:
            return spec.description.rstrip(".")
    except Exception:  # noqa: BLE001 - a label is cosmetic
        pass
    return check_id.split(".", 1)[-1].replace("_", " ").capitalize()


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


# --- finding the files ---------------------------------------------------------------------------

def resolve_notebook(path: Path | str) -> Path:
    """The notebook a user named, or a SelfCheckError that says what is there instead."""
    given = Path(os.path.expanduser(str(path)))
    if given.is_dir():
        found = _notebooks_in(given)
        if len(found) == 1:
            return found[0]
        if not found:
            raise SelfCheckError(f"{given} is a folder with no notebook (.ipynb) in it. Give the path to your "
                                 "notebook file, e.g. `autograder check research_challenge.ipynb`.", "not-found")
        raise SelfCheckError(f"{given} is a folder with {len(found)} notebooks; say which one to check: "
                             + ", ".join(p.name for p in found) + ".", "not-found")
    if given.is_file():
        return given
    folder = given.parent if str(given.parent) not in ("", ".") else Path.cwd()
    shown = given.parent if str(given.parent) not in ("", ".") else Path(".")
    if not folder.is_dir():
        raise SelfCheckError(f"There is no file {given}: the folder {shown} does not exist. Give the path to your "
                             "notebook (in a terminal, `cd` to its folder first, or drag the file into the "
                             "terminal to paste its path).", "not-found")
    found = _notebooks_in(folder)
    message = f"There is no file {given}."
    if found:
        names = [p.name for p in found]
        close = difflib.get_close_matches(given.name, names, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {shown / close[0]}?"
        message += f" Notebooks in {'this folder' if shown == Path('.') else shown}: " + ", ".join(names[:10])
        message += " …" if len(names) > 10 else ""
        message += "."
    else:
        message += (f" There is no notebook (.ipynb) in {'this folder' if shown == Path('.') else shown} "
                    "at all: `cd` to the folder that holds your notebook, or give its full path.")
    raise SelfCheckError(message, "not-found")


def _notebooks_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def explain_unreadable(path: Path, error: str = "") -> str:
    """Why a file is not a notebook we can read, in words a student can act on."""
    name = path.name
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    restore = (f" Jupyter's last checkpoint of it is {checkpoint}: open that and save it under the "
               "notebook's name." if checkpoint.is_file() else "")
    try:
        blob = path.read_bytes()
    except OSError as err:
        return f"{name} cannot be read ({err.strerror}); check that you may read it and that it is not open " \
               "in another program that locks it."
    if not blob.strip():
        return (f"{name} is empty (0 bytes): it was not saved completely. Open the notebook in Jupyter and save "
                "it again." + restore)
    head = blob[:4096].decode("utf-8", "replace").lstrip("\ufeff").lstrip()
    lowered = head.lower()
    if blob[:4] == b"PK\x03\x04":
        return f"{name} is a zip archive, not a notebook: unzip it and check the .ipynb file inside."
    if blob[:2] == b"\x1f\x8b":
        return f"{name} is gzip-compressed, not a notebook: decompress it first (or give the .ipynb file)."
    if lowered.startswith(("<!doctype html", "<html")):
        return (f"{name} is a web page (HTML), not the notebook: you probably saved the page that shows it. "
                "Download the notebook file itself (on GitHub: 'Download raw file'; in Jupyter: File > "
                "Download).")
    if path.suffix == ".py" or _looks_like_python(head):
        return (f"{name} is a Python script, not a Jupyter notebook: the check needs the .ipynb file with its "
                "cells and outputs. In Jupyter use File > Save Notebook (not 'Save as Python'); a script "
                "paired with jupytext can be turned back with `jupytext --to notebook "
                f"{path.with_suffix('.py').name}`.")
    if head.startswith(("{", "[")):
        try:
            raw = json.loads(blob.decode("utf-8", "replace"))
        except json.JSONDecodeError as err:
            near_end = err.pos >= len(blob.decode("utf-8", "replace").rstrip()) - 2
            if near_end:
                return (f"{name} is cut short: the JSON ends in the middle ({err.msg} at line {err.lineno}), so "
                        "the save was interrupted or the disk was full. Open the notebook in Jupyter (it may "
                        "still be open with your work) and save it again." + restore)
            return (f"{name} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): it was "
                    "edited outside Jupyter or damaged (for example by a merge conflict). Open it in Jupyter; "
                    "if Jupyter cannot open it either, go back to your last good copy." + restore)
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            return (f"{name} is JSON but not a Jupyter notebook (it has no list of cells). Give your notebook "
                    "file, the one you open in Jupyter.")
        return f"{name} cannot be read as a Jupyter notebook ({error})."
    return (f"{name} is not a Jupyter notebook: a notebook is a JSON file that begins with '{{', this one begins "
            f"with {head[:30]!r}. Give the .ipynb file you open in Jupyter.")


def _looks_like_python(head: str) -> bool:
    first = next((line.strip() for line in head.splitlines() if line.strip()), "")
    return first.startswith(("# %%", "#%%", "# In[", "#!", "import ", "from ", "def ", "# ---", '"""')) or \
        bool(re.match(r"^[A-Za-z_]\w*\s*=", first))


def find_course(*starts: Path):
    """The course directory (nbgrader_config.py + autograder.toml or release/) at or above the given
    places, else $AUTOGRADER_COURSE; None on a student's laptop."""
    from autograder.course.config import ConfigError, Course

    candidates = []
    for start in starts:
        try:
            start = Path(start).resolve()
        except OSError:
            continue
        candidates.extend([start, *start.parents])
    if os.environ.get("AUTOGRADER_COURSE"):
        candidates.insert(0, Path(os.environ["AUTOGRADER_COURSE"]))
    seen = set()
    for folder in candidates:
        if folder in seen:
            continue
        seen.add(folder)
        if (folder / "nbgrader_config.py").is_file() and \
                ((folder / "autograder.toml").is_file() or (folder / "release").is_dir()):
            try:
                return Course.open(folder)
            except (ConfigError, UserError, OSError):
                return None
    return None


# --- the check ----------------------------------------------------------------------------------

def check(notebook: Path | str, results: Path | str | None = None, challenge: str | None = None,
          execute: bool = False, download: bool = True, course=None, where: str = "cli",
          progress=None) -> Report:
    """Check one notebook with the graders' checks; see the module docstring.

    where: "cli" or "notebook" (only changes the advice's wording). progress: a callable taking a
    line of text, for what takes time (--execute, downloading data)."""
    started = time.perf_counter()
    path = resolve_notebook(notebook)
    _readable_notebook(path)
    if course is None:
        course = find_course(path.parent, Path.cwd())
    catalogue = course.config.catalogue if course is not None else None
    if challenge is not None:
        from autograder.course.challenges import Catalogue

        challenge = (catalogue or Catalogue()).get(challenge)  # UnknownTaskError (exit 2) lists the valid ones
    if execute and results is not None:
        raise SelfCheckError("--results and --execute do not go together: the run writes its own results file. "
                             "Leave out --results.", "usage")
    results_path = _explicit_results(results) if results is not None else None
    notes: list[Note] = []
    run = _execute(path, challenge, course, progress) if execute else None
    try:
        return _check(path, results_path, challenge, course, run, notes, download, where, progress, started)
    finally:
        if run is not None:
            import shutil

            shutil.rmtree(run.root, ignore_errors=True)


def _check(path, results_path, challenge, course, run, notes, download, where, progress, started) -> Report:
    from autograder.checks import run_checks
    from autograder.checks.context import CheckContext

    if run is not None:
        notes.extend(run.notes)
        ctx = CheckContext.from_notebook(run.notebook, run.results, challenge, trace_path=run.trace,
                                         record=run.record, course=course, expected_nonce=run.nonce)
        ctx.submitted_path = path  # execution order, errors left: the notebook as the student saved it
        ctx.__dict__.pop("submitted", None)
    else:
        ctx = CheckContext.from_notebook(path, results_path, challenge, course=course)
    if course is None and ctx.released_path is None:
        notes.append(Note("released-copy-missing",
                          "This copy of autograder does not include the released notebook, so your answers are told "
                          "apart from the template's own text less precisely than the graders do."))
    if results_path is not None:
        _same_task_or_raise(ctx, results_path)
    elif run is None:
        _results_notes(ctx, notes, where)
    if ctx.challenge is None:
        given = ctx.notebook.parameters().get("challenge") if ctx.notebook is not None else None
        letters = ", ".join(ctx.catalogue.letters)
        why = (f"`challenge = {given!r}` in its Settings cell is not one of this course's challenges ({letters})"
               if isinstance(given, str) and given.strip() else
               "the notebook does not say which challenge it is for (`challenge` is empty in its Settings cell)")
        notes.append(Note("challenge-unknown",
                          why[:1].upper() + why[1:] + " and there is no results file to tell, so the score cannot be "
                          "checked. Set `challenge` to your letter"
                          + (", or pass --challenge with your letter." if where == "cli" else ".")))
    _ensure_data(ctx, notes, download, progress)

    findings = run_checks(ctx)
    items = (list(run.engine_findings) if run is not None else []) + \
        [f for f in findings if f.visibility == STUDENT]
    printed = _printed_score(ctx, findings)
    if printed is not None:
        items.append(printed)
    missing = _missing_work(ctx)
    if missing:
        notes.insert(0, Note("work-missing", missing))
    shown_results = ctx.results_path if ctx.results is not None and run is None else None
    report = Report(notebook=path, results=shown_results, items=items, challenge=ctx.challenge,
                    challenge_source=ctx.challenge_source, notes=notes,
                    execution=run.summary if run is not None else None, notebook_saved_at=_mtime(path))
    report.score, report.references = _score(ctx, findings)
    report.seconds = time.perf_counter() - started
    return report


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _readable_notebook(path: Path) -> None:
    from autograder.checks.notebook import NotebookError, read_notebook

    try:
        read_notebook(path)
    except NotebookError as error:
        raise SelfCheckError(explain_unreadable(path, str(error)), "not-a-notebook") from None


def _explicit_results(results: Path | str) -> Path:
    from autograder.results.file import ResultsFileError, load_results

    path = Path(os.path.expanduser(str(results)))
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        folder = path.parent if str(path.parent) not in ("", ".") else Path(".")
        found = sorted(p.name for p in (folder.glob("*.json*") if folder.is_dir() else []))
        raise SelfCheckError(f"There is no results file {path}."
                             + (f" JSON files in {folder}: {', '.join(found[:10])}." if found else "")
                             + " The notebook's protocol cell writes results.json.gz into the notebook's folder "
                               "when it runs; leave out --results to use that one.", "results-not-found")
    try:
        load_results(path)
    except ResultsFileError as error:
        raise SelfCheckError(f"{path.name} is not a matbench results file: {error} Give the results.json.gz the "
                             "notebook's protocol cell wrote (or leave out --results).",
                             "results-unreadable") from None
    return path


def _same_task_or_raise(ctx, results_path: Path) -> None:
    """A results file given by hand must be for the notebook's task: otherwise it is the wrong file."""
    if ctx.results is None or ctx.challenge is None:
        return
    tasks = sorted(ctx.results.tasks)
    if ctx.challenge.task not in tasks:
        letters = _letters_of(ctx, tasks)
        raise SelfCheckError(
            f"{results_path.name} holds results for {letters}, but this notebook is for challenge "
            f"{ctx.challenge.letter} ({ctx.challenge.task}) (from {_source_words(ctx.challenge_source)}). Give the "
            "results file this notebook wrote (the Settings cell's `results_path`), or run the notebook top to "
            "bottom to write it.", "results-other-task")


def _letters_of(ctx, tasks: list[str]) -> str:
    parts = []
    for task in tasks:
        try:
            parts.append(f"{task} (challenge {ctx.catalogue.get(task).letter})")
        except UserError:
            parts.append(task)
    return ", ".join(parts) or "no task"


def _source_words(source: str) -> str:
    return {"given": "--challenge", "parameters": "its Settings cell", "allocation": "the allocation",
            "results file": "the results file"}.get(source, source or "its Settings cell")


def _results_notes(ctx, notes: list[Note], where: str) -> None:
    rerun = ("Run the notebook top to bottom first (Kernel > Restart Kernel and Run All Cells), save it, and "
             "check again")
    rerun += ("; or run `autograder check --execute NOTEBOOK` to have it run as the grader runs it."
              if where == "cli" else ".")
    if ctx.results_error == "missing":
        notes.append(Note("no-results", f"No results file yet: there is no {Path(ctx.results_path).name} beside "
                                        f"the notebook, so your predictions cannot be checked. {rerun}"))
    elif ctx.results is None:
        notes.append(Note("results-unreadable", f"The results file beside the notebook cannot be read "
                                                f"({ctx.results_error}). {rerun}"))
    elif ctx.challenge is not None and ctx.challenge.task not in ctx.results.tasks:
        notes.append(Note("results-other-task",
                          f"The results file beside the notebook holds results for "
                          f"{_letters_of(ctx, sorted(ctx.results.tasks))}, but the notebook is set to challenge "
                          f"{ctx.challenge.letter} ({ctx.challenge.task}): it was written by an earlier run for "
                          f"another challenge. {rerun}"))


def _ensure_data(ctx, notes: list[Note], download: bool, progress) -> None:
    """The ground truth is needed to recompute the score: fetch the data set when it is missing (needs a
    network), else say exactly what to do (autograder.course.data's DataMissingError message)."""
    if ctx.challenge is None or ctx.results is None:
        return
    from autograder.course import data

    task = ctx.challenge.task
    if data.dataset_path(task).exists():
        return
    message = data.missing_message(task)
    if download:
        if progress:
            progress(f"The data set {task} is not on this machine: downloading it to recompute your score…")
        try:
            with contextlib.redirect_stdout(sys.stderr):  # matminer prints; --json owns stdout
                data.fetch(task)
            ctx.__dict__.pop("_ground_truth", None)
            return
        except data.DataMissingError as error:
            message = str(error)
    notes.append(Note("data-missing", "Your score cannot be recomputed: " + message))


# --- what the checklist adds to the checks --------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _printed_score(ctx, findings: list[Finding]) -> Finding | None:
    """The score the notebook printed in its saved outputs vs the one recomputed from its results
    file: different figures mean the outputs and the results come from different runs."""
    scores = next((f for f in findings if f.check_id == "protocol.scores" and f.status != COULD_NOT_RUN), None)
    nb = ctx.notebook
    if scores is None or nb is None or ctx.challenge is None:
        return None
    metric = scores.details.get("metric") or ctx.challenge.metric
    summary = (scores.details.get("summary") or {}).get(metric)
    if not summary:
        return None
    text = "\n".join(c.output_text() for c in nb.code_cells)
    lines = [m for m in _SUMMARY_LINE.finditer(text) if m.group(2) == metric]
    folds = {int(m.group(1)): _number(m.group(3)) for m in _FOLD_LINE.finditer(text) if m.group(2) == metric}
    label = ctx.challenge.metric_label
    mean, std = summary["mean"], summary["std"]
    per_fold = {int(k): v.get(metric) for k, v in (scores.details.get("folds") or {}).items()}
    details = {"recomputed": {"mean": mean, "std": std}, "printed": None}
    if not lines:
        return Finding(PRINTED_SCORE_ID, "training_testing", INFO,
                       "The notebook's saved outputs show no score from the protocol cell, so what a reader of "
                       "your notebook sees cannot be compared with your results file.",
                       advice="Restart the kernel, run all cells and save the notebook with its outputs.",
                       details=details)
    last = lines[-1]
    p_mean, p_std = _number(last.group(3)), _number(last.group(4))
    details["printed"] = {"task": last.group(1), "mean": p_mean, "std": p_std,
                          "folds": {str(k): v for k, v in sorted(folds.items())}}

    def close(a, b):  # printed with 4 decimals
        return a is not None and b is not None and abs(a - b) <= 0.5e-4 * 1.01 + 1e-12

    differences = []
    if last.group(1) != ctx.challenge.task:
        differences.append(f"it printed a score for {last.group(1)}, your results are for {ctx.challenge.task}")
    if not close(p_mean, mean) or not close(p_std, std):
        differences.append(f"it printed {label} {last.group(3)} ± {last.group(4)}, the results file gives "
                           f"{mean:.4f} ± {std:.4f}")
    bad_folds = [k for k, v in folds.items() if k in per_fold and not close(v, per_fold[k])]
    if bad_folds and not differences:
        differences.append(f"the per-fold scores printed for fold{'s' if len(bad_folds) > 1 else ''} "
                           f"{', '.join(map(str, sorted(bad_folds)))} differ from the results file")
    if differences:
        return Finding(PRINTED_SCORE_ID, "training_testing", WARN,
                       "The score your notebook shows is not the one its results file gives: "
                       + "; ".join(differences) + ". The outputs and results.json.gz come from different runs "
                       "(cells run out of order, a run stopped half-way, or the results file was replaced). "
                       "The grader re-runs the notebook and uses what that run records.",
                       advice="Restart the kernel, run all cells from the top, and save the notebook.",
                       details=details)
    return Finding(PRINTED_SCORE_ID, "training_testing", PASS,
                   f"The score your notebook printed ({label} {last.group(3)} ± {last.group(4)}) is the one "
                   "recomputed from its results file.", details=details)


def _missing_work(ctx) -> str | None:
    """A plain headline when the notebook is (still partly) the released template."""
    nb = ctx.notebook
    if nb is None:
        return None
    defined = {}
    for cell in nb.code_cells:
        if cell.tree is None:
            continue
        for node in cell.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _TEMPLATE_FUNCTIONS:
                defined[node.name] = node
    empty = [name for name in _TEMPLATE_FUNCTIONS if name not in defined or _is_stub(defined[name])]
    unanswered = sum(1 for c in nb.markdown_cells if "YOUR ANSWER HERE" in c.source)
    parts = []
    if empty:
        names = [f"`{n}`" for n in empty]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"{joined} {'is' if len(names) == 1 else 'are'} still the template's empty "
                     f"function{'s' if len(names) > 1 else ''}")
    if unanswered:
        parts.append(f"{unanswered} answer{'s' if unanswered > 1 else ''} still say{'s' if unanswered == 1 else ''} "
                     "YOUR ANSWER HERE")
    if not parts:
        return None
    return "Your work is missing: " + "; ".join(parts) + ". Write them, then run the notebook top to bottom."


def _is_stub(node) -> bool:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    return all(isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               or (isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n)) for n in body)


def _score(ctx, findings: list[Finding]) -> tuple[dict | None, list[dict]]:
    """The recomputed score (from protocol.scores) and the leaderboard reference points."""
    ch = ctx.challenge
    if ch is None:
        return None, []
    rank = next((f for f in findings if f.check_id == "leaderboard.rank" and f.status != COULD_NOT_RUN), None)
    if rank is not None and rank.details.get("reference_points"):
        references = [{"label": label, "algorithm": e.get("algorithm"), "mean": e.get("mean"), "std": e.get("std")}
                      for label, e in rank.details["reference_points"].items()]
    else:
        references = [{"label": label, "algorithm": e.algorithm, "mean": e.mean, "std": e.std}
                      for label, e in ch.reference_points]
    scores = next((f for f in findings if f.check_id == "protocol.scores" and f.status != COULD_NOT_RUN), None)
    if scores is None:
        return None, references
    metric = scores.details.get("metric") or ch.metric
    summary = (scores.details.get("summary") or {}).get(metric)
    if not summary:
        return None, references
    folds = {k: v.get(metric) for k, v in (scores.details.get("folds") or {}).items()}
    score = {"metric": metric, "label": ch.metric_label, "unit": "" if ch.is_classification else ch.unit,
             "higher_is_better": ch.higher_is_better, "mean": summary["mean"], "std": summary["std"],
             "folds": folds, "folds_scored": len(folds), "complete": len(folds) == 5,
             "rank": None, "entries": len(ch.leaderboard) or None, "mae_over_mad": None, "proba_rocauc": None,
             "status": scores.status}
    if rank is not None:
        score["rank"] = rank.details.get("rank")
        score["mae_over_mad"] = rank.details.get("mae_over_mad")
    elif score["complete"] and ch.leaderboard:
        score["rank"] = ch.rank(summary["mean"])
    proba = (scores.details.get("summary") or {}).get("rocauc_proba")
    if proba:
        score["proba_rocauc"] = {"mean": proba["mean"], "std": proba["std"]}
    return score, references


# --- --execute: run the notebook as the grader does ----------------------------------------------

@dataclass
class _Run:
    notebook: Path  # the executed notebook, in the temporary work folder
    results: Path
    trace: Path | None
    record: object  # ExecutionRecord
    nonce: str | None
    summary: dict
    notes: list[Note]
    root: Path  # the temporary folder to remove
    engine_findings: list[Finding] = field(default_factory=list)


def _execute(path: Path, challenge, course, progress) -> _Run:
    """Run the notebook with the grading engine (autograder.execute.engine.execute_job), as a batch
    would: the notebook sanitised against the instructor's (or released) notebook, the same papermill
    parameters (challenge, data_dir, seed, n_jobs, results_path), the protocol trace, the course's
    budgets, and the bubblewrap sandbox when it works here (else unsandboxed, and the report says so).
    Only the notebook goes in: files beside it are not copied, as the grader only gets the notebook."""
    import tempfile

    from autograder.course import data
    from autograder.checks.notebook import Notebook, read_notebook
    from autograder.course.config import CourseConfig

    config = course.config if course is not None else CourseConfig()
    catalogue = config.catalogue
    if challenge is None:
        letter = Notebook(read_notebook(path)).parameters().get("challenge")
        try:
            challenge = catalogue.get(str(letter)) if isinstance(letter, str) and letter.strip() else None
        except UserError:
            challenge = None
    if challenge is None:
        raise SelfCheckError("To run the notebook the checker needs your challenge: set `challenge` in the "
                             "notebook's Settings cell to your letter, or pass --challenge.", "challenge-unknown")
    if not data.dataset_path(challenge.task).exists():
        try:
            with contextlib.redirect_stdout(sys.stderr):
                data.fetch(challenge.task)
        except data.DataMissingError as error:
            raise SelfCheckError(f"The notebook cannot run without its data set. {error}", "data-missing") from None

    try:
        import nbformat

        from autograder.execute import engine
        from autograder.execute import sandbox as sb
        from autograder.execute.sanitise import load_reference, sanitise
    except ImportError as error:
        raise SelfCheckError(f"`--execute` needs the grading engine, which cannot be loaded here ({error}). Run the "
                             "notebook top to bottom yourself, save it, and check it without --execute.",
                             "execute-unavailable") from None

    usable, why = sb.bwrap_status()
    notes = []
    if not usable:
        notes.append(Note("unsandboxed", f"The notebook ran UNSANDBOXED on this machine ({why}): it could use the "
                                         "network and files outside its folder, which the grader's sandbox "
                                         "forbids. Errors of that kind show up only when the grader runs it."))
    execution = config.execution
    settings = engine.EngineSettings(
        cell_timeout=execution.cell_timeout, timeout=execution.timeout,
        memory_limit=sb.parse_size(execution.memory_limit), disk_limit=sb.parse_size(execution.disk_limit),
        threads=execution.threads_per_kernel or max(1, os.cpu_count() or 1), seed=execution.seed,
        use_bwrap=usable, data_dir=str(data.data_home()))
    reference_path = None
    if course is not None:
        source = course.source_dir() / f"{course.assignment}.ipynb"
        reference_path = source if source.is_file() else None
    if reference_path is None:
        from autograder.checks.context import find_released_notebook

        reference_path = find_released_notebook(course)
    nb = nbformat.read(path, as_version=4)
    clean, changes = sanitise(nb, load_reference(reference_path) if reference_path else None)
    parameters = engine.sandbox_parameters(settings, challenge.letter)
    root = Path(tempfile.mkdtemp(prefix="autograder-check-"))
    assignment = course.assignment if course is not None else "research_challenge"
    job = engine.Job(course_root=str(root), student_id="self-check", assignment=assignment,
                     notebook_name=path.name, submitted_at=None, challenge=challenge.letter, task=challenge.task,
                     sanitised=nbformat.writes(clean), changes=changes, parameters=parameters, cache_key="",
                     environment={}, declared_packages=_declared_packages(course), settings=settings)
    if progress:
        progress(f"Running {path.name} from top to bottom as the grader does "
                 f"({'in the bubblewrap sandbox' if usable else 'UNSANDBOXED'}; challenge {challenge.letter}, "
                 f"{settings.threads} core{'s' if settings.threads > 1 else ''})… this takes as long as the "
                 "notebook takes.")
    from autograder.records import ExecutionRecord

    record = ExecutionRecord.from_dict(engine.execute_job(job))
    work = job.work_dir
    summary = {"status": record.status, "reason": record.reason, "sandbox": record.sandbox,
               "wall_seconds": record.wall_seconds, "cpu_seconds": record.cpu_seconds,
               "peak_memory_mb": record.peak_memory_mb, "parameters": {k: v for k, v in parameters.items()
                                                                       if k != "data_dir"},
               "sanitised": [c.get("message", "") for c in changes],
               "failed_cells": [{"cell": c.index, "status": c.status,
                                 "error": f"{(c.error or {}).get('ename', '')}: {(c.error or {}).get('evalue', '')}"
                                          .strip(": ")[:300]}
                                for c in record.cells if c.status not in ("completed", "pending")]}
    if progress:
        progress(f"Ran in {record.wall_seconds or 0:.0f} s: {record.status}.")
    results = work / (record.results_file or settings.results_path)
    trace = work / record.trace_file if record.trace_file else work / "protocol_trace.jsonl"
    return _Run(notebook=work / path.name, results=results, trace=trace, record=record,
                nonce=(record.environment or {}).get("trace_nonce"), summary=summary, notes=notes, root=root,
                engine_findings=[f for f in record.findings if f.visibility == STUDENT])


def _declared_packages(course) -> list[str]:
    """The course environment's packages (requirements.txt released with the assignment), for the
    engine's 'this package is not available to the grader' findings."""
    try:
        from autograder.execute.environment import course_packages, requirements_path

        if course is not None:
            return course_packages(requirements_path(course))
    except Exception:  # noqa: BLE001 - only sharpens a message
        pass
    return []


# --- rendering -----------------------------------------------------------------------------------

def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.2f}"
    return f"{value:.{digits}f}"


def _header(report: Report) -> str:
    ch = report.challenge
    text = f"Self-check of {report.notebook.name}"
    if ch is not None:
        text += f": challenge {ch.letter} ({ch.task})"
    return text


def _score_lines(report: Report) -> list[str]:
    s = report.score
    lines = []
    if s is not None:
        unit = f" {s['unit']}" if s.get("unit") else ""
        line = f"Your {s['label']}: {_fmt(s['mean'])} ± {_fmt(s['std'])}{unit}"
        if s["complete"]:
            line += " over the 5 official folds"
            if s.get("rank"):
                line += f", which would rank {s['rank']} of {(s.get('entries') or 0) + 1} on the leaderboard"
        else:
            line += f" over {s['folds_scored']} of 5 folds only: not comparable with the leaderboard"
        if s.get("mae_over_mad") is not None:
            line += f" (MAE/MAD {s['mae_over_mad']:.2f}; 1 = predicting the mean)"
        lines.append(line + ".")
        if s.get("proba_rocauc"):
            p = s["proba_rocauc"]
            lines.append(f"ROC-AUC of your probabilities: {_fmt(p['mean'])} ± {_fmt(p['std'])} (not the "
                         "leaderboard's figure, which matbench computes from True/False labels).")
    if report.references:
        direction = "higher is better" if (report.challenge and report.challenge.higher_is_better) \
            else "lower is better"
        refs = "; ".join(_reference_text(r) for r in report.references)
        lines.append(f"Leaderboard ({direction}): {refs}.")
    return lines


def _reference_text(r: dict) -> str:
    name = f"best ({r['algorithm']})" if r["label"] == "best" else r["label"]
    return f"{name} {_fmt(r['mean'])}" + (f" ± {_fmt(r['std'])}" if r.get("std") is not None else "")


def _grouped(report: Report):
    """(rows shown in full, passed, not applicable, not checked) for the renderers; not checked is
    {"labels": [...], "reasons": [...]} or None."""
    rows, passed, na, unchecked = [], [], [], []
    for f in sorted(report.items, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        if f.check_id in SCORE_ITEMS and f.status in (PASS, INFO):
            continue
        if f.status == PASS:
            passed.append(f)
        elif f.status == NOT_APPLICABLE:
            na.append(f)
        elif f.status == COULD_NOT_RUN:
            unchecked.append(f)
        else:
            rows.append(f)
    not_checked = None
    if unchecked:
        reasons = []
        for f in unchecked:
            reason = re.sub(r"^Not (checked|compared with the leaderboard):\s*", "", f.message).strip()
            reason = re.sub(r"\s*\(see [\w.]+\)", "", reason)
            reason = reason[:1].upper() + reason[1:]
            if reason not in reasons:
                reasons.append(reason)
        not_checked = {"labels": [label_of(f.check_id) for f in unchecked], "reasons": reasons}
    return rows, passed, na, not_checked


def _found(f: Finding) -> str:
    """An INFO finding as one line: its label, then its message without a repeated label."""
    label = label_of(f.check_id)
    message = f.message
    if message.lower().startswith(label.lower() + ":"):
        message = message[len(label) + 1:].strip()
        message = message[:1].upper() + message[1:]
    return f"{label}: {message}"


def _notes_and_run(report: Report) -> list[str]:
    lines = []
    if report.execution:
        e = report.execution
        where = ("in the bubblewrap sandbox" if e.get("sandbox") == "bubblewrap"
                 else "UNSANDBOXED: bubblewrap cannot be used here")
        text = f"Ran the notebook as the grader does ({where}): {e.get('status', '?')}"
        if e.get("wall_seconds") is not None:
            text += f" in {e['wall_seconds']:.0f} s"
        failed = e.get("failed_cells") or []
        if e.get("reason"):
            text += f". {e['reason'].rstrip('.')}"
        elif failed:
            first = failed[0]
            text += (f". {len(failed)} cell{'s' if len(failed) > 1 else ''} failed in that run, the first with "
                     f"{first['error'] or first['status']}")
        lines.append(text.rstrip(".") + ".")
    lines.extend(n.message for n in report.notes)
    return lines


def _render_text(report: Report, width: int = 100) -> str:
    import textwrap

    width = max(60, min(width, 120))
    out = [_header(report), "=" * min(width, len(_header(report)))]

    def wrap(text, first, rest):
        return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=rest,
                             break_on_hyphens=False)

    for line in _notes_and_run(report):
        out.append(wrap(line, "» ", "  "))
    rows, passed, na, not_checked = _grouped(report)
    sections = ((FAIL, "Must fix"), (WARN, "Worth a look"), (INFO, "What the checks found (for the marker)"))
    for status, title in sections:
        group = [f for f in rows if f.status == status]
        if not group:
            continue
        out += ["", f"{title}:"]
        for f in group:
            if status == INFO:
                out.append(wrap(_found(f), f"  {STATUS_MARK[status]} ", "    "))
                continue
            out.append(f"  {STATUS_MARK[status]} {label_of(f.check_id)}")
            out.append(wrap(f.message, "    ", "    "))
            if f.advice:
                out.append(wrap("→ " + f.advice, "    ", "      "))
    if not_checked or passed or na:
        out.append("")
    if not_checked:
        out.append(wrap(f"? Not checked ({len(not_checked['labels'])}): " + ", ".join(not_checked["labels"])
                        + ". Why: " + " ".join(not_checked["reasons"]), "", "    "))
    if passed:
        out.append(wrap(f"✓ Passed ({len(passed)}): " + ", ".join(label_of(f.check_id) for f in passed) + ".",
                        "", "    "))
    if na:
        out.append(wrap(f"– Not applicable here ({len(na)}): " + ", ".join(label_of(f.check_id) for f in na)
                        + ".", "", "    "))
    score = _score_lines(report)
    if score:
        out.append("")
        out.extend(wrap(line, "", "  ") for line in score)
    out.append("")
    out.append(wrap(f"Result: {report.summary_line()} (exit status {report.exit_code})", "", "  "))
    return "\n".join(out)


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _render_rich(report: Report, file) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False)
    console.print(Text(_header(report), style="bold"))
    for line in _notes_and_run(report):
        console.print(Text("» " + line, style="yellow"))
    style = {FAIL: "bold red", WARN: "yellow", COULD_NOT_RUN: "magenta", INFO: "cyan", PASS: "green",
             NOT_APPLICABLE: "dim"}
    table = Table(show_lines=True, expand=True)
    table.add_column("", no_wrap=True)
    table.add_column("Check", width=max(14, min(24, console.width // 6)))
    table.add_column("What we found", ratio=3, overflow="fold")
    table.add_column("What to do", ratio=2, overflow="fold")
    rows, passed, na, not_checked = _grouped(report)
    for f in rows:
        table.add_row(Text(f"{STATUS_MARK[f.status]} {STATUS_WORD[f.status]}", style=style[f.status]),
                      Text(label_of(f.check_id)),
                      Text(_found(f).split(": ", 1)[1] if f.status == INFO else f.message), Text(f.advice or ""))
    if not_checked:
        table.add_row(Text("? NOT RUN", style=style[COULD_NOT_RUN]), Text(", ".join(not_checked["labels"])),
                      Text(" ".join(not_checked["reasons"])), "")
    if passed:
        table.add_row(Text(f"✓ PASS {len(passed)}", style=style[PASS]),
                      Text(", ".join(label_of(f.check_id) for f in passed)), "", "")
    if na:
        table.add_row(Text("– N/A", style=style[NOT_APPLICABLE]), Text(", ".join(label_of(f.check_id) for f in na)),
                      Text(na[0].message if len(na) == 1 else ""), "")
    console.print(table)
    for line in _score_lines(report):
        console.print(Text(line))
    verdict_style = {EXIT_OK: "bold green", EXIT_FAIL: "bold red", EXIT_UNUSABLE: "bold yellow"}[report.exit_code]
    console.print(Text(f"Result: {report.summary_line()} (exit status {report.exit_code})", style=verdict_style))


_HTML = """
<div class="autograder-selfcheck" style="font-family: system-ui, sans-serif; max-width: 1100px">
<h3 style="margin: 0.3em 0">{{ header }}</h3>
<p style="margin: 0.2em 0; color: #555">Checked the notebook as last saved{% if saved %} ({{ saved }}){% endif %}:
save it first (Ctrl+S / Cmd+S) to check your latest changes. Same checks as the graders use.</p>
{% for line in notes %}<p style="margin: 0.3em 0; padding: 0.3em 0.6em; background: #fff4d6;
border-left: 4px solid #e0a800">{{ line }}</p>{% endfor %}
{% if score %}<p style="margin: 0.5em 0"><b>Score.</b> {% for line in score %}{{ line }} {% endfor %}</p>{% endif %}
<table style="border-collapse: collapse; width: 100%; margin-top: 0.5em">
<colgroup><col style="width: 10%"><col style="width: 18%"><col style="width: 42%"><col style="width: 30%"></colgroup>
<thead><tr style="text-align: left; border-bottom: 2px solid #999">
<th style="padding: 4px">Status</th><th style="padding: 4px">Check</th>
<th style="padding: 4px">What we found</th><th style="padding: 4px">What to do</th></tr></thead>
<tbody>
{% for row in rows %}<tr style="border-bottom: 1px solid #ddd; vertical-align: top">
<td style="padding: 4px; white-space: nowrap; color: {{ row.color }}; font-weight: bold"
 data-status="{{ row.status }}">{{ row.mark }} {{ row.word }}</td>
<td style="padding: 4px">{{ row.label }}</td><td style="padding: 4px">{{ row.message }}</td>
<td style="padding: 4px">{{ row.advice }}</td></tr>
{% endfor %}</tbody></table>
<p style="margin: 0.4em 0; font-weight: bold; color: {{ verdict_color }}"
 data-exit-code="{{ exit_code }}">{{ verdict }}</p>
</div>
"""

_COLORS = {FAIL: "#c0392b", WARN: "#b7791f", COULD_NOT_RUN: "#8e44ad", INFO: "#2c7a7b", PASS: "#2f855a",
           NOT_APPLICABLE: "#888"}


def _render_html(report: Report) -> str:
    import jinja2

    rows_f, passed, na, not_checked = _grouped(report)
    rows = [{"status": f.status, "mark": STATUS_MARK[f.status], "word": STATUS_WORD[f.status],
             "color": _COLORS[f.status], "label": label_of(f.check_id),
             "message": _found(f).split(": ", 1)[1] if f.status == INFO else f.message, "advice": f.advice}
            for f in rows_f]
    if not_checked:
        rows.append({"status": COULD_NOT_RUN, "mark": "?", "word": "NOT RUN", "color": _COLORS[COULD_NOT_RUN],
                     "label": "Not checked", "message": ", ".join(not_checked["labels"]) + ".",
                     "advice": " ".join(not_checked["reasons"])})
    if passed:
        rows.append({"status": PASS, "mark": "✓", "word": f"PASS ({len(passed)})", "color": _COLORS[PASS],
                     "label": "Passed", "message": ", ".join(label_of(f.check_id) for f in passed) + ".",
                     "advice": ""})
    if na:
        rows.append({"status": NOT_APPLICABLE, "mark": "–", "word": "N/A", "color": _COLORS[NOT_APPLICABLE],
                     "label": "Not applicable here", "message": ", ".join(label_of(f.check_id) for f in na) + ".",
                     "advice": ""})
    saved = None
    if report.notebook_saved_at:
        minutes = (time.time() - report.notebook_saved_at) / 60
        saved = (time.strftime("%H:%M", time.localtime(report.notebook_saved_at))
                 + (f", {minutes:.0f} min ago" if minutes >= 1 else ", just now"))
    verdict_color = {EXIT_OK: "#2f855a", EXIT_FAIL: "#c0392b", EXIT_UNUSABLE: "#b7791f"}[report.exit_code]
    template = jinja2.Environment(autoescape=True).from_string(_HTML)
    return template.render(header=_header(report), saved=saved, notes=_notes_and_run(report), rows=rows,
                           score=_score_lines(report), verdict="Result: " + report.summary_line(),
                           verdict_color=verdict_color, exit_code=report.exit_code)


# --- inside a notebook ----------------------------------------------------------------------------

def find_open_notebook(user_ns: dict | None = None, environ: dict | None = None) -> tuple[Path, str]:
    """The path of the notebook this kernel belongs to, and how it was found.

    VS Code: the `__vsc_ipynb_file__` global its Jupyter extension sets. Colab: the notebook's JSON
    through google.colab's `get_ipynb` request (written to a temporary file). JupyterLab / Jupyter
    Notebook: the running Jupyter servers' /api/sessions, matched by this kernel's id (from its
    connection file); else `JPY_SESSION_NAME`, which jupyter_server gives the kernel at start (stale if
    the notebook was renamed since). Raises SelfCheckError when none of these tells."""
    environ = os.environ if environ is None else environ
    if user_ns is None:
        user_ns = _user_namespace()
    vsc = user_ns.get("__vsc_ipynb_file__")
    if vsc and Path(vsc).is_file():
        return Path(vsc), "vscode"
    if "google.colab" in sys.modules or Path("/content").is_dir() and environ.get("COLAB_RELEASE_TAG"):
        found = _colab_notebook()
        if found is not None:
            return found, "colab"
    kernel_id = _kernel_id()
    if kernel_id:
        found = _path_from_servers(kernel_id)
        if found is not None:
            return found, "jupyter-server"
    session = environ.get("JPY_SESSION_NAME") or user_ns.get("__session__")
    if session and Path(session).is_file() and str(session).endswith(".ipynb"):
        return Path(session), "jupyter-session-name"
    raise SelfCheckError(
        "Could not tell which notebook is open here (this works in JupyterLab, Jupyter Notebook, VS Code and "
        "Colab). Give its file name: autograder.self_check(\"research_challenge.ipynb\").", "cannot-find-notebook")


def _user_namespace() -> dict:
    if "IPython" not in sys.modules:
        return {}
    from IPython import get_ipython

    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}


def _kernel_id() -> str | None:
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # noqa: BLE001 - not in a kernel, or an old ipykernel
        return None
    match = re.match(r"kernel-(.+)\.json$", name)
    return match.group(1) if match else None


def _running_servers() -> list[dict]:
    servers = []
    for module in ("jupyter_server.serverapp", "notebook.notebookapp"):
        try:
            lister = __import__(module, fromlist=["list_running_servers"]).list_running_servers
            servers.extend(lister())
        except Exception:  # noqa: BLE001 - not installed, or an unreadable runtime dir
            continue
    return servers


def _path_from_servers(kernel_id: str, servers: list[dict] | None = None, timeout: float = 2.0) -> Path | None:
    """Ask each running Jupyter server which session runs this kernel: /api/sessions."""
    import urllib.request

    for server in (_running_servers() if servers is None else servers):
        url = str(server.get("url", "")).rstrip("/") + "/api/sessions"
        request = urllib.request.Request(url)
        if server.get("token"):
            request.add_header("Authorization", f"token {server['token']}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                sessions = json.loads(response.read().decode("utf-8"))
        except Exception:  # noqa: BLE001 - password-protected, gone, not a Jupyter server
            continue
        for session in sessions if isinstance(sessions, list) else []:
            if (session.get("kernel") or {}).get("id") == kernel_id:
                rel = session.get("path") or (session.get("notebook") or {}).get("path")
                root = server.get("root_dir") or server.get("notebook_dir") or ""
                if rel:
                    path = Path(root) / rel
                    if path.is_file():
                        return path
    return None


def _colab_notebook() -> Path | None:
    """Colab keeps the notebook in the browser: ask the front end for its JSON (with outputs)."""
    try:
        from google.colab import _message  # type: ignore[import-not-found]

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    except Exception:  # noqa: BLE001 - not Colab, or the front end did not answer
        return None
    nb = (reply or {}).get("ipynb") if isinstance(reply, dict) else None
    if not isinstance(nb, dict):
        return None
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="autograder-selfcheck-"))
    path = folder / "colab_notebook.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def self_check(notebook=None, results=None):
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
        report = check(notebook, results=results_arg, where="notebook",
                       progress=lambda line: print(line, file=sys.stderr))
    except UserError as error:
        if in_kernel:
            import html

            from IPython.display import HTML, display

            display(HTML(f'<div class="autograder-selfcheck" style="padding: 0.5em; background: #fdecea; '
                         f'border-left: 4px solid #c0392b">Self-check: {html.escape(str(error))}</div>'))
            return None
        raise
    if in_kernel:
        from IPython.display import HTML, display

        display(HTML(report.to_html()))
        return None
    report.print()
    return report


def _colab_results(notebook: Path) -> Path | None:
    """On Colab the notebook JSON comes from the browser; its results file is in the working folder."""
    from autograder.checks.notebook import Notebook, read_notebook

    named = Notebook(read_notebook(notebook)).parameters().get("results_path") or RESULTS_FILE
    candidate = Path.cwd() / str(named)
    return candidate if candidate.is_file() else None


# --- the command line ------------------------------------------------------------------------------

def run_cli(notebook, results=None, challenge=None, as_json: bool = False, execute: bool = False,
            download: bool = True) -> int:
    """`autograder check`: print the checklist (or JSON) and return the exit status."""
    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for stream in (sys.stdout, sys.stderr):  # a Windows console or a pipe may not encode ✓ or →
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")

    try:
        report = check(notebook, results=results, challenge=challenge, execute=execute, download=download,
                       progress=progress)
    except UserError as error:
        kind = getattr(error, "kind", "usage")
        if as_json:
            print(json.dumps({"schema": SCHEMA, "verdict": "unusable", "exit_code": EXIT_UNUSABLE,
                              "error": {"kind": kind, "message": str(error)}}, indent=1))
        else:
            print(f"Error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if as_json:
        print(report.to_json())
    else:
        report.print()
    return report.exit_code
