"""The feedback page of one student: `feedback/{student}/{assignment}/index.html`.

Self-contained (CSS inline, figures as data: URIs) so it opens offline and can be released with
`nbgrader release_feedback` or uploaded to the VLE. It is built only from this student's grade,
findings visible to students and their own predictions; every string passes through a Scrubber
that removes file paths of the grading machine. Marker-only findings, check code and other
students' data never reach the template.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

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


def feedback_path(course, student: str, assignment: str) -> Path:
    return course.feedback_dir(student, assignment) / "index.html"


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


def build_context(course, assignment: str, student: str, grade: dict, challenge, analysis, record) -> dict:
    from autograder.report import figures

    figures_out = {}
    results = grade.get("results")
    if challenge is not None and analysis is not None and analysis.mean is not None:
        figures_out["leaderboard"] = figures.leaderboard_chart(
            challenge, [{"label": "Your model", "mean": analysis.mean, "std": analysis.std,
                         "folds": [f.score for f in analysis.folds]}])
        if len(analysis.y_true):
            if challenge.is_classification:
                figures_out["roc"] = figures.roc_curve_plot(analysis.y_true, analysis.y_pred, analysis.is_probability)
                figures_out["confusion"] = figures.confusion_matrix_plot(analysis.y_true, analysis.y_pred)
            else:
                figures_out["parity"] = figures.parity_plot(challenge, analysis.y_true, analysis.y_pred, analysis.seen)
            if any(analysis.seen_unseen.get(k, {}).get("value") is not None for k in ("seen", "unseen")):
                figures_out["seen_unseen"] = figures.seen_unseen_chart(analysis.seen_unseen, challenge.metric_label,
                                                                       challenge.unit)
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
    from autograder.course.data import data_home

    scrub = Scrubber(course.root, data_home(), os.path.expanduser("~"), Path.cwd())
    return scrub(context)


def render_feedback(course, assignment: str, student: str, grade: dict, challenge, analysis, record) -> str:
    context = build_context(course, assignment, student, grade, challenge, analysis, record)
    return environment().get_template("feedback.html.j2").render(**context)


def write_feedback(course, assignment: str, student: str, grade: dict, challenge, analysis, record) -> Path:
    html = render_feedback(course, assignment, student, grade, challenge, analysis, record)
    path = feedback_path(course, student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
