"""How the data-flow analysis evaluates expressions: names, attributes, subscripts (a part of the
rows, a fold, a field), operators, literals and comprehensions; and calls, which it follows into
the student's own functions, classes and methods (and the callbacks handed to library calls), or
hands to the library behaviour of autograder.checks.dataflow.calls.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from autograder.checks.analysis import PREPROCESSORS, SEARCHES, dotted, literal
from autograder.checks.dataflow.library import BEST_ATTRS, CALLBACK_SEARCHES
from autograder.checks.dataflow.values import (
    EMPTY,
    TEST,
    TRAIN,
    WHOLE,
    Frame,
    LoopInfo,
    Scope,
    Value,
    merged,
    segment,
    union,
)


class ExpressionMixin:
    """The expressions and the calls of the student's own code (a part of DataFlow, whose state it uses)."""

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

    # --- calls: the student's own functions, classes and methods ----------------------------------
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


def _row_slice(node) -> bool:
    """`X[:n]`, `df.iloc[a:b]`, `X[:n, :]`: a slice of the rows with a bound."""
    if isinstance(node, ast.Tuple) and node.elts:
        node = node.elts[0]
    return isinstance(node, ast.Slice) and (node.lower is not None or node.upper is not None)
