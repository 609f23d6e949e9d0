"""Scores quoted in the student's text against the recomputed ones; the packaged copy of the
released notebook (for the self-check outside a course) is the current release."""

from __future__ import annotations

from checks_support import (
    RELEASED,
    add_cell,
    corpus_notebook,
    leaderboard_predictions,
    results_file,
    with_cells,
    write_notebook,
)

from autograder.checks import run_checks
from autograder.checks.context import PACKAGED_RELEASE, CheckContext, find_released_notebook

TASK = {"B": "matbench_expt_gap", "D": "matbench_glass"}
CASE = {"B": "compliant_B_expt_gap", "D": "compliant_D_glass"}


def claim(tmp_path, text, challenge="B", folds=None):
    nb = with_cells(
        corpus_notebook(CASE[challenge]),
        leaderboard_comparison="### Comparison with the leaderboard\n\n" + text,
    )
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    results_file(
        tmp_path / "results.json.gz", TASK[challenge], folds or leaderboard_predictions("rf", TASK[challenge])
    )
    ctx = CheckContext.from_notebook(path, challenge=challenge, released_path=RELEASED)
    return {f.check_id: f for f in run_checks(ctx, only=["protocol.claimed_scores"])}[
        "protocol.claimed_scores"
    ]


def test_matching_claim(tmp_path, shared_data):
    finding = claim(tmp_path, "My model reaches an MAE of 0.446 ± 0.018 eV, behind Darwin (MAE 0.2865).")
    assert finding.status == "pass", finding.details


def test_claim_better_than_the_predictions(tmp_path, shared_data):
    finding = claim(tmp_path, "Our final MAE is 0.31 eV, close to the best models.")
    assert finding.status == "warn" and "0.31" in finding.message


def test_reference_figures_are_not_claims(tmp_path, shared_data):
    finding = claim(
        tmp_path, "The leaderboard's best MAE is 0.2865 eV and the Dummy baseline has MAE 1.1435 eV."
    )
    assert finding.status == "info"


def test_probability_roc_auc_quoted_for_glass(tmp_path, shared_data):
    import numpy as np

    from autograder.course.data import load_ground_truth

    truth = load_ground_truth("matbench_glass")
    targets = truth.target_of()
    rng = np.random.default_rng(3)
    folds = {
        f: {m: float(np.clip(0.4 * targets[m] + 0.6 * rng.random(), 0, 1)) for m in truth.test_ids(f)}
        for f in range(5)
    }
    (tmp_path / "a").mkdir()
    results_file(tmp_path / "a" / "x.json.gz", "matbench_glass", folds)
    ctx = CheckContext.from_notebook(
        write_notebook(tmp_path / "a" / "nb.ipynb", corpus_notebook("compliant_D_glass")),
        tmp_path / "a" / "x.json.gz",
        "D",
        released_path=RELEASED,
    )
    proba = ctx.score.summary["rocauc_proba"].mean
    finding = claim(tmp_path, f"My ROC-AUC is {proba:.3f}.", challenge="D", folds=folds)
    assert finding.status == "warn" and "labels" in finding.message


def test_claims_only_in_the_students_own_text(tmp_path, shared_data):
    nb = add_cell(
        corpus_notebook("compliant_B_expt_gap"),
        "leaderboard_comparison",
        "We obtained MAE = 0.20 eV on our own split.",
        kind="markdown",
    )
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    results_file(
        tmp_path / "results.json.gz", "matbench_expt_gap", leaderboard_predictions("rf", "matbench_expt_gap")
    )
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    finding = {f.check_id: f for f in run_checks(ctx, only=["protocol.claimed_scores"])}[
        "protocol.claimed_scores"
    ]
    assert finding.status == "warn"


def test_packaged_release_is_current():
    assert PACKAGED_RELEASE.read_bytes() == RELEASED.read_bytes(), (
        "autograder/checks/released/research_challenge.ipynb is stale: copy release/research_challenge/"
        "research_challenge.ipynb over it"
    )
    assert find_released_notebook(None) == PACKAGED_RELEASE
