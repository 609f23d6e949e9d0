"""The notebook as the checks see it: cells, who wrote them, their code with IPython magics
stripped, and its syntax tree.

Notebooks are read as nbformat-v4 JSON with the standard `json` module: importing nbformat costs
about 1.1 s (it pulls in jsonschema), more than all the checks together, and the checks only read.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

ANSWER_STUB = "YOUR ANSWER HERE"
# The wording of this course's template and of its earlier editions (declaration prompts, printed
# questions, section headings), as data.
TEMPLATES_FILE = Path(__file__).with_name("released") / "templates.toml"
_TASK_NAME = re.compile(r"\bmatbench_[a-z0-9_]+\b")
CODE_STUB = "YOUR CODE HERE"

# Cell magics whose body is Python (only the magic line is dropped); any other cell magic
# (%%bash, %%writefile, %%html, ...) makes the whole cell non-Python.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "skip"}
_ASSIGN_SHELL = re.compile(r"^(\s*)([A-Za-z_][\w.,\s]*?)\s*=\s*[!%]")


class NotebookError(Exception):
    """The file is not a readable Jupyter notebook."""


def read_notebook(path: Path | str) -> dict:
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotebookError(f"{path.name} is not a readable Jupyter notebook ({error}).") from error
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path.name} is not a Jupyter notebook in format 4 (no list of cells).")
    return nb


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source or "")


def strip_magics(source: str) -> tuple[str, list[str]]:
    """Python code of a cell with IPython syntax neutralised, line numbers kept.

    `!cmd`, `%magic` and `x?` lines become `pass` (same indentation, so blocks stay valid);
    `x = !cmd` / `x = %magic` become `x = None`; a Python-bodied cell magic (%%time...) loses its
    first line, any other cell magic (%%bash...) blanks the cell. Returns (code, magics found)."""
    lines = source.split("\n")
    magics = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].strip()[2:].split(maxsplit=1)[0] if lines[first].strip()[2:] else ""
        magics.append(lines[first].strip())
        if name not in PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines), magics
        lines[first] = ""
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith(("!", "%")):
            magics.append(stripped)
            out.append(indent + "pass")
            continue
        match = _ASSIGN_SHELL.match(line)
        if match and not stripped.startswith(("#",)) and "==" not in line.split("=", 1)[0]:
            magics.append(stripped)
            out.append(f"{match.group(1)}{match.group(2).strip()} = None")
            continue
        if stripped.endswith("?") and not stripped.startswith("#") and re.match(r"^[\w.]+\?{1,2}$", stripped):
            magics.append(stripped)
            out.append(indent + "pass")
            continue
        out.append(line)
    return "\n".join(out), magics


def normalise_text(text: str) -> str:
    """Text for comparing prose: markdown marks, punctuation runs and case removed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links: their text
    text = re.sub(r"<[^>]+>", " ", text)  # html tags
    text = re.sub(r"[#*_`>|~\[\]]+", " ", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().lower()


@functools.cache
def template_wording() -> dict:
    """templates.toml: {"today": {...}, "editions": {"2024": {...}, ...}}."""
    with TEMPLATES_FILE.open("rb") as handle:
        return tomllib.load(handle)


def template_editions() -> dict[str, dict]:
    """Every edition's wording, today's first: {"today": {...}, "2024": {...}, ...}."""
    wording = template_wording()
    return {"today": wording["today"], **wording.get("editions", {})}


@functools.cache
def template_prompt_lines() -> frozenset[str]:
    """Every line printed by any edition of the template (declaration prompts, section questions),
    normalised: words that are never the student's own."""
    lines = {normalise_text(ANSWER_STUB)}
    for edition in template_editions().values():
        lines.update(normalise_text(x) for x in edition.get("declaration", ()))
        for prompts in edition.get("sections", {}).values():
            lines.update(normalise_text(x) for x in prompts)
    lines.discard("")
    return frozenset(lines)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(norm: str) -> list[str]:
    """A normalised line cut into its sentences."""
    return [x.strip() for x in _SENTENCE_END.split(norm) if x.strip()]


def with_sentences(lines) -> set[str]:
    """The lines and each of their sentences (a template's prompt line may be quoted in part)."""
    out = set(lines)
    for line in lines:
        out.update(sentences(line))
    return out


_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*?)\s*#*\s*$")
_BOLD_TITLE = re.compile(r"^\s*(\*\*|__)([^*_].{0,100}?)(\*\*|__)\s*:?\s*$")


def heading_title(line: str) -> tuple[int, str] | None:
    """(level, title) of a line that is a heading however written: `## Title`, `##**Title**`,
    `## **Title**`, `# 1. Title`, or a line that is bold only (`**Title**`, level 7); else None.
    The title is normalised, without its numbering."""
    match = _MD_HEADING.match(line)
    if match:
        level, text = len(match.group(1)), match.group(2)
    else:
        match = _BOLD_TITLE.match(line)
        if not match:
            return None
        level, text = 7, match.group(2)
    title = normalise_text(text)
    title = re.sub(r"^[^\w]*(\d+(\.\d+)*|[ivx]+|[a-e])[.)]\s*", "", title)  # "3.", "1.2)", "iv.", "a)"
    title = re.sub(r"^[^\w]+", "", title)  # emoji and marks in front
    return (level, title) if title else None


@dataclass
class Section:
    """A notebook's markdown section: its heading and what follows it up to the next heading."""

    title: str
    level: int
    cells: list  # the markdown cells its text comes from
    lines: list[str]  # its body, as written (heading excluded)
    own_text: str = ""  # its body without the template's prompts: what the student wrote


def normalise_code(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().split("\n") if line.strip())


@dataclass
class Cell:
    index: int
    cell_type: str  # code | markdown | raw
    source: str
    metadata: dict
    outputs: list = field(default_factory=list)
    execution_count: int | None = None
    origin: str = "student"  # student | locked | template | injected
    # The cell's number as the student counts it in their notebook (from 1): papermill's injected
    # parameters cell is not counted (it has number 0). Every message that says "cell N" uses it.
    number: int = 0

    @property
    def nbgrader(self) -> dict:
        return self.metadata.get("nbgrader") or {}

    @property
    def grade_id(self) -> str | None:
        return self.nbgrader.get("grade_id")

    @property
    def tags(self) -> list[str]:
        return list(self.metadata.get("tags") or [])

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"

    @property
    def is_markdown(self) -> bool:
        return self.cell_type == "markdown"

    @cached_property
    def stripped(self) -> tuple[str, list[str]]:
        return strip_magics(self.source) if self.is_code else ("", [])

    @property
    def code(self) -> str:
        return self.stripped[0]

    @cached_property
    def code_lines(self) -> list[str]:
        """The code's lines, ends kept (split once: the checks quote many segments of one cell)."""
        return self.code.splitlines(keepends=True)

    @property
    def magics(self) -> list[str]:
        return self.stripped[1]

    @cached_property
    def tree(self) -> ast.Module | None:
        if not self.is_code:
            return None
        try:
            return ast.parse(self.code)
        except (SyntaxError, ValueError):
            return None

    @cached_property
    def syntax_error(self) -> str | None:
        if not self.is_code:
            return None
        try:
            ast.parse(self.code)
        except SyntaxError as error:
            return f"line {error.lineno}: {error.msg}"
        except ValueError as error:
            return str(error)
        return None

    def output_text(self) -> str:
        """Text of stream outputs and text/plain results (what a reader sees printed)."""
        parts = []
        for output in self.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                parts.append(cell_source({"source": output.get("text", "")}))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "text/plain" in data:
                    parts.append(cell_source({"source": data["text/plain"]}))
        return "".join(parts)

    def errors(self) -> list[dict]:
        return [o for o in self.outputs if o.get("output_type") == "error"]


class Notebook:
    """A notebook's cells, each labelled with who wrote it (compared with the released notebook)."""

    def __init__(self, raw: dict, path: Path | None = None, released: Notebook | None = None):
        self.raw = raw
        self.path = path
        self.released = released
        self.cells = [
            Cell(
                index=i,
                cell_type=c.get("cell_type", "code"),
                source=cell_source(c),
                metadata=c.get("metadata") or {},
                outputs=c.get("outputs") or [],
                execution_count=c.get("execution_count"),
            )
            for i, c in enumerate(raw.get("cells", []))
        ]
        self._label_origins()
        counted = 0
        for cell in self.cells:
            if cell.origin != "injected":
                counted += 1
                cell.number = counted

    @classmethod
    def read(cls, path: Path | str, released: Notebook | None = None) -> Notebook:
        return cls(read_notebook(path), Path(path), released)

    def _label_origins(self):
        released_sources = set()
        if self.released is not None:
            released_sources = {normalise_code(c.source) for c in self.released.cells if c.source.strip()}
        for cell in self.cells:
            nbg = cell.nbgrader
            if "injected-parameters" in cell.tags:
                cell.origin = "injected"
            elif nbg.get("locked") and not nbg.get("solution"):
                cell.origin = "locked"
            elif cell.source.strip() and normalise_code(cell.source) in released_sources:
                cell.origin = "template"
            else:
                cell.origin = "student"

    # --- what the notebook is ------------------------------------------------------------------
    @cached_property
    def earlier_edition(self) -> str | None:
        """The earlier edition of the course's template this notebook was written on ("2024"), told by
        its headings and printed prompts (those editions had no nbgrader metadata); else None."""
        if self.on_template:
            return None
        titles = {s.title for s in self.sections}
        lines = with_sentences(
            {normalise_text(line) for c in self.markdown_cells for line in c.source.split("\n")}
        )
        best, best_score = None, 0
        for name, edition in template_wording().get("editions", {}).items():
            headings = sum(normalise_text(h) in titles for h in edition.get("headings", ()))
            prompts = with_sentences(
                {normalise_text(p) for ps in edition.get("sections", {}).values() for p in ps}
            )
            score = headings + len(prompts & lines)
            if score > best_score:
                best, best_score = name, score
        return best if best_score >= 4 else None  # a few of its headings and prompts, not one by chance

    @property
    def kind(self) -> str:
        """ "template" (this course's, with its locked cells), "earlier template (2024)", or "free-form"."""
        if self.on_template:
            return "template"
        return f"earlier template ({self.earlier_edition})" if self.earlier_edition else "free-form"

    @property
    def kind_phrase(self) -> str:
        """How the checks say which kind they assumed."""
        if self.on_template:
            return "Read as written on this course's template"
        if self.earlier_edition:
            return f"Read as written on the {self.earlier_edition} template (its headings and prompts)"
        return "Read as a free-form notebook"

    @cached_property
    def sections(self) -> list[Section]:
        """The markdown sections in order, found by their headings however written; a section runs
        over later markdown cells until the next heading."""
        found: list[Section] = []
        for cell in self.markdown_cells:
            for line in cell.source.split("\n"):
                heading = heading_title(line)
                if heading is not None:
                    found.append(Section(title=heading[1], level=heading[0], cells=[cell], lines=[]))
                elif found:
                    if found[-1].cells[-1] is not cell:
                        found[-1].cells.append(cell)
                    found[-1].lines.append(line)
        for section in found:
            section.own_text = self.own_lines(section.lines)
        return found

    # --- views ------------------------------------------------------------------------------------
    @property
    def on_template(self) -> bool:
        """Written on the assignment's template: it carries the instructor's locked cells. A notebook
        without them (an earlier year's, a student's own) gets no message about the template."""
        return any(c.origin == "locked" for c in self.cells)

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_code]

    @property
    def markdown_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_markdown]

    @property
    def student_code_cells(self) -> list[Cell]:
        """Code cells the student wrote or changed (not locked, not injected, not the untouched
        template, not the parameters cell)."""
        return [c for c in self.code_cells if c.origin == "student" and "parameters" not in c.tags]

    def matbench_tasks(self) -> list[str]:
        """The Matbench tasks the student's own code names (`load_dataset("matbench_glass")`,
        `subset=["matbench_expt_gap"]`, `mb.matbench_phonons`), in the order they first appear;
        comments and the template's cells do not count."""
        from autograder.course.challenges import MATBENCH_V01_TASKS  # a dict of facts, no heavy import

        found: list[str] = []
        for cell in self.student_code_cells:
            if cell.tree is None:
                continue
            # a name compared with (`if task_name == "matbench_glass":`) or one entry of a table of
            # tasks (`{"A": "matbench_phonons", ...}`) is code written for several tasks, not the one worked on
            ignored = set()
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Compare):
                    ignored.update(id(n) for n in ast.walk(node))
                elif isinstance(node, (ast.Dict, ast.Set, ast.List, ast.Tuple)):
                    entries = [
                        n
                        for n in ast.walk(node)
                        if isinstance(n, ast.Constant)
                        and isinstance(n.value, str)
                        and _TASK_NAME.search(n.value)
                    ]
                    if len(entries) > 1:
                        ignored.update(id(n) for n in entries)
            for node in ast.walk(cell.tree):
                if id(node) in ignored:
                    continue
                names = []
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names = _TASK_NAME.findall(node.value)
                elif isinstance(node, ast.Attribute):
                    names = [node.attr]
                elif isinstance(node, ast.Name):
                    names = [node.id]
                found.extend(n for n in names if n in MATBENCH_V01_TASKS and n not in found)
        return found

    def cell_by_grade_id(self, grade_id: str) -> Cell | None:
        return next((c for c in self.cells if c.grade_id == grade_id), None)

    def parameters(self) -> dict:
        """Literal values assigned in the injected-parameters cell (if any), else in the cell tagged
        `parameters`."""
        values = {}
        for tag in ("parameters", "injected-parameters"):
            for cell in self.code_cells:
                if tag in cell.tags and cell.tree is not None:
                    for node in cell.tree.body:
                        if (
                            isinstance(node, ast.Assign)
                            and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)
                        ):
                            try:
                                values[node.targets[0].id] = ast.literal_eval(node.value)
                            except ValueError:
                                pass
        return values

    def released_lines(self) -> set[str]:
        """Every normalised non-empty line of the template's markdown: the released notebook's and
        every edition's printed prompts and questions (templates.toml)."""
        lines = set(template_prompt_lines())
        if self.released is not None:
            for cell in self.released.markdown_cells:
                for line in cell.source.split("\n"):
                    norm = normalise_text(line)
                    if norm:
                        lines.add(norm)
        return lines

    def student_markdown(self) -> list[tuple[Cell, str]]:
        """(cell, what the student wrote in it) for every markdown cell that is not locked. A filled
        answer cell keeps its printed question: those lines are the template's, not the student's."""
        return [(c, self.student_text(c)) for c in self.markdown_cells if c.origin != "locked"]

    def student_text(self, cell: Cell) -> str:
        """A markdown cell's text without the lines that come from the template (the released
        notebook, an earlier edition) or the "YOUR ANSWER HERE" stub: what the student wrote there.
        A line that starts with a printed question keeps only what follows it."""
        return self.own_lines(cell.source.split("\n"))

    def own_lines(self, lines: list[str]) -> str:
        """`lines` without the template's: whole lines, sentences of them, or a printed question at
        the start of a line (what follows it is kept)."""
        template = self._template_lines
        keep = []
        for line in lines:
            norm = normalise_text(line)
            if not norm or norm in template:
                continue
            prompt = next((t for t in self._long_template_lines if norm.startswith(t)), None)
            if prompt is not None:
                line = norm[len(prompt) :].strip(" :-–—")
                if not line:
                    continue
            elif any(x in template for x in sentences(norm)):
                line = " ".join(x for x in sentences(norm) if x not in template)
                if not line:
                    continue
            keep.append(line)
        return "\n".join(keep).strip()

    @cached_property
    def _template_lines(self) -> set[str]:
        return with_sentences(self.released_lines())

    @cached_property
    def _long_template_lines(self) -> list[str]:
        # long enough that a student's sentence cannot start with one by chance; longest first
        return sorted((t for t in self._template_lines if len(t) >= 20), key=len, reverse=True)
