"""The cohort summary for the instructor (autograder.layout: reports/<assignment>/).

Built from the grade.json files only (no notebook is read or run): marks by criterion and by
challenge, the submissions needing attention grouped by student (failed runs, protocol failures,
implausible scores, missing declarations, long or missing recordings, lateness...), each check's
pass rate across the cohort, and the cohort's models against each challenge's leaderboard. The
table of submissions sorts, filters and downloads as CSV in the page (plain JavaScript, nothing
fetched) and links each submission's feedback page, executed notebook and log. A submission whose
run failed counts once: as a failed run, not once per check that could not run after it.
Beside it, the moderation page and its sample CSV (autograder.report.moderation). For markers,
not for students: it names students.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from autograder.course.allocation import read_allocation
from autograder.findings import label as finding_label
from autograder.grade.record import (
    ERROR,
    FINAL,
    GRADING_ERROR,
    INCOMPLETE,
    NO_SUBMISSION_GRADED,
    PROVISIONAL,
    AttentionFlag,
    Grade,
    read_grades,
)
from autograder.grade.rubric import load_rubric
from autograder.layout import write_text_atomic
from autograder.records import COULD_NOT_RUN, FAIL, FAILED, INFO, INTAKE_ERROR, NOT_APPLICABLE, PASS, WARN
from autograder.report import environment
from autograder.report.moderation import build_moderation
from autograder.report.similarity import similarity_attention, similarity_link

FAILED_RUNS = (FAILED, INTAKE_ERROR)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def run_failed(grade: Grade) -> bool:
    return grade.run.status in FAILED_RUNS


def check_rates(grades: dict[str, Grade]) -> dict[str, Any]:
    """Each check's outcomes across the cohort (every visibility: this page is for markers). The
    submissions whose run failed are left out of every check's counts and counted once instead."""
    failed = sorted(s for s, g in grades.items() if not g.is_error and run_failed(g))
    table: dict[str, dict[str, Any]] = {}
    for student, grade in sorted(grades.items()):
        if grade.is_error or student in failed:
            continue
        for finding in grade.findings:
            check = finding.check_id
            if not check or check.startswith("execution."):
                continue
            row = table.setdefault(
                check,
                {
                    "check_id": check,
                    "label": finding_label(check, check),
                    "criterion": finding.criterion,
                    PASS: 0,
                    WARN: 0,
                    FAIL: 0,
                    COULD_NOT_RUN: 0,
                    INFO: 0,
                    NOT_APPLICABLE: 0,
                },
            )
            row[finding.status] = row.get(finding.status, 0) + 1
    rows = []
    for row in table.values():
        judged = row[PASS] + row[WARN] + row[FAIL]
        row["judged"] = judged
        row["rate"] = row[PASS] / judged if judged else None
        rows.append(row)
    rows.sort(key=lambda r: (r["rate"] if r["rate"] is not None else 2, r["check_id"]))
    return {
        "rows": rows,
        "failed_runs": failed,
        "n": sum(1 for s, g in grades.items() if not g.is_error and s not in failed),
    }


def group_attention(
    attention: list[dict[str, Any]], failed: set[str], failed_run_flag: str
) -> list[dict[str, Any]]:
    """The attention list by student: one group each, its items in order. For a student whose run
    failed, the items that come from a check (which could not judge a run that did not finish)
    are folded into the one failed-run item (the rubric's `failed_run_flag`); items of their own
    (lateness, marks) stay."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in attention:
        groups.setdefault(item["student"], []).append(item)
    out = []
    for student in sorted(groups):
        items = groups[student]
        if student in failed:
            run = [i for i in items if i["flag"] == failed_run_flag]
            folded = [i for i in items if i.get("from_check") and i["flag"] != failed_run_flag]
            kept = [i for i in items if not i.get("from_check") and i["flag"] != failed_run_flag]
            if run:
                run = [dict(run[0], folded=[i["flag"] for i in folded])]
                items = run + kept
        out.append({"student": student, "entries": items})
    return out


def build_summary(
    course: Any, assignment: str, rubric: Any, grades: dict[str, Grade], allocation: Any = None
) -> dict[str, Any]:
    """The summary page's content; `allocation` as the batch read it (None: read allocation.csv)."""
    from autograder.report import figures

    catalogue = course.config.catalogue
    if allocation is None:
        allocation = read_allocation(course.allocation_path, catalogue, course.config.case_sensitive_ids)
    failed_run_flag = rubric.failed_run_flag
    rows: list[dict[str, Any]] = []
    attention: list[dict[str, Any]] = []
    by_status = {FINAL: 0, PROVISIONAL: 0, INCOMPLETE: 0, ERROR: 0}
    criteria = list(rubric.criteria.values())
    marks_by_criterion: dict[str, list[float]] = {c.key: [] for c in criteria}
    overall: dict[str, list[float]] = {FINAL: [], PROVISIONAL: []}
    models_by_challenge: dict[str, list[dict[str, Any]]] = {}
    for student, grade in sorted(grades.items()):
        status = grade.status
        by_status[status] = by_status.get(status, 0) + 1
        if grade.is_error:
            attention.append({"student": student, "flag": GRADING_ERROR, "message": grade.error})
            rows.append(
                {
                    "student": student,
                    "status": status,
                    "challenge": allocation.get(student, ""),
                    "marks": {},
                    "overall": None,
                    "partial": None,
                    "score": None,
                    "std": None,
                    "rank": None,
                    "metric": "",
                    "flags": 1,
                    "late": False,
                    "feedback": "",
                }
            )
            continue
        for entry in grade.criteria:
            if entry.mark is not None and entry.key in marks_by_criterion:
                marks_by_criterion[entry.key].append(entry.mark)
        marks = {c.key: asdict(c) for c in grade.criteria}  # the row's, for the page
        mark = grade.overall.mark
        if mark is not None:
            overall[FINAL if status == FINAL else PROVISIONAL].append(mark)
        flags = list(grade.attention)
        if run_failed(grade) and not any(f.flag == failed_run_flag for f in flags):
            flags.append(AttentionFlag(failed_run_flag, message=grade.run.reason))
        grouped: dict[str, list[AttentionFlag]] = {}
        for flag in flags:  # one row per student and reason
            grouped.setdefault(flag.flag, []).append(flag)
        for name, items in grouped.items():
            messages = list(dict.fromkeys(m.message for m in items if m.message))
            detail = " ".join(messages[:3]) + (
                f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
            )
            attention.append(
                {
                    "student": student,
                    "flag": name,
                    "message": detail,
                    "from_check": any(m.check_id for m in items),
                }
            )
        if run_failed(grade):
            flags = [f for f in flags if f.flag == failed_run_flag or not f.check_id]
        results = grade.results or {}
        letter = grade.challenge or allocation.get(student, "")
        if letter and results.get("mean") is not None:
            models_by_challenge.setdefault(letter, []).append(
                {
                    "label": student,
                    "mean": results["mean"],
                    "std": results.get("std"),
                    "rank": results.get("rank"),
                    "complete": results.get("complete"),
                }
            )
        rows.append(
            {
                "student": student,
                "status": status,
                "challenge": letter,
                "marks": marks,
                "overall": mark,
                "partial": grade.overall.partial,
                "score": results.get("mean"),
                "std": results.get("std"),
                "rank": results.get("rank"),
                "metric": results.get("metric_label", ""),
                "flags": len(flags),
                "late": grade.lateness.state == "late",
                "feedback": os.path.relpath(
                    course.feedback_page(student, assignment), course.reports_dir(assignment)
                ),
                **submission_links(course, assignment, student, grade),
            }
        )
    submitted = set(grades)
    for student in sorted(set(allocation) - submitted):
        attention.append(
            {
                "student": student,
                "flag": NO_SUBMISSION_GRADED,
                "message": f"allocated challenge {allocation[student]} but nothing has been graded",
            }
        )

    challenges = []
    for challenge in catalogue:
        members = [r for r in rows if r.get("challenge") == challenge.letter]
        models = sorted(
            models_by_challenge.get(challenge.letter, []),
            key=lambda m: m["mean"],
            reverse=challenge.higher_is_better,
        )
        chart = None
        if models:
            chart = figures.leaderboard_chart(
                challenge,
                [dict(m, highlight=True) for m in models],
                title=f"{challenge.letter}: {challenge.task} — the cohort among the leaderboard",
            )
        dummy = challenge.reference("Dummy")
        rf = challenge.reference("RF-SCM/Magpie")
        better = (
            (lambda s, ref: s > ref.mean) if challenge.higher_is_better else (lambda s, ref: s < ref.mean)
        )
        challenges.append(
            {
                "letter": challenge.letter,
                "task": challenge.task,
                "metric": challenge.metric_label,
                "n": len(members),
                "overall": _stats([r["overall"] for r in members if r["overall"] is not None]),
                "scores": _stats([m["mean"] for m in models]),
                "models": models,
                "chart": chart,
                "beat_dummy": sum(1 for m in models if dummy and better(m["mean"], dummy)),
                "beat_rf": sum(1 for m in models if rf and better(m["mean"], rf)),
                "best": challenge.best.mean if challenge.best else None,
                "criteria": {
                    c.key: _stats(
                        [
                            r["marks"][c.key]["mark"]
                            for r in members
                            if c.key in r.get("marks", {}) and r["marks"][c.key].get("mark") is not None
                        ]
                    )
                    for c in criteria
                },
            }
        )
    figs = {}
    if overall[FINAL] or overall[PROVISIONAL]:
        figs["histogram"] = figures.histogram(overall, rubric.bands, "Overall marks", "overall mark")
    if any(marks_by_criterion.values()):
        figs["criteria"] = figures.criterion_marks_chart(
            [(c.title, marks_by_criterion[c.key]) for c in criteria]
        )
    attention.extend(similarity_attention(course, assignment))  # pairs above the similarity threshold
    attention.sort(key=lambda a: (a["flag"], a["student"]))
    rates = check_rates(grades)
    attention_groups = group_attention(attention, set(rates["failed_runs"]), failed_run_flag)
    flag_counts: dict[str, int] = {}
    for group in attention_groups:  # a failed run counts once, not once per check it stopped
        for item in group["entries"]:
            flag_counts[item["flag"]] = flag_counts.get(item["flag"], 0) + 1
    served = [
        g.run.feature_cache
        for g in grades.values()
        if g.run.feature_cache and g.run.feature_cache.get("served")
    ]
    feature_cache = {
        "submissions": len(served),
        "entries": sum(int(u.get("served") or 0) for u in served),
        "cpu_seconds_saved": round(sum(float(u.get("seconds_saved") or 0) for u in served)),
    }
    return {
        "feature_cache": feature_cache,
        "course_name": course.config.course_name,
        "course_id": course.config.course_id,
        "assignment": assignment,
        "rubric_title": rubric.title,
        "criteria": [
            {"key": c.key, "title": c.title, "weight": c.weight, "stats": _stats(marks_by_criterion[c.key])}
            for c in criteria
        ],
        "overall": _stats(overall[FINAL] + overall[PROVISIONAL]),
        "by_status": by_status,
        "rows": rows,
        "attention": attention,
        "attention_groups": attention_groups,
        "flag_counts": flag_counts,
        "check_rates": rates,
        "challenges": challenges,
        "failed_run_flag": failed_run_flag,
        "moderation_link": os.path.relpath(
            course.moderation_page(assignment), course.reports_dir(assignment)
        ),
        "similarity_link": similarity_link(
            course, assignment
        ),  # markers only; '' before `autograder similarity`
        "figures": figs,
        "n": len(rows),
        "n_allocated": len(allocation),
        "generated": datetime.now().strftime("%d %B %Y, %H:%M"),
    }


def submission_links(course: Any, assignment: str, student: str, grade: Grade) -> dict[str, str]:
    """Links from the summary to a submission's executed notebook, its log and the student's own
    notebook page, relative to the summary (so the course folder can be moved); "" when absent."""
    here = course.reports_dir(assignment)
    notebook = grade.run.notebook
    candidates = {
        "notebook": course.autograded_dir(student, assignment) / notebook if notebook else None,
        "log": course.log_path(student, assignment),
        "notebook_page": course.notebook_page(student, assignment),
    }
    return {
        key: os.path.relpath(path, here) if path is not None and path.is_file() else ""
        for key, path in candidates.items()
    }


def write_summary(course: Any, assignment: str, rubric: Any = None, allocation: Any = None) -> Path:
    """The summary, and beside it the moderation page and its sample CSV (the rubric and the
    allocation as the batch read them; None: read from the course)."""
    rubric = rubric or load_rubric(course.rubric_path)
    grades = read_grades(course, assignment)
    from autograder.report import figures  # as build_summary does: matplotlib only when a chart is drawn

    with figures.deferred(course.figure_cache_dir) as charts:  # a chart whose data did not change is kept
        context = build_summary(course, assignment, rubric, grades, allocation)
    context = charts.resolve(context)
    html = environment().get_template("summary.html.j2").render(**context)
    path = write_text_atomic(course.summary_page(assignment), html)
    write_moderation(course, assignment, rubric, grades)
    return path


def write_moderation(course: Any, assignment: str, rubric: Any, grades: dict[str, Grade]) -> Path:
    """reports/<assignment>/moderation.html and the sample a second marker works from (CSV)."""
    view = build_moderation(grades, rubric, course.config.moderation)
    sample_path = write_text_atomic(course.moderation_sample_path(assignment), view["sample_csv"])
    page = course.moderation_page(assignment)
    html = (
        environment()
        .get_template("moderation.html.j2")
        .render(
            m=view,
            course_name=course.config.course_name,
            course_id=course.config.course_id,
            assignment=assignment,
            rubric_title=rubric.title,
            n_marked=sum(1 for g in grades.values() if g.overall.mark is not None),
            sample_link=os.path.relpath(sample_path, page.parent),
            sample_name=sample_path.name,
            summary_link=os.path.relpath(course.summary_page(assignment), page.parent),
            generated=datetime.now().strftime("%d %B %Y, %H:%M"),
        )
    )
    return write_text_atomic(page, html)
