"""Import nbgrader's modules (utils, api, preprocessors) without running nbgrader/__init__.py.

That file imports nbgrader's four Jupyter server extensions, and through them jupyter_server and
tornado: about 0.6 s per process, for code a grading process never calls, paid before the first
notebook of a batch can be sanitised. `autograder grade` calls `skip_server_extensions()` first.
The nbgrader command line and the formgrader (separate processes) are not affected.
"""

from __future__ import annotations

import importlib.util
import sys


def skip_server_extensions() -> None:
    """Register nbgrader as a bare package (its submodules import as usual); no-op if it is already
    imported or not installed (then the usual import error tells the user what is missing)."""
    if "nbgrader" in sys.modules:
        return
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)  # the package object, __init__.py not executed
    sys.modules["nbgrader"] = package
    from nbgrader._version import __version__

    setattr(package, "__version__", __version__)  # noqa: B010 (a module object declares no such attribute)
