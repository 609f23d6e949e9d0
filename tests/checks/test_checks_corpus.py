"""The labelled corpus (tests/corpus/<case>/): every submission is executed by the real pipeline
(`autograder.batch.grade`: intake, sanitise, sandboxed papermill run with the protocol trace, then
`check_submission`), and every expected verdict in its expected.json must hold. Without the
engine (or without papermill's kernel) this module cannot run and says so.

Slow (executes 34 small notebooks, 13 of them written without the template; a few minutes on 2 cores):
`pytest -m slow`.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from autograder import findings
from autograder.errors import UserError
from autograder.records import FAIL, ExecutionRecord

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[1]
CORPUS = HERE / "corpus"
REPO = HERE.parent
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
ASSIGNMENT = "research_challenge"


def expected_of(case: str) -> dict:
    """The case's expected.json; a status "absent" means the finding must not be there."""
    return json.loads((CORPUS / case / "expected.json").read_text())


@pytest.fixture(scope="session")
def graded_corpus(tmp_path_factory, shared_data):
    """A course holding every corpus case as a submission, graded once by the real batch."""
    from autograder.batch import GradeOptions, grade
    from autograder.course.config import Course

    root = tmp_path_factory.mktemp("corpus") / "course"
    root.mkdir()
    for name in ("nbgrader_config.py", "autograder.toml"):
        shutil.copy2(REPO / name, root / name)
    for name in ("source", "release", "rubric"):
        shutil.copytree(REPO / name, root / name)
    rows = []
    for case in CASES:
        folder = root / "submitted" / case / ASSIGNMENT
        folder.mkdir(parents=True)
        for path in (CORPUS / case).iterdir():
            if path.name != "expected.json":
                shutil.copy2(path, folder / path.name)
        rows.append((case, expected_of(case)["challenge"]))
    with open(root / "allocation.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("student_id", "challenge"), *rows])
    course = Course.open(root)
    summary = grade(
        course, GradeOptions(workers=2, run_grading=False, progress=False, allow_unsandboxed=True)
    )
    return course, summary


def _statuses(findings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in findings:
        out.setdefault(finding.check_id, []).append(finding.status)
    return out


@pytest.mark.parametrize("case", CASES)
def test_corpus_verdicts(case, graded_corpus):
    from autograder.batch import stage_status
    from autograder.checks import check_submission, load_check_findings
    from autograder.records import ExecutionRecord

    course, summary = graded_corpus
    record = ExecutionRecord.load(course.autograded_dir(case, ASSIGNMENT) / "result.json")
    assert record.status in ("executed", "failed"), (case, record.status, record.reason)
    assert stage_status(course, case, ASSIGNMENT) in ("checked", "failed")  # run_grading=False: not graded
    stored_findings = record.findings + load_check_findings(
        course, case, ASSIGNMENT
    )  # execute's + the checks'
    stored = _statuses(stored_findings)
    fresh = _statuses(check_submission(course, case, ASSIGNMENT))
    engine = _statuses(record.findings)  # the execute stage's own findings (execution, environment, sanitise)
    meta = expected_of(case)
    has_trace = (course.autograded_dir(case, ASSIGNMENT) / "protocol_trace.jsonl").is_file()
    problems = []
    for check_id, want in meta["expected"].items():
        if isinstance(want, dict):
            want = want["with_trace" if has_trace else "without_trace"]
        if findings.kind(check_id).stage != findings.CHECKS:
            got = engine.get(check_id)
            if (want == "absent" and got is not None) or (
                want != "absent" and (got is None or want not in got)
            ):
                problems.append(f"{check_id}: expected {want}, the run gave {got}")
            continue
        got = fresh.get(check_id)
        if got is None or want not in got or len(set(got)) != 1:
            problems.append(f"{check_id}: expected {want}, got {got}")
        if stored.get(check_id) != got:
            problems.append(
                f"{check_id}: the stored checks have {stored.get(check_id)}, a fresh check gives {got}"
            )
    assert not problems, f"{case}: " + "; ".join(problems)
    if meta["compliant"]:
        failed = [f"{k}: {v}" for k, v in fresh.items() if k.startswith("protocol.") and FAIL in v]
        assert not failed, f"compliant {case} got protocol failures: {failed}"
    # nothing a check could not do silently passes: every could-not-run names why
    for finding in stored_findings:
        assert finding.message


def test_template_free_notebooks_run_as_written(graded_corpus):
    """A notebook written without the template runs with no error of the grader's making: nothing
    restored, nothing inserted, and its first error (if any) is its own."""
    course, summary = graded_corpus
    free = [case for case in CASES if case.startswith("free_")]
    assert len(free) >= 12
    for case in free:
        record = ExecutionRecord.load(course.autograded_dir(case, ASSIGNMENT) / "result.json")
        kinds = {change["kind"] for change in record.sanitise}
        assert "template_free" in kinds and not kinds & {
            "restored_deleted_cell",
            "restored_locked_cell",
            "restored_parameters_cell",
            "restored_parameters_tag",
        }
        assert not any(f.check_id == "sanitise.restored_cell" for f in record.findings), case
        errors = [c for c in record.cells if c.status == "failed"]
        assert all(
            (c.error or {}).get("ename") != "NameError"
            or "challenge" not in (c.error or {}).get("evalue", "")
            for c in errors
        ), case


def test_the_template_without_its_settings_cell_runs_cleanly(graded_corpus):
    course, _ = graded_corpus
    record = ExecutionRecord.load(
        course.autograded_dir("template_settings_deleted", ASSIGNMENT) / "result.json"
    )
    assert record.status == "executed" and all(c.status == "completed" for c in record.cells), record.cells
    assert "restored_parameters_cell" in {change["kind"] for change in record.sanitise}


def test_an_official_style_notebook_scores_what_it_prints(graded_corpus):
    """The official Matbench notebook on one task (the Dummy): the score recomputed by the grader
    is the one it printed, and the leaderboard's Dummy."""
    import re

    import nbformat

    course, _ = graded_corpus
    folder = course.autograded_dir("free_official_one_task", ASSIGNMENT)
    nb = nbformat.read(folder / "research_challenge.ipynb", as_version=4)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    match = re.search(r"matbench_expt_gap: mae = ([0-9.]+) ± ([0-9.]+) over the 5 folds", printed)
    assert match, printed[-500:]
    score = course.load_score("free_official_one_task", ASSIGNMENT)
    assert (
        score["complete"]
        and f"{score['mean']:.4f}" == match.group(1)
        and f"{score['std']:.4f}" == match.group(2)
    )
    assert match.group(1) == "1.1435" and score["rank"] == 13  # the leaderboard's Dummy


def test_corpus_ran_with_the_trace(graded_corpus):
    """The pipeline's instrumented kernel wrote a genuine trace for every submission that ran."""
    course, summary = graded_corpus
    for case in CASES:
        folder = course.autograded_dir(case, ASSIGNMENT)
        assert (folder / "protocol_trace.jsonl").is_file(), case
    assert summary.count("checked") + summary.count("failed") == len(CASES)


# --- the student's self-check gives the grader's verdict --------------------------------------------

# What only a batch can tell (the recordings handed in, the sandbox limits of the grading machine); the
# self-check lists them as checked when graded (autograder.selfcheck.labels.WHEN_GRADED).
BATCH_ONLY = ("presentation.", "execution.memory", "execution.disk")


def _visible(findings_) -> dict[str, list[str]]:
    from autograder.records import STUDENT

    return {
        k: sorted(v)
        for k, v in _statuses(
            [f for f in findings_ if f.visibility == STUDENT and not f.check_id.startswith(BATCH_ONLY)]
        ).items()
    }


# `make test` (CI) compares the self-check with the grader on four cases (the template followed, a
# template-free notebook with a leak, a declaration left as the template, a partial run);
# `make test-all` on every case. Each case is a real `check --execute` run of minutes' worth of kernels.
VERDICT_CASES_IN_CI = ("compliant_D_glass", "declaration_template_only", "free_kfold_scaler", "partial_folds")


def _verdict_case(case: str):
    return case if case in VERDICT_CASES_IN_CI else pytest.param(case, marks=pytest.mark.extended)


@pytest.fixture(scope="session")
def self_checked_corpus(graded_corpus, tmp_path_factory, request):
    """`autograder check --execute` on every corpus notebook, as its student would run it: the folder
    they hand in, in the same course (the same source notebook, budgets and allocation, --student)."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.selfcheck import check

    course, _ = graded_corpus
    root = tmp_path_factory.mktemp("self-checked")

    def one(case):
        folder = root / case
        folder.mkdir()
        for path in (CORPUS / case).iterdir():
            if path.name != "expected.json":
                shutil.copy2(path, folder / path.name)
        notebook = next(p for p in folder.glob("*.ipynb"))
        try:
            return case, check(notebook, execute=True, course=course, student=case)
        except UserError as error:  # reported by that case's test, not by every case's
            return case, error

    # only the cases this run tests (`-m "not extended"` leaves the others out)
    selected = [
        case
        for case in CASES
        if any(
            getattr(item, "originalname", "") == "test_self_check_gives_the_graders_verdict"
            and getattr(item, "callspec", None) is not None
            and item.callspec.params.get("case") == case
            for item in request.session.items
        )
    ]
    with ThreadPoolExecutor(2) as pool:  # two kernels at once, as the graded corpus
        return dict(pool.map(one, selected or CASES))


@pytest.mark.timeout(3600)  # the first case waits for both fixtures: the corpus graded, then self-checked
@pytest.mark.parametrize("case", [_verdict_case(case) for case in CASES])
def test_self_check_gives_the_graders_verdict(case, graded_corpus, self_checked_corpus):
    """Same findings, same statuses, for everything a student may see, but what only a batch can
    tell; the self-check's own printed-score item aside."""
    from autograder.checks import load_check_findings
    from autograder.selfcheck import PRINTED_SCORE_ID

    course, _ = graded_corpus
    record = course.load_record(case, ASSIGNMENT)
    grader = _visible(record.findings + load_check_findings(course, case, ASSIGNMENT))
    report = self_checked_corpus[case]
    assert not isinstance(report, UserError), f"{case}: the self-check refused it: {report}"
    mine = _visible([f for f in report.items if f.check_id != PRINTED_SCORE_ID])
    differences = {
        k: (grader.get(k), mine.get(k))
        for k in sorted(set(grader) | set(mine))
        if grader.get(k) != mine.get(k)
    }
    assert not differences, f"{case}: (grader, self-check) differ on {differences}"
    assert report.execution["status"] == record.status
