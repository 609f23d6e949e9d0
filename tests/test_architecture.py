"""The package reads as the pipeline: no import cycles, no stage importing a later one, one module
that spells the course's file names, one registry of finding ids. Read from the code itself (its
imports and its string constants), so a change that breaks the layout fails here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autograder
from autograder import findings

PACKAGE = Path(autograder.__file__).resolve().parent
# Runs inside the student's kernel, where the package cannot be imported: it gets its paths from
# the environment the engine sets, and is not part of the import graph.
OUTSIDE = (
    "execute/kernel_startup/",
    # and the course `autograder init` copies (its nbgrader_config.py is nbgrader's, not ours)
    "course/skeleton/",
)

# The stages, lowest first. A module may import its own layer and those below it, never above.
LAYERS = [
    # `autograder` itself holds the version and the students' `autograder.self_check()` (a lazy
    # import of the self-check: the one import allowed to go up, see ENTRY_POINT)
    (
        "foundation",
        (
            "autograder",
            "autograder.version",
            "autograder.errors",
            "autograder.records",
            "autograder.findings",
            "autograder.layout",
            "autograder.nbgrader_import",
        ),
    ),
    ("course", ("autograder.course",)),
    ("intake and results", ("autograder.intake", "autograder.results")),
    ("execute", ("autograder.execute",)),
    (
        "checks",
        (
            "autograder.checks",
            # reads the notebooks and the release as the checks do; report/similarity.py renders it
            "autograder.similarity",
        ),
    ),
    ("grade", ("autograder.grade",)),
    ("report", ("autograder.report",)),
    ("self-check and batch", ("autograder.selfcheck", "autograder.batch")),
    ("commands", ("autograder.demo", "autograder.cli", "autograder.__main__")),
]
ENTRY_POINT = ("autograder", "autograder.selfcheck")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(OUTSIDE):
            continue
        parts = ["autograder", *relative[:-3].split("/")]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (index, len(prefix))
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[0]


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import of the package in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name == "autograder" or name.startswith("autograder."):
                target = name
                while target not in MODULES and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in MODULES and target != module:
                    found.append((target, node.lineno, id(node) in top_level))
    return found


def test_every_module_sits_in_a_layer():
    for module in MODULES:
        _layer(module)


def test_no_stage_imports_a_later_stage():
    upward = []
    for module, path in MODULES.items():
        for target, line, _ in _imports(module, path):
            if _layer(target) > _layer(module) and (module, target) != ENTRY_POINT:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} {module} ({LAYERS[_layer(module)][0]}) "
                    f"imports {target} ({LAYERS[_layer(target)][0]})"
                )
    assert upward == []


def test_no_import_cycle():
    """No module imports a module that imports it back, at import or inside a function (an import
    on use still ties the two modules together)."""
    graph = {m: sorted({t for t, _, _ in _imports(m, p)}) for m, p in MODULES.items()}
    # A package's __init__ is imported before its submodules anyway: an edge to it is no cycle. The
    # root package is no stage's: it reaches up to the self-check (ENTRY_POINT), so a module that
    # imports it (for the version: autograder.version) closes a loop through every stage.
    for module, targets in graph.items():
        graph[module] = [t for t in targets if t == "autograder" or not module.startswith(t + ".")]
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for target in graph[node]:
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_foundation_does_not_load_the_self_check():
    """`import autograder.records` (any stage's first import) loads the root package, which must not
    bring the self-check with it; `autograder.self_check` still works, importing it on use."""
    code = (
        "import sys, autograder.records\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('autograder.selfcheck'))\n"
        "assert not loaded, loaded\n"
        "import autograder\n"
        "assert callable(autograder.self_check) and autograder.__version__\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def _third_party_imports() -> list[str]:
    """Every module outside the package that the package imports, anywhere in a module."""
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(n for n in names if n != "autograder" and not n.startswith("autograder."))


# One interpreter imports the libraries the package uses (pandas, matminer, nbgrader... : a second or more
# each), then forks a child per module that imports that module with nothing of the package loaded yet:
# what an import-order cycle inside the package needs to show, at a tenth of a fresh interpreter's cost.
FORK_EACH_IMPORT = """
import gc, importlib, os, sys
for library in sys.argv[1].split(","):
    try:
        importlib.import_module(library)
    except Exception:
        pass  # an optional library (or a name imported from a module): the child meets it as it will
assert not [m for m in sys.modules if m.split(".")[0] == "autograder"], "a library loaded the package"
gc.freeze()  # else each child's collector touches, and so copies, every object the libraries made
bad = []
for name in sys.argv[2:]:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            importlib.import_module(name)
        except BaseException as error:
            os.write(write, f"{name}: {type(error).__name__}: {error}".encode()[:4000])
            os._exit(1)
        os._exit(0)
    os.close(write)
    message = os.read(read, 4096).decode(errors="replace")
    os.close(read)
    if os.waitpid(child, 0)[1]:
        bad.append(message or f"{name}: the import ended the process")
print("\\n".join(bad))
"""


def test_every_module_imports_on_its_own():
    """Each module first in an interpreter that holds none of the package: an import-order cycle would
    raise here."""
    names = [m for m in MODULES if m != "autograder.__main__"]
    done = subprocess.run(
        [sys.executable, "-c", FORK_EACH_IMPORT, ",".join(_third_party_imports()), *names],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


# --- the README's map of the code -----------------------------------------------------------------------


def _readme_map() -> list[str]:
    """The module paths the README's map names ("How the code is organised"): one entry a line,
    folders ending in "/", each indented two spaces under its folder."""
    text = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("### How the code is organised", 1)[1]
    block = section.split("```\n", 2)[1]
    folders, named = [], []
    for line in filter(str.strip, block.splitlines()):
        name = line.split()[0]
        depth = (len(line) - len(line.lstrip(" "))) // 2
        del folders[depth:]
        if name.endswith("/"):
            folders.append(name)
        else:
            named.append("".join(folders[1:]) + name)  # the first folder is autograder/ itself
    return named


def test_the_readme_map_names_every_module_once():
    named = _readme_map()
    modules = sorted(
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if not p.relative_to(PACKAGE).as_posix().startswith("course/skeleton/")
    )
    assert sorted(set(named) - set(modules)) == [], "named in README.md's map but not in autograder/"
    assert sorted(set(modules) - set(named)) == [], "in autograder/ but not in README.md's map: add a line"
    assert sorted({n for n in named if named.count(n) > 1}) == [], "named more than once"


# --- one module spells the file names -----------------------------------------------------------------

ARTEFACT_NAMES = (
    "result.json",
    "checks.json",
    "score.json",
    "score.npz",
    "grade.json",
    "results.json.gz",
    "protocol_trace.jsonl",
    "execution.log",
    "index.html",
    "summary.html",
    "allocation.csv",
    "marks.csv",
    "gradebook.db",
    "submission.json",
    "timestamp.txt",
    "autograder.toml",
    "similarity.json",
    "similarity.html",
    ".lock",
)


# a name as a whole (not "summary.html" inside a template's name, "summary.html.j2")
NAME_PATTERNS = {name: re.compile(r"(?<![\w-])" + re.escape(name) + r"(?!\.?\w)") for name in ARTEFACT_NAMES}


def _docstrings(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def test_only_the_layout_module_spells_an_artefact_file_name():
    """File names in code (strings, f-string parts) live in autograder/layout.py; docstrings and
    comments may describe them."""
    spelled = []
    for module, path in MODULES.items():
        if module == "autograder.layout":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                for name, pattern in NAME_PATTERNS.items():
                    if pattern.search(node.value):
                        spelled.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name!r}")
    assert spelled == []


# --- one registry of finding ids ------------------------------------------------------------------------


def test_no_module_builds_a_finding_by_hand():
    """Every finding is made through the registry (autograder.findings), so no undeclared id can
    reach a record."""
    by_hand = []
    for module, path in MODULES.items():
        if module in ("autograder.records", "autograder.findings"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Finding":
                by_hand.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert by_hand == []


def test_every_finding_id_spelled_in_the_package_is_declared():
    families = findings.families()
    undeclared = []
    extensions = (
        "py",
        "csv",
        "json",
        "gz",
        "toml",
        "log",
        "txt",
        "db",
        "html",
        "npz",
        "jsonl",
        "lock",
        "ipynb",
    )
    for module, path in MODULES.items():
        if module in ("autograder.findings", "autograder.layout"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                family, _, name = text.partition(".")
                if (
                    family in families
                    and name
                    and name.replace("_", "").isalpha()
                    and name.islower()
                    and text not in findings.KINDS
                    and name not in extensions
                ):
                    undeclared.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {text!r}")
    assert undeclared == []


def test_registry_ids_are_unique_and_complete():
    assert len(findings.KINDS) == len(set(findings.KINDS))
    with pytest.raises(findings.UnknownFindingError, match="did you mean protocol.scores"):
        findings.kind("protocol.score")
    from autograder.checks import registry

    assert set(registry()) <= findings.ids(findings.CHECKS)
    from autograder.grade.rubric import known_finding_ids

    assert known_finding_ids() == findings.ids()


# --- the grade record -----------------------------------------------------------------------------------


def test_grade_json_is_read_and_written_through_the_grade_record():
    """Outside the grade stage, a stored grade is a `Grade` (autograder.grade.record.read_grade,
    read_grades, write_grade): no module reads grade.json as a dict by the layout's loaders."""
    raw = []
    for module, path in MODULES.items():
        if module == "autograder.layout" or module.startswith("autograder.grade."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("load_grade", "load_grades", "save_grade")
            ):
                raw.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.func.attr}")
    assert raw == []


def test_no_flag_name_is_spelled_outside_the_grade_record():
    """The attention flags' names are declared once (autograder.grade.record); the report stage and
    the commands use the names, never their own spelling of them."""
    from autograder.grade.record import FLAGS

    spelled = []
    for module, path in MODULES.items():
        if module == "autograder.grade.record":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in FLAGS and id(node) not in docs:
                spelled.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.value!r}")
    assert spelled == []
