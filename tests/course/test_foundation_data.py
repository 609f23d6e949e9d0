"""The data layer on the real offline data sets: targets, ids and the official folds."""

import bz2
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from autograder.course import data

TASKS = ["matbench_phonons", "matbench_expt_gap", "matbench_perovskites", "matbench_glass"]


@pytest.mark.parametrize("task", TASKS)
def test_folds_equal_matbench_validation_file(task):
    """Our regenerated folds are exactly those frozen in matbench's matbench_v0.1_validation.json."""
    splits = data.load_official_splits(task)
    assert splits is not None, "matbench must be installed for this test"
    truth = data.load_ground_truth(task, use_cache=False)
    for fold in range(5):
        assert truth.test_ids(fold) == splits[f"fold_{fold}"]["test"]
        assert truth.train_ids(fold) == splits[f"fold_{fold}"]["train"]


@pytest.mark.parametrize("task", TASKS)
def test_targets_equal_matbench_ground_truth_artifacts(task, shared_data):
    """Targets and ids agree with matbench's own artifacts (scripts/artifacts/<task>.json.bz2)."""
    with bz2.open(shared_data / "ground-truth" / f"{task}.json.bz2", "rt") as handle:
        artifact = json.load(handle)
    # pandas "columns" orientation: {column: {row number: value}}
    rows = sorted(artifact["mbid"], key=int)
    ids = [artifact["mbid"][r] for r in rows]
    info = data.task_info(task)
    reference = np.array([artifact[info["target"]][r] for r in rows])
    truth = data.load_ground_truth(task)
    assert truth.mbids == ids
    if info["task_type"] == "classification":
        assert (truth.targets == reference.astype(bool)).all()
    else:
        np.testing.assert_allclose(truth.targets, reference.astype(float), rtol=1e-12, atol=1e-12)


def test_chemical_systems_from_compositions_and_structures(shared_data):
    from pymatgen.core import Composition

    with gzip.open(shared_data / "matbench_expt_gap.json.gz", "rt") as handle:
        compositions = [row[0] for row in json.load(handle)["data"]]
    expt_gap = data.load_ground_truth("matbench_expt_gap")
    for i in range(0, 4604, 97):
        assert expt_gap.chemsys[i] == Composition(compositions[i]).chemical_system
    perovskites = data.load_ground_truth("matbench_perovskites")
    assert perovskites.chemsys[0] == "N-Rh-Te"  # mb-perovskites-00001 is RhTeN3
    assert all(c for c in perovskites.chemsys)


@pytest.mark.parametrize("task", TASKS)
def test_verify_accepts_the_offline_copies(task):
    report = data.verify(task)
    assert report.ok, report.problems
    assert any("official 5 folds" in fact for fact in report.facts)


def test_verify_rejects_a_shuffled_data_set(tmp_path, monkeypatch, shared_data):
    with gzip.open(shared_data / "matbench_glass.json.gz", "rt") as handle:
        raw = json.load(handle)
    raw["data"] = raw["data"][1:] + raw["data"][:1]  # rows out of matbench order
    with gzip.open(tmp_path / "matbench_glass.json.gz", "wt") as handle:
        json.dump(raw, handle)
    monkeypatch.setenv("MATMINER_DATA", str(tmp_path))
    report = data.verify("matbench_glass")
    assert not report.ok
    assert any("official split" in p for p in report.problems)


def test_verify_rejects_wrong_columns_and_row_count(tmp_path, monkeypatch, shared_data):
    with gzip.open(shared_data / "matbench_expt_gap.json.gz", "rt") as handle:
        raw = json.load(handle)
    raw["columns"] = ["composition", "band gap"]
    raw["data"], raw["index"] = raw["data"][:100], raw["index"][:100]
    with gzip.open(tmp_path / "matbench_expt_gap.json.gz", "wt") as handle:
        json.dump(raw, handle)
    monkeypatch.setenv("MATMINER_DATA", str(tmp_path))
    problems = " ".join(data.verify("matbench_expt_gap").problems)
    assert "'gap expt' is missing" in problems and "100 rows" in problems
    with pytest.raises(data.DataInvalidError, match="not the Matbench data set"):
        data.load_ground_truth("matbench_expt_gap", use_cache=False)


def test_without_the_data_set_the_targets_come_from_matbenchs_own_artifacts(tmp_path, monkeypatch):
    """A student's checker has no data set: the ground truth is matbench's artifact shipped with the package,
    the same ids, folds and chemical systems as from the data set, targets within JSON's rounding."""
    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
    for task in ("matbench_phonons", "matbench_glass"):
        from_data = data.load_ground_truth(task, use_cache=False)
        monkeypatch.setenv("MATMINER_DATA", str(tmp_path))
        shipped = data.load_ground_truth(task, use_cache=False)
        monkeypatch.undo()
        monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path / "cache"))
        assert shipped.mbids == from_data.mbids and shipped.chemsys == from_data.chemsys
        assert (shipped.test_fold == from_data.test_fold).all()
        assert np.allclose(shipped.targets.astype(float), from_data.targets.astype(float), rtol=0, atol=1e-9)


def test_a_missing_data_set_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MATMINER_DATA", str(tmp_path))
    monkeypatch.setattr(data, "ARTIFACTS", tmp_path / "no-artifacts")
    with pytest.raises(data.DataMissingError) as error:
        data.load_ground_truth("matbench_glass")
    message = str(error.value)
    assert str(tmp_path / "matbench_glass.json.gz") in message
    assert "autograder data fetch matbench_glass" in message and "MATMINER_DATA" in message


def test_cache_makes_the_second_load_fast_and_identical(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("AUTOGRADER_CACHE", str(tmp_path))
    first = data.load_ground_truth("matbench_perovskites")
    started = time.perf_counter()
    second = data.load_ground_truth("matbench_perovskites")
    assert time.perf_counter() - started < 0.5
    assert second.mbids == first.mbids and (second.test_fold == first.test_fold).all()
    np.testing.assert_array_equal(second.targets, first.targets)


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_cli_data_commands(tmp_path):
    done = _cli("data", "verify", "B", "D")
    assert done.returncode == 0, done.stderr
    assert "matbench_expt_gap: OK" in done.stdout and "matbench_glass: OK" in done.stdout
    missing = _cli("data", "status", "A", env={"MATMINER_DATA": str(tmp_path)})
    assert missing.returncode == 1
    assert "MISSING" in missing.stdout and "matbench_phonons.json.gz" in missing.stdout
    unknown = _cli("data", "status", "matbench_foo")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0  # one line
    assert unknown.stderr.startswith("Error: Unknown Matbench v0.1 task 'matbench_foo'")
