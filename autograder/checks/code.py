"""code.*: evidence for the Code criterion (10 %, "clearly organised and annotated"): lint,
annotation, organisation, execution order, errors left in the notebook, run time.

(The `execution.*` family belongs to the grading engine, which reports whether and how the
grader's run of the notebook failed; these checks do not repeat it.)

code.lint runs ruff (a subprocess on a temporary file holding the notebook's code with IPython
magics stripped); the others count things in the notebook. Execution order and errors left are read
from the notebook as the student saved it; run time from the grader's ExecutionRecord.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

from autograder.checks import NOTEBOOK, SUBMITTED, check
from autograder.records import COULD_NOT_RUN, FAIL, INFO, MARKER, NOT_APPLICABLE, PASS, WARN, Finding

RUFF_SELECT = "E9,F,E711,E712,E721,E722"
NOTEBOOK_BUILTINS = ["display", "get_ipython"]
_PATH = re.compile(r"(?:/[\w.@+-]+){2,}")


def scrub_paths(text: str) -> str:
    """Replace absolute paths (the grader's folders) by their last part."""
    return _PATH.sub(lambda m: "…/" + m.group(0).rsplit("/", 1)[-1], text or "")


def _ruff_command() -> list[str] | None:
    local = Path(sys.executable).parent / "ruff"
    if local.is_file():
        return [str(local)]
    found = shutil.which("ruff")
    if found:
        return [found]
    try:
        import ruff  # noqa: F401

        return [sys.executable, "-m", "ruff"]
    except ImportError:
        return None


def run_ruff(cells) -> list[dict]:
    """ruff findings for the code of `cells` (concatenated in order), each mapped back to its cell:
    {"cell", "line", "code", "message"}. Raises RuntimeError when ruff cannot run."""
    command = _ruff_command()
    if command is None:
        raise RuntimeError("ruff is not installed")
    parts, starts = [], []
    line = 1
    for cell in cells:
        starts.append((line + 1, cell))
        code = cell.code
        parts.append(f"# --- cell {cell.number} ---\n{code}\n")
        line += 2 + code.count("\n")
    with tempfile.TemporaryDirectory(prefix="autograder-ruff-") as tmp:
        path = Path(tmp) / "notebook.py"
        path.write_text("".join(parts), encoding="utf-8")
        args = command + [
            "check",
            "--isolated",
            "--no-cache",
            "--output-format",
            "json",
            "--select",
            RUFF_SELECT,
            "--config",
            f"builtins = {json.dumps(NOTEBOOK_BUILTINS)}",
            "--exit-zero",
            str(path),
        ]
        env = {**os.environ, "RUFF_NO_CACHE": "true"}
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ruff failed: {proc.stderr.strip()[:300]}")
        raw = json.loads(proc.stdout or "[]")
    out = []
    for item in raw:
        row = item.get("location", {}).get("row", 0)
        owner = None
        for start, cell in starts:
            if row >= start:
                owner = (start, cell)
        if owner is None:
            continue
        start, cell = owner
        out.append(
            {
                "cell": cell.number,
                "line": row - start + 1,
                "code": item.get("code") or "E999",
                "message": item.get("message", ""),
                "origin": cell.origin,
            }
        )
    return out


@check("code.lint", needs=(NOTEBOOK,))
def lint(ctx, spec) -> list[Finding]:
    """ruff finds no syntax errors, undefined names or other pyflakes problems in the student's code."""
    nb = ctx.notebook
    cells = [c for c in nb.code_cells if c.origin != "injected"]
    try:
        issues = run_ruff(cells)
    except (RuntimeError, OSError, subprocess.SubprocessError, json.JSONDecodeError) as error:
        return [
            spec.finding(
                COULD_NOT_RUN,
                "The code could not be linted here; a marker will read it.",
                details={"error": str(error)[:300]},
                visibility=MARKER,
            )
        ]
    mine = [i for i in issues if i["origin"] == "student"]  # not the template's or the locked cells' code
    by_code = {}
    for issue in mine:
        by_code[issue["code"]] = by_code.get(issue["code"], 0) + 1
    details = {
        "counts": by_code,
        "issues": mine[:30],
        "total": len(mine),
        "student_code_lines": sum(
            len([x for x in c.code.split("\n") if x.strip()]) for c in nb.student_code_cells
        ),
    }
    syntax = [
        i
        for i in mine
        if i["code"].startswith("E9")
        or "SyntaxError" in i["message"]
        or i["code"] in ("E999", "invalid-syntax")
    ]
    undefined = [i for i in mine if i["code"] == "F821"]
    if syntax:
        first = syntax[0]
        return [
            spec.finding(
                FAIL,
                f"Your code has {len(syntax)} syntax error(s) (first: cell {first['cell']}, line "
                f"{first['line']}: {first['message']}).",
                advice="Fix them: a cell with a syntax error cannot run.",
                details=details,
            )
        ]
    if undefined:
        names = sorted({re.sub(r"^Undefined name `?(.*?)`?$", r"\1", i["message"]) for i in undefined})
        # a name whose cell was deleted or never written: the grader's run from the top stops there
        return [
            spec.finding(
                FAIL,
                f"ruff finds undefined names in your code: {', '.join(names[:6])} "
                f"(first in cell {undefined[0]['cell']}). The notebook cannot run from the top: "
                "the cell that uses one raises a NameError.",
                advice="Define or import every name before you use it, then restart and run all cells.",
                details=details,
            )
        ]
    if len(mine) > 10:
        top = ", ".join(f"{k} ×{v}" for k, v in sorted(by_code.items(), key=lambda kv: -kv[1])[:4])
        return [
            spec.finding(
                WARN,
                f"ruff reports {len(mine)} problems in your code ({top}), e.g. unused imports or variables.",
                advice="Remove unused imports and variables; keep the code tidy.",
                details=details,
            )
        ]
    if mine:
        top = ", ".join(f"{k} ×{v}" for k, v in sorted(by_code.items(), key=lambda kv: -kv[1])[:4])
        return [
            spec.finding(
                PASS,
                f"ruff reports {len(mine)} minor problem{'s' if len(mine) != 1 else ''} in your code "
                f"({top}; first in cell {mine[0]['cell']}: {mine[0]['message']}).",
                details=details,
            )
        ]
    return [spec.finding(PASS, "ruff reports no problems in your code.", details=details)]


def _comment_stats(cells) -> dict:
    code_lines = comment_lines = docstrings = 0
    for cell in cells:
        for line in cell.code.split("\n"):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                comment_lines += 1
            else:
                code_lines += 1
                if "  #" in line or "\t#" in line:
                    comment_lines += 1
        if cell.tree is not None:
            for node in ast.walk(cell.tree):
                if isinstance(
                    node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)
                ) and ast.get_docstring(node):
                    docstrings += 1
    return {"code_lines": code_lines, "comment_lines": comment_lines, "docstrings": docstrings}


# Code with neither a comment nor a docstring and fewer words of markdown than this is explained nowhere
# (the Code descriptor of every band above third class asks for comments or explanations).
UNEXPLAINED_CODE_LINES = 5
UNEXPLAINED_MARKDOWN_WORDS = 40


@check("code.annotation", needs=(NOTEBOOK,))
def annotation(ctx, spec) -> list[Finding]:
    """Code is annotated: comments and explanations relative to the amount of code."""
    nb = ctx.notebook
    cells = nb.student_code_cells
    stats = _comment_stats(cells)
    words = sum(len(re.findall(r"[A-Za-z]{2,}", text)) for _, text in nb.student_markdown())
    stats["markdown_words"] = words
    code = stats["code_lines"]
    ratio = (stats["comment_lines"] + 3 * stats["docstrings"]) / code if code else 0.0
    stats["comment_ratio"] = round(ratio, 3)
    if code == 0:
        return [spec.finding(FAIL, "There is no code of your own in the notebook.", details=stats)]
    if code >= UNEXPLAINED_CODE_LINES and ratio == 0 and words < UNEXPLAINED_MARKDOWN_WORDS:
        return [
            spec.finding(
                FAIL,
                f"Nothing in the notebook explains your {code} lines of code: no comments, no "
                f"docstrings and {words} words of your own in markdown.",
                advice="Say why you made each choice, in comments beside the code or in markdown cells "
                "(the template's answer cells are the place for the longer reasons).",
                details=stats,
            )
        ]
    if ratio < 0.05 and code > 20:
        return [
            spec.finding(
                WARN,
                f"Your {code} lines of code carry almost no comments ({stats['comment_lines']} comment "
                f"lines, {stats['docstrings']} docstrings).",
                advice="Comment why you do things (not what the line says), and give functions a docstring.",
                details=stats,
            )
        ]
    return [
        spec.finding(
            INFO,
            f"{code} lines of your own code with {stats['comment_lines']} comment lines and "
            f"{stats['docstrings']} docstrings (one comment line per {1 / ratio:.0f} lines of code); "
            f"{words} words of your own explanation in markdown."
            if ratio
            else f"{code} lines of your own code; {words} words of explanation in markdown.",
            details=stats,
        )
    ]


def _repeated_blocks(cells, size: int = 4) -> list[tuple[str, int]]:
    """Runs of `size` identical non-trivial lines that occur more than once in the code."""
    seen = {}
    for cell in cells:
        lines = [
            line.strip()
            for line in cell.code.split("\n")
            if line.strip() and not line.strip().startswith("#") and len(line.strip()) > 8
        ]
        for i in range(len(lines) - size + 1):
            block = "\n".join(lines[i : i + size])
            seen.setdefault(block, set()).add((cell.index, i))
    return [(block, len(where)) for block, where in seen.items() if len(where) > 1]


@check("code.organisation", needs=(NOTEBOOK,))
def organisation(ctx, spec) -> list[Finding]:
    """Code is organised: functions rather than repeated blocks, no giant cells, reasonable length."""
    nb = ctx.notebook
    cells = nb.student_code_cells
    lengths = {c.number: len([x for x in c.code.split("\n") if x.strip()]) for c in cells}
    functions = sorted(ctx.analysis.student.functions) if ctx.analysis else []
    repeated = _repeated_blocks(cells)
    details = {
        "code_cells": len(cells),
        "functions": functions,
        "longest_cell_lines": max(lengths.values(), default=0),
        "cell_lines": lengths,
        "repeated_blocks": len(repeated),
        "cells_total": len(nb.cells),
        "repeated_examples": [b for b, _ in repeated[:3]],
    }
    problems = []
    if repeated:
        problems.append(
            f"{len(repeated)} blocks of code are repeated (copy-pasted) instead of being a function"
        )
    long_cells = [i for i, n in lengths.items() if n > 120]
    if long_cells:
        problems.append(
            f"cell{'s' if len(long_cells) > 1 else ''} {', '.join(map(str, long_cells))} "
            f"{'have' if len(long_cells) > 1 else 'has'} more than 120 lines"
        )
    if sum(lengths.values()) > 60 and len(functions) < 2:
        problems.append("almost all of the code runs at the top level, with few functions")
    if problems:
        return [
            spec.finding(
                WARN,
                "Organisation: " + "; ".join(problems) + ".",
                advice="Put repeated steps in functions and split long cells into steps with a short "
                "markdown explanation before each.",
                details=details,
            )
        ]
    return [
        spec.finding(
            INFO,
            f"{len(cells)} code cells of your own, {len(functions)} functions "
            f"({', '.join(functions[:6])}{'…' if len(functions) > 6 else ''}), longest cell "
            f"{details['longest_cell_lines']} lines, no repeated blocks.",
            details=details,
        )
    ]


@check("code.execution_order", needs=(SUBMITTED,))
def order(ctx, spec) -> list[Finding]:
    """The submitted notebook was run from top to bottom (execution counts in order)."""
    nb = ctx.submitted
    counts = [(c.number, c.execution_count) for c in nb.code_cells if c.source.strip()]
    ran = [(i, n) for i, n in counts if isinstance(n, int)]
    details = {"execution_counts": counts}
    if not ran:
        return [
            spec.finding(
                INFO,
                "The notebook was saved without running it (no execution counts), so it shows no "
                "results to the reader.",
                advice="Restart the kernel, run all cells, and save the notebook with its outputs.",
                details=details,
            )
        ]
    out_of_order = [(a, b) for a, b in pairwise(ran) if b[1] <= a[1]]
    skipped = [i for i, n in counts if n is None and any(j > i for j, _ in ran)]
    starts_at = ran[0][1]
    gaps = sum(1 for a, b in pairwise(ran) if b[1] > a[1] + 1)
    details.update({"out_of_order": out_of_order, "not_run": skipped, "first_count": starts_at, "gaps": gaps})
    if out_of_order or skipped:
        what = []
        if out_of_order:
            what.append(f"cell {out_of_order[0][1][0]} ran before cell {out_of_order[0][0][0]} above it")
        if skipped:
            what.append(f"cell{'s' if len(skipped) > 1 else ''} {', '.join(map(str, skipped[:5]))} never ran")
        return [
            spec.finding(
                WARN,
                "The notebook was not run from top to bottom: " + "; ".join(what) + ".",
                advice="Restart the kernel and run all cells before saving: a reader (and the grader) runs "
                "it in order.",
                details=details,
            )
        ]
    if starts_at != 1 or gaps:
        return [
            spec.finding(
                INFO,
                "The cells ran in order, but not in one fresh run (counts start at "
                f"{starts_at}, {gaps} gap{'s' if gaps != 1 else ''}: some cells were re-run).",
                advice="Restart the kernel and run all cells once before you submit.",
                details=details,
            )
        ]
    return [spec.finding(PASS, "The notebook was run once from top to bottom.", details=details)]


@check("code.errors_left", needs=(SUBMITTED,))
def errors_left(ctx, spec) -> list[Finding]:
    """The submitted notebook has no error outputs left in it."""
    nb = ctx.submitted
    errors = [
        {"cell": c.number, "error": scrub_paths(f"{e.get('ename', '')}: {e.get('evalue', '')}")[:200]}
        for c in nb.code_cells
        for e in c.errors()
    ]
    if errors:
        return [
            spec.finding(
                WARN,
                f"The notebook was saved with {len(errors)} error output"
                f"{'s' if len(errors) > 1 else ''} (first in cell {errors[0]['cell']}: "
                f"{errors[0]['error']}).",
                advice="Fix or remove failing cells, restart and run all, then save.",
                details={"errors": errors},
            )
        ]
    return [spec.finding(PASS, "No error outputs are left in the notebook.")]


@check("code.run_time")
def run_time(ctx, spec) -> list[Finding]:
    """How long the grader's run took and how much memory it used."""
    record = ctx.record
    if record is None or record.wall_seconds is None:
        return [spec.finding(NOT_APPLICABLE, "No run time: the notebook was not run by the grader here.")]
    budget = None
    course = getattr(ctx, "course", None)
    if course is not None:
        budget = course.config.execution.timeout
    details = {
        "wall_seconds": record.wall_seconds,
        "cpu_seconds": record.cpu_seconds,
        "peak_memory_mb": record.peak_memory_mb,
        "budget_seconds": budget,
    }
    text = f"The grader's run took {record.wall_seconds:.0f} s"
    if record.peak_memory_mb:
        text += f" and at most {record.peak_memory_mb:.0f} MB of memory"
    if budget and record.wall_seconds > 0.8 * budget:
        return [
            spec.finding(
                WARN,
                text + f", close to the limit of {budget} s.",
                advice="Make the notebook quicker (fewer features or a smaller search) so it stays well "
                "within the time limit.",
                details=details,
            )
        ]
    return [spec.finding(INFO, text + ".", details=details)]
