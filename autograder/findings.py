"""The one registry of finding ids: every id that can appear in a record is declared here, once,
with the rubric criterion it informs, a short label (the self-check's checklist, the summary) and
the stage that makes it.

A stage never spells `Finding(...)` itself: it asks the registry (`KINDS[id].finding(...)` or
`make(id, ...)`), so an id that is not declared here cannot reach a record, and the rubric
validates its rules against the whole namespace (`ids()`). Adding a check means adding its row here.

Kept free of imports beyond `records` (the student self-check imports it at start-up).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from autograder.records import CRITERIA, STUDENT, Finding

# Who makes a finding.
ENGINE, SANITISE, ENVIRONMENT, CHECKS, PRESENTATION, SELFCHECK = (
    "engine",
    "sanitise",
    "environment",
    "checks",
    "presentation",
    "selfcheck",
)
STAGES = (ENGINE, SANITISE, ENVIRONMENT, CHECKS, PRESENTATION, SELFCHECK)


class UnknownFindingError(KeyError):
    """A finding id that is not declared in autograder.findings."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown finding id"


@dataclass(frozen=True)
class FindingKind:
    """What one finding id is: its criterion, its short label and the stage that makes it."""

    id: str
    criterion: str
    label: str
    stage: str

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def finding(
        self,
        status: str,
        message: str,
        advice: str = "",
        visibility: str = STUDENT,
        details: dict[str, Any] | None = None,
    ) -> Finding:
        return Finding(
            check_id=self.id,
            criterion=self.criterion,
            status=status,
            message=message,
            advice=advice,
            visibility=visibility,
            details=dict(details or {}),
        )


KINDS: dict[str, FindingKind] = {}


def _declare(stage: str, criterion: str, *rows: tuple[str, str]) -> None:
    for finding_id, label in rows:
        if finding_id in KINDS:
            raise ValueError(f"finding {finding_id} declared twice")
        if criterion not in CRITERIA:
            raise ValueError(f"{finding_id}: unknown criterion {criterion!r}")
        KINDS[finding_id] = FindingKind(finding_id, criterion, label, stage)


# --- the grading engine (autograder.execute) -------------------------------------------------------
_declare(
    ENGINE,
    "general",
    ("execution.memory", "Within the memory limit"),
    ("execution.disk", "Within the disk limit"),
    ("execution.notebook_timeout", "Within the time limit"),
    ("execution.cell_timeout", "No cell over the time limit"),
    ("execution.kernel_died", "The kernel keeps running"),
    ("execution.not_run", "Runs as the grader runs it"),
    ("execution.network", "No internet needed"),
    ("execution.filesystem", "Files only in the notebook's folder"),
    ("execution.missing_file", "Every file it reads is handed in"),
    ("execution.links_removed", "No links outside the folder"),
    ("execution.output_cut", "Outputs within the size limit"),
    ("execution.engine_error", "The grader could run the notebook"),
)
_declare(ENGINE, "code", ("execution.cell_errors", "No errors when run from the top"))
_declare(
    SANITISE,
    "general",
    ("sanitise.restored_cell", "Locked cells unchanged"),
    ("sanitise.duplicate_cell", "Copied locked cells"),
)
_declare(
    ENVIRONMENT,
    "general",
    ("environment.missing_module", "Only the course's packages"),
    ("environment.missing_package", "Only the course's packages"),
    ("environment.declared_but_missing", "The grading environment has the course's packages"),
    ("environment.pip_install", "No package installs in the notebook"),
)

# --- the checks (autograder.checks), in the order of the report ------------------------------------
_declare(
    CHECKS,
    "code",
    ("code.lint", "Code passes the linter"),
    ("code.annotation", "Code is annotated"),
    ("code.organisation", "Code is organised"),
    ("code.execution_order", "Run from top to bottom"),
    ("code.errors_left", "No errors left in the outputs"),
    ("code.run_time", "Run time and memory"),
)
_declare(
    CHECKS,
    "general",
    ("declaration.present", "LLM usage declaration present"),
    ("declaration.complete", "LLM usage declaration answered"),
)
_declare(
    CHECKS,
    "training_testing",
    ("leaderboard.rank", "Leaderboard rank"),
    ("leaderboard.extrapolation", "Interpolation vs extrapolation"),
)
_declare(
    CHECKS,
    "data_preparation",
    ("practice.features", "Features"),
    ("practice.preprocessing", "Pre-processing"),
    ("practice.data_checks", "Data examined"),
)
_declare(
    CHECKS,
    "model_choice",
    ("practice.baseline", "Baseline compared"),
    ("practice.model_justification", "Model choice justified"),
)
_declare(CHECKS, "general", ("practice.answers", "Written answers filled in"))
_declare(
    CHECKS,
    "training_testing",
    ("practice.inner_validation", "Validation inside the training folds"),
    ("practice.uncertainty", "Uncertainty"),
    ("practice.interpretability", "Interpretability"),
    ("practice.error_analysis", "Error analysis"),
    ("practice.extrapolation", "Extrapolation test"),
)
_declare(
    CHECKS,
    "training_testing",
    ("protocol.api_used", "Matbench API used"),
    ("protocol.results_file", "Results file saved"),
    ("protocol.written_by_run", "Results file written by this run"),
    ("protocol.task", "Results are for your challenge"),
    ("protocol.folds_complete", "All five folds recorded"),
    ("protocol.test_ids", "Predictions for the official test materials"),
    ("protocol.prediction_values", "Predictions are valid numbers"),
    ("protocol.scores", "Score recomputed from your predictions"),
    ("protocol.claimed_scores", "Scores quoted in your text"),
    ("protocol.trace", "Protocol trace of the run"),
    ("protocol.test_targets", "Test targets never requested"),
    ("protocol.full_data_in_loop", "Model code uses only its fold's data"),
    ("protocol.record_twice", "Each fold recorded once"),
    ("protocol.own_split", "No split of your own instead of the folds"),
    ("protocol.subsample", "Trained on all the data"),
)
_declare(
    CHECKS, "data_preparation", ("protocol.preprocessing_leak", "Pre-processing fitted inside the folds")
)
_declare(
    CHECKS,
    "training_testing",
    ("protocol.test_tuning", "No tuning on test data"),
    ("protocol.alignment", "Predictions in the test materials' order"),
    ("protocol.plausibility", "Plausible score"),
)
_declare(CHECKS, "general", ("checks.error", "The automatic checks could run"))

# --- grading (autograder.grade: the presentation recording) ---------------------------------------
_declare(
    PRESENTATION,
    "presentation",
    ("presentation.recording", "Presentation recording handed in"),
    ("presentation.length", "Presentation within the time limit"),
)

# --- the student self-check ------------------------------------------------------------------------
_declare(
    SELFCHECK, "training_testing", ("selfcheck.printed_score", "Printed score matches the saved results")
)


def kind(finding_id: str) -> FindingKind:
    """The declaration of one id; an undeclared id is an error that names the closest one."""
    try:
        return KINDS[finding_id]
    except KeyError:
        close = difflib.get_close_matches(finding_id, list(KINDS), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownFindingError(
            f"finding id {finding_id!r} is not declared in autograder.findings{hint}"
        ) from None


def make(
    finding_id: str,
    status: str,
    message: str,
    advice: str = "",
    visibility: str = STUDENT,
    details: dict[str, Any] | None = None,
) -> Finding:
    """A finding of a declared id (criterion from the registry); the rest as FindingKind.finding."""
    return kind(finding_id).finding(status, message, advice, visibility, details)


def ids(stage: str | None = None) -> frozenset[str]:
    """Every declared id (of one stage)."""
    return frozenset(k for k, v in KINDS.items() if stage is None or v.stage == stage)


def families() -> frozenset[str]:
    return frozenset(v.family for v in KINDS.values())


def label(finding_id: str, default: str = "") -> str:
    entry = KINDS.get(finding_id)
    return entry.label if entry else default
