"""The mark arithmetic on hand-computed cases (manual overrides, provisional criteria, caps, late
penalties), the marks CSV, and the presentation recording checks on real MP4/M4A files."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rubric_fixtures import f, make_recording

from autograder.course.config import LatePolicy, PresentationSettings
from autograder.grade.combine import combine
from autograder.grade.lateness import assess_lateness
from autograder.grade.marks import CSV_SOURCE, FORMGRADER, ManualMark, MarksError, read_marks_csv
from autograder.grade.recordings import presentation_findings, recording_duration
from autograder.grade.rubric import load_rubric
from autograder.layout import CourseLayout
from autograder.records import COULD_NOT_RUN, FAIL, PASS, WARN

REPO = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(REPO / "rubric" / "research_challenge.toml")
DEADLINE = datetime(2026, 3, 11, 15, 0)
CAP = LatePolicy(kind="cap", cap_mark=40.0, grace_hours=24.0)
PER_DAY = LatePolicy(kind="per_day", percent_per_day=5.0, zero_after_days=7.0)

# Code findings: marks pass 72, warn 58 (rubric's code rule) -> (58 + 72 + 72 + 72) / 4 = 68.5
CODE_FINDINGS = [f("code.lint", "code", WARN, "7 lint problems"), f("code.annotation", "code", PASS, "annotated"),
                 f("code.organisation", "code", PASS, "organised"), f("code.errors_left", "code", PASS, "clean")]
MANUAL = {"data_preparation": 65, "model_choice": 72, "training_testing": 58, "code": 70, "presentation": 61}


def csv(**marks):
    return {k: ManualMark(k, float(v), f"comment on {k}", CSV_SOURCE, "marks.csv") for k, v in marks.items()}


def on_time():
    return assess_lateness(CAP, DEADLINE, "2026-03-11T14:59:00")


def by_key(grade):
    return {c["key"]: c for c in grade["criteria"]}


def test_all_manual_marks_give_a_final_weighted_mark():
    grade = combine(RUBRIC, CODE_FINDINGS, {}, csv(**MANUAL), on_time(), CAP)
    # (20*65 + 20*72 + 20*58 + 10*70 + 30*61) / 100 = 64.3
    assert grade["status"] == "final"
    assert grade["overall"]["exact"] == pytest.approx(64.3)
    assert grade["overall"]["mark"] == 64 and grade["overall"]["band"] == "upper_second"
    code = by_key(grade)["code"]
    assert code["mark"] == 70 and code["suggested"] == 68.5 and code["source"] == CSV_SOURCE  # manual overrides
    assert not code["provisional"] and grade["missing"] == [] and grade["provisional_parts"] == []


def test_criterion_without_manual_mark_is_provisional_with_the_suggestion():
    marks = dict(MANUAL)
    del marks["code"]
    grade = combine(RUBRIC, CODE_FINDINGS, {}, csv(**marks), on_time(), CAP)
    code = by_key(grade)["code"]
    assert code["mark"] == 68.5 and code["provisional"] and code["source"] == "suggested"
    # (1300 + 1440 + 1160 + 10*68.5 + 1830) / 100 = 64.15 -> 64, shown as provisional
    assert grade["status"] == "provisional" and grade["overall"]["mark"] == 64
    assert grade["overall"]["exact"] == pytest.approx(64.15)
    assert any(part.startswith("Code: suggested") for part in grade["provisional_parts"])


def test_cells_that_failed_when_run_bring_the_code_suggestion_to_a_band_that_says_so():
    """Six passing code checks would suggest 72 ("Runs top to bottom without errors"); cells that raised
    an error when the grader ran the notebook outweigh them: (6 x 72 + 12 x 38) / 18 = 49.3."""
    passing = [f(f"code.{name}", "code", PASS, "fine") for name in
               ("lint", "annotation", "organisation", "execution_order", "errors_left", "run_time")]
    errors = f("execution.cell_errors", "code", FAIL, "6 cell(s) raised an error when the grader ran the notebook")
    marks = dict(MANUAL)
    del marks["code"]
    clean = by_key(combine(RUBRIC, passing, {}, csv(**marks), on_time(), CAP))["code"]
    failed = by_key(combine(RUBRIC, passing + [errors], {}, csv(**marks), on_time(), CAP))["code"]
    assert clean["suggested"] == 72 and "Runs top to bottom without errors" in clean["descriptor"]
    assert failed["suggested"] == pytest.approx(49.3) and failed["band"] == "third"
    assert "Runs" not in failed["descriptor"] and "errors left" in failed["descriptor"]


def test_a_part_with_no_mark_at_all_leaves_the_overall_mark_uncomputed():
    marks = dict(MANUAL)
    del marks["presentation"]
    del marks["code"]
    grade = combine(RUBRIC, CODE_FINDINGS, {}, csv(**marks), on_time(), CAP)
    assert grade["status"] == "incomplete"
    assert grade["overall"]["mark"] is None and grade["overall"]["exact"] is None
    assert grade["missing"] == ["Presentation: no mark yet (awaiting the marker)"]
    # what is marked so far: (1300 + 1440 + 1160 + 685) / 70 = 65.5
    assert grade["overall"]["partial"] == pytest.approx(65.5)
    assert grade["overall"]["marked_weight"] == 70


def test_a_protocol_failure_caps_training_and_testing_even_a_manual_mark():
    findings = CODE_FINDINGS + [f("protocol.test_tuning", "training_testing", FAIL, "tuned on the test fold")]
    grade = combine(RUBRIC, findings, {}, csv(**MANUAL), on_time(), CAP)
    tt = by_key(grade)["training_testing"]
    assert tt["mark"] == 39 and tt["uncapped"] == 58 and tt["caps"][0]["check_id"] == "protocol.test_tuning"
    assert tt["band"] == "fail"
    # (1300 + 1440 + 20*39 + 700 + 1830) / 100 = 60.5 -> rounded half up to 61 (not to even)
    assert grade["overall"]["exact"] == pytest.approx(60.5) and grade["overall"]["mark"] == 61
    assert {"Protocol failure"} <= {a["flag"] for a in grade["attention"]}


def test_a_cap_does_not_raise_a_lower_mark_and_suggestions_are_capped_too():
    findings = [f("protocol.own_split", "training_testing", FAIL, "own train_test_split"),
                f("protocol.api_used", "training_testing", PASS, "API used")]
    marks = dict(MANUAL)
    marks["training_testing"] = 35
    grade = combine(RUBRIC, findings, {}, csv(**marks), on_time(), CAP)
    assert by_key(grade)["training_testing"]["mark"] == 35 and by_key(grade)["training_testing"]["uncapped"] is None
    del marks["training_testing"]
    grade = combine(RUBRIC, findings, {}, csv(**marks), on_time(), CAP)
    tt = by_key(grade)["training_testing"]
    # suggestion (30 + 65) / 2 = 47.5, capped at 39
    assert tt["suggested"] == 47.5 and tt["mark"] == 39 and tt["provisional"]


def test_formgrader_marks_count_and_a_csv_mark_wins_visibly():
    formgrader = {"code": ManualMark("code", 80.0, "tidy", FORMGRADER, "formgrader cell code_quality"),
                  "model_choice": ManualMark("model_choice", 75.0, "", FORMGRADER, "formgrader cell model_choice")}
    marks = dict(MANUAL)
    del marks["code"]  # code only in formgrader; model_choice in both
    grade = combine(RUBRIC, CODE_FINDINGS, formgrader, csv(**marks), on_time(), CAP)
    assert by_key(grade)["code"]["mark"] == 80 and by_key(grade)["code"]["source"] == FORMGRADER
    assert by_key(grade)["model_choice"]["mark"] == 72
    conflict = [a for a in grade["attention"] if a["flag"] == "Conflicting manual marks"]
    assert conflict and "marks CSV 72 (marks.csv) differs from formgrader 75" in conflict[0]["message"]
    assert grade["status"] == "final"


def test_accept_confirms_the_suggested_mark():
    marks = csv(**{k: v for k, v in MANUAL.items() if k != "code"})
    marks["code"] = ManualMark("code", None, "", CSV_SOURCE, "marks.csv", accept_suggestion=True)
    grade = combine(RUBRIC, CODE_FINDINGS, {}, marks, on_time(), CAP)
    code = by_key(grade)["code"]
    assert code["mark"] == 68.5 and code["source"] == "confirmed" and not code["provisional"]
    assert grade["status"] == "final" and grade["overall"]["mark"] == 64


@pytest.mark.parametrize("submitted, policy, expected_mark, state", [
    ("2026-03-11T14:59:59", CAP, 64, "on-time"),
    ("2026-03-11T18:00:00", CAP, 40, "late"),  # 3 h late: capped at 40
    ("2026-03-12T21:00:00", CAP, 0, "late"),  # 30 h late: more than 24 h -> 0
    ("2026-03-12T21:00:00", PER_DAY, 54, "late"),  # 30 h = 2 started days: 64.3 - 10 = 54.3 -> 54
    ("2026-03-11T15:30:00", PER_DAY, 59, "late"),  # 1 started day: 64.3 - 5 = 59.3 -> 59
    ("2026-03-19T15:30:00", PER_DAY, 0, "late"),  # more than 7 days -> 0
    ("2026-03-11T18:00:00", LatePolicy(kind="none"), 64, "late"),  # recorded only
])
def test_late_penalties(submitted, policy, expected_mark, state):
    lateness = assess_lateness(policy, DEADLINE, submitted)
    assert lateness.state == state
    grade = combine(RUBRIC, CODE_FINDINGS, {}, csv(**MANUAL), lateness, policy)
    assert grade["overall"]["before_late"] == pytest.approx(64.3)
    assert grade["overall"]["mark"] == expected_mark
    if state == "late" and policy.kind != "none":
        assert grade["overall"]["late_penalty"]
        assert any(a["flag"] == "Late submission" for a in grade["attention"])


def test_late_with_an_extension_and_timezones():
    # nbgrader's timestamp format, in UTC; an extension of two days makes it on time
    lateness = assess_lateness(CAP, DEADLINE, "2026-03-12 09:00:00.000000 UTC", timedelta(days=2))
    assert lateness.state == "on-time" and lateness.extension_hours == 48
    assert assess_lateness(CAP, DEADLINE, "2026-03-12T09:00:00+00:00").state == "late"


def test_unknown_submission_time_is_never_silently_on_time():
    lateness = assess_lateness(CAP, DEADLINE, None)
    grade = combine(RUBRIC, CODE_FINDINGS, {}, csv(**MANUAL), lateness, CAP)
    assert lateness.state == "unknown" and grade["status"] == "provisional"
    assert "Lateness: the submission time is unknown" in grade["provisional_parts"]
    assert assess_lateness(CAP, None, None).state == "no-deadline"


def test_could_not_run_findings_suggest_nothing():
    findings = [f("code.lint", "code", COULD_NOT_RUN, "ruff not available")]
    grade = combine(RUBRIC, findings, {}, {}, on_time(), CAP)
    assert by_key(grade)["code"]["suggested"] is None and by_key(grade)["code"]["mark"] is None
    assert any(a["flag"] == "A check could not run" for a in grade["attention"])


# --- the marks CSV --------------------------------------------------------------------------------

def write(tmp_path, text):
    path = tmp_path / "research_challenge.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_marks_csv_reads_titles_aliases_and_comments(tmp_path):
    path = write(tmp_path, "student_id,criterion,mark,comment\n"
                           "ab1234,Presentation,68,\"Clear, well paced\"\n"
                           "ab1234,code_quality,accept,\n"
                           "ab1234,general,,Good work overall.\n"
                           "cd5678,Training and testing,55.5%,\n")
    marks = read_marks_csv(path, RUBRIC)
    assert marks["ab1234"]["presentation"].mark == 68 and marks["ab1234"]["presentation"].comment == "Clear, well paced"
    assert marks["ab1234"]["code"].accept_suggestion
    assert marks["ab1234"]["general"].comment == "Good work overall."
    assert marks["cd5678"]["training_testing"].mark == 55.5
    assert marks["cd5678"]["training_testing"].where == "research_challenge.csv, line 5"


@pytest.mark.parametrize("body, message", [
    ("ab1234,presentaton,60,\n", r"line 2: unknown criterion 'presentaton'\. Did you mean 'presentation'\?"),
    ("ab1234,presentation,60,\nab1234,Presentation,61,\n", r"line 3: ab1234 / presentation is already given on line 2"),
    ("ab1234,presentation,106,\n", r"line 2: mark 106 is outside 0-100"),
    ("ab1234,presentation,good,\n", r"line 2: mark 'good' is not a number"),
    ("ab1234,general,60,\n", r"line 2: 'general' takes a comment only"),
])
def test_marks_csv_errors_name_the_line(tmp_path, body, message):
    with pytest.raises(MarksError, match=message):
        read_marks_csv(write(tmp_path, "student_id,criterion,mark,comment\n" + body), RUBRIC)


def test_marks_csv_header_is_checked(tmp_path):
    with pytest.raises(MarksError, match="line 1: the header must have student_id, criterion, mark"):
        read_marks_csv(write(tmp_path, "student,criterion,mark\n"), RUBRIC)
    assert read_marks_csv(tmp_path / "absent.csv", RUBRIC) == {}


# --- the presentation recording -----------------------------------------------------------------------

SETTINGS = PresentationSettings(max_minutes=5.0, tolerance_seconds=30.0)


def test_recording_lengths_are_read_from_real_files(tmp_path):
    assert recording_duration(make_recording(tmp_path / "a.mp4", 270)) == pytest.approx(270, abs=1)
    assert recording_duration(make_recording(tmp_path / "b.m4a", 312)) == pytest.approx(312, abs=0.5)


@pytest.mark.parametrize("name, seconds, status", [
    ("talk.mp4", 270, PASS),  # 4:30
    ("talk.m4a", 320, WARN),  # 5:20, within the 30 s tolerance
    ("talk.mp4", 372, FAIL),  # 6:12
])
def test_recording_length_against_the_limit(tmp_path, name, seconds, status):
    findings, facts = presentation_findings([make_recording(tmp_path / name, seconds)], SETTINGS)
    length = next(x for x in findings if x.check_id == "presentation.length")
    assert length.status == status
    assert facts["seconds"] == pytest.approx(seconds, abs=1)
    assert str(tmp_path) not in length.message  # file names only, never paths


def test_missing_or_unreadable_recordings_are_flagged_for_the_marker(tmp_path):
    findings, _ = presentation_findings([], SETTINGS)
    assert [(x.check_id, x.status) for x in findings] == [("presentation.recording", FAIL)]
    broken = tmp_path / "talk.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    slides = tmp_path / "talk.pptx"
    slides.write_bytes(b"PK\x03\x04 not really a presentation")
    findings, facts = presentation_findings([broken, slides], SETTINGS)
    assert [(x.check_id, x.status) for x in findings] == [("presentation.recording", COULD_NOT_RUN)]
    assert "could not be read automatically" in findings[0].message
    grade = combine(RUBRIC, findings, {}, {}, on_time(), CAP)
    assert any(a["flag"] == "Recording missing or unreadable" for a in grade["attention"])


def test_course_marks_from_both_places_and_duplicates_across_files(tmp_path):
    from autograder.grade.marks import read_course_marks

    course = CourseLayout(root=tmp_path)
    (tmp_path / "marks.csv").write_text("student_id,criterion,mark,comment\nab1234,presentation,64,\n")
    (tmp_path / "marks").mkdir()
    (tmp_path / "marks" / "research_challenge.csv").write_text("student_id,criterion,mark,comment\nab1234,code,70,\n")
    marks = read_course_marks(course, RUBRIC)
    assert marks["ab1234"]["presentation"].mark == 64 and marks["ab1234"]["code"].mark == 70
    (tmp_path / "marks.csv").write_text("student_id,criterion,mark,comment\nab1234,code,71,\n")
    with pytest.raises(MarksError, match=r"marks.csv, line 2: ab1234 / code is also given in "
                                         r"research_challenge.csv, line 2"):
        read_course_marks(course, RUBRIC)
