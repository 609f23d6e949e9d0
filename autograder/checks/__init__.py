"""The checks: small functions of one execution that return findings (evidence for the rubric).

Each check is declared under a dotted id whose family says what it is about:
`protocol.*` (the Matbench protocol and the results file), `declaration.*` (the LLM usage
declaration), `code.*` (the Code criterion, incl. execution order and run time), `practice.*`
(evidence of good practice for the marker), `leaderboard.*` (where the score stands). The
`execution.*`, `environment.*`, `sanitise.*` and `intake.*` families are the grading engine's.

One interface every check honours (as every nbgrader preprocessor or scikit-learn estimator does)::

    @check("protocol.scores", needs=(RESULTS, TRUTH, SCORE))
    def scores(ctx, spec) -> list[Finding]:
        ...
        return [spec.finding(PASS, text, details=details)]

The id must be declared in the registry of findings (`autograder.findings`), which gives the
criterion and the label; an undeclared id is an error at import. The needs (autograder.checks.needs)
are evaluated by `run_checks` in order before the check is called: the first unmet one becomes the
check's one COULD_NOT_RUN finding, with that need's standard message, so no check writes its own
guard. `spec` (the CheckSpec) builds the check's findings: `spec.finding(status, message, *,
advice="", visibility=..., details=None)`; a check declared `visibility=MARKER` makes marker-only
findings (could-not-run ones included) unless it says otherwise.

`run_checks(ctx)` runs them all, in the order of the report (the order in which autograder.findings
declares their ids, whichever module declares a check); a check that raises becomes a COULD_NOT_RUN
finding naming it, never a pass. `check_submission(course, student_id, assignment)`
is what the grading engine calls after executing a submission.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from autograder.checks.inputs import check_inputs_key
from autograder.checks.needs import (
    ANALYSIS,
    CHALLENGE,
    CODE_OR_SCORE,
    CODE_OR_TRACE,
    NOTEBOOK,
    RANKABLE,
    RESULTS,
    RESULTS_FILE,
    SCORE,
    SUBMITTED,
    TRUTH,
    Need,
)
from autograder.findings import CHECKS, KINDS, FindingKind, kind, make
from autograder.records import CHECKED, COULD_NOT_RUN, MARKER, STUDENT, Finding

CheckFunction = Callable[["CheckContext", "CheckSpec"], list[Finding]]  # noqa: F821


@dataclass(frozen=True)
class CheckSpec:
    """One declared check: its finding kind (id, criterion, label), what it needs, and its function."""

    kind: FindingKind
    function: CheckFunction
    needs: tuple[Need, ...] = ()
    visibility: str = STUDENT  # the default visibility of the check's findings
    description: str = ""

    @property
    def id(self) -> str:
        return self.kind.id

    @property
    def criterion(self) -> str:
        return self.kind.criterion

    @property
    def label(self) -> str:
        return self.kind.label

    def finding(
        self,
        status: str,
        message: str,
        *,
        advice: str = "",
        visibility: str | None = None,
        details: dict | None = None,
    ) -> Finding:
        """A finding of this check (visibility: the check's own unless given)."""
        return self.kind.finding(
            status, message, advice=advice, visibility=visibility or self.visibility, details=details
        )

    def unmet(self, ctx) -> Finding | None:
        """The could-not-run finding of the first need `ctx` does not meet, or None."""
        for need in self.needs:
            why = need.unmet(ctx)
            if why is not None:
                visibility = MARKER if MARKER in (why.visibility, self.visibility) else STUDENT
                return self.finding(COULD_NOT_RUN, why.message, visibility=visibility, details=why.details)
        return None

    def run(self, ctx) -> list[Finding]:
        """The check's findings on `ctx`: one could-not-run finding for an unmet need, else its own."""
        missing = self.unmet(ctx)
        if missing is not None:
            return [missing]
        result = self.function(ctx, self)
        if not isinstance(result, list) or not all(isinstance(f, Finding) for f in result):
            raise TypeError(f"returned {type(result).__name__}, not a list of findings")
        return result

    def could_not_run(self, error: BaseException) -> Finding:
        """The safety net: the check raised, so it says nothing (for the marker)."""
        return self.finding(
            COULD_NOT_RUN,
            f"The check '{self.id}' could not run, so it says nothing about this submission; a "
            "marker will look at this point by hand.",
            visibility=MARKER,
            details={"error": f"{type(error).__name__}: {error}"[:500]},
        )


REGISTRY: dict[str, CheckSpec] = {}


def check(check_id: str, needs: tuple[Need, ...] = (), visibility: str = STUDENT):
    """Decorator: declare `function(ctx, spec) -> list[Finding]` as the check `check_id` (declared in
    autograder.findings, stage "checks"), run only when `ctx` meets every one of `needs`."""
    declared = kind(check_id)  # UnknownFindingError for an id not in the registry of findings
    if declared.stage != CHECKS:
        raise ValueError(f"{check_id} is declared for the {declared.stage} stage, not for the checks")
    if not all(isinstance(n, Need) for n in needs):
        raise TypeError(f"{check_id}: needs must be autograder.checks.needs.Need values, not {needs!r}")

    def wrap(function):
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        doc = (function.__doc__ or "").strip().split("\n")[0]
        REGISTRY[check_id] = CheckSpec(declared, function, tuple(needs), visibility, doc)
        _in_report_order(REGISTRY)
        return function

    return wrap


def _in_report_order(checks: dict[str, CheckSpec]) -> None:
    """Keep the registry in the report's order, the order in which the registry of findings
    (autograder.findings) declares the ids, whichever module declares a check and whenever."""
    position = {finding_id: n for n, finding_id in enumerate(KINDS)}
    ordered = sorted(checks.items(), key=lambda item: position[item[0]])
    checks.clear()
    checks.update(ordered)


def _load_all():
    # Importing the modules declares their checks (autograder.checks.protocol imports its own).
    from autograder.checks import code, declaration, leaderboard, practice, protocol  # noqa: F401


def registry() -> dict[str, CheckSpec]:
    _load_all()
    return REGISTRY


def _selected(check_id: str, only: list[str] | None) -> bool:
    return not only or any(check_id == p or check_id.startswith(p.rstrip(".") + ".") for p in only)


def run_checks(ctx, only: list[str] | None = None, timings: dict | None = None) -> list[Finding]:
    """Run every declared check (or those whose id starts with one of `only`) on a context."""
    findings = []
    for spec in registry().values():
        if not _selected(spec.id, only):
            continue
        started = time.perf_counter()
        try:
            findings.extend(spec.run(ctx))
        except Exception as error:  # noqa: BLE001 - one broken check must not stop the others
            findings.append(spec.could_not_run(error))
        if timings is not None:
            timings[spec.id] = time.perf_counter() - started
    return findings


def check_submission(course, student_id: str, assignment: str | None = None) -> list[Finding]:
    """The findings for one executed submission in autograded/{student}/{assignment}/."""
    from autograder.checks.context import CheckContext

    return run_checks(CheckContext.from_autograded(course, student_id, assignment))


def run_check_stage(course, student_id: str, assignment: str | None = None, allocation=None) -> list[Finding]:
    """The check stage of one executed submission: run every check, then write its own artefacts,
    `checks.json` (the findings) and `score.json` (the one Score, which the checks built their
    findings from). The execution record is never touched. A failure of the checks themselves is
    recorded as a `checks.error` finding for the marker, never as a pass. When nothing the stage reads
    has changed since it last ran (autograder.checks.inputs), its stored findings and Score stand and
    nothing is read again. `allocation`: as the batch read it (None: read allocation.csv)."""
    from autograder.checks.context import CheckContext

    assignment = assignment or course.assignment
    record = course.load_record(student_id, assignment)
    stored = course.load_checks(student_id, assignment)
    if (
        stored
        and stored.get("inputs")
        and stored["inputs"] == check_inputs_key(course, student_id, assignment, record, allocation)
    ):
        return [Finding.from_dict(f) for f in stored.get("findings", [])]  # nothing it reads changed
    score = None
    try:
        ctx = CheckContext.from_autograded(course, student_id, assignment, allocation)
        findings = run_checks(ctx)
        score = ctx.score
    except Exception as error:  # noqa: BLE001 - one submission's check failure stays with it
        findings = [
            make(
                "checks.error",
                COULD_NOT_RUN,
                "The automatic checks could not run on this notebook; a marker will look at it.",
                visibility=MARKER,
                details={"error": f"{type(error).__name__}: {error}"[:1000]},
            )
        ]
    course.save_score(
        student_id, assignment, score.to_dict() if score else None, score.arrays_to_save() if score else None
    )
    course.save_checks(
        student_id,
        assignment,
        {
            "student_id": student_id,
            "assignment": assignment,
            "status": CHECKED,
            "execution": record.cache_key if record else "",
            "findings": [asdict(f) for f in findings],
            # after the Score is saved: the key says whether it is there (autograder.checks.inputs)
            "inputs": check_inputs_key(course, student_id, assignment, record, allocation),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return findings


def load_check_findings(course, student_id: str, assignment: str | None = None) -> list[Finding]:
    """The stored findings of the check stage (none when it has not run)."""
    stored = course.load_checks(student_id, assignment) or {}
    return [Finding.from_dict(f) for f in stored.get("findings", [])]


def check_notebook(notebook_path, results_path=None, challenge=None, **kwargs) -> list[Finding]:
    """The findings for a bare notebook and its results file (the student self-check)."""
    from autograder.checks.context import CheckContext

    return run_checks(CheckContext.from_notebook(notebook_path, results_path, challenge, **kwargs))


__all__ = [
    "ANALYSIS",
    "CHALLENGE",
    "CODE_OR_SCORE",
    "CODE_OR_TRACE",
    "NOTEBOOK",
    "RANKABLE",
    "REGISTRY",
    "RESULTS",
    "RESULTS_FILE",
    "SCORE",
    "SUBMITTED",
    "TRUTH",
    "CheckSpec",
    "Need",
    "check",
    "check_notebook",
    "check_submission",
    "load_check_findings",
    "registry",
    "run_check_stage",
    "run_checks",
]
