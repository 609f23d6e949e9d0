"""`make demo` end to end (`autograder demo`): the demo course is built from scratch, its cohort of eight
example students is graded through the real pipeline (sandboxed papermill runs on the offline data), and
what it writes is what the README says it writes, with the verdicts each example student was made for.

Slow: about five minutes on 2 cores."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from engine_support import stored_submission

from autograder.demo import PROFILES, ROSTER

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "research_challenge"


@pytest.fixture(scope="module")
def demo(tmp_path_factory, shared_data) -> tuple[Path, str]:
    course = tmp_path_factory.mktemp("demo") / "demo-course"
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "demo", "--course", str(course)],
        capture_output=True,
        text=True,
        timeout=1500,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course, done.stdout


def _rows(path: Path) -> dict[str, dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    key = "student_id" if rows and "student_id" in rows[0] else "Username"
    return {row[key]: row for row in rows}


def _profile_of(student: str, stdout: str) -> str:
    """The profile description the demo printed for this student."""
    line = next(line for line in stdout.splitlines() if line.strip().startswith(f"{student} (challenge"))
    return line.split(":", 1)[1].strip()


def test_the_demo_writes_what_the_readme_describes(demo):
    course, stdout = demo
    readme = (REPO / "README.md").read_text()
    for described in (
        "feedback/<student>/research_challenge/index.html",
        "reports/research_challenge/summary.html",
        "export/blackboard.csv",
        "export/plain.csv",
        "gradebook.db",
    ):
        assert described in readme, described
    students = [student for student, _ in ROSTER]
    for student in students:
        assert (course / "feedback" / student / ASSIGNMENT / "index.html").is_file()
        record, status = stored_submission(course, student)
        crashed = _profile_of(student, stdout) == next(p.description for p in PROFILES if p.name == "crashes")
        assert status == ("failed" if crashed else "graded") and record.sandbox in ("bubblewrap", "none"), (
            status
        )
    assert (course / "reports" / ASSIGNMENT / "summary.html").is_file()
    assert (course / "gradebook.db").is_file()
    plain = _rows(course / "export" / "plain.csv")
    assert sorted(plain) == students


def test_each_example_student_gets_the_verdict_it_was_made_for(demo):
    course, stdout = demo
    plain = _rows(course / "export" / "plain.csv")
    blackboard = _rows(course / "export" / "blackboard.csv")
    by_profile = {}
    for student, _ in ROSTER:
        by_profile.setdefault(_profile_of(student, stdout), []).append(student)
    descriptions = {p.name: p.description for p in PROFILES}

    for student in by_profile[descriptions["reference"]]:
        assert plain[student]["status"] == "final" and float(plain[student]["overall_mark"]) >= 60
        assert student in blackboard
    late = by_profile[descriptions["reference-late"]][0]
    assert plain[late]["overall_mark"] == "40" and "late by 3.0 h" in plain[late]["late_penalty"]
    crashed = by_profile[descriptions["crashes"]][0]
    assert plain[crashed]["status"] == "incomplete" and crashed not in blackboard  # presentation not marked
    assert float(plain[crashed]["training_testing"]) < 40  # no results: the protocol was not completed

    summary = (course / "reports" / ASSIGNMENT / "summary.html").read_text()
    attention = summary[summary.index("needing attention") : summary.index("Marks by criterion")]
    template = by_profile[descriptions["template-declaration"]][0]
    leaky = by_profile[descriptions["leaky-scaler"]][0]
    flags_by_student = {  # one <tbody> per student, one row per reason
        student: set(re.findall(r'data-flag="([^"]+)"', rows))
        for student, rows in re.findall(r'data-student="([^"]+)">(.*?)</tbody>', attention, flags=re.S)
    }
    for student, why in (
        (template, "Missing or incomplete LLM declaration"),
        (template, "Long recording"),
        (leaky, "Protocol failure"),
        (crashed, "Failed run"),
        (late, "Late submission"),
    ):
        assert why in flags_by_student.get(student, set()), (student, why, flags_by_student)


def test_a_feedback_page_shows_nothing_of_the_other_students(demo):
    course, _ = demo
    for student, _name in ROSTER:
        page = (course / "feedback" / student / ASSIGNMENT / "index.html").read_text()
        assert student in page
        for other, other_name in ROSTER:
            if other != student:
                assert other not in page and other_name not in page, (student, other)
        assert str(course) not in page  # no paths of the grading machine


def test_the_failed_run_is_called_a_failed_run_everywhere(demo):
    """The crashing example: 'failed' in the batch table, a banner with the student's own traceback on
    its page (their cell numbers, no library frames), and the cap note names the failed run."""
    course, stdout = demo
    descriptions = {p.name: p.description for p in PROFILES}
    crashed = next(
        student for student, _ in ROSTER if _profile_of(student, stdout) == descriptions["crashes"]
    )
    grading = stdout[
        stdout.index("$ autograder grade") : stdout.index("$ autograder export")
    ]  # grade's tables
    table_rows = [line.split() for line in grading.splitlines() if line.startswith(crashed + " ")]
    assert table_rows and all(row[1] == "failed" for row in table_rows), table_rows
    grade = json.loads((course / "autograded" / crashed / ASSIGNMENT / "grade.json").read_text())
    error = grade["run"]["first_error"]
    assert error["ename"] == "NameError" and "build_my_network" in error["traceback"]
    assert "site-packages" not in error["traceback"] and "Your cell" in error["traceback"]
    caps = {c["key"]: c["caps"] for c in grade["criteria"]}["training_testing"]
    assert caps and all(f"run failed (cell {error['cell']} raised NameError)" in cap["note"] for cap in caps)
    page = (course / "feedback" / crashed / ASSIGNMENT / "index.html").read_text(encoding="utf-8")
    banner = page[page.index('id="run-failed"') : page.index("</section>", page.index('id="run-failed"'))]
    assert f"cell {error['cell']} raised <code>NameError</code>" in banner and "build_my_network" in banner
    assert "protocol was not followed" not in page
