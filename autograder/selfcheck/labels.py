"""The checklist's words: the short label of each finding id (label_of, from the registry of
findings), the statuses' order, words and marks, and the exit codes. Used by the Report (its --json
items) and by the renderers."""

from __future__ import annotations

from autograder.findings import label
from autograder.records import COULD_NOT_RUN, FAIL, INFO, NOT_APPLICABLE, PASS, WARN

PRINTED_SCORE_ID = "selfcheck.printed_score"  # declared in autograder.findings, as every id
EXIT_OK, EXIT_FAIL, EXIT_UNUSABLE = (
    0,
    1,
    2,
)  # nothing fails; the work fails a check; the tool could not be used

STATUS_ORDER = {FAIL: 0, WARN: 1, COULD_NOT_RUN: 2, INFO: 3, PASS: 4, NOT_APPLICABLE: 5}
STATUS_WORD = {
    FAIL: "FAIL",
    WARN: "WARN",
    COULD_NOT_RUN: "NOT CHECKED",
    INFO: "NOTE",
    PASS: "PASS",
    NOT_APPLICABLE: "N/A",
}
STATUS_MARK = {FAIL: "✗", WARN: "!", COULD_NOT_RUN: "?", INFO: "·", PASS: "✓", NOT_APPLICABLE: "–"}


def label_of(check_id: str) -> str:
    """The short name of a finding id, from the registry of findings (autograder.findings)."""
    return label(check_id) or check_id.split(".", 1)[-1].replace("_", " ").capitalize()


# What only the grader's batch can tell (the recordings handed in with the notebook, when it was handed
# in, the grading machine's limits): the checklist lists these as checked when graded.
WHEN_GRADED_IDS = ("presentation.recording", "presentation.length")
WHEN_GRADED_OTHERS = ("Lateness (when you hand it in)", "The grading machine's memory and disk limits")


def when_graded() -> list[str]:
    return [label_of(i) for i in WHEN_GRADED_IDS] + list(WHEN_GRADED_OTHERS)
