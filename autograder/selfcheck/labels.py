"""The checklist's words: the short label of each check id (LABELS, label_of) and the statuses'
order, words and marks. Used by the Report (its --json items) and by the renderers."""

from __future__ import annotations

from autograder.records import COULD_NOT_RUN, FAIL, INFO, NOT_APPLICABLE, PASS, WARN

PRINTED_SCORE_ID = "selfcheck.printed_score"

# Short names for the checklist (the checks' own descriptions are sentences). Unknown ids fall back
# to the check's description, so a new check shows up without a change here.
LABELS = {
    "code.lint": "Code passes the linter",
    "code.annotation": "Code is annotated",
    "code.organisation": "Code is organised",
    "code.execution_order": "Run from top to bottom",
    "code.errors_left": "No errors left in the outputs",
    "code.run_time": "Run time and memory",
    "execution.order": "Run from top to bottom",
    "execution.errors_left": "No errors left in the outputs",
    "execution.run": "Runs from top to bottom as the grader runs it",
    "execution.run_time": "Run time and memory",
    # made by the grading engine during --execute
    "execution.ran": "Runs from top to bottom as the grader runs it",
    "execution.cell_errors": "No errors when run from the top",
    "execution.memory": "Within the memory limit",
    "execution.disk": "Within the disk limit",
    "execution.notebook_timeout": "Within the time limit",
    "execution.cell_timeout": "No cell over the time limit",
    "execution.kernel_died": "The kernel keeps running",
    "execution.network": "No internet needed",
    "execution.filesystem": "Files only in the notebook's folder",
    "execution.links_removed": "No links outside the folder",
    "environment.missing_module": "Only the course's packages",
    "environment.missing_package": "Only the course's packages",
    "environment.pip_install": "No package installs in the notebook",
    "sanitise.restored_cell": "Locked cells unchanged",
    "sanitise.duplicate_cell": "Copied locked cells",
    "declaration.present": "LLM usage declaration present",
    "declaration.complete": "LLM usage declaration answered",
    "protocol.api_used": "Matbench API used",
    "protocol.results_file": "Results file saved",
    "protocol.written_by_run": "Results file written by this run",
    "protocol.task": "Results are for your challenge",
    "protocol.folds_complete": "All five folds recorded",
    "protocol.test_ids": "Predictions for the official test materials",
    "protocol.prediction_values": "Predictions are valid numbers",
    "protocol.scores": "Score recomputed from your predictions",
    "protocol.claimed_scores": "Scores quoted in your text",
    "protocol.trace": "Protocol trace of the run",
    "protocol.test_targets": "Test targets never requested",
    "protocol.full_data_in_loop": "Model code uses only its fold's data",
    "protocol.record_twice": "Each fold recorded once",
    "protocol.own_split": "No split of your own instead of the folds",
    "protocol.subsample": "Trained on all the data",
    "protocol.preprocessing_leak": "Pre-processing fitted inside the folds",
    "protocol.test_tuning": "No tuning on test data",
    "protocol.alignment": "Predictions in the test materials' order",
    "leaderboard.rank": "Leaderboard rank",
    "leaderboard.extrapolation": "Interpolation vs extrapolation",
    "practice.features": "Features",
    "practice.preprocessing": "Pre-processing",
    "practice.data_checks": "Data examined",
    "practice.baseline": "Baseline compared",
    "practice.model_justification": "Model choice justified",
    "practice.answers": "Written answers filled in",
    "practice.inner_validation": "Validation inside the training folds",
    "practice.uncertainty": "Uncertainty",
    "practice.interpretability": "Interpretability",
    "practice.error_analysis": "Error analysis",
    "practice.extrapolation": "Extrapolation test",
    PRINTED_SCORE_ID: "Printed score matches the saved results",
}
STATUS_ORDER = {FAIL: 0, WARN: 1, COULD_NOT_RUN: 2, INFO: 3, PASS: 4, NOT_APPLICABLE: 5}
STATUS_WORD = {FAIL: "FAIL", WARN: "WARN", COULD_NOT_RUN: "NOT CHECKED", INFO: "NOTE", PASS: "PASS",
               NOT_APPLICABLE: "N/A"}
STATUS_MARK = {FAIL: "✗", WARN: "!", COULD_NOT_RUN: "?", INFO: "·", PASS: "✓", NOT_APPLICABLE: "–"}


def label_of(check_id: str) -> str:
    if check_id in LABELS:
        return LABELS[check_id]
    try:
        from autograder.checks import registry

        spec = registry().get(check_id)
        if spec and spec.description:
            return spec.description.rstrip(".")
    except Exception:  # noqa: BLE001, S110 - a label is cosmetic
        pass
    return check_id.split(".", 1)[-1].replace("_", " ").capitalize()
