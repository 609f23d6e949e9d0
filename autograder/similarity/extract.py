"""What of a notebook is its author's own: the code and the written answers, each cell apart, with the
instructor's cells left out (locked cells, the parameters cell, cells the student did not change), and
the choices a pair could share by accident only rarely: literal hyper-parameters and printed results.

What remains of the template inside a cell the student edited (the `def featurise(...)` stub and its
docstring, the prompt lines of a markdown answer) is discounted later, token by token, against the
template's own fingerprints (compare.py), so that it never counts as shared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.checks.notebook import ANSWER_STUB, Notebook, NotebookError, normalise_text
from autograder.similarity.fingerprint import Tokens, code_tokens, imported_names, text_tokens

# Keyword arguments that say nothing about a modelling choice.
_NOT_CHOICES = frozenset(
    {
        "n_jobs",
        "verbose",
        "verbosity",
        "figsize",
        "s",
        "alpha",
        "lw",
        "linewidth",
        "bins",
        "fontsize",
        "dpi",
        "ax",
        "color",
        "pbar",
        "ignore_errors",
        "axis",
        "inplace",
        "index",
        "ascending",
        "keep",
        "round",
        "decimals",
        "width",
        "height",
        "size",
    }
)
_RESULT = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")


class DocumentError(Exception):
    """A notebook that cannot be read for the comparison (kept as a note, never stops the run)."""


@dataclass
class Document:
    """One notebook as the comparison sees it."""

    key: str  # the student id, or the archive notebook's path relative to the course
    origin: str  # "cohort" | "archive"
    code: Tokens
    text: Tokens
    labels: dict[int, str] = field(default_factory=dict)  # notebook cell index -> "cell 12 (model)"
    choices: set[str] = field(default_factory=set)  # "ExtraTreesRegressor(max_features=0.3)"
    results: set[str] = field(default_factory=set)  # printed numbers of four or more digits

    def tokens(self, kind: str) -> Tokens:
        return self.code if kind == "code" else self.text


def _label(cell) -> str:
    name = f"cell {cell.index + 1}"
    return f"{name} ({cell.grade_id})" if cell.grade_id else name


def choices_of(found: list[tuple[str, str, object]]) -> set[str]:
    """Literal settings as the report shows them: `LGBMRegressor(num_leaves=63)`, `dict(learning_rate=0.05)`."""
    return {
        f"{callee}({name}={value!r})"
        for callee, name, value in found
        if name not in _NOT_CHOICES and not (isinstance(value, str) and len(value) > 40)
    }


def results_of(text: str) -> set[str]:
    """Numbers a cell printed with at least four significant digits (scores, errors)."""
    found = set()
    for match in _RESULT.finditer(text):
        digits = match.group(0).lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0")
        if len(digits) >= 4:
            found.add(match.group(0))
    return found


def template_lines(released: Notebook | None) -> set[str]:
    """The released notebook's markdown lines, normalised (the prompts around each answer)."""
    lines = {ANSWER_STUB.lower()}
    for cell in released.markdown_cells if released is not None else []:
        lines.update(filter(None, (normalise_text(line) for line in cell.source.split("\n"))))
    return lines


def own_text(source: str, template: set[str]) -> str:
    """A markdown cell without the template's lines: what the student wrote there."""
    return "\n".join(line for line in source.split("\n") if normalise_text(line) not in template).strip()


def read_document(
    path: Path, key: str, origin: str, released: Notebook | None, template: set[str]
) -> Document:
    """A notebook's own code and text. Raises DocumentError when it is not a readable notebook."""
    try:
        notebook = Notebook.read(path, released=released)
    except NotebookError as error:
        raise DocumentError(str(error)) from error
    return document_of(notebook, key, origin, template)


def document_of(notebook: Notebook, key: str, origin: str, template: set[str]) -> Document:
    code_cells = [c for c in notebook.student_code_cells if c.code.strip()]
    library = set()
    for cell in notebook.code_cells:  # imports anywhere (the locked set-up cell too) name the library
        library |= imported_names(cell.code)
    code_units, choices = [], set()
    for cell in code_cells:
        tokens, found = code_tokens(cell.code, library)
        code_units.append((cell.index, cell.code, tokens))
        choices |= choices_of(found)
    text_units = []
    for cell in notebook.markdown_cells:
        text = own_text(cell.source, template) if cell.origin != "locked" else ""
        if text:
            text_units.append((cell.index, text, text_tokens(text)))
    labels = {c.index: _label(c) for c in notebook.cells}
    results = set()
    for cell in notebook.code_cells:
        results |= results_of(cell.output_text())
    return Document(key, origin, Tokens.build(code_units), Tokens.build(text_units), labels, choices, results)


def template_document(released: Notebook | None) -> Document:
    """The released notebook as one document: every cell of it, code and text, is boilerplate."""
    if released is None:
        return Document("template", "template", Tokens.build([]), Tokens.build([]))
    library = set()
    for cell in released.code_cells:
        library |= imported_names(cell.code)
    code_units, choices = [], set()
    for cell in released.code_cells:
        tokens, found = code_tokens(cell.code, library)
        code_units.append((cell.index, cell.code, tokens))
        choices |= choices_of(found)
    text_units = [(c.index, c.source, text_tokens(c.source)) for c in released.markdown_cells]
    return Document(
        "template", "template", Tokens.build(code_units), Tokens.build(text_units), choices=choices
    )
