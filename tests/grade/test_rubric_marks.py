"""The mark arithmetic on hand-computed cases (manual overrides, provisional criteria, caps, late
penalties), the marks CSV, and the presentation recording checks on real MP4/M4A files."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from grading_support import f, make_recording

from autograder.course.allocation import Allocation
from autograder.course.config import LatePolicy, PresentationSettings
from autograder.grade.combine import combine
from autograder.grade.lateness import assess_lateness
from autograder.grade.marks import (
    CSV_SOURCE,
    CommentParts,
    KnownStudents,
    ManualMark,
    MarksError,
    SecondMark,
    join_comment,
    read_marks_csv,
    split_comment,
)
from autograder.grade.recordings import presentation_findings, recording_duration
from autograder.grade.rubric import load_rubric
from autograder.records import COULD_NOT_RUN, FAIL, PASS, WARN

REPO = Path(__file__).resolve().parents[2]
RUBRIC = load_rubric(REPO / "rubric" / "research_challenge.toml")
DEADLINE = datetime(2026, 3, 11, 15, 0)
CAP = LatePolicy(kind="cap", cap_mark=40.0, grace_hours=24.0)
PER_DAY = LatePolicy(kind="per_day", percent_per_day=5.0, zero_after_days=7.0)

# Code findings: marks pass 72, warn 58 (rubric's code rule) -> (58 + 72 + 72 + 72) / 4 = 68.5
CODE_FINDINGS = [
    f("code.lint", "code", WARN, "7 lint problems"),
    f("code.annotation", "code", PASS, "annotated"),
    f("code.organisation", "code", PASS, "organised"),
    f("code.errors_left", "code", PASS, "clean"),
]
MANUAL = {"data_preparation": 65, "model_choice": 72, "training_testing": 58, "code": 70, "presentation": 61}


def csv(**marks):
    return {k: ManualMark(k, float(v), f"comment on {k}", CSV_SOURCE, "marks.csv") for k, v in marks.items()}


def on_time():
    return assess_lateness(CAP, DEADLINE, "2026-03-11T14:59:00")


def by_key(grade):
    return {c.key: c for c in grade.criteria}


def test_all_manual_marks_give_a_final_weighted_mark():
    grade = combine(RUBRIC, CODE_FINDINGS, csv(**MANUAL), on_time(), CAP)
    # (20*65 + 20*72 + 20*58 + 10*70 + 30*61) / 100 = 64.3
    assert grade.status == "final"
    assert grade.overall.exact == pytest.approx(64.3)
    assert grade.overall.mark == 64 and grade.overall.band == "upper_second"
    code = by_key(grade)["code"]
    assert code.mark == 70 and code.suggested == 68.5 and code.source == CSV_SOURCE  # manual overrides
    assert not code.provisional and grade.missing == [] and grade.provisional_parts == []


def test_criterion_without_manual_mark_is_provisional_with_the_suggestion():
    marks = dict(MANUAL)
    del marks["code"]
    grade = combine(RUBRIC, CODE_FINDINGS, csv(**marks), on_time(), CAP)
    code = by_key(grade)["code"]
    assert code.mark == 68.5 and code.provisional and code.source == "suggested"
    # (1300 + 1440 + 1160 + 10*68.5 + 1830) / 100 = 64.15 -> 64, shown as provisional
    assert grade.status == "provisional" and grade.overall.mark == 64
    assert grade.overall.exact == pytest.approx(64.15)
    assert any(part.startswith("Code: suggested") for part in grade.provisional_parts)


def test_cells_that_failed_when_run_bring_the_code_suggestion_to_a_band_that_says_so():
    """Six passing code checks would suggest 72 ("Runs top to bottom without errors"); cells that raised
    an error when the grader ran the notebook outweigh them: (6 x 72 + 12 x 38) / 18 = 49.3."""
    passing = [
        f(f"code.{name}", "code", PASS, "fine")
        for name in ("lint", "annotation", "organisation", "execution_order", "errors_left", "run_time")
    ]
    errors = f(
        "execution.cell_errors", "code", FAIL, "6 cell(s) raised an error when the grader ran the notebook"
    )
    marks = dict(MANUAL)
    del marks["code"]
    clean = by_key(combine(RUBRIC, passing, csv(**marks), on_time(), CAP))["code"]
    failed = by_key(combine(RUBRIC, passing + [errors], csv(**marks), on_time(), CAP))["code"]
    assert clean.suggested == 72 and "Runs top to bottom without errors" in clean.descriptor
    assert failed.suggested == pytest.approx(49.3) and failed.band == "third"
    assert "Runs" not in failed.descriptor and "errors left" in failed.descriptor


def test_a_part_with_no_mark_at_all_leaves_the_overall_mark_uncomputed():
    marks = dict(MANUAL)
    del marks["presentation"]
    del marks["code"]
    grade = combine(RUBRIC, CODE_FINDINGS, csv(**marks), on_time(), CAP)
    assert grade.status == "incomplete"
    assert grade.overall.mark is None and grade.overall.exact is None
    assert grade.missing == ["Presentation: no mark yet (awaiting the marker)"]
    # what is marked so far: (1300 + 1440 + 1160 + 685) / 70 = 65.5
    assert grade.overall.partial == pytest.approx(65.5)
    assert grade.overall.marked_weight == 70


def test_a_protocol_failure_caps_training_and_testing_even_a_manual_mark():
    findings = CODE_FINDINGS + [f("protocol.test_tuning", "training_testing", FAIL, "tuned on the test fold")]
    grade = combine(RUBRIC, findings, csv(**MANUAL), on_time(), CAP)
    tt = by_key(grade)["training_testing"]
    assert tt.mark == 39 and tt.uncapped == 58 and tt.caps[0]["check_id"] == "protocol.test_tuning"
    assert tt.band == "fail"
    # (1300 + 1440 + 20*39 + 700 + 1830) / 100 = 60.5 -> rounded half up to 61 (not to even)
    assert grade.overall.exact == pytest.approx(60.5) and grade.overall.mark == 61
    assert {"Protocol failure"} <= {a.flag for a in grade.attention}


def test_a_cap_does_not_raise_a_lower_mark_and_suggestions_are_capped_too():
    findings = [
        f("protocol.own_split", "training_testing", FAIL, "own train_test_split"),
        f("protocol.api_used", "training_testing", PASS, "API used"),
    ]
    marks = dict(MANUAL)
    marks["training_testing"] = 35
    grade = combine(RUBRIC, findings, csv(**marks), on_time(), CAP)
    assert by_key(grade)["training_testing"].mark == 35 and by_key(grade)["training_testing"].uncapped is None
    del marks["training_testing"]
    grade = combine(RUBRIC, findings, csv(**marks), on_time(), CAP)
    tt = by_key(grade)["training_testing"]
    # suggestion (30 + 65) / 2 = 47.5, capped at 39
    assert tt.suggested == 47.5 and tt.mark == 39 and tt.provisional


def test_a_marker_above_a_cap_is_asked_and_an_override_with_a_reason_stands():
    """A cap is advice: a marker's mark above it is capped for now, provisional and on the attention
    list; with an override and its reason the marker's mark counts, on the record."""
    leak = [f("protocol.preprocessing_leak", "data_preparation", FAIL, "scaler fitted on all data")]
    marks = csv(**MANUAL)  # data_preparation 65, above the leak's cap of 49
    grade = combine(RUBRIC, CODE_FINDINGS + leak, marks, on_time(), CAP)
    dp = by_key(grade)["data_preparation"]
    assert dp.mark == 49 and dp.uncapped == 65 and dp.provisional and grade.status == "provisional"
    asked = [a for a in grade.attention if a.flag == "Mark above an automatic cap"]
    assert asked and "override: <reason>" in asked[0].message

    marks[
        "data_preparation"
    ].override = "The scaler is refitted inside each fold in cell 12; the check misread it."
    marks["data_preparation"].marker = "JS"
    grade = combine(RUBRIC, CODE_FINDINGS + leak, marks, on_time(), CAP)
    dp = by_key(grade)["data_preparation"]
    assert dp.mark == 65 and not dp.provisional and dp.override.startswith("The scaler is refitted")
    assert dp.marker == "JS" and dp.caps[0]["cap"] == 49 and grade.status == "final"
    overridden = [a for a in grade.attention if a.flag == "Cap overridden by the marker"]
    assert overridden and "Reason given: The scaler is refitted" in overridden[0].message
    # (20*65 + 20*72 + 20*58 + 10*70 + 30*61) / 100 = 64.3: the marker's mark is in the overall
    assert grade.overall.exact == pytest.approx(64.3)


def test_accept_confirms_the_suggested_mark():
    marks = csv(**{k: v for k, v in MANUAL.items() if k != "code"})
    marks["code"] = ManualMark("code", None, "", CSV_SOURCE, "marks.csv", accept_suggestion=True)
    grade = combine(RUBRIC, CODE_FINDINGS, marks, on_time(), CAP)
    code = by_key(grade)["code"]
    assert code.mark == 68.5 and code.source == "confirmed" and not code.provisional
    assert grade.status == "final" and grade.overall.mark == 64


@pytest.mark.parametrize(
    "submitted, policy, expected_mark, state",
    [
        ("2026-03-11T14:59:59", CAP, 64, "on-time"),
        ("2026-03-11T18:00:00", CAP, 40, "late"),  # 3 h late: capped at 40
        ("2026-03-12T21:00:00", CAP, 0, "late"),  # 30 h late: more than 24 h -> 0
        ("2026-03-12T21:00:00", PER_DAY, 54, "late"),  # 30 h = 2 started days: 64.3 - 10 = 54.3 -> 54
        ("2026-03-11T15:30:00", PER_DAY, 59, "late"),  # 1 started day: 64.3 - 5 = 59.3 -> 59
        ("2026-03-19T15:30:00", PER_DAY, 0, "late"),  # more than 7 days -> 0
        ("2026-03-11T18:00:00", LatePolicy(kind="none"), 64, "late"),  # recorded only
    ],
)
def test_late_penalties(submitted, policy, expected_mark, state):
    lateness = assess_lateness(policy, DEADLINE, submitted)
    assert lateness.state == state
    grade = combine(RUBRIC, CODE_FINDINGS, csv(**MANUAL), lateness, policy)
    assert grade.overall.before_late == pytest.approx(64.3)
    assert grade.overall.mark == expected_mark
    if state == "late" and policy.kind != "none":
        assert grade.overall.late_penalty
        assert any(a.flag == "Late submission" for a in grade.attention)


def test_late_with_an_extension_and_timezones():
    # nbgrader's timestamp format, in UTC; an extension of two days makes it on time
    lateness = assess_lateness(CAP, DEADLINE, "2026-03-12 09:00:00.000000 UTC", timedelta(days=2))
    assert lateness.state == "on-time" and lateness.extension_hours == 48
    assert assess_lateness(CAP, DEADLINE, "2026-03-12T09:00:00+00:00").state == "late"


def test_unknown_submission_time_is_never_silently_on_time():
    lateness = assess_lateness(CAP, DEADLINE, None)
    grade = combine(RUBRIC, CODE_FINDINGS, csv(**MANUAL), lateness, CAP)
    assert lateness.state == "unknown" and grade.status == "provisional"
    assert "Lateness: the submission time is unknown" in grade.provisional_parts
    assert assess_lateness(CAP, None, None).state == "no-deadline"


def test_could_not_run_findings_suggest_nothing():
    findings = [f("code.lint", "code", COULD_NOT_RUN, "ruff not available")]
    grade = combine(RUBRIC, findings, {}, on_time(), CAP)
    assert by_key(grade)["code"].suggested is None and by_key(grade)["code"].mark is None
    assert any(a.flag == "A check could not run" for a in grade.attention)


def test_a_failed_run_is_flagged_once_not_again_for_each_check_it_left_unrun():
    run = f("execution.run", "general", FAIL, "The notebook stopped: cell 9 raised MemoryError.")
    unrun = f("protocol.scores", "training_testing", COULD_NOT_RUN, "Not checked: no scorable predictions.")
    broke = f(
        "code.lint", "code", COULD_NOT_RUN, "The check could not run.", details={"error": "KeyError: 'x'"}
    )
    flags = [a.flag for a in combine(RUBRIC, [run, unrun], {}, on_time(), CAP).attention]
    assert flags == ["Failed run"]
    # a check that broke is not the run's consequence: the marker still hears of it
    flags = [a.flag for a in combine(RUBRIC, [run, unrun, broke], {}, on_time(), CAP).attention]
    assert sorted(flags) == ["A check could not run", "Failed run"]
    # without a failed run, a check that could not run is flagged as before
    assert [a.flag for a in combine(RUBRIC, [unrun], {}, on_time(), CAP).attention] == [
        "A check could not run"
    ]


# --- the marks CSV --------------------------------------------------------------------------------


def write(tmp_path, text):
    path = tmp_path / "research_challenge.csv"
    path.write_text(text, encoding="utf-8")
    return path


def rows_by_key(rows):
    return {(r.student, r.criterion, r.role): r for r in rows}


STUDENTS = KnownStudents({"ab1234": "B", "cd5678": "D"}, {"ef9012"})


def test_marks_csv_reads_titles_aliases_comments_markers_and_overrides(tmp_path):
    path = write(
        tmp_path,
        "student_id,criterion,mark,comment,marker,override,role\n"
        'ab1234,Presentation,68,"Clear, well paced",JS,,\n'
        "ab1234,code_quality,accept,,JS,,\n"
        "ab1234,general,,Good work overall.,JS,,\n"
        "cd5678,Training and testing,55.5%,,KL,Own folds are the official ones,\n"
        "cd5678,training_testing,50,,MN,,second\n",
    )
    rows = rows_by_key(read_marks_csv(path, RUBRIC, STUDENTS))
    presentation = rows["ab1234", "presentation", "first"]
    assert (
        presentation.mark == 68
        and presentation.comment == "Clear, well paced"
        and presentation.marker == "JS"
    )
    assert rows["ab1234", "code", "first"].accept
    assert rows["ab1234", "general", "first"].comment == "Good work overall."
    tt = rows["cd5678", "training_testing", "first"]
    assert tt.mark == 55.5 and tt.line == 5 and tt.override == "Own folds are the official ones"
    assert rows["cd5678", "training_testing", "second"].mark == 50


def test_record_lines_round_trip_through_a_formgrader_comment():
    parts = CommentParts(
        "Clear and within time.\nGood slides.",
        "JS",
        "check misread the folds",
        False,
        [SecondMark(64.0, "CD", "a little long")],
    )
    text = join_comment(parts)
    assert text.startswith("Clear and within time.\nGood slides.\nmarker: JS")
    assert split_comment(text) == parts
    # what a marker types in formgrader reads the same way
    typed = split_comment("Nice work.\nOverride: the leak check is wrong here\nMarker: AB")
    assert (
        typed.text == "Nice work."
        and typed.override == "the leak check is wrong here"
        and typed.marker == "AB"
    )


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "ab1234,presentaton,60,\n",
            r"line 2: unknown criterion 'presentaton'\. Did you mean 'presentation'\?",
        ),
        (
            "ab1234,presentation,60,\nab1234,Presentation,61,\n",
            r"line 3: ab1234 / presentation is already given on line 2",
        ),
        ("ab1234,presentation,106,\n", r"line 2: mark 106 is outside 0-100"),
        ("ab1234,presentation,good,\n", r"line 2: mark 'good' is not a number"),
        ("ab1234,general,60,\n", r"line 2: 'general' takes a comment only"),
        ("ab124,presentation,60,\n", r"line 2: unknown student id 'ab124'\. Did you mean 'ab1234'\?"),
        ("ef9012,presentation,60,\n", r"line 2: ef9012 has a submission but no challenge in the allocation"),
        ("ab1234,presentation,60,\nab1234,bogus,60,\n", r"line 3: unknown criterion 'bogus'"),
    ],
)
def test_marks_csv_errors_name_the_line(tmp_path, body, message):
    with pytest.raises(MarksError, match=message) as raised:
        read_marks_csv(write(tmp_path, "student_id,criterion,mark,comment\n" + body), RUBRIC, STUDENTS)
    assert "nothing was applied" in str(raised.value)


def test_ids_in_another_case_are_the_allocation_s_student_unless_the_course_says_otherwise(tmp_path):
    path = write(tmp_path, "student_id,criterion,mark,comment\nAB1234,presentation,60,\n")
    assert [row.student for row in read_marks_csv(path, RUBRIC, STUDENTS)] == ["ab1234"]
    case_sensitive = KnownStudents(Allocation({"ab1234": "B"}, case_sensitive=True))
    with pytest.raises(MarksError, match=r"line 2: unknown student id 'AB1234'\. Did you mean 'ab1234'\?"):
        read_marks_csv(path, RUBRIC, case_sensitive)


def test_a_mark_for_a_criterion_left_to_the_autograder_is_refused(tmp_path):
    text = (
        (REPO / "rubric" / "research_challenge.toml")
        .read_text()
        .replace('formgrader_cell = "code_quality"\n', "")
    )
    (tmp_path / "rubric.toml").write_text(text)
    rubric = load_rubric(tmp_path / "rubric.toml")
    with pytest.raises(MarksError, match=r"line 2: 'code' is left to the autograder by the rubric"):
        read_marks_csv(write(tmp_path, "student_id,criterion,mark\nab1234,code,60\n"), rubric, STUDENTS)


def test_marks_csv_header_is_checked(tmp_path):
    with pytest.raises(MarksError, match="line 1: the header must have student_id, criterion, mark"):
        read_marks_csv(write(tmp_path, "student,criterion,mark\n"), RUBRIC)
    with pytest.raises(MarksError, match="line 1: unknown column"):
        read_marks_csv(write(tmp_path, "student_id,criterion,mark,grade\n"), RUBRIC)
    assert read_marks_csv(tmp_path / "absent.csv", RUBRIC) == []


# --- the presentation recording -----------------------------------------------------------------------

SETTINGS = PresentationSettings(max_minutes=5.0, tolerance_seconds=30.0)


def test_recording_lengths_are_read_from_real_files(tmp_path):
    assert recording_duration(make_recording(tmp_path / "a.mp4", 270)) == pytest.approx(270, abs=1)
    assert recording_duration(make_recording(tmp_path / "b.m4a", 312)) == pytest.approx(312, abs=0.5)


@pytest.mark.parametrize(
    "name, seconds, status",
    [
        ("talk.mp4", 270, PASS),  # 4:30
        ("talk.m4a", 320, WARN),  # 5:20, within the 30 s tolerance
        ("talk.mp4", 372, FAIL),  # 6:12
    ],
)
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
    grade = combine(RUBRIC, findings, {}, on_time(), CAP)
    assert any(a.flag == "Recording missing or unreadable" for a in grade.attention)
