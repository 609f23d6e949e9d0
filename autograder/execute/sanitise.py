"""Sanitise a submission before it runs; record every change.

1. Instructor-owned cells come back from the source notebook, as nbgrader's `OverwriteCells` does
   from the gradebook: a cell is instructor-owned when `nbgrader.utils.is_locked` says so (read-only
   cells and test cells). Its type, nbgrader metadata and, when the checksum
   (`nbgrader.utils.compute_checksum`) differs, its source are restored. Cells the student deleted
   are put back after the cell that preceded them in the source. This happens BEFORE execution:
   restoring after running would grade outputs of the student's edited code.
2. Duplicated grade ids (nbgrader #1083: copying a locked cell copies its id). nbgrader's
   `DeduplicateIds` keeps the last copy and strips the others; we keep the copy whose checksum
   matches the source (else the last, like nbgrader), so a student who copied a locked cell to
   reuse it keeps their copy as an ordinary cell and the instructor's cell stays where it was.
3. Stale papermill artefacts: error banner cells (`papermill-error-cell-tag`), old injected
   parameters, `metadata.papermill`, outputs, execution counts, and our own status metadata (a
   submission must not arrive with cells already marked as run).
4. `!pip install` / `%pip install` / `!conda install` / `!apt-get install` lines are replaced by
   `pass  # [autograder] ...` (keeps an indented block valid) and reported with the package names.
5. The papermill `parameters` tag is put back if the student removed it (else the injected values
   would land at the top and the student's own assignments would override them); a Settings cell
   the student deleted comes back from the source. Only an ordinary (student) cell can be taken for
   the Settings cell, never an instructor's cell that happens to assign a parameter.

Steps 1, 2 and 5 apply only to a notebook on the template (it carries an instructor cell of the
assignment). A notebook written without the template (an earlier year's notebook, a student's own)
runs as its author wrote it: papermill then injects the parameters in a cell of their own at the
top, as it does for any notebook without a `parameters` cell.

`sanitise` is a pure function of (submission, reference): the cache key hashes its result.
"""

from __future__ import annotations

import copy
import functools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import nbformat

try:  # the grader's stack; the students' checker has no nbgrader (see cell_identity.py)
    from nbgrader import utils as nbgrader_utils
except ImportError:
    from autograder.execute import cell_identity as nbgrader_utils

PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
INJECTED_TAG = "injected-parameters"
PARAMETERS_TAG = "parameters"
OUR_METADATA = "autograder"
_NBGRADER_KEYS = ("grade", "solution", "locked", "points", "task", "schema_version")
_INSTALL = re.compile(
    r"^(?P<indent>\s*)(?P<command>(?:[!%]\s*|%%\s*)"
    r"(?:(?:sudo\s+)?(?:pip3?|conda|mamba|micromamba|uv\s+pip|apt-get|apt)"
    r"|(?:python3?|\{sys\.executable\}|\$\{?sys\.executable\}?)\s+-m\s+pip)\s+install\b.*)$"
)
_PIP_OPTIONS_WITH_VALUE = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "-e",
    "--editable",
    "--prefix",
    "--root",
    "--channel",
    "-n",
    "--name",
    "-p",
}


@dataclass
class ReferenceCell:
    index: int
    grade_id: str
    cell: dict  # the source notebook's cell (nbformat node)
    locked: bool
    checksum: str


@dataclass
class Reference:
    """The instructor's notebook: cells by grade id, in order, and its parameters cell."""

    path: Path
    cells: dict[str, ReferenceCell]
    order: list[str]
    parameters_cell: dict | None
    all_cells: list = None  # every cell of the source notebook, in order


def load_reference(path: Path) -> Reference:
    return _load_reference(Path(path), Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_reference(path: Path, mtime: int) -> Reference:
    nb = nbformat.read(path, as_version=4)
    cells, order, parameters_cell = {}, [], None
    for index, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in cell.metadata.get("tags", []) and parameters_cell is None:
            parameters_cell = cell
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or grade_id in cells:
            continue
        cells[grade_id] = ReferenceCell(
            index, grade_id, cell, nbgrader_utils.is_locked(cell), nbgrader_utils.compute_checksum(cell)
        )
        order.append(grade_id)
    return Reference(path, cells, order, parameters_cell, list(nb.cells))


def _checksum(cell) -> str | None:
    try:
        return nbgrader_utils.compute_checksum(cell)
    except (KeyError, TypeError, ValueError):
        return None


def _set_type(cell, cell_type: str) -> None:
    if cell.cell_type == cell_type:
        return
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _change(kind: str, cell: int | None, message: str, **details) -> dict:
    return {"kind": kind, "cell": cell, "message": message, **details}


def pip_packages(command: str) -> list[str]:
    """Package names from an install command line (options and version pins dropped)."""
    try:
        words = shlex.split(command.lstrip("!%").strip(), comments=True)
    except ValueError:
        words = command.split()
    if "install" not in words:
        return []
    names, skip = [], False
    for word in words[words.index("install") + 1 :]:
        if skip:
            skip = False
            continue
        if word in _PIP_OPTIONS_WITH_VALUE:
            skip = True
            continue
        if word.startswith(("-", "{", "$")):
            continue
        name = re.split(r"[<>=!~\[;@ ]", word, maxsplit=1)[0].strip("'\"")
        if name and not name.endswith((".txt", ".whl")) and "/" not in name:
            names.append(name)
    return names


def neutralise_installs(source: str) -> tuple[str, list[str]]:
    """Replace install lines (and their backslash continuations); return (source, commands)."""
    lines, commands, out = source.split("\n"), [], []
    i = 0
    while i < len(lines):
        match = _INSTALL.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        command = match.group("command")
        j = i
        while lines[j].rstrip().endswith("\\") and j + 1 < len(lines):
            j += 1
            command = command.rstrip()[:-1] + " " + lines[j].strip()
        commands.append(command.strip())
        out.append(
            f"{match.group('indent')}pass  # [autograder] not run when grading "
            f"(packages cannot be installed): {command.strip()}"
        )
        out.extend(f"{match.group('indent')}# {line.strip()}" for line in lines[i + 1 : j + 1])
        i = j + 1
    return "\n".join(out), commands


def sanitise(nb, reference: Reference | None) -> tuple[object, list[dict]]:
    """Return a sanitised copy of `nb` and the list of changes made."""
    nb = copy.deepcopy(nb)
    changes: list[dict] = []

    # 3. stale artefacts first, so that indices below are the ones the executed notebook will have
    kept = []
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if PAPERMILL_ERROR_TAG in tags:
            changes.append(
                _change(
                    "removed_papermill_error_cell",
                    index,
                    "Removed a papermill error banner left from an earlier run.",
                )
            )
            continue
        if INJECTED_TAG in tags:
            changes.append(
                _change(
                    "removed_injected_parameters",
                    index,
                    "Removed parameters injected by an earlier papermill run.",
                )
            )
            continue
        kept.append(cell)
    nb.cells = kept
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        for key in ("papermill", "execution", OUR_METADATA):
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None

    if reference is not None and on_template(nb, reference):
        _restore(nb, reference, changes)
    elif reference is not None:
        changes.append(
            _change(
                "template_free",
                None,
                "The notebook does not use the assignment's template (it has none of the "
                "instructor's cells), so it ran as written; the grader's settings went into a "
                "cell of their own at the top.",
            )
        )

    # copied cells copy their cell id too: make ids unique, deterministically (nbformat would pick
    # random ones, and the cache key must not change from one run to the next)
    seen_ids: set[str] = set()
    for cell in nb.cells:
        cell_id = cell.get("id")
        if cell_id is None:
            continue
        if cell_id in seen_ids:
            n = 1
            while f"{cell_id}-{n}" in seen_ids:
                n += 1
            cell["id"] = f"{cell_id}-{n}"
        seen_ids.add(cell["id"])

    # 4. package installs
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "install" not in cell.source:
            continue
        source, commands = neutralise_installs(cell.source)
        if commands:
            cell.source = source
            for command in commands:
                changes.append(
                    _change(
                        "neutralised_install",
                        index,
                        f"Did not run `{command}`: packages cannot be installed while grading.",
                        command=command,
                        packages=pip_packages(command),
                    )
                )
    return nb, changes


def on_template(nb, reference: Reference) -> bool:
    """Does the notebook come from the assignment's template: does it carry one of the source's
    locked (instructor) cells, by its nbgrader grade id?"""
    locked = {grade_id for grade_id, ref in reference.cells.items() if ref.locked}
    return any(cell.metadata.get("nbgrader", {}).get("grade_id") in locked for cell in nb.cells)


def _restore(nb, reference: Reference, changes: list[dict]) -> None:
    # 2. duplicates: keep the copy matching the source, else the last (nbgrader's choice)
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            positions.setdefault(grade_id, []).append(index)
    for grade_id, where in positions.items():
        if len(where) < 2:
            continue
        ref = reference.cells.get(grade_id)
        matching = [i for i in where if ref is not None and _checksum(nb.cells[i]) == ref.checksum]
        keep = matching[0] if matching else where[-1]
        for index in where:
            if index != keep:
                nb.cells[index].metadata.pop("nbgrader", None)
                nb.cells[index].metadata.pop("deletable", None)
                nb.cells[index].metadata.pop("editable", None)
        changes.append(
            _change(
                "duplicate_grade_id",
                keep,
                f"The locked cell '{grade_id}' appeared {len(where)} times; the copy that matches the instructor's "
                "cell (else the last one) was used as the instructor's cell, the other copies ran as ordinary cells.",
                grade_id=grade_id,
                copies=where,
            )
        )

    # 1. restore instructor-owned cells; drop ids the source does not know
    present = set()
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if not meta or not meta.get("grade_id"):
            continue
        grade_id = meta["grade_id"]
        ref = reference.cells.get(grade_id)
        if ref is None:
            cell.metadata.pop("nbgrader", None)
            changes.append(
                _change(
                    "unknown_grade_id",
                    index,
                    f"A cell carried an nbgrader id '{grade_id}' that the assignment does not "
                    "have; it was treated as an ordinary cell.",
                    grade_id=grade_id,
                )
            )
            continue
        present.add(grade_id)
        what = []
        if cell.cell_type != ref.cell.cell_type:
            _set_type(cell, ref.cell.cell_type)
            what.append("cell type")
        meta, ref_meta = cell.metadata["nbgrader"], ref.cell.metadata["nbgrader"]
        if "checksum" in meta and meta["checksum"] is None:
            del meta[
                "checksum"
            ]  # invalid for nbgrader's schema (CheckCellMetadata would reject the notebook)
        differing = [k for k in _NBGRADER_KEYS if meta.get(k) != ref_meta.get(k)]
        if differing:
            for key in _NBGRADER_KEYS:
                if key in ref_meta:
                    meta[key] = copy.deepcopy(ref_meta[key])
                else:
                    meta.pop(key, None)
            if set(differing) - {"schema_version"}:
                what.append("nbgrader settings")
        if ref.locked:
            for key in ("deletable", "editable"):
                if key in ref.cell.metadata:
                    cell.metadata[key] = ref.cell.metadata[key]
            if _checksum(cell) != ref.checksum:
                cell.source = ref.cell.source
                what.append("source")
            meta["checksum"] = ref.checksum  # as OverwriteCells: always the source's checksum
        if what:
            changes.append(
                _change(
                    "restored_locked_cell",
                    index,
                    f"The instructor's cell '{grade_id}' had been changed ({', '.join(what)}); "
                    "the original was restored before running.",
                    grade_id=grade_id,
                    what=what,
                )
            )

    # deleted instructor-owned cells come back after the cell that preceded them in the source
    for grade_id in reference.order:
        ref = reference.cells[grade_id]
        if grade_id in present or not ref.locked:
            continue
        insert_at = _anchor(nb, reference, ref.index)
        restored = copy.deepcopy(ref.cell)
        if restored.cell_type == "code":
            restored.outputs, restored.execution_count = [], None
        restored.metadata.pop("papermill", None)
        nb.cells.insert(insert_at, restored)
        present.add(grade_id)
        _shift(changes, insert_at)
        changes.append(
            _change(
                "restored_deleted_cell",
                insert_at,
                f"The instructor's cell '{grade_id}' was missing; it was put back before running.",
                grade_id=grade_id,
            )
        )

    # 5. the papermill parameters cell
    if reference.parameters_cell is not None and not any(
        PARAMETERS_TAG in c.metadata.get("tags", []) for c in nb.cells
    ):
        names = re.findall(r"^([A-Za-z_]\w*)\s*=", reference.parameters_cell.source, flags=re.MULTILINE)
        for index, cell in enumerate(nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id"):
                continue  # an instructor's cell (e.g. `challenge = str(challenge).upper()`) is never the Settings cell
            if (
                cell.cell_type == "code"
                and names
                and re.search(rf"^{re.escape(names[0])}\s*=", cell.source, re.MULTILINE)
            ):
                cell.metadata.setdefault("tags", []).append(PARAMETERS_TAG)
                changes.append(
                    _change(
                        "restored_parameters_tag",
                        index,
                        "The settings cell had lost its 'parameters' tag; the tag was put back "
                        "so the grader's values apply.",
                    )
                )
                break
        else:
            first_locked = next(
                (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and nbgrader_utils.is_locked(c)),
                0,
            )
            cell = copy.deepcopy(reference.parameters_cell)
            cell.outputs, cell.execution_count = [], None
            nb.cells.insert(first_locked, cell)
            _shift(changes, first_locked)
            changes.append(
                _change(
                    "restored_parameters_cell",
                    first_locked,
                    "The parameters cell was missing; the original was put back.",
                )
            )


def _anchor(nb, reference: Reference, source_index: int) -> int:
    """Where to put back a deleted source cell: after the nearest cell that precedes it in the source
    and is still in the submission (same grade id, the parameters cell, or the same text)."""
    for previous in reversed(reference.all_cells[:source_index]):
        grade_id = previous.metadata.get("nbgrader", {}).get("grade_id")
        for index, cell in enumerate(nb.cells):
            if grade_id:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                    return index + 1
            elif PARAMETERS_TAG in previous.metadata.get("tags", []):
                if PARAMETERS_TAG in cell.metadata.get("tags", []):
                    return index + 1
            elif cell.source.strip() and cell.source == previous.source:
                return index + 1
    return 0


def _shift(changes: list[dict], inserted_at: int) -> None:
    for change in changes:
        if change.get("cell") is not None and change["cell"] >= inserted_at:
            change["cell"] += 1
        if change.get("copies"):
            change["copies"] = [c + 1 if c >= inserted_at else c for c in change["copies"]]


def injection_index(nb) -> int:
    """Where papermill will insert its injected-parameters cell (after the first `parameters` cell)."""
    for index, cell in enumerate(nb.cells):
        if PARAMETERS_TAG in cell.metadata.get("tags", []):
            return index + 1
    return 0


def shift_for_injection(nb, changes: list[dict]) -> list[dict]:
    """Cell indices in `changes` as in the executed notebook (with papermill's injected cell)."""
    _shift(changes, injection_index(nb))
    return changes
