"""How the data-flow analysis evaluates statements: assignments and what they bind, the student's
definitions, `if` (both branches, merged), loops (what one element of an iterable holds, and which
loops are over settings) and the methods that change a variable where it lives.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from autograder.checks.analysis import dotted, literal
from autograder.checks.dataflow.library import FOLD_ACCESSORS, RESAMPLERS, ROW_SPLITTERS, SPLIT_WORDS
from autograder.checks.dataflow.values import (
    EMPTY,
    TEST,
    TRAIN,
    LoopInfo,
    Value,
    base_name,
    merged,
    row_class,
    segment,
    union,
)


class StatementMixin:
    """The statements, the binding of names and the loops (a part of DataFlow, whose state it uses)."""

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
            if row_class(old) and row_class(value) and row_class(old) != row_class(value):
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
                base = base_name(target)
                if base is not None:
                    self._update(base, value.labels())
        elif isinstance(target, ast.Subscript):
            index = self.expr(target.slice)
            base = base_name(target)
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
            kind = row_class(value)
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
            attr in FOLD_ACCESSORS
            or attr in RESAMPLERS
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
