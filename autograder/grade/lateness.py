"""Lateness: when a submission came in against the deadline (and any nbgrader extension), and what
the course's [late] policy does to its mark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.course.config import LatePolicy


def parse_time(value: object) -> datetime | None:
    """An ISO time, nbgrader's "2026-03-11 14:59:01.123 UTC", or a datetime; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from dateutil import parser

        try:
            moment: datetime = parser.parse(text)
        except (ValueError, OverflowError):
            return None
        return moment


def _aware(moment: datetime) -> datetime:
    """Naive times are the grading machine's local time (as the course config documents)."""
    return moment if moment.tzinfo else moment.astimezone()


@dataclass
class Lateness:
    state: str  # "no-deadline" | "on-time" | "late" | "unknown"
    deadline: str | None = None
    submitted_at: str | None = None
    hours_late: float = 0.0
    extension_hours: float = 0.0
    policy: str = "none"
    rule: str = ""  # plain words: what the policy does to this submission

    def apply(self, mark: float, late_policy: LatePolicy) -> tuple[float, str]:
        """The mark after the penalty, and what was done (empty when nothing)."""
        if self.state != "late" or late_policy.kind == "none":
            return mark, ""
        if late_policy.kind == "cap":
            if self.hours_late <= late_policy.grace_hours:
                capped = min(mark, late_policy.cap_mark)
                return capped, (
                    f"late by {duration_text(self.hours_late)}: mark capped at "
                    f"{late_policy.cap_mark:g}" + (" (no change)" if capped == mark else "")
                )
            return 0.0, (
                f"late by {duration_text(self.hours_late)}, more than {late_policy.grace_hours:g} h: mark 0"
            )
        if late_policy.kind == "per_day":
            days = math.ceil(self.hours_late / 24)
            if self.hours_late / 24 > late_policy.zero_after_days:
                return 0.0, (
                    f"late by {duration_text(self.hours_late)}, more than "
                    f"{late_policy.zero_after_days:g} days: mark 0"
                )
            off = days * late_policy.percent_per_day
            return max(0.0, mark - off), (
                f"late by {duration_text(self.hours_late)} ({days} started day"
                f"{'s' if days != 1 else ''}): {off:g} marks off"
            )
        return mark, ""


def duration_text(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def assess_lateness(
    late_policy: LatePolicy,
    deadline: datetime | None,
    submitted_at: object,
    extension: timedelta | None = None,
) -> Lateness:
    submitted = parse_time(submitted_at)
    extension_hours = extension.total_seconds() / 3600 if extension else 0.0
    if deadline is None:
        return Lateness(
            "no-deadline",
            submitted_at=submitted.isoformat() if submitted else None,
            policy=late_policy.kind,
            rule="No deadline is configured.",
        )
    due = _aware(deadline) + (extension or timedelta(0))
    if submitted is None:
        return Lateness(
            "unknown",
            deadline=due.isoformat(),
            policy=late_policy.kind,
            extension_hours=extension_hours,
            rule="The submission time is unknown, so lateness could not be checked.",
        )
    hours = (_aware(submitted) - due).total_seconds() / 3600
    state = "late" if hours > 0 else "on-time"
    return Lateness(
        state,
        deadline=due.isoformat(),
        submitted_at=_aware(submitted).isoformat(),
        hours_late=max(0.0, hours),
        extension_hours=extension_hours,
        policy=late_policy.kind,
        rule="" if state == "on-time" else describe_policy(late_policy),
    )


def describe_policy(late_policy: LatePolicy) -> str:
    if late_policy.kind == "cap":
        return (
            f"Work up to {late_policy.grace_hours:g} h late is capped at {late_policy.cap_mark:g}; "
            "later work gets 0."
        )
    if late_policy.kind == "per_day":
        return (
            f"{late_policy.percent_per_day:g} marks off per started day late; 0 after "
            f"{late_policy.zero_after_days:g} days."
        )
    return "Lateness is recorded only."
