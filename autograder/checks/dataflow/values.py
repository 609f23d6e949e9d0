"""What the data-flow analysis knows of a value, and what it records.

Value (the rows a value holds, the fits, scores and loops it depends on, why it is unsure) and
`merged`/`union` of values; Source (where rows came from, for messages) and the row kinds WHOLE,
TRAIN, TEST and FILE; Scope and Frame, the interpreter's names and calls being followed; the
events the leak and tuning checks read (FitEvent and its Use, ScoreEvent, LoopInfo, Choice,
EarlyStop, SearchFit); `segment`, the code of a node as the student wrote it; and `row_class` (a
value's rows: a training part, or the whole data set) and `base_name` (`X` of `X.iloc[...]`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from autograder.checks.notebook import Cell

WHOLE, TRAIN, TEST, FILE = "whole", "train", "test", "file"


@dataclass(frozen=True)
class Source:
    """Where data came from, for messages: `df = load_dataset("matbench_expt_gap")`, cell 3."""

    kind: str
    text: str
    cell: int  # 1-based

    def describe(self) -> str:
        return f"`{self.text}`, cell {self.cell}"


_EMPTY_SET: frozenset = frozenset()


@dataclass(frozen=True)
class Value:
    """What the analysis knows of a value."""

    rows: frozenset = _EMPTY_SET  # {(kind, source index)}: the rows it holds
    taint: frozenset = _EMPTY_SET  # ids of the pre-processing fits it depends on
    scores: frozenset = _EMPTY_SET  # ids of scores on test data it carries
    cvscores: frozenset = _EMPTY_SET  # ids of cross-validation scores on the whole data set
    settings: frozenset = _EMPTY_SET  # ids of the loops (over settings) it depends on
    searches: frozenset = _EMPTY_SET  # ids of fitted searches (GridSearchCV...) it comes from
    selected: frozenset = _EMPTY_SET  # ids of the loops whose variable selected its columns (`X[cols]`)
    unsure: frozenset = _EMPTY_SET  # why the analysis cannot tell what it holds
    klass: str = ""  # class it was constructed from ("StandardScaler", "KFold")
    holds: str = ""  # pre-processing class inside a pipeline
    splits: tuple = ()  # ("outer", source) / ("inner", rows): iterable of (train, test) indices
    function: str = ""  # a student function or class referenced by name
    parts: tuple | None = None  # values of a tuple's elements
    elem: tuple | None = None  # zip/enumerate: the iterables of an element's parts
    fields: tuple | None = None  # a dict with literal keys: ((key, value), ...)
    item: Value | None = None  # a container (list, dict) built in the code: what its elements hold

    def __or__(self, other: Value) -> Value:
        if other is EMPTY:
            return (
                Value(
                    self.rows,
                    self.taint,
                    self.scores,
                    self.cvscores,
                    self.settings,
                    self.searches,
                    self.selected,
                    self.unsure,
                    self.klass,
                    self.holds,
                    self.splits,
                )
                if self.parts or self.elem or self.function or self.fields or self.item is not None
                else self
            )
        if self is EMPTY:
            return other | EMPTY
        return Value(
            self.rows | other.rows,
            self.taint | other.taint,
            self.scores | other.scores,
            self.cvscores | other.cvscores,
            self.settings | other.settings,
            self.searches | other.searches,
            self.selected | other.selected,
            self.unsure | other.unsure,
            self.klass if self.klass == other.klass else "",
            self.holds or other.holds,
            self.splits or other.splits,
        )

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.rows}

    def sources(self, *kinds: str) -> set[int]:
        return {src for kind, src in self.rows if not kinds or kind in kinds}

    def without_rows(self) -> Value:
        return replace(
            self, rows=_EMPTY_SET, parts=None, elem=None, function="", splits=(), fields=None, item=None
        )

    def labels(self) -> Value:
        """Everything but the rows and the class: what a model fitted on it or a prediction from it inherits."""
        return Value(
            taint=self.taint,
            scores=self.scores,
            cvscores=self.cvscores,
            settings=self.settings,
            searches=self.searches,
            selected=self.selected,
            unsure=self.unsure,
        )

    def with_unsure(self, reason: str) -> Value:
        return replace(self, unsure=self.unsure | {reason})


EMPTY = Value()


def merged(a: Value | None, b: Value | None) -> Value:
    """Union that keeps the structure both sides share (tuple parts, dict fields, container items)."""
    if a is None:
        return b if b is not None else EMPTY
    if b is None:
        return a
    out = a | b
    out = replace(
        out,
        klass=a.klass if a.klass == b.klass else (a.klass or b.klass if not (a.klass and b.klass) else ""),
    )
    if a.parts is not None and b.parts is not None and len(a.parts) == len(b.parts):
        out = replace(out, parts=tuple(merged(x, y) for x, y in zip(a.parts, b.parts)))
    if a.fields is not None and b.fields is not None:
        fa, fb = dict(a.fields), dict(b.fields)
        out = replace(out, fields=tuple((k, merged(fa.get(k), fb.get(k))) for k in {**fa, **fb}))
    if a.item is not None or b.item is not None:
        out = replace(out, item=merged(a.item, b.item))
    return out


def union(values) -> Value:
    out = EMPTY
    for v in values:
        out = out | v
    return out


@dataclass
class Frame:
    """One call of a student function being followed."""

    key: str
    node: ast.Call
    cell: Cell  # the cell of the call


@dataclass
class Use:
    """Where what a pre-processing fit learnt reaches a model, a score or the recorded predictions."""

    text: str  # the code there
    how: str  # "" (a model fitted on it), "scored by", "cross-validated by", "tuned by", "recorded by"
    cell: Cell
    root_id: int
    root_cell: Cell

    def phrase(self) -> str:
        return f"{self.how + ' ' if self.how else ''}`{self.text}`, cell {self.cell.number}"


@dataclass
class FitEvent:
    """A pre-processing step (or a pipeline holding one) fitted to data."""

    id: int
    node: ast.Call
    cell: Cell
    function: str | None
    chain: tuple
    root_cell: Cell
    root_id: int
    klass: str
    data: Value
    data_text: str
    arg_names: set[str]
    loops: tuple  # LoopInfo of the loops around it
    used: list[Use] = field(default_factory=list)

    def text(self) -> str:
        return segment(self.cell, self.node)

    def where(self) -> str:
        place = f"in `{self.function}`" if self.function else "at the top level"
        return f"cell {self.cell.number}, line {self.node.lineno} ({place})"


@dataclass
class LoopInfo:
    id: int
    node: ast.AST
    cell: Cell
    text: str
    kind: str  # folds | data | settings | search


@dataclass
class ScoreEvent:
    id: int
    node: ast.AST
    cell: Cell
    function: str | None
    root_cell: Cell
    settings: frozenset
    unsure: frozenset
    loops: tuple
    text: str = ""


@dataclass
class Choice:
    node: ast.AST
    cell: Cell
    function: str | None
    root_cell: Cell
    kind: str
    scores: frozenset
    cvscores: frozenset
    settings: frozenset
    unsure: frozenset
    text: str = ""


@dataclass
class EarlyStop:
    node: ast.Call
    cell: Cell
    function: str | None
    root_cell: Cell
    keyword: str
    unsure: frozenset


@dataclass
class SearchFit:
    id: int
    node: ast.Call
    cell: Cell
    function: str | None
    chain: tuple
    root_cell: Cell
    klass: str
    data: Value
    used: bool = False


class Scope:
    def __init__(self, names: dict | None = None, parent: Scope | None = None):
        self.names = names if names is not None else {}
        self.parent = parent

    def lookup(self, name: str) -> Value | None:
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None


def segment(cell: Cell | None, node: ast.AST, limit: int = 160) -> str:
    """The code of `node` as the student wrote it (one line, shortened), or as ast prints it."""
    text = None
    if cell is not None:
        try:
            text = _source_segment(cell.code_lines, node)
        except Exception:  # noqa: BLE001 - positions of odd nodes are best effort
            text = None
    if not text:
        return _unparse(node, limit)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _source_segment(lines: list[str], node: ast.AST) -> str | None:
    """ast.get_source_segment on lines split once (it splits the whole source at every call);
    the column offsets are UTF-8 byte offsets, as there."""
    end_lineno, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_lineno is None or end_col is None:
        return None
    first, last, col = node.lineno - 1, end_lineno - 1, node.col_offset
    if first == last:
        return lines[first].encode()[col:end_col].decode()
    return (
        lines[first].encode()[col:].decode()
        + "".join(lines[first + 1 : last])
        + lines[last].encode()[:end_col].decode()
    )


def _unparse(node: ast.AST, limit: int = 160) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - unparse of odd nodes is best effort
        return "?"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def row_class(value: Value) -> str:
    """The rows a value holds: "train" (training parts only), "whole" (the whole data set), or ""."""
    kinds = value.kinds
    if not kinds:
        return ""
    if kinds <= {TRAIN}:
        return "train"
    if WHOLE in kinds or {TRAIN, TEST} <= kinds:
        return "whole"
    return ""


def base_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
