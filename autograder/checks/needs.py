"""What a check needs from its context before it can say anything, named once.

A check declares its needs (`@check("protocol.scores", needs=(RESULTS, TRUTH, SCORE))`);
`run_checks` evaluates them in order before calling it, and the first one that is not met becomes
the check's one COULD_NOT_RUN finding, with that need's standard message (and, for the ground
truth, the marker-only visibility and the loading error in its details). The check itself then
runs only on a context that has what it needs.

A need is a name, what it means, and a function of the context that says why the need is not met
(`None` when it is met).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from autograder.records import MARKER, STUDENT


@dataclass(frozen=True)
class Unmet:
    """Why a need is not met: the could-not-run finding's message, details and visibility."""

    message: str
    details: dict = field(default_factory=dict)
    visibility: str = STUDENT


@dataclass(frozen=True)
class Need:
    name: str
    meaning: str
    why_not: Callable[..., Unmet | str | None]  # (ctx) -> None when met, else the message (or an Unmet)

    def unmet(self, ctx) -> Unmet | None:
        """None when `ctx` has what this need asks for, else why not."""
        why = self.why_not(ctx)
        return Unmet(why) if isinstance(why, str) else why

    def __repr__(self) -> str:  # the needs show up in CheckSpec's repr by name
        return self.name


def _notebook_error(ctx) -> str:
    return f"Not checked: {ctx.notebook_error}."


def _results(ctx) -> str | None:
    if ctx.results is None:
        why = (
            "there is no results file"
            if ctx.results_error == "missing"
            else "the results file cannot be read"
        )
        return f"Not checked: {why} (see protocol.results_file)."
    if ctx.challenge is None:
        return "Not checked: the challenge of this submission is not known."
    if ctx.task_result is None:
        return f"Not checked: the results file holds no results for {ctx.challenge.task} (see protocol.task)."
    return None


def _truth(ctx) -> Unmet | None:
    if ctx.ground_truth is None:
        return Unmet(
            "Not checked: the Matbench data set is not available to the checker, so the predictions "
            "cannot be compared with the truth.",
            {"error": ctx.ground_truth_error},
            MARKER,
        )
    return None


def _scored(ctx) -> bool:
    """The recomputed score exists (the results file, the challenge and the ground truth are there)."""
    return (
        ctx.results is not None
        and ctx.challenge is not None
        and ctx.ground_truth is not None
        and ctx.score is not None
    )


def _rankable(ctx) -> Unmet | str | None:
    if ctx.task_result is None:
        return "Not compared with the leaderboard: there are no results for your task."
    if ctx.ground_truth is None:
        return Unmet(
            "Not compared with the leaderboard: the data set is not available to the checker.",
            {"error": ctx.ground_truth_error},
            MARKER,
        )
    if ctx.score is None or not ctx.score.complete:
        return "Not compared with the leaderboard: the five folds are not all scored."
    return None


def _trace_read(ctx) -> bool:
    return ctx.trace is not None and ctx.trace_valid


NOTEBOOK = Need(
    "notebook",
    "the notebook (as the grader ran it) was read",
    lambda ctx: None if ctx.notebook is not None else _notebook_error(ctx),
)
SUBMITTED = Need(
    "submitted",
    "the notebook as the student saved it was read",
    lambda ctx: (
        None if ctx.submitted is not None else "Not checked: the notebook as submitted is not available."
    ),
)
ANALYSIS = Need(
    "analysis",
    "the student's code was analysed (the notebook as submitted, else as run)",
    lambda ctx: None if ctx.analysis is not None else _notebook_error(ctx),
)
RESULTS_FILE = Need(
    "results_file",
    "the results file was read",
    lambda ctx: None if ctx.results is not None else "Not checked: there is no readable results file.",
)
CHALLENGE = Need(
    "challenge",
    "the submission's challenge is known",
    lambda ctx: (
        None
        if ctx.challenge is not None
        else "Not checked: the challenge of this submission is not known (no allocation, and "
        "`challenge` is not set in the notebook)."
    ),
)
RESULTS = Need(
    "results", "the results file was read, the challenge is known and the file holds its task", _results
)
TRUTH = Need("truth", "the ground truth of the challenge's data set was loaded", _truth)
SCORE = Need(
    "score",
    "at least one fold was scored (after RESULTS and TRUTH)",
    lambda ctx: (
        None
        if ctx.score is not None and ctx.score.folds
        else "Not checked: no fold has predictions that can be scored."
    ),
)
RANKABLE = Need(
    "rankable", "the results for the task, the ground truth, and all five folds scored", _rankable
)
CODE_OR_TRACE = Need(
    "code_or_trace",
    "the student's code was analysed or the run left a genuine protocol trace",
    lambda ctx: (
        None
        if ctx.analysis is not None or _trace_read(ctx)
        else "Not checked: neither the code nor a trace could be read."
    ),
)
CODE_OR_SCORE = Need(
    "code_or_score",
    "the student's code was analysed or the predictions were scored",
    lambda ctx: (
        None
        if ctx.analysis is not None or _scored(ctx)
        else "Not checked: neither the code nor the results could be read."
    ),
)

NEEDS = (
    NOTEBOOK,
    SUBMITTED,
    ANALYSIS,
    RESULTS_FILE,
    CHALLENGE,
    RESULTS,
    TRUTH,
    SCORE,
    RANKABLE,
    CODE_OR_TRACE,
    CODE_OR_SCORE,
)

__all__ = [
    "ANALYSIS",
    "CHALLENGE",
    "CODE_OR_SCORE",
    "CODE_OR_TRACE",
    "NEEDS",
    "NOTEBOOK",
    "RANKABLE",
    "RESULTS",
    "RESULTS_FILE",
    "SCORE",
    "SUBMITTED",
    "TRUTH",
    "Need",
    "Unmet",
]
