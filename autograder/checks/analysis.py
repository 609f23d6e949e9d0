"""Static analysis of a notebook's code with Python's `ast` (after stripping IPython magics).

One pass over every code cell collects facts the checks query: the calls made (dotted name,
keywords, the function and loop they sit in, the cell), functions defined, imports, names
assigned, attribute reads such as `task.df`. `autograder.checks.dataflow` then follows the data
through the code in cell order (which rows each fit, split and score sees), for the leak and tuning
checks.
Nothing is executed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from autograder.checks.notebook import Cell, Notebook

# Functions the locked protocol cell calls inside the fold loop (the student's model code).
LOOP_FUNCTIONS = ("train_model", "predict")
FEATURISE = "featurise"

SPLITTERS = {
    "train_test_split",
    "KFold",
    "StratifiedKFold",
    "ShuffleSplit",
    "StratifiedShuffleSplit",
    "RepeatedKFold",
    "RepeatedStratifiedKFold",
    "GroupKFold",
    "StratifiedGroupKFold",
    "LeaveOneGroupOut",
    "LeavePGroupsOut",
    "GroupShuffleSplit",
    "LeaveOneOut",
    "TimeSeriesSplit",
    "PredefinedSplit",
}
# Splits by group (e.g. chemical system) are how an extrapolation test is done, next to the official folds.
GROUP_SPLITTERS = {
    "GroupKFold",
    "StratifiedGroupKFold",
    "LeaveOneGroupOut",
    "LeavePGroupsOut",
    "GroupShuffleSplit",
}
CV_FUNCTIONS = {
    "cross_val_score",
    "cross_validate",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
}
SEARCHES = {
    "GridSearchCV",
    "RandomizedSearchCV",
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
    "BayesSearchCV",
    "gp_minimize",
    "forest_minimize",
    "gbrt_minimize",
    "create_study",
    "optimize",
}
PREPROCESSORS = {
    # scalers / transformers
    "StandardScaler",
    "MinMaxScaler",
    "RobustScaler",
    "MaxAbsScaler",
    "Normalizer",
    "QuantileTransformer",
    "PowerTransformer",
    "KBinsDiscretizer",
    "PolynomialFeatures",
    # imputers
    "SimpleImputer",
    "KNNImputer",
    "IterativeImputer",
    # decomposition
    "PCA",
    "TruncatedSVD",
    "KernelPCA",
    "FastICA",
    "NMF",
    "IncrementalPCA",
    "FactorAnalysis",
    "UMAP",
    "TSNE",
    # feature selection
    "SelectKBest",
    "SelectPercentile",
    "VarianceThreshold",
    "RFE",
    "RFECV",
    "SelectFromModel",
    "SequentialFeatureSelector",
    "GenericUnivariateSelect",
    "SelectFdr",
    "SelectFpr",
    "SelectFwe",
    # resampling (imbalanced-learn)
    "SMOTE",
    "ADASYN",
    "BorderlineSMOTE",
    "SVMSMOTE",
    "KMeansSMOTE",
    "SMOTENC",
    "SMOTEN",
    "RandomOverSampler",
    "RandomUnderSampler",
    "SMOTEENN",
    "SMOTETomek",
    "NearMiss",
    "TomekLinks",
    "EditedNearestNeighbours",
    "ClusterCentroids",
}
FIT_METHODS = {"fit", "fit_transform", "fit_resample"}
METRIC_FUNCTIONS = {
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "r2_score",
    "roc_auc_score",
    "accuracy_score",
    "balanced_accuracy_score",
    "f1_score",
    "max_error",
    "mean_absolute_percentage_error",
    "score",
}
EARLY_STOPPING_KEYWORDS = {
    "eval_set",
    "validation_data",
    "eval_X",
    "X_val",
    "valid_sets",
    "evals",
    "eval_y",
    "y_val",
    "validation_split_data",
}
REORDERING_METHODS = {
    "sort_values",
    "sort_index",
    "sample",
    "dropna",
    "drop_duplicates",
    "reset_index",
    "merge",
    "shuffle",
    "reindex",
    "groupby",
}
OFFICIAL_SEED = 18012019
FULL_DATA_NAMES = {"all_features"}  # the protocol's features of every material (train + test)


def dotted(node: ast.AST) -> str:
    """`task.get_test_data` for an Attribute chain, `KFold` for a Name; '' otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else f"?.{node.attr}"
    if isinstance(node, ast.Call):
        base = dotted(node.func)
        return f"{base}()" if base else ""
    if isinstance(node, ast.Subscript):
        base = dotted(node.value)
        return f"{base}[]" if base else ""
    return ""


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def literal(node: ast.AST | None):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


@dataclass
class CallSite:
    name: str  # dotted name of the callee, e.g. "task.get_test_data", "KFold", "?.fit"
    node: ast.Call
    cell: Cell
    function: str | None  # enclosing top-level function (def) name, None at module level
    in_loop: bool
    loop_iters: tuple[str, ...]  # dotted text of the `for` iterables around it
    guards: tuple[str, ...] = ()  # names tested by the `if`s around it (e.g. "fast_mode")

    @property
    def attr(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def receiver(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    def keyword(self, name: str) -> ast.AST | None:
        return next((k.value for k in self.node.keywords if k.arg == name), None)

    def keyword_value(self, name: str, default=None):
        node = self.keyword(name)
        return literal(node) if node is not None else default

    @property
    def line(self) -> int:
        return self.node.lineno

    def where(self) -> str:
        place = f"in `{self.function}`" if self.function else "at the top level"
        return f"cell {self.cell.number}, line {self.line} ({place})"

    def text(self) -> str:
        try:
            return ast.unparse(self.node)[:160]
        except Exception:  # noqa: BLE001 - unparse of odd nodes is best effort
            return self.name


@dataclass
class Assignment:
    targets: list[str]
    value: ast.AST
    cell: Cell
    function: str | None
    guards: tuple[str, ...] = ()


@dataclass
class AttributeRead:
    name: str  # dotted, e.g. "task.df"
    node: ast.AST
    cell: Cell
    function: str | None
    in_loop: bool


@dataclass
class CodeFacts:
    calls: list[CallSite] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    attributes: list[AttributeRead] = field(default_factory=list)
    # top-level functions by name, and methods as "Class.method" (a method named `predict` is not the
    # notebook's `predict`)
    functions: dict[str, tuple[Cell, ast.FunctionDef]] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)  # local name -> module.path
    modules: set[str] = field(default_factory=set)
    syntax_errors: list[tuple[Cell, str]] = field(default_factory=list)
    names_read: dict[str, list[tuple[Cell, str | None]]] = field(default_factory=dict)

    def literal_values(self, name: str) -> list:
        """Literal values assigned to a module-level name (e.g. fast_mode = True)."""
        return [literal(a.value) for a in self.assignments if name in a.targets and a.function is None]

    def switched_off(self, guards) -> bool:
        """Code guarded by an `if` on a flag that is only ever set to False/0/None (dead code)."""
        for name in guards:
            values = self.literal_values(name)
            if values and all(v in (False, 0, None) for v in values):
                return True
        return False

    def calls_named(self, *names: str) -> list[CallSite]:
        wanted = set(names)
        return [c for c in self.calls if c.attr in wanted or c.name in wanted]

    @cached_property
    def constructed(self) -> dict[str, str]:
        """variable name -> class/function whose call was assigned to it (`sc = StandardScaler()`)."""
        out = {}
        for a in self.assignments:
            if isinstance(a.value, ast.Call):
                callee = dotted(a.value.func).rsplit(".", 1)[-1]
                for t in a.targets:
                    out.setdefault(t, callee)
        return out


def parameter_names(args: ast.arguments) -> set[str]:
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    return {a.arg for a in every}


def function_locals(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function binds itself, as Python scopes them: its parameters and every name it
    assigns, imports or loops over, less those it declares `global` or `nonlocal`."""
    bound, declared = parameter_names(node.args), set()
    for child in ast.walk(node):
        if child is node:
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            bound.add(child.id)
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            declared.update(child.names)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in child.names)
        elif (
            isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            or isinstance(child, ast.ExceptHandler)
            and child.name
        ):
            bound.add(child.name)
    return bound - declared


class _Visitor(ast.NodeVisitor):
    def __init__(self, facts: CodeFacts, cell: Cell):
        self.facts = facts
        self.cell = cell
        self.function: str | None = None
        self.class_name: str | None = None  # set while visiting a top-level class body
        self.loops: list[str] = []
        self.guards: list[str] = []
        # names local to each enclosing function (its parameters and what it assigns): reading one
        # is not reading the notebook's global of the same name
        self.local_scopes: list[set[str]] = []

    def visit_If(self, node):
        self.visit(node.test)
        names = sorted(names_in(node.test))
        self.guards.extend(names)
        for child in node.body + node.orelse:
            self.visit(child)
        del self.guards[len(self.guards) - len(names) :]

    def visit_ClassDef(self, node):
        if self.function is not None or self.class_name is not None:
            self.generic_visit(node)
            return
        self.facts.classes.add(node.name)
        self.class_name = node.name
        self.generic_visit(node)
        self.class_name = None

    def visit_FunctionDef(self, node):
        outer = self.function
        if outer is None:  # a top-level function or a method: what nested code is attributed to
            self.function = f"{self.class_name}.{node.name}" if self.class_name else node.name
            self.facts.functions[self.function] = (self.cell, node)
        saved, self.loops = self.loops, []
        saved_guards, self.guards = self.guards, []
        self.local_scopes.append(function_locals(node))
        self.generic_visit(node)
        self.local_scopes.pop()
        self.function, self.loops, self.guards = outer, saved, saved_guards

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.local_scopes.append(parameter_names(node.args))
        self.generic_visit(node)
        self.local_scopes.pop()

    def _loop(self, node, iter_node):
        self.visit(iter_node)
        self.loops.append(dotted(iter_node) or ast.unparse(iter_node)[:80])
        for child in node.body + node.orelse:
            self.visit(child)
        self.loops.pop()

    def visit_For(self, node):
        self.visit(node.target)
        self._loop(node, node.iter)

    visit_AsyncFor = visit_For

    def visit_While(self, node):
        self._loop(node, node.test)

    def visit_comprehension_like(self, node):
        self.loops.append("<comprehension>")
        self.generic_visit(node)
        self.loops.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_like

    def visit_Call(self, node):
        name = dotted(node.func)
        self.facts.calls.append(
            CallSite(
                name, node, self.cell, self.function, bool(self.loops), tuple(self.loops), tuple(self.guards)
            )
        )
        self.generic_visit(node)

    def _targets(self, target) -> list[str]:
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, (ast.Tuple, ast.List)):
            out = []
            for elt in target.elts:
                out.extend(self._targets(elt.value if isinstance(elt, ast.Starred) else elt))
            return out
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            text = dotted(target)
            return [text] if text else []
        return []

    def visit_Assign(self, node):
        targets = [t for target in node.targets for t in self._targets(target)]
        self.facts.assignments.append(
            Assignment(targets, node.value, self.cell, self.function, tuple(self.guards))
        )
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.facts.assignments.append(
                Assignment(self._targets(node.target), node.value, self.cell, self.function)
            )
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self.facts.assignments.append(
            Assignment(self._targets(node.target), node.value, self.cell, self.function)
        )
        self.generic_visit(node)

    def visit_Attribute(self, node):
        name = dotted(node)
        if name and not name.startswith("?"):
            self.facts.attributes.append(
                AttributeRead(name, node, self.cell, self.function, bool(self.loops))
            )
        self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and not any(node.id in scope for scope in self.local_scopes):
            self.facts.names_read.setdefault(node.id, []).append((self.cell, self.function))

    def visit_Import(self, node):
        for alias in node.names:
            self.facts.imports[alias.asname or alias.name.split(".")[0]] = alias.name
            self.facts.modules.add(alias.name)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        self.facts.modules.add(module)
        for alias in node.names:
            self.facts.imports[alias.asname or alias.name] = f"{module}.{alias.name}"


def collect(cells: list[Cell]) -> CodeFacts:
    facts = CodeFacts()
    for cell in cells:
        if not cell.is_code:
            continue
        if cell.tree is None:
            if cell.syntax_error:
                facts.syntax_errors.append((cell, cell.syntax_error))
            continue
        _Visitor(facts, cell).visit(cell.tree)
    return facts


# How a data set file is recognised when it is read directly (pd.read_csv("expt_gap.csv")).
DATASET_WORDS = (
    "matbench",
    "expt_gap",
    "exptgap",
    "phonon",
    "perovskite",
    "glass",
    "dielectric",
    "band_gap",
    "bandgap",
    "is_metal",
    "kvrh",
    "gvrh",
    "jdft2d",
    "mp_gap",
    "e_form",
    "steels",
)
FILE_READERS = {
    "read_csv",
    "read_json",
    "read_pickle",
    "read_excel",
    "read_parquet",
    "read_feather",
    "read_table",
    "read_hdf",
    "loadtxt",
    "genfromtxt",
    "load_dataframe_from_json",
}


class NotebookAnalysis:
    """Facts about the student's code and about the whole notebook (incl. locked cells)."""

    def __init__(self, notebook: Notebook):
        self.notebook = notebook
        self.student = collect(notebook.student_code_cells)
        self.all = collect([c for c in notebook.code_cells if c.origin != "injected"])

    # --- where the protocol is -------------------------------------------------------------------
    @cached_property
    def protocol_cell_index(self) -> int | None:
        """Index of the first cell that records predictions (`<task>.record(...)`) in a loop."""
        for call in self.all.calls:
            if call.attr == "record" and call.in_loop and call.receiver:
                return call.cell.index
        return None

    @property
    def uses_api(self) -> bool:
        """The notebook records through matbench's API: `record` plus the official fold accessors."""
        attrs = {c.attr for c in self.all.calls}
        return "record" in attrs and ({"get_train_and_val_data", "get_test_data"} & attrs) != set()

    @property
    def constructs_benchmark(self) -> bool:
        return any(c.attr in ("MatbenchBenchmark", "MatbenchTask", "from_preset") for c in self.all.calls)

    @cached_property
    def loop_called_functions(self) -> set[str]:
        """Functions that run inside the fold loop: train_model/predict and what they call."""
        return self._closure(LOOP_FUNCTIONS)

    @cached_property
    def featurise_functions(self) -> set[str]:
        return self._closure((FEATURISE,))

    def _closure(self, roots) -> set[str]:
        """The functions `roots` call, transitively; using a class of the notebook's own (constructing it
        or calling it) brings in all its methods, so inner validation inside a model class's `fit` counts as
        inside the model."""
        defined = self.all.functions
        methods = {cls: {m for m in defined if m.startswith(f"{cls}.")} for cls in self.all.classes}
        todo = [r for r in roots if r in defined]
        seen = set(todo)
        while todo:
            name = todo.pop()
            for call in self.all.calls:
                if call.function != name:
                    continue
                reached = methods.get(call.name) or ({call.name} if call.name in defined else set())
                if name.partition(".")[0] in methods:  # self.helper() inside a method
                    reached = reached | methods[name.partition(".")[0]]
                for target in reached - seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    # --- data flow helpers -----------------------------------------------------------------------
    def derived_names(self, seeds: set[str], facts: CodeFacts | None = None) -> set[str]:
        """Names assigned (transitively) from expressions that use any of `seeds`."""
        facts = facts or self.all
        names = set(seeds)
        changed = True
        while changed:
            changed = False
            for a in facts.assignments:
                if names_in(a.value) & names or (dotted(a.value) in names):
                    for t in a.targets:
                        if t not in names and "." not in t and "[" not in t:
                            names.add(t)
                            changed = True
        return names

    @cached_property
    def test_data_names(self) -> set[str]:
        """Names holding a fold's test data: assigned from get_test_data(...) (and derived)."""
        seeds = set()
        for a in self.all.assignments:
            for node in ast.walk(a.value):
                if isinstance(node, ast.Call) and dotted(node.func).endswith("get_test_data"):
                    seeds.update(t for t in a.targets if "." not in t)
        return self.derived_names(seeds) if seeds else set()

    @cached_property
    def test_target_calls(self) -> list[CallSite]:
        """`get_test_data(..., include_target=True)` anywhere (positional 3rd arg too)."""
        found = []
        for call in self.all.calls:
            if call.attr != "get_test_data":
                continue
            value = call.keyword_value("include_target")
            if value is None and len(call.node.args) >= 3:
                value = literal(call.node.args[2])
            if value is True:
                found.append(call)
        return found

    @cached_property
    def full_data_names(self) -> set[str]:
        """Names for the whole data set: task.df (and frames assigned from it, from load_dataset or from a
        file named after the data set, e.g. `pd.read_csv("expt_gap.csv")`), the protocol's all_features."""
        seeds = set(FULL_DATA_NAMES)
        for a in self.student.assignments:
            value_text = dotted(a.value)
            calls = {dotted(n.func).rsplit(".", 1)[-1] for n in ast.walk(a.value) if isinstance(n, ast.Call)}
            copy = bool(calls & FILE_READERS) and any(
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and any(word in n.value.lower() for word in DATASET_WORDS)
                for n in ast.walk(a.value)
            )
            if value_text.endswith(".df") or "load_dataset" in calls or value_text.endswith(".df[]") or copy:
                seeds.update(t for t in a.targets if "." not in t and "[" not in t)
        return seeds

    def uses_task_df(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == "df" for n in ast.walk(node))
