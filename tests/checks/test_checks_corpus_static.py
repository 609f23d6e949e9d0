"""Fast checks of the labelled corpus that need no execution: the stored cases are what the builder
makes from the current released notebook, and the verdicts that rest on the code alone (declaration,
own split, subsampling, leakage, tuning on test data, the API) already hold on the submitted,
unexecuted notebooks, and so do the practice checks that read the notebook's own sections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from checks_support import RELEASED

from autograder.checks import run_checks
from autograder.checks.context import CheckContext

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
STATIC = (
    "declaration.present",
    "declaration.complete",
    "protocol.api_used",
    "protocol.own_split",
    "protocol.subsample",
    "protocol.preprocessing_leak",
    "protocol.test_tuning",
    "protocol.test_targets",
    "protocol.full_data_in_loop",
    "practice.features",
    "practice.answers",
    "practice.model_justification",
)


def test_corpus_has_every_required_kind_of_case():
    assert len(CASES) >= 15
    for prefix in (
        "compliant_A",
        "compliant_B",
        "compliant_C",
        "compliant_D",
        "own_split",
        "subsampled",
        "partial_folds",
        "recorded_twice",
        "test_data_tuning",
        "scaler_before_split",
        "misaligned",
        "wrong_task",
        "copied_results",
        "perfect_fake",
        "no_declaration",
        "declaration_template_only",
        "declaration_no_llm",
        "declaration_odd_markdown",
    ):
        assert any(c.startswith(prefix) for c in CASES), prefix


def test_corpus_is_built_from_the_current_release():
    proc = subprocess.run(
        [sys.executable, str(CORPUS / "build_corpus.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", CASES)
def test_static_verdicts_on_the_submitted_notebook(case, shared_data):
    meta = json.loads((CORPUS / case / "expected.json").read_text())
    ctx = CheckContext.from_notebook(
        CORPUS / case / "research_challenge.ipynb",
        challenge=meta["challenge"],
        results_path=CORPUS / case / "no-results-here.json.gz",
        released_path=RELEASED,
    )
    got = {f.check_id: f.status for f in run_checks(ctx, only=list(STATIC))}
    for check_id, want in meta["expected"].items():
        if check_id in STATIC and isinstance(want, str):
            assert got[check_id] == want, (case, check_id, got[check_id])
