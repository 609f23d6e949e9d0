"""Building the Report: `check()` reads the notebook as saved and the results file it wrote (or, with
--execute, runs it first: run.py), runs every registered check (autograder.checks) and keeps what a
student may see; then adds the notes on the tool's use (no results yet, results of another task, data
missing), the self-check's own checks (is the printed score the saved one, is the work still the
template) and the score block (`_score`)."""

from __future__ import annotations

import ast
import contextlib
import math
import os
import re
import sys
import time
from pathlib import Path

from autograder.errors import UserError
from autograder.findings import make
from autograder.layout import RESULTS_FILE
from autograder.records import COULD_NOT_RUN, INFO, PASS, STUDENT, WARN, Finding
from autograder.selfcheck.labels import PRINTED_SCORE_ID
from autograder.selfcheck.locate import explain_unreadable, find_course, resolve_notebook
from autograder.selfcheck.report import Note, Report, SelfCheckError
from autograder.selfcheck.run import _execute

_SUMMARY_LINE = re.compile(r"(matbench_\w+): (mae|rocauc) = (\S+) ± (\S+) over the 5 folds")
_FOLD_LINE = re.compile(r"^fold (\d): (mae|rocauc) = (\S+)\s*$", re.MULTILINE)
_TEMPLATE_FUNCTIONS = ("featurise", "train_model", "predict")
# Words a research-challenge notebook written without the template uses somewhere (code or text); a
# notebook with none of them and none of the template's cells is another assignment's.
_THIS_ASSIGNMENT_WORDS = ("matbench", "matminer", "pymatgen", "llm usage declaration")


# --- the check ----------------------------------------------------------------------------------


def check(
    notebook: Path | str,
    results: Path | str | None = None,
    challenge: str | None = None,
    execute: bool = False,
    download: bool = True,
    course=None,
    where: str = "cli",
    progress=None,
    student: str | None = None,
) -> Report:
    """Check one notebook with the graders' checks; see the module docstring.

    where: "cli" or "notebook" (only changes the advice's wording). progress: a callable taking a
    line of text, for what takes time (--execute, downloading data). student: the student's id, for
    their challenge in the course's allocation when the notebook does not say it."""
    started = time.perf_counter()
    path = resolve_notebook(notebook)
    _readable_notebook(path)
    if course is None:
        course = find_course(path.parent, Path.cwd())
    _this_assignment_or_raise(path, course)
    catalogue = course.config.catalogue if course is not None else None
    source = "given"
    if challenge is not None:
        from autograder.course.challenges import Catalogue

        challenge = (catalogue or Catalogue()).get(
            challenge
        )  # UnknownTaskError (exit 2) lists the valid ones
    elif student is not None:
        challenge, source = _allocated(student, course), "allocation"
    if execute and results is not None:
        raise SelfCheckError(
            "--results and --execute do not go together: the run writes its own results file. "
            "Leave out --results.",
            "usage",
        )
    results_path = _explicit_results(results) if results is not None else None
    notes: list[Note] = []
    run = None
    if execute:
        if challenge is None:
            challenge, source = _challenge_to_run(path, course, where)
        run = _execute(path, challenge, course, progress)
    try:
        return _check(
            path, results_path, challenge, course, run, notes, download, where, progress, started, source
        )
    finally:
        if run is not None:
            import shutil

            shutil.rmtree(run.root, ignore_errors=True)


def _check(
    path, results_path, challenge, course, run, notes, download, where, progress, started, source="given"
) -> Report:
    from autograder.checks import run_checks
    from autograder.checks.context import CheckContext

    if run is not None:
        notes.extend(run.notes)
        ctx = CheckContext.from_notebook(
            run.notebook,
            run.results,
            challenge,
            trace_path=run.trace,
            record=run.record,
            course=course,
            expected_nonce=run.nonce,
        )
        ctx.submitted_path = path  # execution order, errors left: the notebook as the student saved it
        ctx.__dict__.pop("submitted", None)
    else:
        ctx = CheckContext.from_notebook(path, results_path, challenge, course=course)
    if challenge is not None:
        ctx.challenge_source = source  # given, the allocation, or named in the code (--execute)
    if ctx.challenge is not None and ctx.challenge_source == "allocation":
        notes.append(
            Note(
                "challenge-allocated",
                f"Checked as challenge {ctx.challenge.letter} ({ctx.challenge.task}), the one the course "
                "allocated to you.",
            )
        )
    if course is None and ctx.released_path is None:
        notes.append(
            Note(
                "released-copy-missing",
                "This copy of autograder does not include the released notebook, so your answers are told "
                "apart from the template's own text less precisely than the graders do.",
            )
        )
    if results_path is not None:
        _same_task_or_raise(ctx, results_path)
    elif run is None:
        _results_notes(ctx, notes, where)
    if ctx.challenge is not None and ctx.challenge_source == "named in the code":
        notes.append(
            Note(
                "challenge-inferred",
                f"Checked as challenge {ctx.challenge.letter} ({ctx.challenge.task}), the task your code "
                "names; "
                + (
                    "pass --challenge with your letter"
                    if where == "cli"
                    else "set `challenge` to your letter"
                )
                + " if that is not your challenge.",
            )
        )
    if ctx.challenge is None:
        given = ctx.notebook.parameters().get("challenge") if ctx.notebook is not None else None
        letters = ", ".join(ctx.catalogue.letters)
        on_template = ctx.notebook is not None and ctx.notebook.on_template
        named = ctx.notebook.matbench_tasks() if ctx.notebook is not None else []
        why = (
            f"`challenge = {given!r}` in its Settings cell is not one of this course's challenges ({letters})"
            if isinstance(given, str) and given.strip()
            else f"the notebook names {' and '.join(named)}, so it is not clear which challenge it is for"
            if len(named) > 1
            else "the notebook does not say which challenge it is for (`challenge` is empty in its Settings cell)"
            if on_template
            else "the notebook does not say which challenge it is for (its code names no Matbench task)"
        )
        notes.append(
            Note(
                "challenge-unknown",
                why[:1].upper() + why[1:] + " and there is no results file to tell, so the score cannot be "
                "checked. Set `challenge` to your letter"
                + (", or pass --challenge with your letter." if where == "cli" else "."),
            )
        )
    _ensure_data(ctx, notes, download, progress)

    findings = run_checks(ctx)
    items = (list(run.engine_findings) if run is not None else []) + [
        f for f in findings if f.visibility == STUDENT
    ]
    printed = _printed_score(ctx, findings)
    if printed is not None:
        items.append(printed)
    missing = _missing_work(ctx)
    if missing:
        notes.insert(0, Note("work-missing", missing))
    shown_results = ctx.results_path if ctx.results is not None and run is None else None
    report = Report(
        notebook=path,
        results=shown_results,
        items=items,
        challenge=ctx.challenge,
        challenge_source=ctx.challenge_source,
        notes=notes,
        execution=run.summary if run is not None else None,
        notebook_saved_at=_mtime(path),
    )
    report.score, report.references = _score(ctx, findings)
    report.seconds = time.perf_counter() - started
    return report


def _this_assignment_or_raise(path: Path, course) -> None:
    """A notebook of another assignment (none of the template's cells, no word of Matbench, matminer,
    pymatgen or the LLM declaration) gets one sentence, exit 2, instead of a checklist of failures it
    cannot help having."""
    from autograder.checks.context import find_released_notebook
    from autograder.checks.notebook import Notebook, NotebookError, read_notebook

    released = None
    released_path = find_released_notebook(course)
    if released_path is not None:
        with contextlib.suppress(NotebookError, OSError):
            released = Notebook.read(released_path)
    nb = Notebook(read_notebook(path), path, released)
    template_ids = {c.grade_id for c in released.cells if c.grade_id} if released is not None else set()
    if any(c.grade_id in template_ids for c in nb.cells if c.grade_id) or any(
        c.origin == "template" for c in nb.cells
    ):
        return  # written on the template
    text = "\n".join(c.source for c in nb.cells).lower()
    if nb.matbench_tasks() or any(word in text for word in _THIS_ASSIGNMENT_WORDS):
        return  # a notebook of its own about the challenge: the research challenge without the template
    name = course.assignment if course is not None else "research challenge"
    raise SelfCheckError(
        f"{path.name} is not the {name.replace('_', ' ')} notebook: it has none of the "
        "assignment's cells and never mentions Matbench, matminer or pymatgen, so there is "
        "nothing here for this checker to check.",
        "not-this-assignment",
    )


def _allocated(student: str, course):
    """The challenge the course's allocation gives a student id (--student)."""
    if course is None:
        raise SelfCheckError(
            f"--student {student}: the allocation of challenges is not on this machine (no course "
            "folder around the notebook). Pass --challenge with your letter instead.",
            "challenge-unknown",
        )
    from autograder.course.allocation import read_allocation

    letter = read_allocation(
        course.allocation_path, course.config.catalogue, course.config.case_sensitive_ids
    ).get(student)
    if not letter:
        raise SelfCheckError(
            f"{student} is not in the course's allocation ({course.allocation_path.name}). Check the "
            "id, or pass --challenge with your letter.",
            "challenge-unknown",
        )
    return course.config.catalogue.get(letter)


def _challenge_to_run(path: Path, course, where: str):
    """The challenge to run the notebook with (--execute): its Settings cell, else the one course task
    its code names; two tasks, or none, ask (exit 2). Returns (challenge, how it was found)."""
    from autograder.checks.notebook import Notebook, read_notebook
    from autograder.course.challenges import Catalogue

    catalogue = course.config.catalogue if course is not None else Catalogue()
    nb = Notebook(read_notebook(path))
    letter = nb.parameters().get("challenge")
    if isinstance(letter, str) and letter.strip():
        with contextlib.suppress(UserError):
            return catalogue.get(letter), "parameters"
    named = [t for t in nb.matbench_tasks() if t in catalogue.tasks]
    if len(named) == 1:
        return catalogue.get(named[0]), "named in the code"
    how = (
        "pass --challenge with your letter (or --student with your id)"
        if where == "cli"
        else "set `challenge` to your letter in the Settings cell"
    )
    letters = ", ".join(catalogue.letters)
    if len(named) > 1:
        tasks = " and ".join(f"{t} ({catalogue.get(t).letter})" for t in named)
        raise SelfCheckError(
            f"The notebook names {tasks}, so it is not clear which challenge to run it for: "
            f"{how} ({letters}).",
            "challenge-unknown",
        )
    if isinstance(letter, str) and letter.strip():
        raise SelfCheckError(
            f"`challenge = {letter!r}` in the Settings cell is not one of this course's challenges "
            f"({letters}): {how}.",
            "challenge-unknown",
        )
    raise SelfCheckError(
        "To run the notebook the checker needs your challenge, and the notebook does not say it "
        f"(no `challenge` in a Settings cell, no Matbench task named in the code): {how} "
        f"({letters}).",
        "challenge-unknown",
    )


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
        raise SelfCheckError(
            f"There is no results file {path}."
            + (f" JSON files in {folder}: {', '.join(found[:10])}." if found else "")
            + f" The notebook's protocol cell writes {RESULTS_FILE} into the notebook's folder "
            "when it runs; leave out --results to use that one.",
            "results-not-found",
        )
    try:
        load_results(path)
    except ResultsFileError as error:
        raise SelfCheckError(
            f"{path.name} is not a matbench results file: {error} Give the {RESULTS_FILE} the "
            "notebook's protocol cell wrote (or leave out --results).",
            "results-unreadable",
        ) from None
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
            "bottom to write it.",
            "results-other-task",
        )


def _letters_of(ctx, tasks: list[str]) -> str:
    parts = []
    for task in tasks:
        try:
            parts.append(f"{task} (challenge {ctx.catalogue.get(task).letter})")
        except UserError:
            parts.append(task)
    return ", ".join(parts) or "no task"


def _source_words(source: str) -> str:
    return {
        "given": "--challenge",
        "parameters": "its Settings cell",
        "allocation": "the allocation",
        "results file": "the results file",
        "named in the code": "the task its code names",
    }.get(source, source or "its Settings cell")


def _results_notes(ctx, notes: list[Note], where: str) -> None:
    rerun = (
        "Run the notebook top to bottom first (Kernel > Restart Kernel and Run All Cells), save it, and "
        "check again"
    )
    rerun += (
        "; or run `autograder check --execute NOTEBOOK` to have it run as the grader runs it."
        if where == "cli"
        else "."
    )
    if ctx.results_error == "missing":
        notes.append(
            Note(
                "no-results",
                f"No results file yet: there is no {Path(ctx.results_path).name} beside "
                f"the notebook, so your predictions cannot be checked. {rerun}",
            )
        )
    elif ctx.results is None:
        notes.append(
            Note(
                "results-unreadable",
                f"The results file beside the notebook cannot be read ({ctx.results_error}). {rerun}",
            )
        )
    elif ctx.challenge is not None and ctx.challenge.task not in ctx.results.tasks:
        notes.append(
            Note(
                "results-other-task",
                f"The results file beside the notebook holds results for "
                f"{_letters_of(ctx, sorted(ctx.results.tasks))}, but the notebook is set to challenge "
                f"{ctx.challenge.letter} ({ctx.challenge.task}): it was written by an earlier run for "
                f"another challenge. {rerun}",
            )
        )


def _ensure_data(ctx, notes: list[Note], download: bool, progress) -> None:
    """The ground truth is needed to recompute the score: fetch the data set when it is missing (needs a
    network), else say exactly what to do (autograder.course.data's DataMissingError message)."""
    if ctx.challenge is None or ctx.results is None:
        return
    from autograder.course import data

    task = ctx.challenge.task
    if data.ground_truth_available(task):  # the data set, or matbench's targets shipped with the checker
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
    scores = next(
        (f for f in findings if f.check_id == "protocol.scores" and f.status != COULD_NOT_RUN), None
    )
    nb, result = ctx.notebook, ctx.score
    if scores is None or nb is None or ctx.challenge is None or result is None or result.mean is None:
        return None
    metric = result.metric
    text = "\n".join(c.output_text() for c in nb.code_cells)
    lines = [m for m in _SUMMARY_LINE.finditer(text) if m.group(2) == metric]
    folds = {int(m.group(1)): _number(m.group(3)) for m in _FOLD_LINE.finditer(text) if m.group(2) == metric}
    label = ctx.challenge.metric_label
    mean, std = result.mean, result.std
    per_fold = {f: v.get(metric) for f, v in result.folds.items()}
    details = {"recomputed": {"mean": mean, "std": std}, "printed": None}
    if not lines:
        return make(
            PRINTED_SCORE_ID,
            INFO,
            "The notebook's saved outputs show no score from the protocol cell, so what a reader of "
            "your notebook sees cannot be compared with your results file.",
            advice="Restart the kernel, run all cells and save the notebook with its outputs.",
            details=details,
        )
    last = lines[-1]
    p_mean, p_std = _number(last.group(3)), _number(last.group(4))
    details["printed"] = {
        "task": last.group(1),
        "mean": p_mean,
        "std": p_std,
        "folds": {str(k): v for k, v in sorted(folds.items())},
    }

    def close(a, b):  # printed with 4 decimals
        return a is not None and b is not None and abs(a - b) <= 0.5e-4 * 1.01 + 1e-12

    differences = []
    if last.group(1) != ctx.challenge.task:
        differences.append(
            f"it printed a score for {last.group(1)}, your results are for {ctx.challenge.task}"
        )
    if not close(p_mean, mean) or not close(p_std, std):
        differences.append(
            f"it printed {label} {last.group(3)} ± {last.group(4)}, the results file gives "
            f"{mean:.4f} ± {std:.4f}"
        )
    bad_folds = [k for k, v in folds.items() if k in per_fold and not close(v, per_fold[k])]
    if bad_folds and not differences:
        differences.append(
            f"the per-fold scores printed for fold{'s' if len(bad_folds) > 1 else ''} "
            f"{', '.join(map(str, sorted(bad_folds)))} differ from the results file"
        )
    if differences:
        return make(
            PRINTED_SCORE_ID,
            WARN,
            "The score your notebook shows is not the one its results file gives: "
            + "; ".join(differences)
            + f". The outputs and {RESULTS_FILE} come from different runs "
            "(cells run out of order, a run stopped half-way, or the results file was replaced). "
            "The grader re-runs the notebook and uses what that run records.",
            advice="Restart the kernel, run all cells from the top, and save the notebook.",
            details=details,
        )
    return make(
        PRINTED_SCORE_ID,
        PASS,
        f"The score your notebook printed ({label} {last.group(3)} ± {last.group(4)}) is the one "
        "recomputed from its results file.",
        details=details,
    )


def _missing_work(ctx) -> str | None:
    """A plain headline when the notebook is (still partly) the released template."""
    nb = ctx.notebook
    if nb is None or not nb.on_template:
        return None  # a notebook written without the template has no template functions to fill in
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
        parts.append(
            f"{joined} {'is' if len(names) == 1 else 'are'} still the template's empty "
            f"function{'s' if len(names) > 1 else ''}"
        )
    if unanswered:
        parts.append(
            f"{unanswered} answer{'s' if unanswered > 1 else ''} still say{'s' if unanswered == 1 else ''} "
            "YOUR ANSWER HERE"
        )
    if not parts:
        return None
    return "Your work is missing: " + "; ".join(parts) + ". Write them, then run the notebook top to bottom."


def _is_stub(node) -> bool:
    body = list(node.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]  # the docstring
    return all(
        isinstance(n, ast.Pass)
        or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        or (isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n))
        for n in body
    )


def _score(ctx, findings: list[Finding]) -> tuple[dict | None, list[dict]]:
    """The score block: the submission's one Score (autograder.results.score, as the grader stores
    it) and the leaderboard reference points."""
    ch = ctx.challenge
    if ch is None:
        return None, []
    references = [
        {"label": label, "algorithm": e.algorithm, "mean": e.mean, "std": e.std}
        for label, e in ch.reference_points
    ]
    scores = next(
        (f for f in findings if f.check_id == "protocol.scores" and f.status != COULD_NOT_RUN), None
    )
    result = ctx.score
    if scores is None or result is None or result.mean is None:
        return None, references
    score = {
        "metric": result.metric,
        "label": ch.metric_label,
        "unit": "" if ch.is_classification else ch.unit,
        "higher_is_better": ch.higher_is_better,
        "mean": result.mean,
        "std": result.std,
        "folds": {str(f): v.get(result.metric) for f, v in result.folds.items()},
        "folds_scored": len(result.folds),
        "complete": result.complete,
        "rank": result.rank,
        "entries": result.n_entries or None,
        "mae_over_mad": result.mad_ratio,
        "proba_rocauc": None,
        "status": scores.status,
    }
    proba = result.summary.get("rocauc_proba")
    if proba:
        score["proba_rocauc"] = {"mean": proba.mean, "std": proba.std}
    return score, references
