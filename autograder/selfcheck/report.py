"""What a self-check found: the Report (the checklist of findings, the score beside the leaderboard,
the notes on the tool's use), its verdict and exit status, and its --json layout (`to_dict`).
SelfCheckError: the tool cannot be used on what it was given. The views are in render.py."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UserError
from autograder.records import FAIL, WARN, Finding
from autograder.selfcheck.labels import EXIT_FAIL, EXIT_OK, EXIT_UNUSABLE, STATUS_ORDER, label_of, when_graded
from autograder.version import __version__

SCHEMA = 1  # version of the --json layout; bump when a key changes meaning
# Notes that mean the check is incomplete for a reason of the tool, not of the work: exit status 2
# when nothing fails.
BLOCKING_NOTES = ("data-missing", "challenge-unknown")
# notes that make the failures themselves unreliable: the run here lacked what the grader has
OVERRIDING_NOTES = ("course-environment-missing",)


class SelfCheckError(UserError):
    """The self-check cannot be used on what it was given; the message says what to do.

    kind (stable, for --json): not-found, not-a-notebook, results-not-found, results-unreadable,
    results-other-task, cannot-find-notebook, execute-unavailable, not-this-assignment, challenge-unknown
    (--execute without a challenge), data-missing."""

    def __init__(self, message: str, kind: str = "usage"):
        super().__init__(message)
        self.kind = kind


@dataclass
class Note:
    """Something about how the tool was used (not a finding about the work)."""

    kind: str  # stable id: no-results, results-other-task, challenge-unknown, data-missing, ...
    message: str


@dataclass
class Report:
    notebook: Path
    results: Path | None
    items: list[Finding]  # what the student may see, in the checks' order
    challenge: object = None  # autograder.course.challenges.Challenge
    challenge_source: str = ""
    score: dict | None = None
    references: list[dict] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    execution: dict | None = None  # --execute: how the run went
    notebook_saved_at: float | None = None
    seconds: float = 0.0

    # --- verdict -------------------------------------------------------------------------------
    def count(self, status: str) -> int:
        return sum(1 for f in self.items if f.status == status)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.items if f.status == FAIL]

    @property
    def exit_code(self) -> int:
        if any(n.kind in OVERRIDING_NOTES for n in self.notes):
            return EXIT_UNUSABLE  # what fails was this machine's doing, not the notebook's
        if self.failed:
            return EXIT_FAIL
        if any(n.kind in BLOCKING_NOTES for n in self.notes):
            return EXIT_UNUSABLE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "pass", EXIT_FAIL: "fail", EXIT_UNUSABLE: "incomplete"}[self.exit_code]

    def summary_line(self) -> str:
        n_fail, n_warn = self.count(FAIL), self.count(WARN)
        if self.exit_code == EXIT_FAIL:
            text = (
                f"{n_fail} item{'s' if n_fail != 1 else ''} fail{'s' if n_fail == 1 else ''}: "
                "fix them and check again."
            )
        elif self.exit_code == EXIT_UNUSABLE and n_fail:
            text = (
                "The check is incomplete (see the notes above): this machine could not run the notebook as the "
                "grader does, so what fails here says nothing yet."
            )
        elif self.exit_code == EXIT_UNUSABLE:
            text = "Nothing fails, but the check is incomplete (see the notes above)."
        else:
            text = "Nothing fails in the graders' automatic checks."
        if n_warn:
            text += f" {n_warn} warning{'s' if n_warn != 1 else ''} to look at."
        return text

    # --- outputs -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The --json layout (keys are stable; `schema` changes when one changes meaning)."""
        ch = self.challenge
        return {
            "schema": SCHEMA,
            "autograder_version": __version__,
            "notebook": str(self.notebook),
            "results": str(self.results) if self.results else None,
            "challenge": (
                {"letter": ch.letter, "task": ch.task, "source": self.challenge_source}
                if ch is not None
                else None
            ),
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "counts": {s: self.count(s) for s in STATUS_ORDER},
            "items": [
                {
                    "check_id": f.check_id,
                    "criterion": f.criterion,
                    "status": f.status,
                    "label": label_of(f.check_id),
                    "message": f.message,
                    "advice": f.advice,
                }
                for f in self.items
            ],
            "score": self.score,
            "leaderboard": self.references,
            "notes": [{"kind": n.kind, "message": n.message} for n in self.notes],
            "execution": self.execution,
            "checked_when_graded": when_graded(),
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=_json_default)

    # the views, in render.py (imported on use: --json needs no renderer, rich or jinja2)
    def render_text(self, width: int = 100) -> str:
        from autograder.selfcheck.render import as_text

        return as_text(self, width)

    def print(self, file=None, rich: bool | None = None) -> None:
        from autograder.selfcheck.render import print_report

        print_report(self, file, rich)

    def to_html(self) -> str:
        from autograder.selfcheck.render import as_html

        return as_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
