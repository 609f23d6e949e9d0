"""The feedback page of one student (autograder.layout: feedback/<student>/<assignment>/).

Self-contained (CSS inline, figures as data: URIs) so it opens offline and can be released with
`nbgrader release_feedback` or uploaded to the VLE. It is built only from what the grade stage
wrote for this student (their grade.json), the per-material arrays of their stored Score (for
the figures) and intake's note of their attempts, keeping the findings visible to students; every
string passes through a Scrubber that removes file paths of the grading machine. Marker-only
findings, check code, moderation, similarity and other students' data never reach the template.

At its top, the three things that would raise the mark most (`top_improvements`); then the
submission (attempt, time, deadline, the late-penalty arithmetic), how each suggested mark was
reached (the findings and the rubric's rules), how to query a mark ([feedback] query in
autograder.toml), and a link to the student's own cells as the grader ran them (`notebook.html`,
nbconvert's HTML exporter, written beside the page by `write_notebook_page`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from autograder.course.data import data_home
from autograder.grade.marks import SUGGESTED
from autograder.grade.record import Grade, read_grade
from autograder.grade.rubric import Band, load_rubric
from autograder.layout import write_text_atomic
from autograder.records import COULD_NOT_RUN, FAIL, INFO, NOT_APPLICABLE, PASS, STUDENT, WARN, Finding
from autograder.report import Scrubber, environment

STATUS_ORDER = {FAIL: 0, WARN: 1, COULD_NOT_RUN: 2, INFO: 3, PASS: 4, NOT_APPLICABLE: 5}
STATUS_WORDS = {
    FAIL: "Needs work",
    WARN: "Check this",
    COULD_NOT_RUN: "Not checked",
    INFO: "Note",
    PASS: "Good",
    NOT_APPLICABLE: "Not applicable",
}
CRITERION_TITLES = {
    "general": "General",
    "data_preparation": "Data preparation",
    "model_choice": "Model choice",
    "training_testing": "Training and testing",
    "code": "Code",
    "presentation": "Presentation",
}
DECLARATION_QUESTIONS = (
    "Did you use an LLM (e.g. GPT-4, Gemini, Co-Pilot)?",
    "Which tasks (e.g. summarising research, code snippets)?",
    "Were any limitations or biases noted?",
    "How did you ensure ethical use?",
)


def student_findings(grade: Grade) -> list[Finding]:
    """Findings a student may see, worst first, grouped by criterion."""
    visible = [f for f in grade.findings if f.visibility == STUDENT and f.status != NOT_APPLICABLE]
    visible.sort(key=lambda f: (STATUS_ORDER.get(f.status, 9), f.check_id))
    return visible


def declaration_view(grade: Grade) -> dict[str, Any]:
    """The LLM usage declaration as the checks found it (their details), for the page."""
    items = [f for f in grade.findings if f.check_id.startswith("declaration.") and f.visibility == STUDENT]
    answers: list[dict[str, Any]] = []
    for finding in items:
        details = finding.details or {}
        for key in ("answers", "questions", "items"):
            value = details.get(key)
            if isinstance(value, dict):
                for question, answer in value.items():
                    if isinstance(answer, dict):
                        answers.append(
                            {
                                "question": answer.get("question", question),
                                "answer": answer.get("answer")
                                or answer.get("quote")
                                or answer.get("text")
                                or "",
                                "answered": answer.get(
                                    "answered", bool(answer.get("answer") or answer.get("quote"))
                                ),
                            }
                        )
                    else:
                        answers.append(
                            {"question": question, "answer": str(answer or ""), "answered": bool(answer)}
                        )
            elif isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict):
                        answers.append(
                            {
                                "question": entry.get("question")
                                or entry.get("prompt")
                                or entry.get("key", ""),
                                "answer": entry.get("answer")
                                or entry.get("quote")
                                or entry.get("text")
                                or "",
                                "answered": entry.get(
                                    "answered", bool(entry.get("answer") or entry.get("quote"))
                                ),
                            }
                        )
        if answers:
            break
    for answer in answers:
        question = str(answer["question"])
        if question.isidentifier() or question in ("used", "tasks", "limitations", "ethics"):
            answer["question"] = _question_title(question)
        answer["answer"] = str(answer["answer"] or "").strip()
    return {
        "answers": answers,
        "findings": [asdict(f) for f in items],
        "found": bool(items) and not all(f.status == FAIL and not answers for f in items),
    }


def _question_title(key: str) -> str:
    lowered = key.lower()
    for word, question in (("used", 0), ("llm", 0), ("task", 1), ("limit", 2), ("bias", 2), ("ethic", 3)):
        if word in lowered:
            return DECLARATION_QUESTIONS[question]
    return key.replace("_", " ").capitalize()


def submission_figures(challenge, results: dict | None, arrays: dict | None) -> dict[str, str]:
    """The charts of one submission's page, from its Score (`results`, as stored) and the
    per-material arrays of that Score."""
    from autograder.report import figures

    out: dict[str, str] = {}
    if challenge is None or not results or results.get("mean") is None:
        return out
    out["leaderboard"] = figures.leaderboard_chart(
        challenge,
        [
            {
                "label": "Your model",
                "mean": results["mean"],
                "std": results["std"],
                "folds": [f["score"] for f in results.get("folds", [])],
            }
        ],
    )
    if arrays and len(arrays.get("y_true", ())):
        y_true, y_pred, seen = arrays["y_true"], arrays["y_pred"], arrays["seen"]
        if challenge.is_classification:
            out["roc"] = figures.roc_curve_plot(y_true, y_pred, results.get("is_probability", False))
            out["confusion"] = figures.confusion_matrix_plot(y_true, y_pred)
        else:
            out["parity"] = figures.parity_plot(challenge, y_true, y_pred, seen)
    split = results.get("seen_unseen") or {}
    # one metric per chart: the task's own (a split stored with another measure is not drawn)
    if split.get("measure") == challenge.metric_label and any(
        (split.get(k) or {}).get("value") is not None for k in ("seen", "unseen")
    ):
        out["seen_unseen"] = figures.seen_unseen_chart(challenge, split)
    return out


SEVERITY = {FAIL: 2.0, WARN: 1.0}


def _next_band(mark: float, bands: Iterable[Band]) -> Band | None:
    whole = math.floor(mark + 0.5)
    higher = [b for b in bands if b.min > whole]
    return min(higher, key=lambda b: b.min) if higher else None


def top_improvements(grade: Grade, bands: Any, n: int = 3) -> list[dict[str, Any]]:
    """The `n` things that would raise the mark most, from the student's own findings that need
    work (fail, then warn), each with what to do.

    A finding counts for the criteria whose mark it informed (the rubric's evidence and caps in
    grade.json), else for its own criterion. Its priority is the criterion's weight x its severity
    (fail 2, warn 1) / (1 + the marks the criterion lacks for its next band); a finding that caps
    its criterion lacks nothing (fixing it lifts the cap). One item per criterion first, then the
    next best; findings of no weighted criterion come last. A criterion a marker has marked takes no
    to-do (fixing a finding no longer changes its mark) but for a finding that caps the marker's mark."""
    entries = {c.key: c for c in grade.criteria}
    informs: dict[str, list[str]] = {}
    for key, entry in entries.items():
        for item in list(entry.evidence) + list(entry.caps):
            if item.get("check_id"):
                informs.setdefault(item["check_id"], [])
                if key not in informs[item["check_id"]]:
                    informs[item["check_id"]].append(key)
    candidates = []
    for finding in student_findings(grade):
        if finding.status not in SEVERITY:
            continue
        keys = informs.get(finding.check_id) or ([finding.criterion] if finding.criterion in entries else [])
        # a criterion a marker has marked (or whose suggestion they accepted) is settled: no to-do about it,
        # unless this finding caps the marker's mark (fixing it still lifts the cap)
        keys = [
            key
            for key in keys
            if entries[key].manual is None
            or any(c.get("check_id") == finding.check_id for c in entries[key].caps)
        ]
        if not keys and finding.criterion in entries:
            continue
        best: dict[str, Any] | None = None
        for key in keys:
            entry = entries[key]
            title, weight, mark = entry.title or key, float(entry.weight or 0), entry.mark
            caps = [c for c in entry.caps if c.get("check_id") == finding.check_id]
            if caps and entry.uncapped is not None and not entry.override:
                lacking = 0.0
                why = (
                    f"{title} ({weight:g} % of the mark) is capped at {entry.mark:g} because of this; "
                    f"without the cap it would be {entry.uncapped:g}."
                )
            elif mark is None:
                lacking, why = 10.0, f"{title} ({weight:g} % of the mark) is not marked yet."
            else:
                band = _next_band(mark, bands)
                if band is None:
                    lacking = max(0.0, 100.0 - mark)
                    why = f"{title} ({weight:g} % of the mark) is already in the top band, at {mark:g}."
                else:
                    lacking = band.min - mark
                    why = (
                        f"{title} ({weight:g} % of the mark) is at {mark:g}, {lacking:g} "
                        f"mark{'s' if lacking != 1 else ''} below {band.label} ({band.min})."
                    )
            priority = weight * SEVERITY[finding.status] / (1.0 + lacking)
            if best is None or priority > best["priority"]:
                best = {"criterion": key, "title": title, "weight": weight, "priority": priority, "why": why}
        if best is None:
            best = {
                "criterion": finding.criterion,
                "weight": 0.0,
                "priority": 0.0,
                "why": "",
                "title": CRITERION_TITLES.get(finding.criterion, "General"),
            }
        candidates.append(
            dict(
                best,
                check_id=finding.check_id,
                status=finding.status,
                message=finding.message,
                advice=finding.advice or "See this finding below, under its criterion.",
            )
        )
    candidates.sort(key=lambda c: (-c["priority"], STATUS_ORDER.get(c["status"], 9), c["check_id"]))
    chosen: list[dict[str, Any]] = []
    criteria_seen: set[str] = set()
    for candidate in candidates:  # one per criterion first
        if candidate["criterion"] not in criteria_seen and len(chosen) < n:
            chosen.append(candidate)
            criteria_seen.add(candidate["criterion"])
    for candidate in candidates:
        if candidate not in chosen and len(chosen) < n:
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: (-c["priority"], STATUS_ORDER.get(c["status"], 9), c["check_id"]))


def suggestion_steps(grade: Grade) -> dict[str, dict[str, Any]]:
    """criterion -> how its suggested mark was reached: each finding the rubric's rules used, with
    the rule and the mark it gives; marker-only findings are named as such, without their text."""
    findings = {f.check_id: f for f in grade.findings}
    out: dict[str, dict[str, Any]] = {}
    for entry in grade.criteria:
        if entry.suggested is None:
            continue
        steps: list[dict[str, Any]] = []
        limits: list[dict[str, Any]] = []
        for item in entry.evidence:
            finding = findings.get(item["check_id"])
            visible = finding is None or finding.visibility == STUDENT
            message = finding.message if finding is not None else ""
            if item.get("effect") == "limit" and item.get("limit") is not None:
                limits.append(
                    {
                        "rule": item.get("rule"),
                        "limit": item["limit"],
                        "note": item.get("note", "") if visible else "A check your marker reviews.",
                    }
                )
            if item.get("effect") != "suggest" or item.get("marks") is None:
                continue
            steps.append(
                {
                    "rule": item.get("rule"),
                    "status": item.get("status"),
                    "marks": item["marks"],
                    "message": message if visible else "A check your marker reviews.",
                    "status_word": STATUS_WORDS.get(str(item.get("status")), item.get("status")),
                }
            )
        limits.sort(key=lambda x: x["limit"])
        out[entry.key] = {
            "suggested": entry.suggested,
            "steps": steps,
            "limits": limits,
            "counts": entry.provisional and entry.source == SUGGESTED,
        }
    return out


_ATTEMPTS = re.compile(r"(\d+) attempts; the latest \((?P<stamp>[^)]+)\) is graded")


def submission_view(grade: Grade, intake: dict[str, Any] | None) -> dict[str, Any]:
    """Which attempt was graded, when it came in, the deadline, and for a late one the penalty
    arithmetic (the weighted mark before, the policy's step, the mark after and its rounding)."""
    lateness, overall = grade.lateness, grade.overall
    intake = intake or {}
    attempt = "the submission collected from nbgrader (it keeps your latest)"
    if intake.get("source") == "blackboard":
        attempt = "your only attempt on Blackboard"
    for note in intake.get("notes") or []:
        found = _ATTEMPTS.search(note)
        if found:
            attempt = f"the latest of your {found.group(1)} attempts ({found.group('stamp')})"
    steps = []
    if overall.late_penalty and overall.before_late is not None:
        steps = [
            f"Weighted mark of the criteria: {overall.before_late:.1f}",
            f"Late penalty: {overall.late_penalty}",
            f"After the penalty: {overall.exact:.1f}, rounded to {overall.mark}",
        ]
    return {
        "attempt": attempt,
        "submitted": _when(lateness.submitted_at or grade.run.submitted_at),
        "deadline": _when(lateness.deadline),
        "extension_hours": lateness.extension_hours or 0,
        "state": lateness.state,
        "hours_late": lateness.hours_late or 0,
        "rule": lateness.rule,
        "steps": steps,
    }


def _when(value) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    zone = moment.strftime(" %Z") if moment.tzinfo else ""
    return moment.strftime("%d %B %Y, %H:%M") + (zone if zone.strip() else "")


@lru_cache(maxsize=4)  # one rubric per course: parsed once per process, not per student
def _bands(path: str, mtime: float):
    return load_rubric(Path(path)).bands


def rubric_bands(course):
    path = course.rubric_path
    return _bands(str(path), path.stat().st_mtime)


def build_context(
    course: Any,
    assignment: str,
    student: str,
    grade: Grade,
    challenge: Any,
    arrays: dict[str, Any] | None,
    bands: Any = None,
) -> dict[str, Any]:
    """What the template shows: plain JSON-able values (the scrubber walks them, the page key hashes them)."""
    results = grade.results
    figures_out = submission_figures(challenge, results, arrays)
    reference = []
    if challenge is not None:
        for label, entry in challenge.reference_points:
            reference.append(
                {"label": label, "algorithm": entry.algorithm, "mean": entry.mean, "std": entry.std}
            )
    findings = student_findings(grade)
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.criterion, []).append(finding)
    order = [c.key for c in grade.criteria] + ["general"]
    grouped = [
        {
            "key": key,
            "title": CRITERION_TITLES.get(key, key),
            "issues": [asdict(f) for f in groups[key] if f.status in (FAIL, WARN, INFO)],
            "unchecked": [asdict(f) for f in groups[key] if f.status == COULD_NOT_RUN],
            "passes": [asdict(f) for f in groups[key] if f.status == PASS],
        }
        for key in order
        if key in groups
    ]
    config = course.config
    run = asdict(grade.run)
    run["cells_failed"] = [index + 1 for index in grade.run.cells_failed]  # cells counted from 1
    run.update(timeout=config.execution.timeout, memory_limit=config.execution.memory_limit)
    context = {
        "course_name": config.course_name,
        "course_id": config.course_id,
        "assignment": assignment,
        "rubric_title": grade.rubric.title,
        "student": student,
        "grade": grade.to_json(),
        "overall": asdict(grade.overall),
        "status": grade.status,
        "criteria": [asdict(c) for c in grade.criteria],
        "missing": list(grade.missing),
        "provisional_parts": list(grade.provisional_parts),
        "lateness": asdict(grade.lateness),
        "challenge": (
            {
                "letter": challenge.letter,
                "task": challenge.task,
                "short": challenge.short_name,
                "type": challenge.task_type,
                "input": challenge.input_type,
                "target": challenge.target,
                "unit": challenge.unit,
                "metric": challenge.metric_label,
                "higher_is_better": challenge.higher_is_better,
                "mad": challenge.mad,
                "n_entries": len(challenge.leaderboard),
            }
            if challenge
            else None
        ),
        "results": results,
        "results_error": grade.results_error,
        "reference": reference,
        "figures": figures_out,
        "groups": grouped,
        "status_words": STATUS_WORDS,
        "declaration": declaration_view(grade),
        "comments": dict(grade.comments),
        "presentation": grade.presentation,
        "run": run,
        "improvements": top_improvements(grade, bands if bands is not None else rubric_bands(course)),
        "suggestions": suggestion_steps(grade),
        "submission": submission_view(grade, course.load_submission(student, assignment)),
        "query": config.feedback.query,
        "notebook_link": notebook_link(course, assignment, student, grade),
        "generated": datetime.now().strftime("%d %B %Y, %H:%M"),
    }

    scrub = Scrubber(course.root, data_home(), os.path.expanduser("~"), Path.cwd())
    return scrub(context)


TEMPLATE = "feedback.html.j2"


def render_feedback(
    course: Any, assignment: str, student: str, grade: Grade, challenge: Any, arrays: dict[str, Any] | None
) -> str:
    context = build_context(course, assignment, student, grade, challenge, arrays)
    return environment().get_template(TEMPLATE).render(**context)


def page_context(
    course: Any, assignment: str, student: str, grade: Grade | None = None, bands: Any = None
) -> dict[str, Any] | None:
    """What one student's page shows, from their stored grade (given, or read from grade.json);
    None when there is no grade to show. `bands`: the rubric's, as the batch loaded it (None: the
    course's rubric)."""
    grade = grade if grade is not None else read_grade(course, student, assignment)
    if grade is None or grade.is_error:
        return None
    challenge = None
    if grade.challenge:
        try:
            challenge = course.config.catalogue.get(grade.challenge)
        except ValueError:
            challenge = None
    arrays = course.load_score_arrays(student, assignment) if grade.results else None
    return build_context(course, assignment, student, grade, challenge, arrays, bands)


def write_feedback(course: Any, assignment: str, student: str, grade: Grade | None = None) -> Path | None:
    """Write one student's page, drawn in full (autograder.report.cohort.write_page leaves a page
    whose content has not changed as it is); None when there is no grade to show."""
    context = page_context(course, assignment, student, grade)
    if context is None:
        return None
    html = environment().get_template(TEMPLATE).render(**context)
    return write_text_atomic(course.feedback_page(student, assignment), html)


def notebook_link(course: Any, assignment: str, student: str, grade: Grade) -> str:
    """The link from the page to the student's own executed cells (written when missing or older
    than the executed notebook), or "" when the run kept no notebook."""
    page = write_notebook_page(course, assignment, student, grade)
    return page.name if page is not None else ""


def own_cells(notebook):
    """The student's cells of an executed notebook: without the grader's (the parameters cell
    papermill injects) and the instructor's locked cells (the protocol and the tests, restored from
    the source), outputs as the run left them."""
    kept = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {})
        if "injected-parameters" in meta.get("tags", []) or meta.get("nbgrader", {}).get("locked"):
            continue
        kept.append(cell)
    notebook.cells = kept
    return notebook


@lru_cache(maxsize=1)  # one per process: setting up its templates cost 0.15 CPU-s a page
def _html_exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    exporter = HTMLExporter(template_name="basic", exclude_anchor_links=True)
    # the student's raw HTML (markdown, outputs) cleaned, JavaScript outputs dropped; the page's
    # Content-Security-Policy runs no script at all
    exporter.register_preprocessor(SanitizeHTML(strip=True), enabled=True)
    return exporter


def write_notebook_page(course: Any, assignment: str, student: str, grade: Grade) -> Path | None:
    """feedback/<student>/<assignment>/notebook.html: the student's own cells as the grader ran them
    (nbconvert's HTML exporter; the student's HTML sanitised, no script runs; paths of the grading
    machine removed). Left as it is when newer than the executed notebook; None (and any old page
    removed) when the run kept no notebook."""
    name = grade.run.notebook
    source = course.autograded_dir(student, assignment) / name if name else None
    target = course.notebook_page(student, assignment)
    if source is None or not source.is_file():
        target.unlink(missing_ok=True)
        return None
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    import nbformat  # with nbconvert about 1 s of imports: only when a notebook page is drawn

    notebook = own_cells(nbformat.read(str(source), as_version=4))
    scrub = Scrubber(course.root, data_home(), os.path.expanduser("~"), Path.cwd())
    for cell in notebook.cells:
        cell.source = scrub.text(cell.source)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub.text(output["text"])
            if "traceback" in output:
                output["traceback"] = [scrub.text(line) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = scrub.text(output["evalue"])
            for kind in ("text/plain", "text/html", "text/markdown"):
                if isinstance(output.get("data", {}).get(kind), str):
                    output["data"][kind] = scrub.text(output["data"][kind])
    body, _ = _html_exporter().from_notebook_node(notebook)
    body = re.sub(r"<img (?![^>]*\balt=)", '<img alt="A figure your code drew" ', body)
    html = (
        environment()
        .get_template("notebook.html.j2")
        .render(
            body=body,
            student=student,
            assignment=assignment,
            n_cells=len(notebook.cells),
            course_id=course.config.course_id,
            course_name=course.config.course_name,
        )
    )
    return write_text_atomic(target, html)
