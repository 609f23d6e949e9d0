"""The similarity stage for a course: every submitted notebook against every other and against the
archive (`[similarity] archive` in autograder.toml), written to reports/<assignment>/similarity.json
for the markers' page (autograder.report.similarity). Nothing leaves the machine; nothing of it
reaches a student's feedback.

It reads the notebooks as the students handed them in (submitted/), so it needs no execution, and a
notebook that cannot be read is noted and left out, never stopping the comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.checks.context import find_released_notebook
from autograder.checks.notebook import Notebook, NotebookError
from autograder.errors import UserError
from autograder.intake import inspect_submission
from autograder.layout import SUBMITTED
from autograder.similarity.compare import KINDS, Cohort, PairScore
from autograder.similarity.extract import (
    Document,
    DocumentError,
    read_document,
    template_document,
    template_lines,
)


class SimilarityError(UserError):
    """Nothing to compare: no submission has been collected."""


UNFLAGGED_SHOWN = 10  # pairs below the threshold the report still shows, highest first
ESTIMATE_SHARE = 0.4  # candidates estimated at this share of the threshold or more are scored exactly


@dataclass
class Material:
    """The documents of one comparison and what could not be read."""

    documents: list[Document] = field(default_factory=list)
    template: Document | None = None
    released: Path | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_material(cohort: dict[str, Path], archive: dict[str, Path], released_path: Path | None) -> Material:
    """Submissions (student -> notebook) and archive notebooks (label -> notebook) as documents."""
    started = time.monotonic()
    material = Material(released=released_path)
    released = None
    if released_path is not None:
        try:
            released = Notebook.read(released_path)
        except NotebookError as error:
            material.notes.append(
                f"the released notebook could not be read ({error}): nothing is discounted as template"
            )
    else:
        material.notes.append(
            "no released notebook was found (run `autograder release`): nothing is discounted as template"
        )
    material.template = template_document(released)
    lines = template_lines(released)
    for origin, notebooks in (("cohort", cohort), ("archive", archive)):
        for key, path in notebooks.items():
            try:
                material.documents.append(read_document(path, key, origin, released, lines))
            except DocumentError as error:
                material.notes.append(f"{key}: left out, {error}")
    material.seconds = time.monotonic() - started
    return material


def _side(doc: Document) -> dict:
    return {"key": doc.key, "origin": doc.origin}


def pair_entry(cohort: Cohort, pair: PairScore, threshold: float, evidence: bool) -> dict:
    entry = {
        "a": _side(cohort.documents[pair.a]),
        "b": _side(cohort.documents[pair.b]),
        "score": round(pair.score, 4),
        "flagged": pair.score >= threshold,
    }
    for kind in KINDS:
        side_a, side_b = pair.sides[kind.name]
        entry[kind.name] = {
            "share_a": round(side_a.share, 4),
            "share_b": round(side_b.share, 4),
            "matched_a": side_a.matched,
            "matched_b": side_b.matched,
            "own_a": side_a.own,
            "own_b": side_b.own,
            "unit": kind.unit,
        }
    if evidence:
        entry["passages"] = [p for kind in KINDS for p in cohort.passages(pair, kind)]
        entry.update(cohort.shared_choices(pair))
    return entry


def compare(material: Material, threshold: float) -> dict:
    """The comparison's artefact: flagged pairs and the highest unflagged ones, with their evidence."""
    started = time.monotonic()
    cohort = Cohort(material.documents, material.template)
    prepared = time.monotonic()
    candidates = cohort.candidates()
    # score exactly the pairs whose estimate comes near the threshold, and enough others to show the
    # highest below it
    ranked = sorted(candidates, key=lambda pair: -candidates[pair])
    pairs = cohort.all_pairs(
        [
            pair
            for n, pair in enumerate(ranked)
            if candidates[pair] >= ESTIMATE_SHARE * threshold or n < 5 * UNFLAGGED_SHOWN
        ]
    )
    scored = time.monotonic()
    shown, below = [], 0
    for pair in pairs:
        if pair.score >= threshold:
            shown.append(pair_entry(cohort, pair, threshold, evidence=True))
        elif pair.score > 0 and below < UNFLAGGED_SHOWN:
            shown.append(pair_entry(cohort, pair, threshold, evidence=True))
            below += 1
    return {
        "threshold": threshold,
        "cohort": len(cohort.cohort),
        "archive": len(cohort.archive),
        "students": [d.key for d in cohort.documents if d.origin == "cohort"],
        "template": material.template is not None and len(material.template.code) > 0,
        "notes": material.notes,
        "candidates": len(candidates),
        "scored": len(pairs),
        "flagged": sum(1 for p in pairs if p.score >= threshold),
        "pairs": shown,
        "common": {kind.name: cohort.common_passages(kind) for kind in KINDS},
        "settings": {
            kind.name: {"k": kind.k, "window": kind.window, "min_own": kind.min_own, "unit": kind.unit}
            for kind in KINDS
        },
        "seconds": {
            "read": round(material.seconds, 3),
            "fingerprint": round(prepared - started, 3),
            "compare": round(scored - prepared, 3),
            "evidence": round(time.monotonic() - scored, 3),
        },
    }


def course_notebooks(course, assignment: str) -> tuple[dict[str, Path], list[str]]:
    """Each student's submitted notebook (the one intake would grade), and why any is missing."""
    found, notes = {}, []
    for student in course.submitted_students(assignment):
        submission = inspect_submission(course, student, assignment)
        if submission.ok and submission.notebook:
            found[student] = submission.folder / submission.notebook
        else:
            notes.append(f"{student}: left out, {submission.problem}")
    return found, notes


def archive_notebooks(course) -> dict[str, Path]:
    """Every notebook under the [similarity] archive folders, by its path relative to the course."""
    found = {}
    for name in course.config.similarity.archive:
        folder = course.root / name
        for path in sorted(folder.rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                found[path.relative_to(course.root).as_posix()] = path
    return found


def run_similarity(course, assignment: str | None = None, threshold: float | None = None) -> dict:
    """Compare the course's submissions (and its archive) and store reports/<assignment>/similarity.json."""
    assignment = assignment or course.assignment
    started = time.monotonic()
    cohort, notes = course_notebooks(course, assignment)
    if not cohort:
        raise SimilarityError(
            f"No submitted notebook of {assignment} to compare in {course.root / SUBMITTED}"
            + (f" ({'; '.join(notes)})" if notes else "")
            + ": collect the submissions first (`autograder collect`)."
        )
    archive = archive_notebooks(course)
    released = find_released_notebook(course, assignment)
    chosen = course.config.similarity.threshold if threshold is None else threshold
    key = inputs_key(cohort, archive, released, chosen)
    stored = course.load_similarity(assignment)
    if stored is not None and stored.get("inputs_key") == key:
        return stored  # nothing it compares changed since (a re-grade after a marks change)
    material = read_material(cohort, archive, released)
    material.notes[:0] = notes
    data = compare(material, chosen)
    data.update(
        {
            "inputs_key": key,
            "assignment": assignment,
            "archive_folders": list(course.config.similarity.archive),
            "generated": datetime.now().isoformat(timespec="seconds"),
        }
    )
    data["seconds"]["total"] = round(time.monotonic() - started, 3)
    course.save_similarity(assignment, data)
    return data


def inputs_key(
    cohort: dict[str, Path], archive: dict[str, Path], released: Path | None, threshold: float
) -> str:
    """A hash of everything a comparison reads: the cohort's notebooks (their bytes), the archive's
    files (path, size and time: it may hold thousands), the release, the threshold and this package's
    code. The same key means the stored comparison stands."""
    import hashlib

    digest = hashlib.sha256(f"{threshold!r}".encode())
    for student, path in sorted(cohort.items()):
        digest.update(f"\0{student}\0".encode() + Path(path).read_bytes())
    for name, path in sorted(archive.items()):
        stat = Path(path).stat()
        digest.update(f"\0{name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    if released is not None and Path(released).is_file():
        digest.update(b"\0released\0" + Path(released).read_bytes())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()
