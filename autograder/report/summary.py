"""The cohort summary for the instructor (autograder.layout: reports/<assignment>/).

Built from the grade.json files only (no notebook is read or run): marks by criterion and by
challenge, the submissions needing attention (failed runs, protocol failures, implausible
scores, missing declarations, long or missing recordings, lateness...), and the cohort's models
against each challenge's leaderboard. For markers, not for students: it names students.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime
from pathlib import Path

from autograder.course.allocation import read_allocation
from autograder.grade.rubric import load_rubric
from autograder.layout import write_text_atomic
from autograder.report import environment


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {"n": len(values), "mean": statistics.fmean(values), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


def build_summary(course, assignment: str, rubric, grades: dict[str, dict]) -> dict:
    from autograder.report import figures

    catalogue = course.config.catalogue
    allocation = read_allocation(course.allocation_path, catalogue)
    rows = []
    attention = []
    by_status = {"final": 0, "provisional": 0, "incomplete": 0, "error": 0}
    criteria = list(rubric.criteria.values())
    marks_by_criterion = {c.key: [] for c in criteria}
    overall = {"final": [], "provisional": []}
    models_by_challenge: dict[str, list[dict]] = {}
    for student, grade in sorted(grades.items()):
        status = grade.get("status", "error")
        by_status[status] = by_status.get(status, 0) + 1
        if status == "error":
            attention.append({"student": student, "flag": "Grading error", "message": grade.get("error", "")})
            rows.append({"student": student, "status": status, "challenge": allocation.get(student, ""),
                         "marks": {}, "overall": None, "partial": None, "score": None, "std": None,
                         "rank": None, "metric": "", "flags": 1, "late": False, "feedback": ""})
            continue
        marks = {c["key"]: c for c in grade.get("criteria", [])}
        for key, entry in marks.items():
            if entry.get("mark") is not None and key in marks_by_criterion:
                marks_by_criterion[key].append(entry["mark"])
        mark = grade.get("overall", {}).get("mark")
        if mark is not None:
            overall["final" if status == "final" else "provisional"].append(mark)
        flags = grade.get("attention", [])
        run = grade.get("run") or {}
        if run.get("status") in ("failed", "intake-error") and not any(f["flag"] == "Failed run" for f in flags):
            flags = flags + [{"flag": "Failed run", "message": run.get("reason", "")}]
        grouped: dict[str, list[str]] = {}
        for flag in flags:  # one row per student and reason
            grouped.setdefault(flag["flag"], []).append(flag.get("message", ""))
        for name, messages in grouped.items():
            messages = list(dict.fromkeys(m for m in messages if m))
            detail = " ".join(messages[:3]) + (f" (and {len(messages) - 3} more)" if len(messages) > 3 else "")
            attention.append({"student": student, "flag": name, "message": detail})
        results = grade.get("results") or {}
        letter = grade.get("challenge") or allocation.get(student, "")
        if letter and results.get("mean") is not None:
            models_by_challenge.setdefault(letter, []).append(
                {"label": student, "mean": results["mean"], "std": results.get("std"), "rank": results.get("rank"),
                 "complete": results.get("complete")})
        rows.append({"student": student, "status": status, "challenge": letter, "marks": marks,
                     "overall": mark, "partial": grade.get("overall", {}).get("partial"),
                     "score": results.get("mean"), "std": results.get("std"), "rank": results.get("rank"),
                     "metric": results.get("metric_label", ""), "flags": len(flags),
                     "late": (grade.get("lateness") or {}).get("state") == "late",
                     "feedback": os.path.relpath(course.feedback_page(student, assignment),
                                                 course.reports_dir(assignment))})
    submitted = set(grades)
    for student in sorted(set(allocation) - submitted):
        attention.append({"student": student, "flag": "No submission graded",
                          "message": f"allocated challenge {allocation[student]} but nothing has been graded"})

    challenges = []
    for challenge in catalogue:
        members = [r for r in rows if r.get("challenge") == challenge.letter]
        models = sorted(models_by_challenge.get(challenge.letter, []), key=lambda m: m["mean"],
                        reverse=challenge.higher_is_better)
        chart = None
        if models:
            chart = figures.leaderboard_chart(
                challenge, [dict(m, highlight=True) for m in models],
                title=f"{challenge.letter}: {challenge.task} — the cohort among the leaderboard")
        dummy = challenge.reference("Dummy")
        rf = challenge.reference("RF-SCM/Magpie")
        better = (lambda s, ref: s > ref.mean) if challenge.higher_is_better else (lambda s, ref: s < ref.mean)
        challenges.append({
            "letter": challenge.letter, "task": challenge.task, "metric": challenge.metric_label,
            "n": len(members), "overall": _stats([r["overall"] for r in members if r["overall"] is not None]),
            "scores": _stats([m["mean"] for m in models]), "models": models, "chart": chart,
            "beat_dummy": sum(1 for m in models if dummy and better(m["mean"], dummy)),
            "beat_rf": sum(1 for m in models if rf and better(m["mean"], rf)),
            "best": challenge.best.mean if challenge.best else None,
            "criteria": {c.key: _stats([r["marks"][c.key]["mark"] for r in members
                                        if c.key in r.get("marks", {}) and r["marks"][c.key].get("mark") is not None])
                         for c in criteria}})
    figs = {}
    if overall["final"] or overall["provisional"]:
        figs["histogram"] = figures.histogram(overall, rubric.bands, "Overall marks", "overall mark")
    if any(marks_by_criterion.values()):
        figs["criteria"] = figures.criterion_marks_chart([(c.title, marks_by_criterion[c.key]) for c in criteria])
    attention.sort(key=lambda a: (a["flag"], a["student"]))
    flag_counts: dict[str, int] = {}
    for item in attention:
        flag_counts[item["flag"]] = flag_counts.get(item["flag"], 0) + 1
    return {
        "course_name": course.config.course_name, "course_id": course.config.course_id,
        "assignment": assignment, "rubric_title": rubric.title,
        "criteria": [{"key": c.key, "title": c.title, "weight": c.weight, "stats": _stats(marks_by_criterion[c.key])}
                     for c in criteria],
        "overall": _stats(overall["final"] + overall["provisional"]), "by_status": by_status,
        "rows": rows, "attention": attention, "flag_counts": flag_counts, "challenges": challenges,
        "figures": figs, "n": len(rows), "n_allocated": len(allocation),
        "generated": datetime.now().strftime("%d %B %Y, %H:%M"),
    }


def write_summary(course, assignment: str, rubric=None) -> Path:
    rubric = rubric or load_rubric(course.rubric_path)
    context = build_summary(course, assignment, rubric, course.load_grades(assignment))
    html = environment().get_template("summary.html.j2").render(**context)
    return write_text_atomic(course.summary_page(assignment), html)
