"""Moderation on cohorts built row by row (autograder.report.moderation): the sample holds every case
it must and is reproducible from its seed; marker agreement equals a hand computation; the fairness
table flags a challenge marked 8 marks harder and no challenge when none is."""

import csv
import io
import random
from dataclasses import replace

import pytest
from grading_support import REPO

from autograder.course.config import ModerationSettings
from autograder.grade.marks import CSV_COLUMNS
from autograder.grade.record import Grade
from autograder.grade.rubric import load_rubric
from autograder.report.moderation import (
    FIRST,
    OVERALL,
    SECOND,
    MarkRow,
    SubmissionRow,
    band_of,
    build_moderation,
    fairness,
    marker_agreement,
    marker_distributions,
    moderation_sample,
    rows_from_grades,
    sample_csv,
)

RUBRIC = load_rubric(REPO / "rubric" / "research_challenge.toml")
BANDS = RUBRIC.bands
WEIGHTS = {key: c.weight for key, c in RUBRIC.criteria.items()}


def cohort(harder: str = "", shift: float = 8.0, seed: int = 7) -> list[MarkRow]:
    """40 students, 10 per challenge; two markers, each marking half of every challenge; every
    criterion's mark = the student's ability + noise, `shift` marks lower in challenge `harder`."""
    rng = random.Random(seed)
    rows = []
    for letter in "ABCD":
        for i in range(10):
            student, marker = f"{letter.lower()}{i:02d}", ("Dr Ada" if i % 2 else "Dr Bo")
            ability = rng.gauss(62, 6)
            marks = {}
            for key in WEIGHTS:
                mark = ability + rng.gauss(0, 4) - (shift if letter == harder else 0)
                marks[key] = round(min(100.0, max(0.0, mark)), 1)
                rows.append(MarkRow(student, letter, key, marks[key], marker, FIRST))
            overall = sum(WEIGHTS[k] * m for k, m in marks.items()) / 100
            rows.append(MarkRow(student, letter, OVERALL, round(overall), marker, FIRST))
    return rows


def test_fairness_flags_the_challenge_marked_harder():
    table = {entry["criterion"]: entry for entry in fairness(cohort(harder="C"), "challenge")}
    assert set(table) == set(WEIGHTS) | {OVERALL}
    overall = table[OVERALL]
    assert overall["flagged"] and overall["p"] < 0.001 and overall["lowest"] == "C"
    assert overall["tested"] == ["A", "B", "C", "D"] and overall["groups"]["C"]["n"] == 10
    means = {k: g["mean"] for k, g in overall["groups"].items()}
    others = (means["A"] + means["B"] + means["D"]) / 3
    assert 5 < others - means["C"] < 11  # about the 8 marks put in
    assert overall["gap"] == pytest.approx(max(means.values()) - means["C"])
    assert sum(entry["flagged"] for entry in table.values()) >= 5  # the criteria show it too


def test_fairness_flags_nothing_in_a_fairly_marked_cohort():
    table = fairness(cohort(harder=""), "challenge")
    assert [(e["criterion"], round(e["p"], 3)) for e in table if e["flagged"]] == []
    assert all(e["p"] is not None and e["f"] is not None for e in table)
    # the same cohort with C marked harder: same noise, only the shift differs
    assert fairness(cohort(harder="C"), "challenge")[-1]["flagged"]


def test_fairness_by_marker():
    rows = cohort()
    harsh = [replace(r, mark=r.mark - 8) if r.marker == "Dr Bo" else r for r in rows]
    by_marker = {e["criterion"]: e for e in fairness(harsh, "marker")}
    assert by_marker[OVERALL]["flagged"] and by_marker[OVERALL]["lowest"] == "Dr Bo"
    assert not {e["criterion"]: e for e in fairness(rows, "marker")}[OVERALL]["flagged"]
    lone = [r for r in rows if r.marker == "Dr Ada"]  # one marker: nothing to compare
    entry = fairness(lone, "marker")[-1]
    assert entry["p"] is None and not entry["flagged"] and "fewer than two" in entry["reason"]


def test_marker_agreement_equals_the_hand_computation():
    first = [72, 65, 55, 45, 38, 68]
    second = [70, 58, 57, 49, 51, 71]
    rows = []
    for i, (a, b) in enumerate(zip(first, second)):
        rows.append(MarkRow(f"s{i}", "B", "presentation", a, "Dr Ada", FIRST))
        rows.append(MarkRow(f"s{i}", "B", "presentation", b, "Dr Bo", SECOND))
    rows.append(MarkRow("s9", "B", "presentation", 60, "Dr Ada", FIRST))  # not re-marked: no pair
    result = marker_agreement(rows, BANDS, large_difference=10)
    assert result["n"] == 6
    # differences second - first: -2, -7, +2, +4, +13, +3
    assert result["mean_difference"] == pytest.approx(13 / 6)
    assert result["mean_abs_difference"] == pytest.approx(31 / 6)
    assert result["max_abs_difference"] == 13 and result["largest"].student == "s4"
    assert [p.student for p in result["large"]] == ["s4"]
    # bands: first  = first, upper, lower, third, fail, upper
    #        second = first, lower, lower, third, lower, first   -> 3 of 6 agree
    assert [p.second_band for p in result["pairs"]] == [
        "first",
        "lower_second",
        "lower_second",
        "third",
        "lower_second",
        "first",
    ]
    observed = 3 / 6
    # marginals: first rater first 1, upper 2, lower 1, third 1, fail 1; second: first 2, lower 3, third 1
    expected = (1 * 2 + 2 * 0 + 1 * 3 + 1 * 1 + 1 * 0) / 36
    assert result["band_agreement"] == pytest.approx(observed)
    assert result["kappa"] == pytest.approx((observed - expected) / (1 - expected)) == pytest.approx(0.4)


def test_agreement_without_pairs_and_with_one_band():
    assert marker_agreement([MarkRow("s", "A", "code", 60, "Dr Ada")], BANDS)["kappa"] is None
    same_band = [
        MarkRow("s1", "A", "code", 72, "Dr Ada"),
        MarkRow("s1", "A", "code", 75, "Dr Bo", SECOND),
        MarkRow("s2", "A", "code", 80, "Dr Ada"),
        MarkRow("s2", "A", "code", 78, "Dr Bo", SECOND),
    ]
    result = marker_agreement(same_band, BANDS)
    assert result["n"] == 2 and result["kappa"] is None and result["band_agreement"] == 1.0
    # the same marker twice is no second opinion
    assert (
        marker_agreement(
            [MarkRow("s", "A", "code", 60, "Dr Ada"), MarkRow("s", "A", "code", 64, "Dr Ada", SECOND)], BANDS
        )["n"]
        == 0
    )


def test_marker_distributions_against_the_cohort():
    rows = [
        MarkRow("s1", "A", "code", 60, "Dr Ada"),
        MarkRow("s2", "A", "code", 70, "Dr Ada"),
        MarkRow("s3", "B", "code", 50, "Dr Bo"),
        MarkRow("s1", "A", "code", 56, "Dr Bo", SECOND),
        MarkRow("s1", "A", OVERALL, 61, "Dr Ada"),
    ]
    table = {row["marker"]: row for row in marker_distributions(rows)}
    assert table["whole cohort"]["n"] == 4 and table["whole cohort"]["mean"] == pytest.approx(59)
    assert table["Dr Ada"]["mean"] == pytest.approx(65) and table["Dr Ada"]["difference"] == pytest.approx(6)
    assert table["Dr Bo"]["n"] == 2 and table["Dr Bo"]["mean"] == pytest.approx(53)
    assert table["Dr Bo"]["roles"] == [FIRST, SECOND]


SUBMISSIONS = (
    [
        SubmissionRow("fail1", "A", 35),  # a fail
        SubmissionRow("edge1", "A", 59),  # 1 below 60
        SubmissionRow("edge2", "B", 71.5),  # 1.5 above 70
        SubmissionRow("flag1", "B", 64, flags=["Implausible score"]),
        SubmissionRow("over1", "C", 65, overridden=["training_testing"]),
        SubmissionRow("pending", "C", None, status="incomplete"),
    ]
    + [
        SubmissionRow(f"{letter.lower()}{i:02d}", letter, 55 + (i * 7 + ord(letter)) % 8)
        for letter in "ABCD"
        for i in range(12)
    ]
    + [SubmissionRow("top_a", "A", 88), SubmissionRow("low_d", "D", 45)]
)


def reasons(sample):
    return {item.student: item.reasons for item in sample}


def test_the_sample_holds_every_case_it_must():
    settings = ModerationSettings(seed=11)
    sample = reasons(moderation_sample(SUBMISSIONS, BANDS, settings))
    assert sample["fail1"][0] == "fail"
    assert sample["edge1"] == ["within 2 of the boundary at 60"]
    assert sample["edge2"] == ["within 2 of the boundary at 70", "top of challenge B"]
    assert sample["flag1"][0] == "flagged: Implausible score"
    assert sample["over1"] == ["cap overridden: training_testing", "top of challenge C"]
    assert "pending" not in sample  # no overall mark yet
    assert "top of challenge A" in sample["top_a"] and "bottom of challenge A" in sample["fail1"]
    assert "bottom of challenge D" in sample["low_d"]
    for letter in "BCD":
        assert sum(f"top of challenge {letter}" in r for r in sample.values()) == 1
        assert sum(f"bottom of challenge {letter}" in r for r in sample.values()) == 1
    # marks 55-62 of the 48 others: those within 2 of 60 (58-62) are picked by rule, the rest drawn
    others = [s for s in SUBMISSIONS if len(s.student) == 3 and s.mark is not None]
    unpicked = [s.student for s in others if not (58 <= s.mark <= 62)]
    rule_picked = {s for s, r in sample.items() if not any(x.startswith("random") for x in r)}
    rest = [s for s in unpicked if s not in rule_picked]
    drawn = [s for s, r in sample.items() if any(x.startswith("random") for x in r)]
    assert len(drawn) == -(-len(rest) // 10) and set(drawn) <= set(rest)  # 10 % of the rest, rounded up


def test_the_sample_is_reproducible_from_its_seed_and_configurable():
    settings = ModerationSettings(seed=11)
    first = moderation_sample(SUBMISSIONS, BANDS, settings)
    assert [(s.student, s.reasons) for s in first] == [
        (s.student, s.reasons) for s in moderation_sample(SUBMISSIONS, BANDS, settings)
    ]
    random_of = lambda sample: {s.student for s in sample if any(r.startswith("random") for r in s.reasons)}  # noqa: E731
    draws = {
        frozenset(random_of(moderation_sample(SUBMISSIONS, BANDS, ModerationSettings(seed=seed))))
        for seed in range(5)
    }
    assert len(draws) > 1  # another seed, another random part
    everyone = moderation_sample(SUBMISSIONS, BANDS, ModerationSettings(random_share=1.0))
    assert len(everyone) == sum(s.mark is not None for s in SUBMISSIONS)
    none_random = moderation_sample(
        SUBMISSIONS, BANDS, ModerationSettings(random_share=0.0, boundary_margin=0, top_bottom=0)
    )
    on_a_boundary = {s.student for s in SUBMISSIONS if s.mark in (40, 50, 60, 70)}  # margin 0: only these
    assert (
        len(on_a_boundary) == 4 and set(reasons(none_random)) == {"fail1", "flag1", "over1"} | on_a_boundary
    )


def test_the_sample_csv_is_a_second_marker_s_list():
    sample = moderation_sample(SUBMISSIONS[:5], BANDS, ModerationSettings(random_share=0))
    lines = list(csv.DictReader(io.StringIO(sample_csv(sample, list(WEIGHTS)))))
    assert len(lines) == 5 * len(WEIGHTS)
    assert {line["role"] for line in lines} == {SECOND} and {line["mark"] for line in lines} == {""}
    assert lines[0]["student_id"] == "edge1" and lines[0]["criterion"] == "data_preparation"
    assert tuple(lines[0]) == CSV_COLUMNS  # the marks CSV's own columns: it goes in as it is


def grade(student, letter, marks, marker="Dr Ada", second=None, overall=None, attention=(), override=None):
    criteria = []
    for key, mark in marks.items():
        entry = {
            "key": key,
            "mark": mark,
            "marker": marker,
            "provisional": False,
            "override": "",
            "second_marks": [],
        }
        if second and key in second:
            entry["second_marks"] = [{"mark": second[key], "marker": "Dr Bo", "comment": ""}]
        if override == key:
            entry["override"] = "the cap's finding is a false positive"
        criteria.append(entry)
    return {
        "status": "final",
        "challenge": letter,
        "criteria": criteria,
        "overall": {"mark": overall},
        "attention": [{"flag": f} for f in attention],
    }


def test_rows_and_the_page_data_from_stored_grades():
    grades = {
        "ab1": grade("ab1", "A", {"code": 70, "presentation": 66}, second={"presentation": 58}, overall=67),
        "cd2": grade("cd2", "B", {"code": 38, "presentation": 40}, overall=39, attention=["Failed run"]),
        "ef3": grade("ef3", "B", {"code": 62}, override="code", overall=None),
        "gh4": {"status": "error"},
    }
    grades["ef3"]["criteria"][0]["marker"] = ""
    grades["ef3"]["criteria"].append(
        {
            "key": "presentation",
            "mark": 64,
            "source": "suggested",
            "marker": "",
            "second_marks": [{"mark": 50, "marker": "Dr Bo"}],
        }
    )
    grades = {student: Grade.from_json(stored) for student, stored in grades.items()}  # as read back
    rows = rows_from_grades(grades)
    assert MarkRow("ef3", "B", "presentation", 64, "", FIRST, suggested=True) in rows
    assert MarkRow("ab1", "A", "presentation", 58, "Dr Bo", SECOND) in rows
    assert MarkRow("ab1", "A", OVERALL, 67, "Dr Ada", FIRST) in rows
    assert {r.student for r in rows} == {"ab1", "cd2", "ef3"}
    view = build_moderation(grades, RUBRIC, ModerationSettings())
    assert (
        view["agreement"]["n"] == 1 and view["agreement"]["mean_difference"] == -8
    )  # not against a suggestion
    sampled = {s.student: s.reasons for s in view["sample"]}
    assert (
        sampled["cd2"][:2] == ["fail", "within 2 of the boundary at 40"]
        and "flagged: Failed run" in sampled["cd2"]
    )
    assert [s.student for s in view["not_marked"]] == ["ef3"]
    assert band_of(69.5, BANDS) == "first" and band_of(69.4, BANDS) == "upper_second"
