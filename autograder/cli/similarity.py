"""`autograder similarity`: the cohort compared for shared code and text (autograder/similarity/,
autograder/report/similarity.py), for markers only."""

from __future__ import annotations

from pathlib import Path

import typer

from autograder.cli.app import CourseOption, JsonOption, _course, app, emit_json


@app.command()
def similarity(
    assignment: str | None = typer.Argument(None, help="Assignment (default: the course's)."),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.01,
        max=1.0,
        metavar="SHARE",
        help="Flag pairs whose score reaches this share (default: [similarity] threshold, 0.4).",
    ),
    as_json: bool = JsonOption,
    course: Path | None = CourseOption,
):
    """Compare every submission with every other and with the archive ([similarity] archive), on the
    students' own code and own written answers, with the template discounted. Writes
    reports/ASSIGNMENT/similarity.html, for markers only."""
    from autograder.report.similarity import similarity_report

    the_course = _course(course)
    outcome = similarity_report(the_course, the_course.check_assignment(assignment), threshold)
    data = outcome.data
    names = [
        [p["key"] if p["origin"] == "cohort" else f"archive: {p['key']}" for p in (pair["a"], pair["b"])]
        for pair in outcome.flagged
    ]
    if as_json:
        emit_json(
            {
                "cohort": data["cohort"],
                "archive": data["archive"],
                "candidates": data["candidates"],
                "threshold": data["threshold"],
                "notes": data["notes"],
                "page": str(outcome.page),
                "flagged": [
                    {
                        "a": pair["a"],
                        "b": pair["b"],
                        "score": pair["score"],
                        "code": [pair["code"]["share_a"], pair["code"]["share_b"]],
                        "text": [pair["text"]["share_a"], pair["text"]["share_b"]],
                    }
                    for pair in outcome.flagged
                ],
            }
        )
        return
    archive = f" and {data['archive']} archive notebooks" if data["archive"] else ""
    typer.echo(
        f"Compared {data['cohort']} submission(s){archive} in {data['seconds']['total']:.1f} s: "
        f"{data['candidates']} pair(s) share a passage, {data['flagged']} at or above {data['threshold']}."
    )
    for pair, (a, b) in zip(outcome.flagged, names):
        typer.echo(
            f"  {a} · {b}: score {pair['score']:.2f} (own code {pair['code']['share_a']:.0%} · "
            f"{pair['code']['share_b']:.0%}, own text {pair['text']['share_a']:.0%} · {pair['text']['share_b']:.0%})"
        )
    for note in data["notes"]:
        typer.echo(f"  note: {note}", err=True)
    typer.echo(f"Similarity report (markers only): {outcome.page}")
