"""The challenge catalogue and the course configuration."""

import pytest

from autograder.course.challenges import Catalogue, UnknownTaskError
from autograder.course.config import ConfigError, load_config
from autograder.course.data import load_ground_truth


def test_the_lectures_four_challenges():
    catalogue = Catalogue()
    assert [(c.letter, c.task) for c in catalogue] == [
        ("A", "matbench_phonons"),
        ("B", "matbench_expt_gap"),
        ("C", "matbench_perovskites"),
        ("D", "matbench_glass"),
    ]
    glass = catalogue.get("D")
    assert (glass.task_type, glass.input_type, glass.metric, glass.n_samples) == (
        "classification",
        "composition",
        "rocauc",
        5680,
    )
    phonons = catalogue.get("matbench_phonons")
    assert (phonons.input_type, phonons.unit, phonons.metric, phonons.n_samples) == (
        "structure",
        "cm^-1",
        "mae",
        1265,
    )
    assert catalogue.get("expt_gap").letter == "B"
    assert catalogue.get("c").target == "e_form"


@pytest.mark.parametrize(
    "letter, best, modnet, rf, dummy",
    [
        ("A", 28.7606, 34.2751, 67.6126, 323.9822),
        ("B", 0.2865, 0.3327, 0.4461, 1.1435),
        ("C", 0.0269, 0.0908, 0.2355, 0.5660),
        ("D", 0.9603, 0.9603, 0.8587, 0.5005),
    ],
)
def test_leaderboard_reference_points(letter, best, modnet, rf, dummy):
    challenge = Catalogue().get(letter)
    points = {label: entry.mean for label, entry in challenge.reference_points}
    assert points["best"] == best
    assert points.get("MODNet", points["best"]) == modnet  # on glass MODNet is the best entry
    assert points["RF-SCM/Magpie"] == rf
    assert points["Dummy"] == dummy


def test_rank_follows_the_metric_direction():
    expt_gap, glass = Catalogue().get("B"), Catalogue().get("D")
    assert expt_gap.rank(0.20) == 1  # better than Darwin
    assert expt_gap.rank(0.44) == 10  # between AMMExpress and RF-SCM/Magpie
    assert glass.rank(0.99) == 1
    assert glass.rank(0.86) == 3  # below AMMExpress 0.8607, above RF 0.8587


@pytest.mark.parametrize(
    "task", ["matbench_phonons", "matbench_expt_gap", "matbench_perovskites", "matbench_glass"]
)
def test_official_fold_sizes_match_the_data(task):
    challenge = Catalogue().get(task)
    truth = load_ground_truth(task)
    assert [len(truth.test_ids(f)) for f in range(5)] == challenge.fold_test_sizes
    assert [len(truth.train_ids(f)) for f in range(5)] == challenge.fold_train_sizes


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(UnknownTaskError) as error:
        Catalogue({"A": "matbench_phonon"})
    assert "matbench_phonons" in str(error.value) and "matbench_steels" in str(error.value)
    with pytest.raises(UnknownTaskError) as error:
        Catalogue().get("E")
    assert "A (matbench_phonons)" in str(error.value)


def test_a_course_may_choose_other_matbench_tasks(tmp_path):
    (tmp_path / "autograder.toml").write_text(
        '[challenges]\nA = "matbench_dielectric"\nB = "matbench_expt_is_metal"\nC = "matbench_steels"\n'
    )
    catalogue = load_config(tmp_path).catalogue
    assert [c.task for c in catalogue] == ["matbench_dielectric", "matbench_expt_is_metal", "matbench_steels"]
    assert catalogue.get("B").metric == "rocauc"
    assert catalogue.get("C").leaderboard == ()  # no reference points known for steels


def test_config_errors_say_what_to_fix(tmp_path):
    config = tmp_path / "autograder.toml"
    config.write_text("[execution]\ncell_timout = 10\n")
    with pytest.raises(ConfigError, match="unknown setting 'cell_timout'"):
        load_config(tmp_path)
    config.write_text('[execution]\ncell_timeout = "ten"\n')
    with pytest.raises(ConfigError, match="cell_timeout: expected int"):
        load_config(tmp_path)
    config.write_text('[challenges]\nA = "matbench_nothing"\n')
    with pytest.raises(UnknownTaskError, match="Valid tasks"):
        load_config(tmp_path)
    config.write_text("[course\n")
    with pytest.raises(ConfigError, match="TOML"):
        load_config(tmp_path)


def test_the_repository_course_config_loads():
    from pathlib import Path

    from autograder.course.config import Course

    course = Course.open(Path(__file__).resolve().parents[2])
    assert course.config.deadline.isoformat() == "2026-03-11T15:00:00"
    assert course.config.late.kind == "cap"
    assert len(course.config.catalogue) == 4
