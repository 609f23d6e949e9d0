"""The checks: small functions of one execution that return findings (evidence for the rubric).

Each check is registered under a dotted id whose family says what it is about:
`protocol.*` (the Matbench protocol and the results file), `declaration.*` (the LLM usage
declaration), `code.*` (the Code criterion, incl. execution order and run time), `practice.*`
(evidence of good practice for the marker), `leaderboard.*` (where the score stands). The
`execution.*`, `environment.*`, `sanitise.*` and `intake.*` families are the grading engine's.
`run_checks(ctx)` runs them all; a check that raises becomes a COULD_NOT_RUN finding naming it,
never a pass. `check_submission(course, student_id,
assignment)` is what the grading engine calls after executing a submission.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from autograder.records import CHECKED, COULD_NOT_RUN, MARKER, Finding

CheckFunction = Callable[["CheckContext"], list[Finding]]  # noqa: F821


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    criterion: str
    function: CheckFunction
    description: str


REGISTRY: dict[str, CheckSpec] = {}


def register(check_id: str, criterion: str):
    """Decorator: register `function(ctx) -> list[Finding]` under `check_id`."""
    def wrap(function):
        if check_id in REGISTRY:
            raise ValueError(f"check {check_id} registered twice")
        doc = (function.__doc__ or "").strip().split("\n")[0]
        REGISTRY[check_id] = CheckSpec(check_id, criterion, function, doc)
        return function
    return wrap


def _load_all():
    # Importing the modules registers their checks (in this order, which is the report order).
    from autograder.checks import code, declaration, leaderboard, practice, protocol  # noqa: F401


def registry() -> dict[str, CheckSpec]:
    _load_all()
    return REGISTRY


def run_checks(ctx, only: list[str] | None = None, timings: dict | None = None) -> list[Finding]:
    """Run every registered check (or those whose id starts with one of `only`) on a context."""
    findings = []
    for spec in registry().values():
        if only and not any(spec.check_id == p or spec.check_id.startswith(p.rstrip(".") + ".")
                            for p in only):
            continue
        started = time.perf_counter()
        try:
            result = spec.function(ctx)
            if not isinstance(result, list) or not all(isinstance(f, Finding) for f in result):
                raise TypeError(f"returned {type(result).__name__}, not a list of findings")
            findings.extend(result)
        except Exception as error:  # noqa: BLE001 - one broken check must not stop the others
            findings.append(Finding(
                check_id=spec.check_id, criterion=spec.criterion, status=COULD_NOT_RUN,
                message=f"The check '{spec.check_id}' could not run, so it says nothing about this "
                        "submission; a marker will look at this point by hand.",
                visibility=MARKER, details={"error": f"{type(error).__name__}: {error}"[:500]}))
        if timings is not None:
            timings[spec.check_id] = time.perf_counter() - started
    return findings


def check_submission(course, student_id: str, assignment: str | None = None) -> list[Finding]:
    """The findings for one executed submission in autograded/{student}/{assignment}/."""
    from autograder.checks.context import CheckContext

    return run_checks(CheckContext.from_autograded(course, student_id, assignment))


def run_check_stage(course, student_id: str, assignment: str | None = None) -> list[Finding]:
    """The check stage of one executed submission: run every check, then write its own artefacts,
    `checks.json` (the findings) and `score.json` (the one Score, which the checks built their
    findings from). The execution record is never touched. A failure of the checks themselves is
    recorded as a `checks.error` finding for the marker, never as a pass."""
    from autograder.checks.context import CheckContext
    from autograder.findings import make

    assignment = assignment or course.assignment
    score = None
    try:
        ctx = CheckContext.from_autograded(course, student_id, assignment)
        findings = run_checks(ctx)
        score = ctx.score
    except Exception as error:  # noqa: BLE001 - one submission's check failure stays with it
        findings = [make("checks.error", COULD_NOT_RUN,
                         "The automatic checks could not run on this notebook; a marker will look at it.",
                         visibility=MARKER, details={"error": f"{type(error).__name__}: {error}"[:1000]})]
    record = course.load_record(student_id, assignment)
    course.save_score(student_id, assignment, score.to_dict() if score else None,
                      score.arrays_to_save() if score else None)
    course.save_checks(student_id, assignment, {
        "student_id": student_id, "assignment": assignment, "status": CHECKED,
        "execution": record.cache_key if record else "", "findings": [asdict(f) for f in findings],
        "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
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
    "REGISTRY",
    "CheckSpec",
    "check_notebook",
    "check_submission",
    "load_check_findings",
    "register",
    "registry",
    "run_check_stage",
    "run_checks",
]
