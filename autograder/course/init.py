"""`autograder init [DIR]`: a new course from the package's own files, ready for `autograder release`.

The package carries a complete course (autograder/course/skeleton/, package data): the assignment
source with its reference solution and its requirements, the rubric, `autograder.toml`,
`nbgrader_config.py` and an example roster. `init` copies it into DIR (default: the current folder).
DIR must be new or empty; with `force` a non-empty folder is used too, but a file already there is
never replaced (it is listed as kept), so nothing an instructor wrote is lost. Every file is written
atomically; a new folder is built beside DIR and renamed into place, so a failed `init` leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from autograder.errors import UserError
from autograder.layout import write_text_atomic

SKELETON = "skeleton"  # the package's own course, a folder of autograder/course (package data)


class InitError(UserError):
    pass


@dataclass
class InitResult:
    root: Path
    written: list[str] = field(default_factory=list)  # relative paths
    kept: list[str] = field(default_factory=list)  # already there (force): left as they were


def skeleton_files() -> dict[str, str]:
    """relative path -> text of every file of the package's course."""
    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name.startswith(".") or child.name == "__pycache__":
                continue
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            else:
                out[prefix + child.name] = child.read_text(encoding="utf-8")

    root = files("autograder.course") / SKELETON
    if not root.is_dir():
        raise InitError(
            f"The course files are missing from this installation of autograder ({root}); "
            "reinstall it (pip install --force-reinstall mlmat-autograder)."
        )
    walk(root, "")
    return out


def init_course(target: Path | str | None = None, *, force: bool = False) -> InitResult:
    target = Path(target or ".").absolute()
    if target.exists() and not target.is_dir():
        raise InitError(f"{target} is a file; give a folder for the new course.")
    contents = sorted(p.name for p in target.iterdir()) if target.is_dir() else []
    if contents and not force:
        shown = ", ".join(contents[:5]) + (" ..." if len(contents) > 5 else "")
        raise InitError(
            f"{target} is not empty ({shown}). Give a new or empty folder, or pass --force to add "
            "the course files that are missing there (files already there are kept)."
        )
    skeleton = skeleton_files()
    result = InitResult(target)
    if not contents:  # build it beside the target, then one rename: a failure leaves nothing behind
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for relative, text in skeleton.items():
                write_text_atomic(staging / relative, text)
            os.chmod(staging, 0o777 & ~_umask())
            if target.is_dir():
                target.rmdir()  # empty: rename() needs the name free
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        result.written = list(skeleton)
        return result
    written: list[Path] = []
    try:
        for relative, text in skeleton.items():
            path = target / relative
            if path.exists():
                result.kept.append(relative)
                continue
            write_text_atomic(path, text)
            written.append(path)
            result.written.append(relative)
    except BaseException:
        for path in written:  # all or nothing
            path.unlink(missing_ok=True)
        raise
    return result


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
