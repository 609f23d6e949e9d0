"""The matminer featurisers a notebook builds from literals, for the cohort's featurisation cache
(autograder.execute.feature_cache): `ElementProperty.from_preset("magpie")`, `Stoichiometry()`,
`IonProperty(fast=True)`, also inside `MultipleFeaturizer([...])`, under whichever name the class was
imported. A featuriser built from a variable, a subclass of the notebook's own or anything outside
the cache's allow list is not listed: the notebook computes it as written."""

from __future__ import annotations

import ast

from autograder.checks.notebook import cell_source, strip_magics
from autograder.execute.feature_cache import FeaturiserSpec, features_module


def _allowed_names() -> dict[str, str]:
    """class name -> its defining module, for every featuriser the cache may serve."""
    return {name: module for module, names in features_module().ALLOWED.items() for name in names}


def _imported(tree: ast.AST, allowed: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """Local names bound to allow-listed classes (`from matminer... import ElementProperty as EP`), and
    local names bound to matminer modules (`import matminer.featurizers.composition as mfc`)."""
    classes, modules = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("matminer"):
            for alias in node.names:
                if alias.name in allowed:
                    classes[alias.asname or alias.name] = alias.name
                elif alias.name != "*":
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("matminer"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    return classes, modules


def _class_of(node: ast.AST, classes: dict[str, str], modules: set[str]) -> str | None:
    if isinstance(node, ast.Name):
        return classes.get(node.id)
    if isinstance(node, ast.Attribute):
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in modules and node.attr in _allowed_names():
            return node.attr
    return None


def _literal(node: ast.AST) -> str:
    """The literal's source, normalised (ValueError for anything but a literal)."""
    return repr(ast.literal_eval(node))


def featurisers_in(cells: list[dict]) -> set[FeaturiserSpec]:
    """Every allow-listed featuriser the notebook's code cells construct with literal arguments."""
    allowed = _allowed_names()
    code = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            code.append(strip_magics(cell_source(cell))[0])
    try:
        tree = ast.parse("\n".join(code))
    except SyntaxError:
        trees = []
        for source in code:
            try:
                trees.append(ast.parse(source))
            except SyntaxError:
                continue
        tree = ast.Module(body=[n for t in trees for n in t.body], type_ignores=[])
    classes, modules = _imported(tree, allowed)
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, constructor = node.func, ""
        if isinstance(func, ast.Attribute) and func.attr == "from_preset":
            func, constructor = func.value, "from_preset"
        name = _class_of(func, classes, modules)
        if name is None:
            continue
        try:
            args = tuple(_literal(a) for a in node.args)
            kwargs = tuple(sorted((k.arg, _literal(k.value)) for k in node.keywords if k.arg))
        except (ValueError, TypeError, SyntaxError):
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        found.add(FeaturiserSpec(allowed[name], name, constructor, args, kwargs))
    return found
