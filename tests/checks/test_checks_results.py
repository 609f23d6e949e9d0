"""The results file and the protocol checks that read it: loading (plain JSON with a .gz name, real
gzip, damaged files), matbench's hash, and each way a results file can be wrong; official
leaderboard predictions converted into results files are compliant."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from checks_support import (
    RELEASED,
    corpus_notebook,
    leaderboard_predictions,
    leaderboard_scores,
    results_file,
    statuses,
    truth_predictions,
    write_notebook,
)

from autograder.checks import run_checks
from autograder.checks.context import CheckContext
from autograder.course.data import load_ground_truth
from autograder.results.file import ResultsFileError, load_results, matbench_hash

CASE_OF = {
    "A": "compliant_A_phonons",
    "B": "compliant_B_expt_gap",
    "C": "compliant_C_perovskites",
    "D": "compliant_D_glass",
}
TASK_OF = {
    "A": "matbench_phonons",
    "B": "matbench_expt_gap",
    "C": "matbench_perovskites",
    "D": "matbench_glass",
}
RESULT_CHECKS = (
    "protocol.results_file",
    "protocol.task",
    "protocol.folds_complete",
    "protocol.test_ids",
    "protocol.prediction_values",
    "protocol.scores",
    "protocol.plausibility",
    "protocol.alignment",
)


def check(tmp_path, challenge, folds=None, raw=None, compress=False, task=None, notebook=None, **kwargs):
    """Findings of the protocol and leaderboard checks for a results file next to a notebook."""
    nb_path = write_notebook(
        tmp_path / "research_challenge.ipynb", notebook or corpus_notebook(CASE_OF[challenge])
    )
    path = tmp_path / "results.json.gz"
    if raw is not None:
        path.write_bytes(raw)
    elif folds is not None:
        results_file(path, task or TASK_OF[challenge], folds, compress=compress, **kwargs)
    ctx = CheckContext.from_notebook(nb_path, challenge=challenge, released_path=RELEASED)
    return ctx, statuses(run_checks(ctx, only=["protocol", "leaderboard"]))


# --- loading ------------------------------------------------------------------------------------


def test_plain_json_with_gz_name_and_real_gzip_both_load(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    plain = results_file(tmp_path / "plain.json.gz", "matbench_expt_gap", folds, compress=False)
    real = results_file(tmp_path / "real.json.gz", "matbench_expt_gap", folds, compress=True)
    assert plain.read_bytes()[:1] == b"{" and real.read_bytes()[:2] == b"\x1f\x8b"
    a, b = load_results(plain), load_results(real)
    assert not a.compressed and b.compressed
    assert a.raw == b.raw and a.hash_matches() and b.hash_matches()
    assert sorted(a.tasks["matbench_expt_gap"].folds) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "blob, words",
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        (b'{"tasks": {', "not valid JSON"),
        (b"[1, 2, 3]", "JSON list"),
        (b'{"hello": 1}', "no 'tasks'"),
        (b"\xff\xfe\x00binary", "neither JSON"),
    ],
)
def test_unreadable_files_say_why(tmp_path, blob, words):
    path = tmp_path / "results.json.gz"
    path.write_bytes(blob)
    with pytest.raises(ResultsFileError, match=words):
        load_results(path)


def test_truncated_gzip_is_a_clear_failure(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    path = results_file(tmp_path / "x.json.gz", "matbench_expt_gap", folds, compress=True)
    raw = path.read_bytes()[:500]
    ctx, s = check(tmp_path, "B", raw=raw)
    assert s["protocol.results_file"] == "fail"
    assert s["protocol.scores"] == "could-not-run" and s["leaderboard.rank"] == "could-not-run"


def test_file_written_by_matbench_itself(tmp_path, shared_data):
    """matbench 0.6 writes plain JSON under a .gz name; our hash equals matbench's; Dummy is compliant."""
    matbench = pytest.importorskip("matbench.bench")
    import numpy as np

    os.environ.setdefault("MATMINER_DATA", str(shared_data))
    mb = matbench.MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
    task = mb.matbench_expt_gap
    task.load()
    for fold in task.folds:
        _, y = task.get_train_and_val_data(fold)
        x_test = task.get_test_data(fold, include_target=False)
        task.record(fold, np.full(len(x_test), float(y.mean())))
    mb.add_metadata({"challenge": "B", "seed": 2026})
    nb_path = write_notebook(tmp_path / "research_challenge.ipynb", corpus_notebook(CASE_OF["B"]))
    mb.to_file(str(tmp_path / "results.json.gz"))
    loaded = load_results(tmp_path / "results.json.gz")
    assert not loaded.compressed and loaded.hash_matches()
    ctx = CheckContext.from_notebook(nb_path, challenge="B", released_path=RELEASED)
    s = statuses(run_checks(ctx, only=["protocol"]))
    for check_id in RESULT_CHECKS:
        if check_id != "protocol.alignment":
            assert s[check_id] == "pass", (check_id, s[check_id])
    assert s["protocol.alignment"] == "warn"  # a mean predictor: MAE/MAD = 1
    assert ctx.score.summary["mae"].mean == pytest.approx(1.1435, abs=5e-5)


# --- official predictions are compliant ----------------------------------------------------------


@pytest.mark.parametrize("challenge", ["A", "B", "C", "D"])
def test_leaderboard_rf_results_are_compliant(tmp_path, challenge, shared_data):
    task = TASK_OF[challenge]
    ctx, s = check(
        tmp_path,
        challenge,
        leaderboard_predictions("rf", task),
        compress=challenge in "AC",
        scores=leaderboard_scores("rf", task),
    )
    for check_id in RESULT_CHECKS:
        assert s[check_id] == "pass", (check_id, s[check_id])
    assert not [k for k, v in s.items() if k.startswith("protocol.") and v == "fail"]
    assert s["leaderboard.rank"] == "info" and s["leaderboard.extrapolation"] == "info"
    entry = ctx.challenge.reference("RF-SCM/Magpie")
    assert ctx.score.summary[ctx.challenge.metric].mean == pytest.approx(entry.mean, abs=5e-5)


def test_glass_both_roc_aucs_and_inverted_probabilities(tmp_path, shared_data):
    import numpy as np

    truth = load_ground_truth("matbench_glass")
    targets = truth.target_of()
    rng = np.random.default_rng(1)
    proba = {
        f: {m: float(np.clip(0.35 * targets[m] + 0.65 * rng.random(), 0, 1)) for m in truth.test_ids(f)}
        for f in range(5)
    }
    ctx, s = check(tmp_path, "D", proba)
    assert s["protocol.prediction_values"] == "pass" and s["protocol.scores"] == "pass"
    summary = ctx.score.summary
    assert summary["rocauc"].mean == pytest.approx(summary["balanced_accuracy"].mean)  # matbench's figure
    assert summary["rocauc_proba"].mean > summary["rocauc"].mean + 0.05
    inverted = {f: {m: 1.0 - p for m, p in fold.items()} for f, fold in proba.items()}
    (tmp_path / "inv").mkdir()
    _, s = check(tmp_path / "inv", "D", inverted)
    assert s["protocol.prediction_values"] == "fail"
    labels = {f: {m: bool(p > 0.5) for m, p in fold.items()} for f, fold in proba.items()}
    (tmp_path / "lab").mkdir()
    ctx, s = check(tmp_path / "lab", "D", labels)
    assert s["protocol.prediction_values"] == "pass" and "rocauc_proba" not in ctx.score.summary


# --- what can be wrong in a results file ---------------------------------------------------------


def test_partial_folds(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    del folds[3], folds[4]
    _, s = check(tmp_path, "B", folds)
    assert s["protocol.folds_complete"] == "fail"
    assert s["protocol.scores"] == "warn"  # scored over 3 folds, said to be not the leaderboard's figure
    assert s["leaderboard.rank"] == "could-not-run"


def test_wrong_task(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    ctx, s = check(tmp_path, "D", folds, task="matbench_expt_gap")
    assert s["protocol.task"] == "fail"
    assert s["protocol.test_ids"] == "could-not-run" and s["protocol.scores"] == "could-not-run"


def test_ids_of_another_fold_and_missing_ids(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    moved = list(folds[1])[:10]
    for mbid in moved:
        folds[0][mbid] = folds[1].pop(mbid)
    ctx, s = check(tmp_path, "B", folds)
    assert s["protocol.test_ids"] == "fail"
    finding = [f for f in run_checks(ctx, only=["protocol.test_ids"])][0]
    assert finding.details["fold_0"]["from_other_folds"] == 10 and finding.details["fold_1"]["missing"] == 10


@pytest.mark.parametrize(
    "bad, expected, scored",
    [(float("nan"), "fail", "warn"), (None, "fail", "warn"), ("1.2", "fail", "pass"), (2, "fail", "pass")],
)
def test_bad_prediction_values(tmp_path, bad, expected, scored, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    first = next(iter(folds[0]))
    folds[0][first] = bad
    _, s = check(tmp_path, "B", folds)
    assert s["protocol.prediction_values"] == expected
    assert s["protocol.scores"] == scored  # a fold that cannot be scored is left out, said so: never a crash


def test_glass_probabilities_out_of_range(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_glass")
    folds = {f: {m: (1.5 if v else 0.2) for m, v in fold.items()} for f, fold in folds.items()}
    _, s = check(tmp_path, "D", folds)
    assert s["protocol.prediction_values"] == "fail"


def test_hand_edited_file_fails_the_hash(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    path = results_file(tmp_path / "x.json", "matbench_expt_gap", folds)
    raw = json.loads(path.read_text())
    first = next(iter(raw["tasks"]["matbench_expt_gap"]["results"]["fold_0"]["data"]))
    raw["tasks"]["matbench_expt_gap"]["results"]["fold_0"]["data"][first] += 1.0
    _, s = check(tmp_path, "B", raw=json.dumps(raw).encode())
    assert s["protocol.results_file"] == "fail"


def test_stored_scores_that_do_not_match_the_predictions(tmp_path, shared_data):
    """An edited file whose hash was recomputed: the stored scores betray it."""
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    scores = leaderboard_scores("rf", "matbench_expt_gap")
    scores[2] = dict(scores[2], mae=0.1)
    _, s = check(tmp_path, "B", folds, scores=scores)
    assert s["protocol.results_file"] == "pass" and s["protocol.scores"] == "fail"


def test_perfect_and_memorised_predictions_are_implausible(tmp_path, shared_data):
    truth = load_ground_truth("matbench_expt_gap")
    _, s = check(tmp_path, "B", truth_predictions(truth))
    assert s["protocol.plausibility"] == "fail"
    # close but not exact, and better than the best: a warning for the marker
    (tmp_path / "near").mkdir()
    _, s = check(tmp_path / "near", "B", truth_predictions(truth, noise=0.2))
    assert s["protocol.plausibility"] == "warn"


def test_misaligned_predictions_are_no_better_than_the_mean(tmp_path, shared_data):
    folds = leaderboard_predictions("rf", "matbench_expt_gap")
    shuffled = {}
    for fold, preds in folds.items():
        ids = list(preds)
        values = sorted(preds.values())  # sorted predictions recorded in id order
        shuffled[fold] = dict(zip(ids, values))
    _, s = check(tmp_path, "B", shuffled)
    assert s["protocol.alignment"] == "warn"
    assert s["protocol.test_ids"] == "pass"


def test_missing_results_file(tmp_path):
    ctx, s = check(tmp_path, "B")
    assert s["protocol.results_file"] == "fail"
    for check_id in ("protocol.task", "protocol.test_ids", "protocol.scores", "protocol.written_by_run"):
        assert s[check_id] == "could-not-run", check_id


def test_matbench_hash_is_order_independent():
    a = {"b": 1, "a": {"y": [1, 2], "x": None}, "hash": "zzz"}
    b = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert matbench_hash(a) == matbench_hash(b)


def test_gzip_results_from_the_github_matbench(tmp_path, shared_data):
    folds = leaderboard_predictions("dummy", "matbench_phonons")
    raw = gzip.compress(
        json.dumps(
            __import__("autograder.results.file", fromlist=["x"]).build_results_dict(
                "matbench_phonons", folds
            )
        ).encode()
    )
    ctx, s = check(tmp_path, "A", raw=raw)
    assert s["protocol.results_file"] == "pass" and ctx.results.compressed
    assert ctx.score.summary["mae"].mean == pytest.approx(323.9822, abs=5e-5)
