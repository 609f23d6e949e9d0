"""What a library call does to the labels of its arguments (read from the tables of
autograder.checks.dataflow.library and autograder.checks.analysis): where data come from, splits,
fits, scores, choices, containers and constructors; and the events those calls record for the
checks (pre-processing fits and where they are used, test scores, cross-validations, searches,
choices, early stopping).
"""

from __future__ import annotations

import ast
from dataclasses import replace

from autograder.checks.analysis import (
    CV_FUNCTIONS,
    DATASET_WORDS,
    EARLY_STOPPING_KEYWORDS,
    FILE_READERS,
    FIT_METHODS,
    METRIC_FUNCTIONS,
    PREPROCESSORS,
    SEARCHES,
    SPLITTERS,
    dotted,
    literal,
    names_in,
)
from autograder.checks.dataflow.library import (
    CHOICE_CALLS,
    DATA_CLASSES,
    DATA_KEYWORDS,
    DATASET_LOADERS,
    FOLD_ACCESSORS,
    LOADER_MODULES,
    MUTATORS,
    OPAQUE_LOADERS,
    PASS_THROUGH_CALLS,
    PATH_KEYWORDS,
    PIPELINES,
    PREDICT_METHODS,
    ROW_SPLITTERS,
    SCALAR_CALLS,
    SCORE_METHODS,
    SEED_KEYWORDS,
)
from autograder.checks.dataflow.values import (
    EMPTY,
    FILE,
    TEST,
    TRAIN,
    WHOLE,
    Choice,
    EarlyStop,
    FitEvent,
    ScoreEvent,
    SearchFit,
    Use,
    Value,
    base_name,
    merged,
    segment,
    union,
)


class LibraryCallMixin:
    """The library calls and the events they record (a part of DataFlow, whose state it uses)."""

    # --- library calls ---------------------------------------------------------------------------
    def _library_call(self, node, name, attr, receiver, args, kws) -> Value:
        everything = union(args) | union(kws.values())
        recv = receiver if receiver is not None else EMPTY
        # --- where the data come from
        if attr in FOLD_ACCESSORS:
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
            base = base_name(node.func.value)
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
            base = base_name(node.func.value)
            if base is not None:
                self._update(base, everything.labels())
            return recv | everything.labels()
        if attr in SCALAR_CALLS and receiver is None:
            return EMPTY if attr != "range" else everything.labels()
        if attr in PASS_THROUGH_CALLS and receiver is None and args:
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
                (k.value for k in node.keywords if k.arg in PATH_KEYWORDS),
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
        data_args = list(args) + [v for k, v in kws.items() if k in DATA_KEYWORDS]
        data = union(data_args)
        klass = recv.klass
        if not klass and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            klass = dotted(node.func.value.func).rsplit(".", 1)[-1]
        base = base_name(node.func.value) if isinstance(node.func, ast.Attribute) else None
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


def _literal_str(node: ast.AST | None) -> str:
    value = literal(node)
    return value if isinstance(value, str) else ""


def _flatten(values):
    for v in values:
        yield v
        if v.parts:
            yield from _flatten(v.parts)
