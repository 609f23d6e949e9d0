"""The rubric file: the shipped one loads and agrees with the lecture; broken ones are refused with
an error naming the line."""

from pathlib import Path

import pytest

from autograder.grade.rubric import RubricError, known_finding_ids, load_rubric, parse_rubric

REPO = Path(__file__).resolve().parents[2]
RUBRIC = REPO / "rubric" / "research_challenge.toml"
TEXT = RUBRIC.read_text(encoding="utf-8")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing needle."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def problems(text: str) -> str:
    with pytest.raises(RubricError) as caught:
        parse_rubric(text, path=Path("rubric/research_challenge.toml"))
    return str(caught.value)


def test_shipped_rubric_is_the_lectures():
    rubric = load_rubric(RUBRIC)
    weights = {c.key: c.weight for c in rubric.criteria.values()}
    assert weights == {
        "data_preparation": 20,
        "model_choice": 20,
        "training_testing": 20,
        "code": 10,
        "presentation": 30,
    }
    guidelines = {c.key: c.guideline for c in rubric.criteria.values()}
    assert guidelines["model_choice"] == "Justify based on the problem and available data"
    assert guidelines["presentation"] == "Clarity and conciseness"
    assert [(b.min, b.max) for b in rubric.bands] == [(70, 100), (60, 69), (50, 59), (40, 49), (0, 39)]
    for criterion in rubric.criteria.values():  # a descriptor for every band of every criterion
        assert set(criterion.descriptors) == {b.key for b in rubric.bands}
        assert all(len(text) > 40 for text in criterion.descriptors.values())
    assert rubric.formgrader_cells == {
        "data_preparation": "data_preparation",
        "model_choice": "model_choice",
        "training_testing": "training_testing",
        "code_quality": "code",
        "presentation": "presentation",
    }
    assert rubric.declaration_cell == "llm_declaration" and rubric.general_cell == "markers_feedback"
    assert rubric.band_for(69.5).key == "first" and rubric.band_for(69.49).key == "upper_second"
    assert rubric.band_for(39.4).key == "fail"


def test_rule_ids_are_known_to_the_checks_registry():
    known = known_finding_ids()
    # The checks' registry is read (not a list kept here): its protocol and declaration ids are in.
    assert {"protocol.api_used", "protocol.test_tuning", "declaration.complete"} <= known
    rubric = load_rubric(RUBRIC)
    exact = [p for rule in rubric.rules for p in rule.findings if not any(ch in p for ch in "*?[")]
    assert exact and all(p in known for p in exact)


def test_weights_not_summing_to_100_name_the_line():
    text = TEXT.replace("weight = 30", "weight = 35", 1)
    message = problems(text)
    assert "weights sum to 105, not 100" in message
    assert f"line {line_of(text, 'weight = 20')}" in message  # the first criterion's weight line


def test_unknown_finding_id_names_the_line_and_suggests():
    text = TEXT.replace('"protocol.test_tuning"]', '"protocol.test_tunning"]', 1)
    message = problems(text)
    assert "unknown finding id 'protocol.test_tunning'" in message
    assert "Did you mean 'protocol.test_tuning'?" in message
    needle = 'findings = ["protocol.api_used"'
    assert f"line {line_of(text, needle)}" in message


def test_unknown_family_pattern_is_refused():
    text = TEXT.replace('findings = "leaderboard.*"', 'findings = "leaderbord.*"', 1)
    message = problems(text)
    assert "the pattern 'leaderbord.*' matches no known finding id" in message
    assert "Did you mean 'leaderboard.*'?" in message
    assert f"line {line_of(text, 'leaderbord.*')}" in message


def test_overlapping_bands_name_the_line():
    text = TEXT.replace("min = 60\nmax = 69", "min = 60\nmax = 72", 1)
    message = problems(text)
    assert "band 'upper_second' (60-72) overlaps band 'first' (70-100)" in message
    assert f"line {line_of(text, 'max = 72')}" in message


def test_gap_between_bands_is_refused():
    text = TEXT.replace("min = 50\nmax = 59", "min = 50\nmax = 57", 1)
    message = problems(text)
    assert "marks 58-59 fall in no band" in message
    assert f"line {line_of(text, 'max = 57')}" in message


def test_typo_in_a_key_suggests_the_known_key():
    text = TEXT.replace('guideline = "Clarity and conciseness"', 'guidline = "Clarity and conciseness"', 1)
    message = problems(text)
    assert "unknown key 'guidline' in [criteria.presentation]. Did you mean 'guideline'?" in message
    assert f"line {line_of(text, 'guidline')}" in message


def test_typo_in_a_criterion_and_an_effect_and_a_descriptor_band():
    text = (
        TEXT.replace("[criteria.model_choice]", "[criteria.model_choise]", 1)
        .replace("[criteria.model_choice.descriptors]", "[criteria.model_choise.descriptors]", 1)
        .replace('\neffect = "suggest"', '\neffect = "sugest"', 1)
        .replace('upper_second = "Sound,', 'uper_second = "Sound,', 1)
    )
    message = problems(text)
    assert "unknown criterion 'model_choise'. Did you mean 'model_choice'?" in message
    assert f"line {line_of(text, '[criteria.model_choise]')}" in message
    assert "effect 'sugest' is not one of cap, limit, suggest, info. Did you mean 'suggest'?" in message
    needle = 'effect = "sugest"'
    assert f"line {line_of(text, needle)}" in message
    assert "unknown key 'uper_second' in [criteria.data_preparation.descriptors]" in message
    assert "Did you mean 'upper_second'?" in message
    # several problems are reported at once, in line order
    lines = [int(part.split(":")[0]) for part in message.split(", line ")[1:]]
    assert lines == sorted(lines) and len(lines) >= 4


def test_toml_syntax_error_says_where():
    with pytest.raises(RubricError, match=r"line \d+"):
        parse_rubric(TEXT.replace("[rubric]", "[rubric", 1), path=Path("r.toml"))


def test_cap_rule_without_cap_and_status_typo():
    text = TEXT.replace("cap = 39\n", "", 1).replace('status = ["fail"]', 'status = ["failed"]', 1)
    message = problems(text)
    assert "a cap rule needs cap = <mark 0-100>" in message
    assert "unknown status 'failed'. Did you mean 'fail'?" in message


def test_missing_rubric_file_says_what_to_do(tmp_path):
    with pytest.raises(RubricError, match="No rubric at .*Copy rubric/research_challenge.toml"):
        load_rubric(tmp_path / "rubric.toml")


def test_a_limit_rule_needs_a_mark_and_a_criterion():
    text = TEXT.replace(
        'effect = "limit"\nlimit = 49\nnote = "The model scores',
        'effect = "limit"\nlimit = 149\nnote = "The model scores',
        1,
    )
    assert text != TEXT
    assert "a limit rule needs limit = <mark 0-100>" in problems(text)
    text = TEXT.replace('criterion = "training_testing"\neffect = "limit"', 'effect = "limit"', 1)
    assert text != TEXT and "a limit rule needs the criterion it applies to" in problems(text)


def test_a_limit_bounds_the_suggestion_not_the_markers_mark():
    from autograder.grade.combine import suggest
    from autograder.records import PASS, WARN, Finding

    rubric = load_rubric(RUBRIC)
    findings = [
        Finding("protocol.api_used", "training_testing", PASS, "Used the API."),
        Finding("leaderboard.rank", "training_testing", WARN, "No better than the Dummy."),
    ]
    mark, evidence = suggest(rubric, findings)["training_testing"]
    assert mark == 49  # the weighted mean of 65 and 55 is 60; the limit brings it to 49
    limit = next(e for e in evidence if e["effect"] == "limit")
    assert limit["limit"] == 49 and "Dummy baseline" in limit["note"]
    findings[1] = Finding("leaderboard.rank", "training_testing", "info", "7th of 15.")
    assert suggest(rubric, findings)["training_testing"][0] == 65
