"""The course environment: the packages a submission may import, declared once in
`source/<assignment>/requirements.txt` (released with the assignment so students can install the
same set), installed in the grader's Python by the set-up.

Here: the versions that go into the cache key, and findings that turn a bare
`ModuleNotFoundError` (or a `!pip install` the sandbox skipped) into advice that names the package.
"""

from __future__ import annotations

import functools
import platform
import re
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from autograder.findings import make
from autograder.records import COULD_NOT_RUN, FAIL, INFO, MARKER, WARN, Finding
from autograder.version import __version__

REQUIREMENTS = "requirements.txt"
# Import name -> distribution name, for modules that are NOT installed (installed ones are looked
# up with importlib.metadata.packages_distributions()).
KNOWN_IMPORTS = {
    "sklearn": "scikit-learn",
    "skopt": "scikit-optimize",
    "imblearn": "imbalanced-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "umap": "umap-learn",
    "Bio": "biopython",
    "dscribe": "dscribe",
    "ase": "ase",
    "catboost": "catboost",
    "optuna": "optuna",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "torch_geometric": "torch-geometric",
    "dgl": "dgl",
    "megnet": "megnet",
    "m3gnet": "m3gnet",
    "matgl": "matgl",
    "alignn": "alignn",
    "modnet": "modnet",
    "crabnet": "crabnet",
    "automatminer": "automatminer",
    "mendeleev": "mendeleev",
    "plotly": "plotly",
    "mp_api": "mp-api",
    "ydata_profiling": "ydata-profiling",
    "hyperopt": "hyperopt",
    "pymatviz": "pymatviz",
}
_NO_MODULE = re.compile(r"No module named '([^']+)'")


def requirements_path(course, assignment: str | None = None) -> Path:
    return course.source_dir(assignment) / REQUIREMENTS


def course_packages(path: Path) -> list[str]:
    """Distribution names in a requirements file (comments, options and pins dropped)."""
    names = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return names
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[<>=!~\[;@ ]", line, maxsplit=1)[0].strip()
        if name:
            names.append(name)
    return names


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=4)
def fingerprint(packages: tuple[str, ...]) -> dict:
    """What the cache key needs to know about the environment: Python and package versions
    (the course's packages plus the engine's own), and the autograder version."""
    versions = {}
    for name in sorted(set(packages) | {"papermill", "nbclient", "ipykernel", "matbench", "nbgrader"}):
        try:
            versions[_normal(name)] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[_normal(name)] = None
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "autograder": __version__,
        "packages": versions,
    }


@functools.lru_cache(maxsize=1)
def _import_to_dists() -> dict:
    try:
        return metadata.packages_distributions()
    except Exception:  # noqa: BLE001
        return {}


def distribution_for(module: str) -> str:
    top = module.split(".")[0]
    dists = _import_to_dists().get(top)
    if dists:
        return dists[0]
    return KNOWN_IMPORTS.get(top, top)


def is_installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
        return True
    except metadata.PackageNotFoundError:
        return False


def missing_module_findings(cells: list[tuple[int, str, str]], declared: list[str]) -> list[Finding]:
    """Findings for ModuleNotFoundError outputs. `cells` = [(cell index, ename, evalue)]."""
    findings, seen = [], set()
    declared_norm = {_normal(d) for d in declared}
    for index, ename, evalue in cells:
        if ename not in ("ModuleNotFoundError", "ImportError"):
            continue
        match = _NO_MODULE.search(evalue or "")
        if not match:
            continue
        module = match.group(1)
        top = module.split(".")[0]
        if top in seen:
            continue
        seen.add(top)
        if find_spec_safe(top):
            # the package exists; a submodule does not (wrong version or a typo)
            findings.append(
                make(
                    "environment.missing_module",
                    FAIL,
                    f"Cell {index + 1} imports `{module}`, which does not exist in the installed version of "
                    f"{top} ({_version(distribution_for(top))}).",
                    advice="Check the name, or write the import for the version in the course environment "
                    "(pip install -r requirements.txt gives you the same versions).",
                    details={"cell": index, "module": module, "package": distribution_for(top)},
                )
            )
            continue
        dist = distribution_for(module)
        if _normal(dist) in declared_norm:
            findings.append(
                make(
                    "environment.declared_but_missing",
                    COULD_NOT_RUN,
                    f"Cell {index + 1} imports `{top}` (package {dist}): requirements.txt lists it but the grading "
                    "environment does not have it, so the notebook could not be graded fairly.",
                    advice="Install the course environment on the grading machine (make setup, or pip install "
                    "-r requirements.txt) and grade again with --force.",
                    visibility=MARKER,
                    details={"cell": index, "module": module, "package": dist},
                )
            )
            continue
        if top not in KNOWN_IMPORTS and dist == top:
            # no package known by that name: it may as well be a module of the student's own
            findings.append(
                make(
                    "environment.missing_package",
                    FAIL,
                    f"Cell {index + 1} imports `{top}`, which is neither a package of the course environment nor a "
                    "file handed in with the notebook, so it failed when your notebook was graded.",
                    advice=f"If `{top}` is your own module, submit {top}.py with the notebook (or put its code in "
                    "the notebook); if it is a package, use packages from the assignment's requirements.txt "
                    "or ask the instructor to add it well before the deadline.",
                    details={"cell": index, "module": module, "package": None, "maybe_local": True},
                )
            )
            continue
        findings.append(
            make(
                "environment.missing_package",
                FAIL,
                f"Cell {index + 1} imports `{top}` (package {dist}), which is not in the course environment, "
                "so it failed when your notebook was graded.",
                advice=f"Use packages from the assignment's requirements.txt, or ask the instructor to add "
                f"{dist} to the course environment well before the deadline.",
                details={"cell": index, "module": module, "package": dist},
            )
        )
    return findings


def install_findings(changes: list[dict], declared: list[str]) -> list[Finding]:
    """Findings for the `!pip install` lines the sanitiser skipped."""
    findings = []
    declared_norm = {_normal(d) for d in declared}
    for change in changes:
        if change.get("kind") != "neutralised_install":
            continue
        packages = change.get("packages") or []
        absent = [p for p in packages if _normal(p) not in declared_norm and not is_installed(p)]
        if absent:
            findings.append(
                make(
                    "environment.pip_install",
                    WARN,
                    f"Cell {change['cell'] + 1} runs `{change['command']}`. Installing packages is not possible when "
                    f"notebooks are graded, and {', '.join(absent)} "
                    f"{'is' if len(absent) == 1 else 'are'} not in the course environment.",
                    advice="Use packages from the assignment's requirements.txt, or ask the instructor to add "
                    "the package before the deadline. Remove the install line from your notebook.",
                    details={"cell": change["cell"], "packages": packages, "absent": absent},
                )
            )
        else:
            findings.append(
                make(
                    "environment.pip_install",
                    INFO,
                    f"Cell {change['cell'] + 1} runs `{change['command']}`; it was skipped when grading (packages cannot "
                    "be installed then), and the course environment already has "
                    f"{', '.join(packages) if packages else 'what it needs'}.",
                    advice="Remove the install line: the course environment provides the packages.",
                    details={"cell": change["cell"], "packages": packages},
                )
            )
    return findings


def find_spec_safe(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
