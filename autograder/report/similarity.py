"""The similarity page for markers (reports/<assignment>/similarity.html), drawn from the similarity
stage's artefact (similarity.json, autograder.similarity), and the pairs above the threshold for the
summary's attention list.

The page says what was found: which share of each side's own code and own written answers the other
side has too, the passages side by side, and the unusual choices both made. It never says that anyone
cheated; it is evidence for a marker's decision. No student's feedback page reads any of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from autograder.errors import UserError
from autograder.grade.record import SIMILAR_WORK
from autograder.layout import read_cache_key, write_text_atomic
from autograder.report import environment, rendering_version
from autograder.similarity import run_similarity

CONTEXT_LINES = 2  # lines shown around a highlighted passage


@dataclass
class SimilarityOutcome:
    data: dict
    json_path: Path
    page: Path

    @property
    def flagged(self) -> list[dict]:
        return [p for p in self.data.get("pairs", []) if p.get("flagged")]


def highlighted(text: str, spans: list, context: int = CONTEXT_LINES) -> list[dict]:
    """The lines of a cell with the matched spans marked, lines far from any of them elided:
    [{"number": 3, "parts": [(text, marked), ...]}, {"gap": True}, ...]."""
    marks = [False] * len(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(text), end)):
            marks[i] = True
    lines: list[dict[str, Any]] = []
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        parts, current, flag = [], "", None
        for i, char in enumerate(line):
            marked = marks[offset + i]
            if flag is not None and marked != flag:
                parts.append((current, flag))
                current = ""
            current, flag = current + char, marked
        if current:
            parts.append((current, bool(flag)))
        lines.append({"number": number, "parts": parts, "marked": any(m for _, m in parts)})
        offset += len(line) + 1
    keep = {i for i, line in enumerate(lines) if line["marked"]}
    keep = {j for i in keep for j in range(i - context, i + context + 1) if 0 <= j < len(lines)}
    out: list[dict[str, Any]] = []
    gap = False
    for i, row in enumerate(lines):
        if i in keep:
            out.append(row)
            gap = False
        elif not gap:
            out.append({"gap": True})
            gap = True
    return out


def _name(side: dict) -> str:
    return side["key"] if side.get("origin") == "cohort" else f"archive: {side['key']}"


def page_context(course, assignment: str, data: dict) -> dict:
    pairs = []
    for n, pair in enumerate(data.get("pairs", []), start=1):
        passages = []
        for passage in pair.get("passages", []):
            passages.append(
                {
                    "kind": passage["kind"],
                    "tokens": passage["tokens"],
                    "a": dict(passage["a"], lines=highlighted(passage["a"]["text"], passage["a"]["spans"])),
                    "b": dict(passage["b"], lines=highlighted(passage["b"]["text"], passage["b"]["spans"])),
                }
            )
        pairs.append(
            dict(
                pair, anchor=f"pair-{n}", name_a=_name(pair["a"]), name_b=_name(pair["b"]), passages=passages
            )
        )
    return {
        "course_name": course.config.course_name,
        "course_id": course.config.course_id,
        "assignment": assignment,
        "data": data,
        "pairs": pairs,
        "flagged": [p for p in pairs if p.get("flagged")],
        "unflagged": [p for p in pairs if not p.get("flagged")],
        "summary_link": os.path.relpath(course.summary_page(assignment), course.reports_dir(assignment)),
        "rendered": datetime.now().strftime("%d %B %Y, %H:%M"),
    }


def write_similarity_page(course, assignment: str, data: dict) -> Path:
    """The page, drawn again only when the comparison, the course's names or the templates changed
    (drawing a cohort's passages costs seconds, and a re-grade after marks changes none of them)."""
    page, key_path = course.similarity_page(assignment), course.similarity_page_key_path(assignment)
    blob = json.dumps(
        [rendering_version(), course.config.course_name, course.config.course_id, data],
        sort_keys=True,
        default=str,
    )
    key = hashlib.sha256(blob.encode()).hexdigest()
    if page.is_file() and read_cache_key(key_path) == key:
        return page
    html = environment().get_template("similarity.html.j2").render(**page_context(course, assignment, data))
    write_text_atomic(page, html)
    write_text_atomic(key_path, key + "\n")  # after the page: a page killed half-way is drawn again
    return page


def similarity_report(
    course, assignment: str | None = None, threshold: float | None = None
) -> SimilarityOutcome:
    """Compare the cohort (autograder.similarity) and write its page: the `autograder similarity`
    command and the last step of `autograder grade`."""
    assignment = assignment or course.assignment
    data = run_similarity(
        course, assignment, threshold
    )  # the stored comparison when nothing it reads changed
    page = write_similarity_page(course, assignment, data)
    return SimilarityOutcome(data, course.similarity_path(assignment), page)


def similarity_attention(course, assignment: str) -> list[dict]:
    """The pairs above the threshold, for the summary's attention list: one item for each student of
    a pair (a pair with an archive notebook: the student only), linking to the pair's evidence."""
    data = course.load_similarity(assignment)
    if not data or not course.similarity_page(assignment).is_file():
        return []
    link = os.path.relpath(course.similarity_page(assignment), course.reports_dir(assignment))
    items = []
    for n, pair in enumerate(data.get("pairs", []), start=1):
        if not pair.get("flagged"):
            continue
        code, text = pair.get("code", {}), pair.get("text", {})
        for me, other, mine in (("a", "b", "_a"), ("b", "a", "_b")):
            if pair[me].get("origin") != "cohort":
                continue
            message = (
                f"shares work with {_name(pair[other])}: {round(100 * code.get('share' + mine, 0))} % of "
                f"their own code and {round(100 * text.get('share' + mine, 0))} % of their own text match "
                f"(score {pair['score']:.2f}, threshold {data.get('threshold')})."
            )
            items.append(
                {
                    "student": pair[me]["key"],
                    "flag": SIMILAR_WORK,
                    "message": message,
                    "link": f"{link}#pair-{n}",
                }
            )
    return items


def similarity_link(course, assignment: str) -> str:
    """The page's address relative to the summary, or '' when there is none."""
    page = course.similarity_page(assignment)
    return os.path.relpath(page, course.reports_dir(assignment)) if page.is_file() else ""


def similarity_step(course, assignment: str, console=None) -> SimilarityOutcome | None:
    """The last step of `autograder grade` when [similarity] enabled: the comparison and its page,
    before the summary (whose attention list shows the pairs). A failure here is reported and never
    stops the batch: the grades are all written by then."""
    import logging  # only to record a failure

    try:
        outcome = similarity_report(course, assignment)
    except UserError as error:  # nothing to compare
        if console is not None:
            console.print(f"Similarity: not compared. {error}")
        return None
    except Exception as error:
        logging.getLogger(__name__).exception("similarity step failed")
        if console is not None:
            console.print(
                f"[bold red]The similarity step failed:[/] {type(error).__name__}: {error}. The grades "
                "are written; run `autograder similarity` to try again."
            )
        return None
    if console is not None:
        console.print(
            f"Similarity: {len(outcome.flagged)} pair(s) at or above {outcome.data['threshold']} among "
            f"{outcome.data['cohort']} submission(s): {outcome.page} (markers only)"
        )
    return outcome
