"""The one Score: official leaderboard predictions, saved through matbench's own API, give back the
leaderboard's figures; plain JSON and real gzip files both load."""

import gzip
import json

import pytest
from grading_support import write_results_file

from autograder.course.challenges import Catalogue
from autograder.results.file import ResultsFileError
from autograder.results.score import score_results_file

CATALOGUE = Catalogue()


@pytest.mark.parametrize(
    "letter, algorithm, mean, std, rank",
    [
        ("B", "RF-SCM/Magpie", 0.4461, 0.0177, 10),
        ("B", "Dummy", 1.1435, 0.0310, 13),  # 1.14352 > the rounded 1.1435 on the board
        ("D", "RF-SCM/Magpie", 0.8587, 0.0158, 3),
        ("D", "Dummy", 0.5005, 0.0178, 7),
    ],
)
def test_leaderboard_predictions_rescore_to_the_leaderboard(tmp_path, letter, algorithm, mean, std, rank):
    challenge = CATALOGUE.get(letter)
    path = write_results_file(challenge.task, algorithm, tmp_path / "results.json.gz")
    assert path.read_bytes()[:1] == b"{"  # matbench 0.6 writes plain JSON under a .gz name
    analysis = score_results_file(challenge, path)
    assert analysis.complete and len(analysis.folds) == 5
    assert analysis.mean == pytest.approx(mean, abs=5e-5) and analysis.std == pytest.approx(std, abs=5e-5)
    assert analysis.rank == rank
    assert sum(f.n for f in analysis.fold_scores) == challenge.n_samples
    seen, unseen = analysis.seen_unseen["seen"], analysis.seen_unseen["unseen"]
    assert seen["n"] + unseen["n"] == challenge.n_samples


def test_real_gzip_and_stored_scores_agree(tmp_path):
    challenge = CATALOGUE.get("B")
    plain = write_results_file(challenge.task, "RF-SCM/Magpie", tmp_path / "a.json.gz")
    packed = write_results_file(challenge.task, "RF-SCM/Magpie", tmp_path / "b.json.gz", real_gzip=True)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    a, b = score_results_file(challenge, plain), score_results_file(challenge, packed)
    assert a.folds == b.folds
    stored = json.loads(gzip.decompress(packed.read_bytes()))["tasks"][challenge.task]["results"]
    for fold, scores in a.folds.items():  # matbench's own per-fold MAE equals ours
        assert scores["mae"] == pytest.approx(stored[f"fold_{fold}"]["scores"]["mae"], rel=1e-12)


def test_unreadable_or_wrong_results_files(tmp_path):
    bad = tmp_path / "results.json.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ResultsFileError):
        score_results_file(CATALOGUE.get("B"), bad)
    bad.write_text(json.dumps({"tasks": {"matbench_glass": {"results": {}}}}))
    with pytest.raises(ResultsFileError, match="no predictions for matbench_expt_gap"):
        score_results_file(CATALOGUE.get("B"), bad)
    with pytest.raises(ResultsFileError, match="no recorded folds"):
        score_results_file(CATALOGUE.get("D"), bad)
