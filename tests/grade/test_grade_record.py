"""The grade record (autograder.grade.record): grade.json read into a Grade and written back is the
same file, key for key and in the same order; a Grade written and read back is equal; a grade.json of
an earlier version, without the keys added since, still loads with their defaults."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from grading_support import REPO, f

from autograder.course.config import LatePolicy
from autograder.grade.combine import combine
from autograder.grade.lateness import assess_lateness
from autograder.grade.marks import CSV_SOURCE, ManualMark, SecondMark
from autograder.grade.record import (
    ABOVE_CAP,
    CAP_OVERRIDDEN,
    ERROR,
    FAILED_RUN_FLAG,
    FINAL,
    INCOMPLETE,
    LATE_SUBMISSION,
    PROVISIONAL,
    AttentionFlag,
    Grade,
    RubricRef,
    RunSummary,
    read_grade,
    read_grades,
    write_grade,
)
from autograder.grade.rubric import load_rubric
from autograder.layout import CourseLayout
from autograder.records import FAIL, PASS, WARN

STORED = Path(__file__).parent / "stored_grades"  # grade.json files as the grade stage writes them
RUBRIC = load_rubric(REPO / "rubric" / "research_challenge.toml")
CAP = LatePolicy(kind="cap", cap_mark=40.0, grace_hours=24.0)
DEADLINE = datetime(2026, 3, 11, 15, 0)


class Store(CourseLayout):
    def __init__(self, root: Path):
        self.root = root


@pytest.mark.parametrize("name", sorted(p.stem for p in STORED.glob("*.json")))
def test_a_stored_grade_json_round_trips_unchanged(name):
    text = (STORED / f"{name}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    grade = Grade.from_json(data)
    assert grade.to_json() == data
    # the same keys in the same order: the file written again is the file read
    assert json.dumps(grade.to_json(), indent=1, default=str) == json.dumps(data, indent=1, default=str)
    assert Grade.from_json(grade.to_json()) == grade


def test_the_stored_grades_read_as_records():
    failed = Grade.from_json(json.loads((STORED / "failed_run.json").read_text(encoding="utf-8")))
    assert failed.status == INCOMPLETE and failed.run.status == "failed" and failed.overall.mark is None
    assert failed.run.first_error is not None and failed.run.first_error["ename"] == "NameError"
    assert FAILED_RUN_FLAG in failed.flags and all(isinstance(a, AttentionFlag) for a in failed.attention)
    late = Grade.from_json(json.loads((STORED / "late_final.json").read_text(encoding="utf-8")))
    assert late.status == FINAL and late.lateness.state == "late" and late.overall.late_penalty
    assert late.flags == [LATE_SUBMISSION] and late.overall.mark is not None
    assert late.criterion("code") is not None and late.criterion("nonsense") is None


def test_an_error_grade_is_written_as_it_always_was():
    data = {
        "student_id": "ab1234",
        "assignment": "research_challenge",
        "status": "error",
        "error": "KeyError: 'x'",
        "traceback": "Traceback (most recent call last): ...",
        "generated_at": "2026-03-12T10:00:00+00:00",
    }
    grade = Grade.from_json(data)
    assert grade.is_error and grade.status == ERROR and grade.error == "KeyError: 'x'"
    assert json.dumps(grade.to_json()) == json.dumps(data)


def _grade() -> Grade:
    """A provisional grade with a bit of everything: a marker's mark above a cap, an override, a
    second mark, an accepted suggestion, a late submission."""
    findings = [
        f("code.lint", "code", WARN, "7 lint problems"),
        f("code.annotation", "code", PASS, "annotated"),
        f("protocol.preprocessing_leak", "data_preparation", FAIL, "scaler fitted on all data"),
        f("protocol.test_tuning", "training_testing", FAIL, "tuned on the test fold"),
    ]
    marks = {
        "data_preparation": ManualMark(
            "data_preparation", 65.0, "Good.", CSV_SOURCE, "marks.csv", marker="JS"
        ),
        "training_testing": ManualMark(
            "training_testing",
            58.0,
            "",
            CSV_SOURCE,
            "marks.csv",
            marker="JS",
            override="the tuning was inside the folds",
            second_marks=[SecondMark(50.0, "KL", "a little generous")],
        ),
        "code": ManualMark("code", None, "", CSV_SOURCE, "marks.csv", accept_suggestion=True, marker="JS"),
        "model_choice": ManualMark("model_choice", 70.0, "", CSV_SOURCE, "marks.csv"),
        "presentation": ManualMark("presentation", 61.0, "Clear.", CSV_SOURCE, "marks.csv", marker="KL"),
    }
    lateness = assess_lateness(CAP, DEADLINE, "2026-03-11T18:00:00")
    grade = combine(RUBRIC, findings, marks, lateness, CAP)
    grade.student_id, grade.assignment, grade.challenge, grade.task = "ab1234", "rc", "B", "matbench_expt_gap"
    grade.execution = "0" * 64
    grade.run = RunSummary(status="executed", wall_seconds=12.5, notebook="nb.ipynb", cells_failed=[3])
    grade.results = {"task": "matbench_expt_gap", "mean": 0.41, "folds": [{"fold": 0, "score": 0.4}]}
    grade.presentation = {"limit_seconds": 300.0, "recordings": []}
    grade.comments = {"general": "Well done."}
    grade.findings = findings
    grade.rubric = RubricRef(RUBRIC.title, RUBRIC.sha256)
    grade.generated_at = "2026-03-12T10:00:00+00:00"
    return grade


def test_a_grade_written_and_read_back_is_equal(tmp_path):
    grade = _grade()
    assert grade.status == PROVISIONAL  # the cap on the marker's data preparation awaits them
    assert {CAP_OVERRIDDEN, ABOVE_CAP, LATE_SUBMISSION} <= set(grade.flags)
    store = Store(tmp_path)
    path = write_grade(store, "ab1234", "rc", grade)
    assert path == store.grade_path("ab1234", "rc")
    assert read_grade(store, "ab1234", "rc") == grade
    assert read_grades(store, "rc") == {"ab1234": grade}
    assert json.loads(path.read_text(encoding="utf-8")) == grade.to_json()  # plain JSON on disk
    assert read_grade(store, "cd5678", "rc") is None


def test_a_grade_json_of_an_earlier_version_still_loads():
    """Before the keys added since (partial marks, markers, overrides, second marks, the first error,
    why there is no Score, the recording, the markers' comments), a grade.json held these."""
    old = {
        "status": "final",
        "overall": {
            "mark": 64,
            "exact": 64.3,
            "before_late": 64.3,
            "band": "upper_second",
            "band_label": "Upper second (2:1)",
            "late_penalty": "",
        },
        "criteria": [
            {
                "key": "code",
                "title": "Code",
                "weight": 10,
                "mark": 70,
                "source": "marks CSV",
                "provisional": False,
                "suggested": 68.5,
                "manual": 70,
                "uncapped": None,
                "caps": [],
                "comment": "Tidy.",
                "band": "first",
                "band_label": "First",
                "descriptor": "",
                "evidence": [],
            }
        ],
        "missing": [],
        "provisional_parts": [],
        "lateness": {"state": "on-time", "deadline": "2026-03-11T15:00:00+00:00", "policy": "cap"},
        "attention": [{"flag": "Protocol failure", "check_id": "protocol.own_split", "status": "fail"}],
        "student_id": "ab1234",
        "assignment": "research_challenge",
        "challenge": "B",
        "task": "matbench_expt_gap",
        "execution": "abc",
        "run": {"status": "executed", "reason": "", "notebook": "research_challenge.ipynb"},
        "results": None,
        "findings": [
            {"check_id": "code.lint", "criterion": "code", "status": "pass", "message": "No lint problems."}
        ],
        "rubric": {"title": "Research challenge", "sha256": "0" * 64},
        "generated_at": "2026-03-12T10:00:00+00:00",
    }
    grade = Grade.from_json(old)
    assert grade.status == FINAL and grade.overall.mark == 64 and grade.overall.partial is None
    code = grade.criterion("code")
    assert code is not None and code.marker == "" and code.override == "" and code.second_marks == []
    assert grade.lateness.state == "on-time" and grade.lateness.hours_late == 0.0
    assert grade.attention[0].message == "" and grade.flags == ["Protocol failure"]
    assert grade.run.first_error is None and grade.run.cells_failed == []
    assert grade.results_error == "" and grade.comments == {} and grade.presentation == {}
    assert grade.findings[0].advice == "" and grade.findings[0].visibility == "student"
    again = grade.to_json()  # written again, it has today's keys
    assert again["overall"]["partial"] is None and again["criteria"][0]["second_marks"] == []
    assert Grade.from_json(again) == grade
