"""One Score per submission: a results file with a NaN prediction in one fold gives the same score
and rank in the checks' findings, on the feedback page, in grade.json and in the self-check, because
every surface reads the one stored rescoring (autograder.results.score)."""

from __future__ import annotations

import json
import math
import re

import pytest
from grading_support import (
    ASSIGNMENT,
    add_submission,
    executed_notebook,
    good_findings,
    make_course,
)

from autograder import selfcheck
from autograder.checks import load_check_findings, run_check_stage
from autograder.course.challenges import Catalogue
from autograder.grade.grading import grade_cohort
from autograder.report.cohort import write_cohort_reports
from autograder.results.score import score_results_file

CHALLENGE = Catalogue().get("B")
NAN_FOLD = 2


def _with_nan(path, fold: int = NAN_FOLD):
    """One prediction of one fold replaced by NaN, as a model that failed on one material records it
    (the fold's stored scores are dropped: matbench could not have computed them)."""
    data = json.loads(path.read_text())
    entry = data["tasks"][CHALLENGE.task]["results"][f"fold_{fold}"]
    first = next(iter(entry["data"]))
    entry["data"][first] = float("nan")
    entry["scores"] = {}
    path.write_text(json.dumps(data))  # json writes NaN, as matbench's own writer would
    return path


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory, shared_data):
    tmp = tmp_path_factory.mktemp("one-score")
    course = make_course(tmp / "course", release=True)
    add_submission(
        course, "nan01", "B", "RF-SCM/Magpie", good_findings(""), tmp, notebook=executed_notebook(course, {})
    )
    add_submission(
        course, "full01", "B", "RF-SCM/Magpie", good_findings(""), tmp, notebook=executed_notebook(course, {})
    )
    _with_nan(course.autograded_dir("nan01") / "results.json.gz")
    out = {}
    for student in ("nan01", "full01"):
        run_check_stage(course, student, ASSIGNMENT)  # the check stage: findings and the stored Score
    grade_cohort(course, ASSIGNMENT, update_gradebook=False)
    reports = write_cohort_reports(course, ASSIGNMENT)
    for student in ("nan01", "full01"):
        findings = {f.check_id: f for f in load_check_findings(course, student, ASSIGNMENT)}
        grade = course.load_grade(student, ASSIGNMENT)
        results = course.autograded_dir(student) / "results.json.gz"
        report = selfcheck.check(
            course.autograded_dir(student) / f"{ASSIGNMENT}.ipynb",
            results=results,
            challenge="B",
            course=course,
        )
        out[student] = {
            "findings": findings,
            "grade": grade,
            "page": reports.pages[student].read_text(),
            "selfcheck": report,
            "stored": course.load_score(student, ASSIGNMENT),
            "direct": score_results_file(CHALLENGE, results),
        }
    return out


def _page_mean(page: str) -> str:
    match = re.search(r"Mean ± std</strong></td><td class=\"num\"><strong>([0-9.]+) ± ([0-9.]+)", page)
    assert match, "the page shows no mean ± std"
    return match.group(1)


def test_a_nan_prediction_leaves_its_fold_scored_on_the_rest_and_the_submission_incomplete(surfaces):
    score = surfaces["nan01"]["direct"]
    fold = next(f for f in score.fold_scores if f.fold == NAN_FOLD)
    assert fold.n_invalid == 1 and fold.n == fold.n_expected - 1 and fold.scores["mae"] > 0
    assert not score.complete and score.rank is None
    assert all(f.complete for f in score.fold_scores if f.fold != NAN_FOLD)
    assert math.isfinite(score.mean) and len(score.folds) == 5


def test_findings_page_grade_and_self_check_report_one_score_and_rank(surfaces):
    for seen in surfaces.values():
        direct, stored = seen["direct"], seen["stored"]
        assert stored["mean"] == pytest.approx(direct.mean, rel=1e-12) and stored["rank"] == direct.rank
        # the checks' finding
        finding = seen["findings"]["protocol.scores"]
        assert finding.details["summary"]["mae"]["mean"] == pytest.approx(direct.mean, rel=1e-12)
        assert f"{direct.mean:.4f}" in finding.message
        # the grade and the page
        assert seen["grade"]["results"]["mean"] == pytest.approx(direct.mean, rel=1e-12)
        assert seen["grade"]["results"]["rank"] == direct.rank
        assert seen["grade"]["results"]["complete"] == direct.complete
        assert _page_mean(seen["page"]) == f"{direct.mean:.4f}"
        # the self-check
        report = seen["selfcheck"].score
        assert report["mean"] == pytest.approx(direct.mean, rel=1e-12)
        assert report["rank"] == direct.rank and report["complete"] == direct.complete
        rank = seen["findings"]["leaderboard.rank"]
        if direct.complete:
            assert rank.status == "info" and rank.details["rank"] == direct.rank
            assert f"place <strong>{direct.rank}th" in seen["page"]
        else:
            assert rank.status == "could-not-run"
            assert "not comparable with the leaderboard" in seen["page"]
    # the complete submission is RF-SCM/Magpie's: the leaderboard's own 10th place
    assert surfaces["full01"]["direct"].rank == 10
    assert surfaces["nan01"]["findings"]["protocol.scores"].status == "warn"
    assert "NaN, infinite or not a number" in surfaces["nan01"]["findings"]["protocol.scores"].message
