"""Where the data go: which rows each fit, split and score of the student's code sees.

A small abstract interpreter over the notebook's code, in cell order: every value is labelled with
the rows it holds (the whole data set, a training part, a test part, a file of unknown content),
the pre-processing fits it depends on, the test-data scores it carries and the loops over settings
it depends on. The student's own functions and methods are followed into (with the labels of the
arguments of each call); what cannot be followed makes the labels unsure, and unsure findings are
warnings for the marker, never failures. The leak and tuning checks (protocol.preprocessing_leak,
protocol.test_tuning) read it as `ctx.flow`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from autograder.checks.analysis import (
    CV_FUNCTIONS,
    DATASET_WORDS,
    EARLY_STOPPING_KEYWORDS,
    FILE_READERS,
    FIT_METHODS,
    FULL_DATA_NAMES,
    METRIC_FUNCTIONS,
    PREPROCESSORS,
    SEARCHES,
    SPLITTERS,
    NotebookAnalysis,
    dotted,
    literal,
    names_in,
)
from autograder.checks.notebook import Cell

WHOLE, TRAIN, TEST, FILE = "whole", "train", "test", "file"
OPAQUE_LOADERS = {
    "load",
    "loads",
    "fromfile",
    "read_sql",
}  # np.load, pickle.load...: a file of unknown content
LOADER_MODULES = {"np", "numpy", "pickle", "json", "joblib", "torch", "dill", "cloudpickle", "pd", "pandas"}
DATASET_LOADERS = {"load_dataset"}
ROW_SPLITTERS = {"train_test_split"}
PIPELINES = {
    "Pipeline",
    "make_pipeline",
    "ColumnTransformer",
    "make_column_transformer",
    "FeatureUnion",
    "make_union",
    "TransformedTargetRegressor",
}
PREDICT_METHODS = {
    "predict",
    "predict_proba",
    "predict_log_proba",
    "transform",
    "inverse_transform",
    "decision_function",
    "score_samples",
    "kneighbors",
}
SCORE_METHODS = {"score", "evaluate"}
CHOICE_CALLS = {
    "min",
    "max",
    "sorted",
    "argmin",
    "argmax",
    "nanargmin",
    "nanargmax",
    "idxmin",
    "idxmax",
    "sort_values",
    "nsmallest",
    "nlargest",
    "argsort",
    "sort",
    "choose",
    "best",
}
CALLBACK_SEARCHES = {
    "gp_minimize",
    "forest_minimize",
    "gbrt_minimize",
    "dummy_minimize",
    "optimize",
    "fmin",
    "minimize",
    "minimize_scalar",
    "BayesianOptimization",
}
BEST_ATTRS = {
    "best_params_",
    "best_estimator_",
    "best_score_",
    "best_index_",
    "cv_results_",
    "best_params",
    "best_value",
    "best_trial",
    "x",
    "fun",
}
SEED_KEYWORDS = {
    "random_state",
    "seed",
    "random_seed",
    "n_jobs",
    "verbose",
    "verbosity",
    "device",
    "nthread",
    "n_threads",
    "thread_count",
    "silent",
    "njobs",
}
DATA_CLASSES = {
    "DataFrame",
    "Series",
    "Index",
    "Composition",
    "Structure",
    "Path",
    "Lattice",
    "Element",
    "Counter",
    "OrderedDict",
    "Figure",
    "Dataset",
    "DMatrix",
    "Pool",
    "TensorDataset",
    "DataLoader",
    "Tensor",
}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "__setitem__", "put"}
SCALAR_CALLS = {
    "len",
    "print",
    "isinstance",
    "issubclass",
    "type",
    "range",
    "hasattr",
    "id",
    "display",
    "open",
    "format",
    "repr",
    "callable",
}
SPLIT_WORDS = ("split", "train", "test", "fold", "partition", "holdout")


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


class _OutOfBudget(Exception):
    pass


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


def _literal_str(node: ast.AST | None) -> str:
    value = literal(node)
    return value if isinstance(value, str) else ""


class DataFlow:
    """Follows the data through the notebook's code (every cell but injected parameters, in order)."""

    MAX_DEPTH = 4
    BUDGET = 250_000  # steps (statements and expressions evaluated): about 2 s at worst

    def __init__(self, analysis: NotebookAnalysis):
        self.analysis = analysis
        self.defs: dict[str, tuple[Cell, ast.FunctionDef]] = dict(analysis.all.functions)
        self.classes: set[str] = set(analysis.all.classes)
        self.sources: list[Source] = []
        self._source_keys: dict = {}
        self.fits: list[FitEvent] = []
        self._fit_keys: dict = {}
        self.scores: list[ScoreEvent] = []
        self._score_keys: dict = {}
        self.cv_scores: list[ScoreEvent] = []
        self._cv_keys: dict = {}
        self.choices: list[Choice] = []
        self._choice_keys: set = set()
        self.early_stops: list[EarlyStop] = []
        self._stop_keys: set = set()
        self.searches: list[SearchFit] = []
        self._search_keys: dict = {}
        self.loops: dict[int, LoopInfo] = {}
        self._loop_keys: dict = {}
        self.configuring: dict[int, set[str]] = {}  # loops whose variable configures a model -> how
        #   "param" (a hyper-parameter), "columns" (the features), "model" (the model itself), "search"
        self.separated: set[int] = set()  # sources whose rows were split into training and test parts
        self.outer_splits: list[str] = []  # splits of the data set into training and test parts
        self.bindings: dict[str, dict[str, int]] = {}  # top-level name -> {"train"/"whole": first cell}
        self.problems: list[str] = []
        self.complete = True
        self.globals = Scope()
        self.scope = self.globals
        self.stack: list[Frame] = []
        self.returns: list[list] = []
        self.loop_stack: list[LoopInfo] = []
        self.function: str | None = None
        self.cell: Cell | None = None
        self.root_cell: Cell | None = None
        self.root_id = 0
        self.statement: ast.AST | None = None
        self.steps = 0
        self._compares: dict[int, list[Value]] = {}
        protocol_cell = analysis.protocol_cell_index
        self._seeds = {}
        self.failed: list[tuple[Cell, ast.stmt]] = []  # top-level statements the analysis could not follow
        template = protocol_cell is not None and analysis.notebook.cells[protocol_cell].origin == "locked"
        for name in (
            FULL_DATA_NAMES if template else ()
        ):  # the locked protocol cell's features of every material
            self._seeds[name] = Value(
                rows=frozenset(
                    {
                        (
                            WHOLE,
                            self._source(
                                ("seed", name),
                                WHOLE,
                                f"{name} = featurise(task.df[input_column])",
                                (protocol_cell + 1) if protocol_cell is not None else 0,
                            ),
                        )
                    }
                )
            )
            self.globals.names[name] = self._seeds[name]
        self._run([c for c in analysis.notebook.code_cells if c.origin != "injected"])

    # --- driving ---------------------------------------------------------------------------------
    def _run(self, cells):
        for position, cell in enumerate(cells):
            if cell.tree is None:
                continue
            for number, stmt in enumerate(cell.tree.body):
                self.root_id += 1
                self.root_cell = self.cell = cell
                self.scope, self.function, self.stack, self.loop_stack = self.globals, None, [], []
                self.statement = stmt
                try:
                    self.stmt(stmt)
                except _OutOfBudget:
                    self.complete = False
                    self.problems.append(
                        f"the code is too long or too nested to follow beyond cell {cell.number}"
                    )
                    self.failed += [(cell, s) for s in cell.tree.body[number:]]
                    self.failed += [
                        (c, s) for c in cells[position + 1 :] if c.tree is not None for s in c.tree.body
                    ]
                    return
                except RecursionError:
                    self.problems.append(
                        f"cell {cell.number}, line {stmt.lineno}: too deeply nested to follow"
                    )
                    self.failed.append((cell, stmt))
                except Exception as error:  # noqa: BLE001 - one statement the analysis cannot follow
                    self.problems.append(
                        f"cell {cell.number}, line {getattr(stmt, 'lineno', '?')}: "
                        f"{type(error).__name__}: {error}"
                    )
                    self.failed.append((cell, stmt))

    def _tick(self):
        self.steps += 1
        if self.steps > self.BUDGET:
            raise _OutOfBudget

    def _key(self, node) -> tuple:
        return (id(node), self.root_id, tuple(id(f.node) for f in self.stack))

    def _source(self, key, kind: str, text: str, cell: int) -> int:
        if key not in self._source_keys:
            self._source_keys[key] = len(self.sources)
            self.sources.append(Source(kind, text, cell))
        return self._source_keys[key]

    def _new_source(self, node, kind: str) -> int:
        stmt = self.statement if self.statement is not None and not self.stack else node
        shown = (
            stmt
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr, ast.AugAssign))
            and getattr(stmt, "end_lineno", 0) - getattr(stmt, "lineno", 0) < 2
            else node
        )
        return self._source(("node", id(node)), kind, segment(self.cell, shown, 120), self.cell.number)

    @property
    def top_level(self) -> bool:
        return self.function is None

    # --- statements ------------------------------------------------------------------------------
    def stmt(self, node):
        self._tick()
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is not None:
            method(node)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.stmt(child)
            elif isinstance(child, ast.expr):
                self.expr(child)

    def body(self, statements):
        for stmt in statements:
            if self.scope is self.globals and not self.stack and not self.loop_stack:
                self.statement = stmt
            self.stmt(stmt)

    def s_Expr(self, node):
        self.expr(node.value)

    def s_Assign(self, node):
        value = self.expr(node.value)
        if (
            isinstance(node.value, ast.Call)
            and value.parts is None
            and value.rows
            and any(isinstance(t, (ast.Tuple, ast.List)) for t in node.targets)
            and not self._known_call(node.value)
        ):
            value = self._unpacked_call(node.value, value)
        for target in node.targets:
            self.bind(target, value)

    def s_AnnAssign(self, node):
        if node.value is not None:
            self.bind(node.target, self.expr(node.value))

    def s_AugAssign(self, node):
        value = self.expr(node.value)
        current = self.expr(node.target) if isinstance(node.target, ast.Name) else EMPTY
        self.bind(node.target, current | value)

    def s_FunctionDef(self, node):
        if self.top_level and not self.stack:
            self.defs[node.name] = (self.cell, node)
            self.scope.names[node.name] = Value(function=node.name)
        else:
            key = f"{self.function}.<locals>.{node.name}"
            self.defs[key] = (self.cell, node)
            self.scope.names[node.name] = Value(function=key)

    s_AsyncFunctionDef = s_FunctionDef

    def s_ClassDef(self, node):
        if not self.top_level or self.stack:
            return
        self.classes.add(node.name)
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defs[f"{node.name}.{item.name}"] = (self.cell, item)
        self.scope.names[node.name] = Value(function=node.name, klass=node.name)

    def s_Return(self, node):
        value = self.expr(node.value) if node.value is not None else EMPTY
        if self.returns:
            self.returns[-1].append((node, value))

    def s_If(self, node):
        self.test(node.test)
        flag = self._constant_flag(node.test)
        if flag is True:
            self.body(node.body)
            return
        if flag is False:
            self.body(node.orelse)
            return
        before = dict(self.scope.names)
        self.body(node.body)
        after_body = self.scope.names
        self.scope.names = dict(before)
        self.body(node.orelse)
        self.scope.names = self._merge(after_body, self.scope.names)

    def _constant_flag(self, test) -> bool | None:
        """`if fast_mode:` where the flag is only ever set to one literal value (dead or always-run code)."""
        negate = False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, negate = test.operand, True
        if isinstance(test, ast.Constant):
            value = bool(test.value)
        elif isinstance(test, ast.Name):
            assigned = [
                a.value for a in self.analysis.all.assignments if test.id in a.targets and a.function is None
            ]
            if not assigned or not all(isinstance(v, ast.Constant) for v in assigned):
                return None
            truths = {bool(v.value) for v in assigned}
            if len(truths) != 1:
                return None
            value = truths.pop()
        else:
            return None
        return (not value) if negate else value

    def _merge(self, a: dict, b: dict) -> dict:
        out = dict(a)
        for name, value in b.items():
            old = out.get(name)
            if old is None or old is value:
                out[name] = value
                continue
            both = merged(old, value)
            if _row_class(old) and _row_class(value) and _row_class(old) != _row_class(value):
                both = both.with_unsure(f"`{name}` holds different data in the two branches of an `if`")
            out[name] = both
        return out

    def s_For(self, node):
        iterable = self.expr(node.iter)
        loop = self._loop(node, node.iter, iterable)
        element = self._element(iterable, loop)
        self.loop_stack.append(loop)
        try:
            for _ in range(2):  # twice: what one pass leaves (best-so-far) is seen by the next
                self.bind(node.target, element)
                self.body(node.body)
        finally:
            self.loop_stack.pop()
        self.body(node.orelse)

    s_AsyncFor = s_For

    def s_While(self, node):
        loop = self._loop(node, node.test, EMPTY, kind="settings")
        self.loop_stack.append(loop)
        try:
            for _ in range(2):
                self.test(node.test)
                self.body(node.body)
        finally:
            self.loop_stack.pop()
        self.body(node.orelse)

    def s_With(self, node):
        for item in node.items:
            value = self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value)
        self.body(node.body)

    s_AsyncWith = s_With

    def s_Try(self, node):
        self.body(node.body)
        for handler in node.handlers:
            if handler.name:
                self.scope.names[handler.name] = EMPTY
            self.body(handler.body)
        self.body(node.orelse)
        self.body(node.finalbody)

    s_TryStar = s_Try

    def s_Assert(self, node):
        self.expr(node.test)

    def s_Import(self, node):
        pass

    s_ImportFrom = s_Global = s_Nonlocal = s_Pass = s_Break = s_Continue = s_Delete = s_Import

    # --- binding ---------------------------------------------------------------------------------
    def bind(self, target, value: Value):
        if isinstance(target, ast.Name):
            self.assign(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            parts = value.parts
            starred = [i for i, e in enumerate(elts) if isinstance(e, ast.Starred)]
            if parts is not None and len(parts) == len(elts) and not starred:
                for elt, part in zip(elts, parts):
                    self.bind(elt, part)
            else:
                each = value if parts is None else union(parts)
                for elt in elts:
                    self.bind(elt.value if isinstance(elt, ast.Starred) else elt, each)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value)
        elif isinstance(target, ast.Attribute):
            key = dotted(target)
            if key and not key.startswith("?"):
                self.scope.names[key] = value
                base = _base_name(target)
                if base is not None:
                    self._update(base, value.labels())
        elif isinstance(target, ast.Subscript):
            index = self.expr(target.slice)
            base = _base_name(target)
            if base is not None:
                current = self.scope.lookup(base) or EMPTY
                update = value.labels() | index.labels()
                if not current.rows:
                    update = update | Value(rows=value.rows)
                self._update(base, update)
                if isinstance(target.value, ast.Name) and (current.item is not None or not current.rows):
                    # a container: results[name] = score, splits[fold] = {"X_train": ...}
                    container = self.scope.lookup(base)
                    item = merged(current.item, value)
                    if current.fields is not None and isinstance(literal(target.slice), (str, int)):
                        fields = dict(current.fields)
                        fields[literal(target.slice)] = value
                        self._set(base, replace(container, item=item, fields=tuple(fields.items())))
                    else:
                        self._set(base, replace(container, item=item))

    def assign(self, name: str, value: Value):
        if name in self._seeds and self.scope is self.globals:
            value = value | self._seeds[name]  # the protocol's features of every material
        self.scope.names[name] = value
        if self.scope is self.globals and not self.stack:
            kind = _row_class(value)
            if kind:
                self.bindings.setdefault(name, {}).setdefault(kind, self.cell.number)

    def _set(self, name: str, value: Value):
        """Change a variable where it lives (a global changed by a call made inside a function)."""
        scope = self.scope
        while scope is not None and name not in scope.names:
            scope = scope.parent
        (scope or self.scope).names[name] = value

    def _update(self, name: str, extra: Value):
        """A method that changes its receiver (fit, append...): the receiver keeps its own labels plus these."""
        current = self.scope.lookup(name)
        if current is None:
            current = EMPTY
        out = replace(
            current | extra,
            klass=current.klass or extra.klass,
            holds=current.holds or extra.holds,
            function=current.function,
            splits=current.splits or extra.splits,
            parts=current.parts,
            fields=current.fields,
            item=current.item,
            elem=current.elem,
        )
        self._set(name, out)

    def _known_call(self, call: ast.Call) -> bool:
        """A call whose results the analysis labels itself (the fold accessors, splitters, the student's code)."""
        name = dotted(call.func)
        attr = name.rsplit(".", 1)[-1]
        if (
            attr in ("get_train_and_val_data", "get_test_data", "fit_resample", "shuffle", "resample")
            or attr in ROW_SPLITTERS
            or name in self.defs
            or attr in self.classes
        ):
            return True
        if isinstance(call.func, ast.Attribute):
            receiver = self.scope.lookup(dotted(call.func.value)) if dotted(call.func.value) else None
            if receiver is not None and f"{receiver.klass}.{attr}" in self.defs:
                return True
        return False

    def _unpacked_call(self, call: ast.Call, value: Value) -> Value:
        """`a, b = something(df)` for a call the analysis does not know: same rows for every part, unless the
        call looks like a split of the data (then which part is which cannot be told)."""
        name = dotted(call.func).rsplit(".", 1)[-1].lower()
        if any(word in name for word in SPLIT_WORDS):
            return value.with_unsure(
                f"`{segment(self.cell, call, 80)}` (cell {self.cell.number}) returns parts of the data "
                "that the analysis cannot tell apart"
            )
        return value

    # --- loops -----------------------------------------------------------------------------------
    def _loop(self, node, iter_node, iterable: Value, kind: str | None = None) -> LoopInfo:
        key = self._key(node)
        if key in self._loop_keys:
            return self.loops[self._loop_keys[key]]
        text = dotted(iter_node) or segment(self.cell, iter_node, 80)
        if kind is None:
            if (
                iterable.splits
                or (iterable.elem and any(e.splits for e in iterable.elem))
                or text.endswith("folds")
                or text.endswith("folds[]")
            ):
                kind = "folds"
            elif iterable.rows or (iterable.elem and any(e.rows for e in iterable.elem)):
                kind = "data"
            else:
                kind = "settings"
        loop = LoopInfo(len(self.loops), node, self.cell, text, kind)
        self.loops[loop.id] = loop
        self._loop_keys[key] = loop.id
        return loop

    def _element(self, iterable: Value, loop: LoopInfo) -> Value:
        """The value of one item of an iterable."""
        if iterable.splits:
            mode, info = iterable.splits
            labels = iterable.labels()
            if mode == "outer":
                return Value(
                    parts=(
                        Value(rows=frozenset({(TRAIN, info)})) | labels,
                        Value(rows=frozenset({(TEST, info)})) | labels,
                    )
                )
            return Value(parts=(Value(rows=info) | labels, Value(rows=info) | labels))
        if iterable.elem is not None:
            parts = tuple(self._element(e, loop) for e in iterable.elem)
            return replace(union(parts), parts=parts)
        if iterable.item is not None:  # a list or dict built in the code: one of its elements
            return self._tokens(iterable.item, loop)
        if iterable.parts is not None and iterable.parts and all(p.parts is not None for p in iterable.parts):
            lengths = {len(p.parts) for p in iterable.parts}
            if len(lengths) == 1:  # a literal list of tuples: position by position
                n = lengths.pop()
                parts = tuple(union(p.parts[i] for p in iterable.parts) for i in range(n))
                element = replace(union(parts), parts=parts)
                return self._tokens(element, loop)
        element = replace(iterable, parts=None, elem=None, splits=(), function="")
        if iterable.parts is not None:
            element = union(iterable.parts) | element.labels()
        return self._tokens(element, loop)

    def _tokens(self, element: Value, loop: LoopInfo) -> Value:
        if loop.kind != "settings":
            return element
        tagged = replace(element, settings=element.settings | {loop.id})
        if tagged.parts is not None:
            tagged = replace(
                tagged, parts=tuple(replace(p, settings=p.settings | {loop.id}) for p in tagged.parts)
            )
        return tagged

    # --- expressions -----------------------------------------------------------------------------
    def test(self, node) -> Value:
        """An `if`/`while` test: a comparison of test scores there is a choice made from them."""
        value = self.expr(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Compare) and any(
                isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) for op in sub.ops
            ):
                operands = self._compares.get(id(sub), [])
                both = union(operands)
                if both.scores or both.cvscores:
                    self._choice(sub, "comparison", both)
        return value

    def expr(self, node) -> Value:
        if node is None:
            return EMPTY
        self._tick()
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is not None:
            return method(node)
        return union(self.expr(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))

    def e_Constant(self, node):
        return EMPTY

    def e_Name(self, node):
        value = self.scope.lookup(node.id)
        if value is not None:
            return value
        if node.id in self.defs:
            return Value(function=node.id)
        if node.id in self.classes:
            return Value(function=node.id, klass=node.id)
        return EMPTY

    def e_Attribute(self, node):
        key = dotted(node)
        if node.attr == "df" and not key.startswith("?"):
            src = self._new_source(node, WHOLE)
            return Value(rows=frozenset({(WHOLE, src)})) | self.expr(node.value).labels()
        stored = self.scope.lookup(key) if key and not key.startswith("?") else None
        if stored is not None:
            return stored
        base = self.expr(node.value)
        if node.attr in BEST_ATTRS:
            self._search_used(base)
        return (
            replace(base, function="", parts=None, elem=None)
            if base.function or base.parts or base.elem
            else base
        )

    def e_Subscript(self, node):
        value = self.expr(node.value)
        index = self.expr(node.slice)
        if value.splits:  # folds[k] of a list of splits: one (train, test) pair
            return self._element(value, LoopInfo(-1, node, self.cell, "", "folds"))
        if value.parts is not None:
            position = literal(node.slice)
            if isinstance(position, int) and -len(value.parts) <= position < len(value.parts):
                return value.parts[position]
        if value.fields is not None:
            key = literal(node.slice)
            found = dict(value.fields).get(key) if isinstance(key, (str, int)) else None
            if found is not None:
                return found
        if value.item is not None:  # record = records[fold]
            return value.item
        split_rows = {(kind, src) for kind, src in index.rows if kind in (TRAIN, TEST)}
        if split_rows:
            self._separate(value, node)
            return Value(rows=frozenset(split_rows)) | value.labels() | index.labels()
        out = replace(value, parts=None, elem=None, function="") | index.labels()
        if value.rows and index.settings and not index.rows:  # X_train[cols]: columns chosen by a loop
            out = replace(out, selected=out.selected | index.settings)
        if value.rows and _row_slice(node.slice):
            out = out.with_unsure(
                f"`{segment(self.cell, node, 60)}` (cell {self.cell.number}) takes a slice of the rows, "
                "which the analysis cannot place in a training or test part"
            )
        return out

    def e_BinOp(self, node):
        left, right = self.expr(node.left), self.expr(node.right)
        out = left | right
        if isinstance(node.op, ast.Sub) and TEST in left.kinds and TEST in right.kinds:
            score = self._score(node, out, "the errors on the test data")
            out = out | Value(scores=frozenset({score}))
        return out

    def e_Compare(self, node):
        values = [self.expr(node.left)] + [self.expr(c) for c in node.comparators]
        self._compares[id(node)] = values
        return union(values)

    def e_IfExp(self, node):
        self.test(node.test)
        return self.expr(node.body) | self.expr(node.orelse)

    def e_Tuple(self, node):
        values = [self.expr(e.value if isinstance(e, ast.Starred) else e) for e in node.elts]
        out = replace(union(values), parts=tuple(values))
        step = next((v.klass for v in values if v.klass in PREPROCESSORS), "")
        return replace(out, holds=step) if step and not out.holds else out  # [("scaler", StandardScaler())]

    e_List = e_Tuple

    def e_Dict(self, node):
        keys = [self.expr(k) if k is not None else EMPTY for k in node.keys]
        values = [self.expr(v) for v in node.values]
        out = union(keys) | union(values)
        item = None
        for v in values:
            item = merged(item, v)
        literal_keys = [literal(k) if k is not None else None for k in node.keys]
        fields = None
        if all(isinstance(k, (str, int)) for k in literal_keys):
            fields = tuple(zip(literal_keys, values))
        return replace(out, fields=fields, item=item)

    def e_Lambda(self, node):
        return EMPTY

    def e_NamedExpr(self, node):
        value = self.expr(node.value)
        self.bind(node.target, value)
        return value

    def e_ListComp(self, node):
        saved = self.scope
        self.scope = Scope({}, parent=saved)
        loops = 0
        try:
            for gen in node.generators:
                iterable = self.expr(gen.iter)
                loop = self._loop(gen, gen.iter, iterable)
                self.loop_stack.append(loop)
                loops += 1
                self.bind(gen.target, self._element(iterable, loop))
                for cond in gen.ifs:
                    self.test(cond)
            if isinstance(node, ast.DictComp):
                key, value = self.expr(node.key), self.expr(node.value)
                return replace(key | value, item=value)
            element = self.expr(node.elt)
            return replace(element | EMPTY, item=element)
        finally:
            for _ in range(loops):
                self.loop_stack.pop()
            self.scope = saved

    e_SetComp = e_GeneratorExp = e_DictComp = e_ListComp

    # --- calls -----------------------------------------------------------------------------------
    def e_Call(self, node):
        func = node.func
        name = dotted(func)
        attr = name.rsplit(".", 1)[-1] if name else (func.attr if isinstance(func, ast.Attribute) else "")
        receiver = self.expr(func.value) if isinstance(func, ast.Attribute) else None
        callee = None if isinstance(func, ast.Attribute) else self.expr(func)
        args = [self.expr(a.value if isinstance(a, ast.Starred) else a) for a in node.args]
        kws = {}
        for k in node.keywords:
            kws[k.arg or f"**{len(kws)}"] = self.expr(k.value)
        self._early_stopping(node, kws)

        # the student's own functions, classes and methods
        if callee is not None and callee.function:
            if callee.function in self.classes:
                return self._construct(callee.function, node, args, kws)
            if callee.function in self.defs:
                result, _ = self._inline(callee.function, node, args, kws)
                return result
        if (
            receiver is not None
            and receiver.klass in self.classes
            and f"{receiver.klass}.{attr}" in self.defs
        ):
            result, instance = self._inline(f"{receiver.klass}.{attr}", node, args, kws, receiver=receiver)
            if isinstance(func.value, ast.Name):
                self._set(func.value.id, instance)
            return result
        if (
            receiver is not None
            and receiver.function in self.classes
            and f"{receiver.function}.{attr}" in self.defs
        ):
            result, _ = self._inline(f"{receiver.function}.{attr}", node, args, kws)  # Class.method(obj, ...)
            return result

        result = self._library_call(node, name, attr, receiver, args, kws)
        if callee is not None and not callee.function and callee.labels() != EMPTY:
            # `delayed(f)(x)`, `make_model()(x)`: what was called carries its own labels
            result = replace(
                result | callee.labels(),
                klass=result.klass,
                holds=result.holds,
                splits=result.splits,
                parts=result.parts,
                elem=result.elem,
            )
        return self._callbacks(node, attr, receiver, args, kws, result)

    def _library_call(self, node, name, attr, receiver, args, kws) -> Value:
        everything = union(args) | union(kws.values())
        recv = receiver if receiver is not None else EMPTY
        # --- where the data come from
        if attr in ("get_train_and_val_data", "get_test_data"):
            kind = TRAIN if attr == "get_train_and_val_data" else TEST
            src = self._new_source(node, kind)
            return Value(rows=frozenset({(kind, src)}))
        if attr in DATASET_LOADERS:
            return Value(rows=frozenset({(WHOLE, self._new_source(node, WHOLE))}))
        if attr in FILE_READERS or (attr in OPAQUE_LOADERS and name.split(".")[0] in LOADER_MODULES):
            path = self._path(node)
            kind = WHOLE if any(word in path.lower() for word in DATASET_WORDS) else FILE
            return Value(rows=frozenset({(kind, self._new_source(node, kind))}))
        # --- splits
        if attr in ROW_SPLITTERS:
            return self._train_test_split(node, args)
        if attr in ("split", "array_split") and name.split(".")[0] in ("np", "numpy"):
            return everything.with_unsure(
                f"`{segment(self.cell, node, 60)}` (cell {self.cell.number}) cuts the rows into "
                "pieces the analysis cannot tell apart"
            )
        if attr == "split" and recv.klass in SPLITTERS:
            data = args[0] if args else kws.get("X", EMPTY)
            if data.kinds and data.kinds <= {TRAIN}:
                return Value(splits=("inner", data.rows)) | data.labels()
            src = self._new_source(node, TEST)
            self._separate(data, node)
            self.outer_splits.append(f"{segment(self.cell, node, 80)} (cell {self.cell.number})")
            return Value(splits=("outer", src)) | data.labels()
        if attr in CV_FUNCTIONS:
            return self._cross_validation(node, attr, args, kws)
        # --- fits
        if attr in FIT_METHODS or attr == "partial_fit":
            return self._fit(node, attr, receiver, args, kws)
        # --- scores
        if (attr in METRIC_FUNCTIONS and attr != "score") or (
            attr in SCORE_METHODS and receiver is not None and not recv.rows
        ):
            scored = everything | (recv.labels() if receiver is not None else EMPTY)
            if attr in SCORE_METHODS:
                self._search_used(recv)
            self._use(scored, node, "scored by")
            if TEST in scored.kinds:
                score = self._score(node, scored, segment(self.cell, node, 80))
                return scored.without_rows() | Value(scores=frozenset({score}))
            return scored.without_rows()
        if attr == "record" and receiver is not None:
            self._use(everything, node, "recorded by")
            return EMPTY
        if attr in PREDICT_METHODS and receiver is not None and not recv.rows:
            self._search_used(recv)  # a fitted search used as the model (refit=True)
            return everything | recv.labels()
        # --- choices
        if attr in CHOICE_CALLS:
            chosen = everything | recv
            if chosen.scores or chosen.cvscores:
                self._choice(node, f"`{attr}`", chosen)
            return chosen
        # --- containers and helpers
        if attr in MUTATORS and receiver is not None and isinstance(node.func, ast.Attribute):
            base = _base_name(node.func.value)
            if base is not None:
                self._update(base, everything if not recv.rows else everything.labels())
                if isinstance(node.func.value, ast.Name) and (recv.item is not None or not recv.rows):
                    element = args[-1] if args else union(kws.values())
                    if attr == "extend" and element.item is not None:
                        element = element.item
                    container = self.scope.lookup(base)
                    self._set(base, replace(container, item=merged(recv.item, element)))
            return EMPTY
        if attr == "items" and receiver is not None and not args:
            return replace(recv.labels(), rows=recv.rows, elem=(EMPTY, recv))
        if attr == "values" and receiver is not None and not args:
            return recv
        if attr == "set_params" and receiver is not None:
            self._configure(union(v for v in list(args) + list(kws.values()) if not v.rows))
            base = _base_name(node.func.value)
            if base is not None:
                self._update(base, everything.labels())
            return recv | everything.labels()
        if attr in SCALAR_CALLS and receiver is None:
            return EMPTY if attr != "range" else everything.labels()
        if (
            attr in ("list", "tuple", "iter", "reversed", "set", "deepcopy", "copy")
            and receiver is None
            and args
        ):
            return args[0]
        if attr == "enumerate" and receiver is None and args:
            return replace(args[0].labels(), elem=(EMPTY, args[0]))
        if attr == "zip" and receiver is None:
            return replace(union(a.labels() for a in args), elem=tuple(args))
        if attr == "sample" and receiver is not None:
            frac = kws.get("frac")
            frac_value = literal(next((k.value for k in node.keywords if k.arg == "frac"), None))
            out = recv | everything
            if frac is not None and not (isinstance(frac_value, (int, float)) and frac_value >= 1):
                out = out.with_unsure(
                    f"`{segment(self.cell, node, 60)}` (cell {self.cell.number}) keeps a fraction of the "
                    "rows, which may be a training part"
                )
            return out
        if attr in ("fit_predict",):
            return self._fit(node, "fit_transform", receiver, args, kws)
        # --- constructors
        if attr[:1].isupper():
            return self._constructor(node, attr, args, kws)
        if attr in PIPELINES:
            return self._constructor(node, attr, args, kws)
        return recv | everything if receiver is not None else everything

    def _path(self, node) -> str:
        first = (
            node.args[0]
            if node.args
            else next(
                (
                    k.value
                    for k in node.keywords
                    if k.arg in ("filepath_or_buffer", "path", "path_or_buf", "fname", "file", "filename")
                ),
                None,
            )
        )
        text = _literal_str(first)
        if not text and isinstance(first, ast.Name):
            text = " ".join(v for v in self.analysis.all.literal_values(first.id) if isinstance(v, str))
        if not text and first is not None:
            text = " ".join(
                n.value for n in ast.walk(first) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            )
        return text

    def _constructor(self, node, attr, args, kws) -> Value:
        settings_args = args + [v for k, v in kws.items() if k not in SEED_KEYWORDS]
        if attr not in DATA_CLASSES:  # hyper-parameters (no rows of data) set from a loop's variable
            self._configure(union(v for v in settings_args if not v.rows))
        out = union(settings_args)
        if attr in DATA_CLASSES:
            out = out | union(kws.values())
        holds = ""
        if attr in PIPELINES:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and sub is not node:
                    inner = dotted(sub.func).rsplit(".", 1)[-1]
                    if inner in PREPROCESSORS:
                        holds = inner
                        break
            if not holds:
                holds = union(args).holds or next(
                    (a.klass for a in _flatten(args) if a.klass in PREPROCESSORS), ""
                )
        return replace(out, klass=attr, holds=holds, parts=None, elem=None, function="")

    def _configure(self, value: Value, route: str = "param"):
        """These loops' variables set up a model (its hyper-parameters, its features, the model itself)."""
        for loop_id in value.settings:
            loop = self.loops.get(loop_id)
            if loop is not None and loop.kind in ("settings", "search"):
                self.configuring.setdefault(loop_id, set()).add(route)

    def _construct(self, klass: str, node, args, kws) -> Value:
        instance = Value(klass=klass) | union(args).labels() | union(kws.values()).labels()
        instance = replace(instance, klass=klass)
        self._configure(union(v for v in list(args) + list(kws.values()) if not v.rows))
        if f"{klass}.__init__" in self.defs:
            _, instance = self._inline(f"{klass}.__init__", node, args, kws, receiver=instance)
        return replace(instance, klass=klass)

    def _inline(self, key, node, args, kws, receiver: Value | None = None) -> tuple[Value, Value]:
        """Follow a call into the student's own function (or method): its parameters get the labels of the
        arguments; returns (what it returns, the instance after the call)."""
        cell, fdef = self.defs[key]
        everything = union(args) | union(kws.values()) | (receiver or EMPTY).labels()
        if len(self.stack) >= self.MAX_DEPTH or any(f.key == key for f in self.stack):
            reason = f"`{key}` calls itself or nests too deeply to follow (cell {cell.number})"
            return everything.with_unsure(reason), (receiver or EMPTY)
        params = fdef.args
        positional = list(params.posonlyargs) + list(params.args)
        values = list(args)
        if receiver is not None:
            values = [receiver] + values
        names: dict[str, Value] = {}
        defaults = [None] * (len(positional) - len(params.defaults)) + list(params.defaults)
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        )
        for i, param in enumerate(positional):
            if i < len(values):
                value = values[i]
            elif param.arg in kws:
                value = kws[param.arg]
            elif defaults[i] is not None:
                value = self.expr(defaults[i])
            else:
                value = EMPTY
            if starred:
                value = (value | everything).with_unsure(
                    f"`{segment(self.cell, node, 60)}` passes *args/**kwargs"
                )
            names[param.arg] = value
        for param, default in zip(params.kwonlyargs, params.kw_defaults):
            names[param.arg] = kws.get(param.arg, self.expr(default) if default is not None else EMPTY)
        if params.vararg is not None:
            names[params.vararg.arg] = union(values[len(positional) :])
        if params.kwarg is not None:
            names[params.kwarg.arg] = union(v for k, v in kws.items() if k not in names)
        self_name = positional[0].arg if receiver is not None and positional else None
        saved = (self.scope, self.function, self.cell)
        self.stack.append(Frame(key, node, self.cell))
        self.scope, self.function, self.cell = Scope(names, parent=self.globals), key, cell
        self.returns.append([])
        try:
            for stmt in fdef.body:
                self.stmt(stmt)
            instance = self.scope.names.get(self_name, receiver) if self_name else receiver
            returns = self.returns[-1]
        finally:
            self.returns.pop()
            self.stack.pop()
            self.scope, self.function, self.cell = saved
        if instance is not None and receiver is not None:
            instance = replace(instance, klass=receiver.klass or instance.klass)
        result = None
        for _, value in returns:
            result = merged(result, value)
        result = result if result is not None else EMPTY
        if self_name and any(isinstance(r.value, ast.Name) and r.value.id == self_name for r, _ in returns):
            result = (result | instance) if instance is not None else result
            result = replace(result, klass=instance.klass if instance is not None else result.klass)
        return result, (instance if instance is not None else EMPTY)

    def _callbacks(self, node, attr, receiver, args, kws, result: Value) -> Value:
        """Student functions passed to another call (`df.apply(f)`, `gp_minimize(objective, ...)`)."""
        callbacks = [
            v.function
            for v in list(args) + list(kws.values())
            if v.function and v.function in self.defs and v.function not in self.classes
        ]
        if not callbacks:
            return result
        others = union(v for v in list(args) + list(kws.values()) if not v.function) | (receiver or EMPTY)
        for key in callbacks:
            if attr in CALLBACK_SEARCHES or attr in SEARCHES:
                loop = self._loop(node, node, EMPTY, kind="search")
                self.configuring.setdefault(loop.id, set()).add("search")
                n = len(self.defs[key][1].args.args)
                self.loop_stack.append(loop)  # the search calls the objective once per setting it tries
                try:
                    returned, _ = self._inline(
                        key, node, [Value(settings=frozenset({loop.id}))] * max(n, 1), {}
                    )
                finally:
                    self.loop_stack.pop()
                if returned.scores or returned.cvscores:
                    self._choice(node, f"`{attr}` over the scores `{key}` returns", returned)
                result = result | returned.labels()
            else:
                n = len(self.defs[key][1].args.args)
                reason = f"`{key}` is called by `{attr}` (cell {self.cell.number}), which the analysis does not follow"
                argument = others.with_unsure(reason)
                returned, _ = self._inline(key, node, [argument] * max(n, 1), {})
                # what it returns comes from the rows it was given: unsure only about what happens inside
                result = result | replace(returned.labels(), unsure=returned.unsure - {reason})
        return result

    # --- the events ------------------------------------------------------------------------------
    def _train_test_split(self, node, args) -> Value:
        if any(isinstance(a, ast.Starred) for a in node.args):
            reason = (
                f"`{segment(self.cell, node, 60)}` (cell {self.cell.number}) splits a list of arrays "
                "the analysis cannot count"
            )
            return union(args).with_unsure(reason)
        parts = []
        src = self._new_source(node, TEST)
        outer = False
        for arg in args:
            labels = arg.labels()
            if arg.kinds and arg.kinds <= {TRAIN}:  # a validation split of training data: all training rows
                parts += [Value(rows=arg.rows) | labels, Value(rows=arg.rows) | labels]
            else:
                outer = True
                self._separate(arg, node)
                parts += [
                    Value(rows=frozenset({(TRAIN, src)})) | labels,
                    Value(rows=frozenset({(TEST, src)})) | labels,
                ]
        if outer:
            self.outer_splits.append(f"{segment(self.cell, node, 80)} (cell {self.cell.number})")
        return replace(union(parts), parts=tuple(parts))

    def _separate(self, value: Value, node):
        """These rows are cut into training and test parts here (so any fit on them before saw test rows)."""
        self.separated.update(value.sources(WHOLE, FILE))

    def _cross_validation(self, node, attr, args, kws) -> Value:
        estimator = args[0] if args else kws.get("estimator", EMPTY)
        data = (args[1] if len(args) > 1 else kws.get("X", EMPTY)) | (
            args[2] if len(args) > 2 else kws.get("y", EMPTY)
        )
        labels = estimator.labels() | data.labels()
        self._configure(Value(settings=estimator.settings), "model")
        self._configure(Value(settings=data.selected), "columns")
        if data.kinds and data.kinds <= {TRAIN}:
            return labels
        self._separate(data, node)
        self._use(labels, node, "cross-validated by")
        key = self._key(node)
        if key not in self._cv_keys:
            self._cv_keys[key] = len(self.cv_scores)
            self.cv_scores.append(
                ScoreEvent(
                    len(self.cv_scores),
                    node,
                    self.cell,
                    self.function,
                    self.root_cell,
                    labels.settings,
                    labels.unsure,
                    tuple(self.loop_stack),
                    segment(self.cell, node, 80),
                )
            )
        event = self.cv_scores[self._cv_keys[key]]
        event.settings = event.settings | labels.settings
        return labels | Value(cvscores=frozenset({event.id}))

    def _fit(self, node, attr, receiver, args, kws) -> Value:
        recv = receiver if receiver is not None else EMPTY
        data_args = list(args) + [v for k, v in kws.items() if k in ("X", "y", "x", "Y", "sample_weight")]
        data = union(data_args)
        klass = recv.klass
        if not klass and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            klass = dotted(node.func.value.func).rsplit(".", 1)[-1]
        base = _base_name(node.func.value) if isinstance(node.func, ast.Attribute) else None
        preprocessing = klass in PREPROCESSORS or (klass in PIPELINES and recv.holds)
        out = recv.labels() | data.labels()
        if preprocessing:
            event = self._fit_event(
                node, klass if klass in PREPROCESSORS else f"{klass} with a {recv.holds}", data, args
            )
            out = out | Value(taint=frozenset({event}))
        if klass in SEARCHES:
            self._search_fit(node, klass, data)
            search = self.searches[self._search_keys[self._key(node)]]
            out = out | Value(searches=frozenset({search.id}))
            if not (data.kinds and data.kinds <= {TRAIN}):
                self._separate(data, node)
            self._use(out, node, "tuned by")
        elif not preprocessing or klass in PIPELINES:
            self._configure(Value(settings=recv.settings), "model")
            self._configure(Value(settings=data.selected), "columns")
            if data.kinds and data.kinds <= {TRAIN}:
                self._use(data, node)
        if base is not None:
            self._update(base, out)
        if attr in ("fit", "partial_fit"):
            return replace(out, klass=recv.klass or klass, holds=recv.holds)
        if attr == "fit_resample" and len(args) >= 2:
            parts = (args[0] | out, args[1] | out)
            return replace(parts[0] | parts[1], parts=parts)
        return replace(args[0] if args else data, parts=None) | out

    def _fit_event(self, node, klass, data: Value, args) -> int:
        key = self._key(node)
        if key in self._fit_keys:
            event = self.fits[self._fit_keys[key]]
            event.data = event.data | data
            return event.id
        arg_names = set()
        if self.top_level and not self.stack:
            for arg in node.args[:1]:
                arg_names |= names_in(arg)
        event = FitEvent(
            len(self.fits),
            node,
            self.cell,
            self.function,
            tuple(self.stack),
            self.root_cell,
            self.root_id,
            klass,
            data,
            segment(self.cell, node.args[0], 80) if node.args else "",
            arg_names,
            tuple(self.loop_stack),
        )
        self._fit_keys[key] = event.id
        self.fits.append(event)
        return event.id

    def _search_fit(self, node, klass, data):
        key = self._key(node)
        if key not in self._search_keys:
            self._search_keys[key] = len(self.searches)
            self.searches.append(
                SearchFit(
                    len(self.searches),
                    node,
                    self.cell,
                    self.function,
                    tuple(self.stack),
                    self.root_cell,
                    klass,
                    data,
                )
            )
        else:
            search = self.searches[self._search_keys[key]]
            search.data = search.data | data

    def _search_used(self, value: Value):
        for search in self.searches:
            if search.id in value.searches:
                search.used = True

    def _use(self, value: Value, node, how: str = ""):
        text = segment(self.cell, node, 80)
        for fit_id in value.taint:
            event = self.fits[fit_id]
            if len(event.used) < 6 and not any(
                u.text == text and u.root_id == self.root_id for u in event.used
            ):
                event.used.append(Use(text, how, self.cell, self.root_id, self.root_cell))

    def _score(self, node, value: Value, text: str) -> int:
        key = self._key(node)
        if key not in self._score_keys:
            self._score_keys[key] = len(self.scores)
            self.scores.append(
                ScoreEvent(
                    len(self.scores),
                    node,
                    self.cell,
                    self.function,
                    self.root_cell,
                    value.settings,
                    value.unsure,
                    tuple(self.loop_stack),
                    text,
                )
            )
        event = self.scores[self._score_keys[key]]
        event.settings = event.settings | value.settings
        event.unsure = event.unsure | value.unsure
        return event.id

    def _choice(self, node, kind: str, value: Value):
        key = self._key(node)
        if key in self._choice_keys:
            for choice in self.choices:
                if choice.node is node:
                    choice.settings |= value.settings
                    choice.scores |= value.scores
                    choice.cvscores |= value.cvscores
            return
        self._choice_keys.add(key)
        self.choices.append(
            Choice(
                node,
                self.cell,
                self.function,
                self.root_cell,
                kind,
                value.scores,
                value.cvscores,
                value.settings,
                value.unsure,
                segment(self.cell, node, 80),
            )
        )

    def _early_stopping(self, node, kws):
        for k in node.keywords:
            if k.arg in EARLY_STOPPING_KEYWORDS:
                value = kws.get(k.arg, EMPTY)
                if TEST in value.kinds:
                    key = self._key(node)
                    if key not in self._stop_keys:
                        self._stop_keys.add(key)
                        self.early_stops.append(
                            EarlyStop(node, self.cell, self.function, self.root_cell, k.arg, value.unsure)
                        )

    # --- queries ---------------------------------------------------------------------------------
    def rebound(self, names) -> list[str]:
        """Top-level names given both training-part and whole-data values in different places."""
        found = []
        for name in sorted(names):
            kinds = self.bindings.get(name, {})
            if "train" in kinds and "whole" in kinds:
                cells = sorted(set(kinds.values()))
                found.append(
                    f"`{name}` is assigned both a training part and the whole data set "
                    f"(cells {', '.join(map(str, cells))})"
                )
        return found

    def sweep_loops(self, event: ScoreEvent, tuned_only: bool = False) -> list[LoopInfo]:
        """The loops over settings a score is computed inside of, with a setting of theirs behind the score
        (`tuned_only`: a hyper-parameter, the features or a search, not just a list of models)."""
        ids = {loop.id for loop in event.loops} & event.settings & set(self.configuring)
        if tuned_only:
            ids = {i for i in ids if self.configuring[i] - {"model"}}
        return [self.loops[i] for i in sorted(ids)]

    def unfollowed(self, wanted) -> list[tuple[Cell, ast.Call]]:
        """Calls `wanted(call)` selects inside the code the analysis could not follow (or the functions it calls)."""
        found, seen = [], set()
        todo = list(self.failed)
        while todo:
            cell, node = todo.pop()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    if wanted(sub) and id(sub) not in seen:
                        seen.add(id(sub))
                        found.append((cell, sub))
                    name = dotted(sub.func)
                    if name in self.defs and ("def", name) not in seen:
                        seen.add(("def", name))
                        todo.append(self.defs[name])
        return found

    def origin(self, value: Value, *kinds: str) -> Source | None:
        sources = sorted(value.sources(*kinds))
        return self.sources[sources[0]] if sources else None


def _row_class(value: Value) -> str:
    kinds = value.kinds
    if not kinds:
        return ""
    if kinds <= {TRAIN}:
        return "train"
    if WHOLE in kinds or {TRAIN, TEST} <= kinds:
        return "whole"
    return ""


def _row_slice(node) -> bool:
    """`X[:n]`, `df.iloc[a:b]`, `X[:n, :]`: a slice of the rows with a bound."""
    if isinstance(node, ast.Tuple) and node.elts:
        node = node.elts[0]
    return isinstance(node, ast.Slice) and (node.lower is not None or node.upper is not None)


def _base_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _flatten(values):
    for v in values:
        yield v
        if v.parts:
            yield from _flatten(v.parts)
