"""The feedback page of one student (autograder.layout: feedback/<student>/<assignment>/).

Self-contained (CSS inline, figures as data: URIs) so it opens offline and can be released with
`nbgrader release_feedback` or uploaded to the VLE. It is built only from what the grade stage
wrote for this student (their grade.json) and the per-material arrays of their stored Score (for
the figures), keeping the findings visible to students; every string passes through a Scrubber
that removes file paths of the grading machine. Marker-only findings, check code and other
students' data never reach the template.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from autograder.course.data import data_home
from autograder.layout import write_text_atomic
from autograder.records import COULD_NOT_RUN, FAIL, INFO, NOT_APPLICABLE, PASS, STUDENT, WARN
from autograder.report import Scrubber, environment

STATUS_ORDER = {FAIL: 0, WARN: 1, COULD_NOT_RUN: 2, INFO: 3, PASS: 4, NOT_APPLICABLE: 5}
STATUS_WORDS = {FAIL: "Needs work", WARN: "Check this", COULD_NOT_RUN: "Not checked",
                INFO: "Note", PASS: "Good", NOT_APPLICABLE: "Not applicable"}
CRITERION_TITLES = {"general": "General", "data_preparation": "Data preparation", "model_choice": "Model choice",
                    "training_testing": "Training and testing", "code": "Code", "presentation": "Presentation"}
DECLARATION_QUESTIONS = (
    "Did you use an LLM (e.g. GPT-4, Gemini, Co-Pilot)?",
    "Which tasks (e.g. summarising research, code snippets)?",
    "Were any limitations or biases noted?",
    "How did you ensure ethical use?",
)


def student_findings(grade: dict) -> list[dict]:
    """Findings a student may see, worst first, grouped by criterion."""
    visible = [f for f in grade.get("findings", [])
               if f.get("visibility", STUDENT) == STUDENT and f.get("status") != NOT_APPLICABLE]
    visible.sort(key=lambda f: (STATUS_ORDER.get(f["status"], 9), f["check_id"]))
    return visible


def declaration_view(grade: dict) -> dict:
    """The LLM usage declaration as the checks found it (their details), for the page."""
    items = [f for f in grade.get("findings", []) if str(f.get("check_id", "")).startswith("declaration.")
             and f.get("visibility", STUDENT) == STUDENT]
    answers: list[dict] = []
    for finding in items:
        details = finding.get("details") or {}
        for key in ("answers", "questions", "items"):
            value = details.get(key)
            if isinstance(value, dict):
                for question, answer in value.items():
                    if isinstance(answer, dict):
                        answers.append({"question": answer.get("question", question),
                                        "answer": answer.get("answer") or answer.get("quote") or answer.get("text") or "",
                                        "answered": answer.get("answered", bool(answer.get("answer") or answer.get("quote")))})
                    else:
                        answers.append({"question": question, "answer": str(answer or ""), "answered": bool(answer)})
            elif isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict):
                        answers.append({"question": entry.get("question") or entry.get("prompt") or entry.get("key", ""),
                                        "answer": entry.get("answer") or entry.get("quote") or entry.get("text") or "",
                                        "answered": entry.get("answered", bool(entry.get("answer") or entry.get("quote")))})
        if answers:
            break
    for answer in answers:
        question = str(answer["question"])
        if question.isidentifier() or question in ("used", "tasks", "limitations", "ethics"):
            answer["question"] = _question_title(question)
        answer["answer"] = str(answer["answer"] or "").strip()
    return {"answers": answers, "findings": items,
            "found": bool(items) and not all(f["status"] == FAIL and not answers for f in items)}


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

    out = {}
    if challenge is None or not results or results.get("mean") is None:
        return out
    out["leaderboard"] = figures.leaderboard_chart(
        challenge, [{"label": "Your model", "mean": results["mean"], "std": results["std"],
                     "folds": [f["score"] for f in results.get("folds", [])]}])
    if arrays and len(arrays.get("y_true", ())):
        y_true, y_pred, seen = arrays["y_true"], arrays["y_pred"], arrays["seen"]
        if challenge.is_classification:
            out["roc"] = figures.roc_curve_plot(y_true, y_pred, results.get("is_probability", False))
            out["confusion"] = figures.confusion_matrix_plot(y_true, y_pred)
        else:
            out["parity"] = figures.parity_plot(challenge, y_true, y_pred, seen)
    split = results.get("seen_unseen") or {}
    if any((split.get(k) or {}).get("value") is not None for k in ("seen", "unseen")):
        out["seen_unseen"] = figures.seen_unseen_chart(split, challenge.metric_label, challenge.unit)
    return out


def build_context(course, assignment: str, student: str, grade: dict, challenge, arrays: dict | None) -> dict:
    results = grade.get("results")
    figures_out = submission_figures(challenge, results, arrays)
    reference = []
    if challenge is not None:
        for label, entry in challenge.reference_points:
            reference.append({"label": label, "algorithm": entry.algorithm, "mean": entry.mean, "std": entry.std})
    findings = student_findings(grade)
    groups: dict[str, list] = {}
    for finding in findings:
        groups.setdefault(finding.get("criterion", "general"), []).append(finding)
    order = [c["key"] for c in grade.get("criteria", [])] + ["general"]
    grouped = [{"key": key, "title": CRITERION_TITLES.get(key, key),
                "issues": [f for f in groups[key] if f["status"] in (FAIL, WARN, INFO)],
                "unchecked": [f for f in groups[key] if f["status"] == COULD_NOT_RUN],
                "passes": [f for f in groups[key] if f["status"] == PASS]}
               for key in order if key in groups]
    config = course.config
    run = dict(grade.get("run") or {})
    run["cells_failed"] = [index + 1 for index in run.get("cells_failed") or []]  # cells counted from 1
    run.update(timeout=config.execution.timeout, memory_limit=config.execution.memory_limit)
    context = {
        "course_name": config.course_name, "course_id": config.course_id, "assignment": assignment,
        "rubric_title": grade.get("rubric", {}).get("title", ""),
        "student": student, "grade": grade, "overall": grade["overall"], "status": grade["status"],
        "criteria": grade["criteria"], "missing": grade.get("missing", []),
        "provisional_parts": grade.get("provisional_parts", []),
        "lateness": grade.get("lateness", {}),
        "challenge": ({"letter": challenge.letter, "task": challenge.task, "short": challenge.short_name,
                       "type": challenge.task_type, "input": challenge.input_type, "target": challenge.target,
                       "unit": challenge.unit, "metric": challenge.metric_label,
                       "higher_is_better": challenge.higher_is_better, "mad": challenge.mad,
                       "n_entries": len(challenge.leaderboard)} if challenge else None),
        "results": results, "results_error": grade.get("results_error", ""), "reference": reference,
        "figures": figures_out, "groups": grouped, "status_words": STATUS_WORDS,
        "declaration": declaration_view(grade), "comments": grade.get("comments", {}),
        "presentation": grade.get("presentation", {}), "run": run,
        "generated": datetime.now().strftime("%d %B %Y, %H:%M"),
    }

    scrub = Scrubber(course.root, data_home(), os.path.expanduser("~"), Path.cwd())
    return scrub(context)


def render_feedback(course, assignment: str, student: str, grade: dict, challenge, arrays: dict | None) -> str:
    context = build_context(course, assignment, student, grade, challenge, arrays)
    return environment().get_template("feedback.html.j2").render(**context)


def write_feedback(course, assignment: str, student: str, grade: dict | None = None) -> Path | None:
    """Write one student's page from their stored grade (given, or read from grade.json); None
    when there is no grade to show."""
    grade = grade if grade is not None else course.load_grade(student, assignment)
    if not grade or grade.get("status") == "error" or "overall" not in grade:
        return None
    challenge = None
    if grade.get("challenge"):
        try:
            challenge = course.config.catalogue.get(grade["challenge"])
        except ValueError:
            challenge = None
    arrays = course.load_score_arrays(student, assignment) if grade.get("results") else None
    html = render_feedback(course, assignment, student, grade, challenge, arrays)
    return write_text_atomic(course.feedback_page(student, assignment), html)
