"""DataFlow, the interpreter: it runs the notebook's cells in order, statement by statement, within
a budget of steps, and answers what the leak and tuning checks ask of it (`rebound`,
`sweep_loops`, `unfollowed`, `origin`). How it evaluates statements, expressions and library calls
is in the mixins of autograder.checks.dataflow.statements, .expressions and .calls.
"""

from __future__ import annotations

import ast

from autograder.checks.analysis import FULL_DATA_NAMES, NotebookAnalysis, dotted
from autograder.checks.dataflow.calls import LibraryCallMixin
from autograder.checks.dataflow.expressions import ExpressionMixin
from autograder.checks.dataflow.statements import StatementMixin
from autograder.checks.dataflow.values import (
    WHOLE,
    Choice,
    EarlyStop,
    FitEvent,
    Frame,
    LoopInfo,
    Scope,
    ScoreEvent,
    SearchFit,
    Source,
    Value,
    segment,
)
from autograder.checks.notebook import Cell


class _OutOfBudget(Exception):
    """The budget of steps is spent: the rest of the notebook is not followed."""


class DataFlow(StatementMixin, ExpressionMixin, LibraryCallMixin):
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
