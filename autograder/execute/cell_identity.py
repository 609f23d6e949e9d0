"""Which cells are the instructor's, and their checksums, where nbgrader is not installed.

The grader sanitises with nbgrader's own `is_locked` and `compute_checksum` (nbgrader.utils). The
students' checker is installed without the `grader` extra, so `autograder check --execute` has no
nbgrader; sanitise.py then takes these, which follow nbgrader 0.9's definitions: a cell is locked
when it is a grade cell or marked locked, and never when it is a solution cell; its checksum is the
MD5 of its source, type, grade/solution/locked flags, grade id and (grade cells) points. The restored
cells and the checksums written back must be the grader's, so tests/selfcheck/test_selfcheck_install.py checks
that both agree on every cell of the assignment's source and released notebooks.
"""

from __future__ import annotations

import hashlib


def is_locked(cell) -> bool:
    meta = cell.get("metadata", {})
    if "nbgrader" not in meta:
        return False
    flags = meta["nbgrader"]
    if flags.get("solution", False):
        return False
    if flags.get("grade", False):
        return True
    return flags.get("locked", False)


def compute_checksum(cell) -> str:
    flags = cell["metadata"]["nbgrader"]
    grade = flags.get("grade", False)
    solution = flags.get("solution", False)
    digest = hashlib.md5()  # nbgrader's checksum, not a security measure
    for part in (
        cell["source"],
        cell["cell_type"],
        str(grade),
        str(solution),
        str(is_locked(cell)),
        flags["grade_id"],
    ):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(flags["points"])).encode("utf-8"))
    return digest.hexdigest()
