"""The presentation recording handed in with a submission: found, its length read, and findings
about its presence and length against the course's limit.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.findings import make
from autograder.layout import is_recording
from autograder.records import COULD_NOT_RUN, FAIL, MARKER, PASS, STUDENT, WARN, Finding

if TYPE_CHECKING:
    from autograder.course.config import PresentationSettings


def find_recordings(*folders: Path) -> list[Path]:
    """Recording files kept with a submission (any depth), in a stable order."""
    found = []
    for folder in folders:
        if folder and Path(folder).is_dir():
            found += [
                p
                for p in sorted(Path(folder).rglob("*"))
                if p.is_file()
                and is_recording(p)
                and not any(part.startswith(".") for part in p.relative_to(folder).parts)
            ]
    return found


def recording_duration(path: Path) -> float | None:
    """Length in seconds (tinytag reads the container headers: mp4/m4a/mp3/wav/ogg/flac/wma...)."""
    from tinytag import TinyTag, TinyTagException

    try:
        duration = TinyTag.get(str(path)).duration
    except (TinyTagException, OSError, ValueError, KeyError, IndexError, struct.error):
        return None
    return float(duration) if duration and duration > 0 and math.isfinite(duration) else None


def presentation_findings(
    recordings: list[Path], settings: PresentationSettings
) -> tuple[list[Finding], dict[str, Any]]:
    """Findings about the recording's presence and length, and facts for the reports (file names
    only, never paths)."""
    limit = settings.max_minutes * 60
    allowed = limit + settings.tolerance_seconds
    facts: dict[str, Any] = {
        "limit_seconds": limit,
        "tolerance_seconds": settings.tolerance_seconds,
        "recordings": [],
    }
    if not recordings:
        return [
            make(
                "presentation.recording",
                FAIL,
                "No presentation recording was found with your submission.",
                "Submit your recorded presentation (at most 5 minutes) on Blackboard with the notebook; "
                "if you did, tell the course team.",
                STUDENT,
                {"found": 0},
            )
        ], facts
    findings = []
    durations = []
    for path in recordings:
        seconds = recording_duration(path)
        facts["recordings"].append({"file": path.name, "seconds": seconds, "bytes": path.stat().st_size})
        if seconds is not None:
            durations.append(seconds)
    if not durations:
        names = ", ".join(p.name for p in recordings)
        findings.append(
            make(
                "presentation.recording",
                COULD_NOT_RUN,
                f"The length of your recording ({names}) could not be read automatically; a marker will check it.",
                "",
                STUDENT,
                {"files": [p.name for p in recordings]},
            )
        )
        return findings, facts
    findings.append(
        make(
            "presentation.recording",
            PASS,
            "Your presentation recording was received.",
            "",
            STUDENT,
            {"files": [p.name for p in recordings]},
        )
    )
    longest = max(durations)
    facts["seconds"] = longest
    minutes = _mmss(longest)
    if longest <= limit:
        findings.append(
            make(
                "presentation.length",
                PASS,
                f"Your recording lasts {minutes}, within the {settings.max_minutes:g}-minute limit.",
                "",
                STUDENT,
                {"seconds": longest, "limit_seconds": limit},
            )
        )
    elif longest <= allowed:
        findings.append(
            make(
                "presentation.length",
                WARN,
                f"Your recording lasts {minutes}, slightly over the {settings.max_minutes:g}-minute "
                "limit (within the tolerance).",
                "Practise keeping to time: conciseness is part of the presentation mark.",
                STUDENT,
                {"seconds": longest, "limit_seconds": limit},
            )
        )
    else:
        findings.append(
            make(
                "presentation.length",
                FAIL,
                f"Your recording lasts {minutes}, over the {settings.max_minutes:g}-minute limit.",
                "Keep to the time limit: plan about a minute per part (data, model, training "
                "and testing) and rehearse.",
                STUDENT,
                {"seconds": longest, "limit_seconds": limit},
            )
        )
    if len(recordings) > 1:
        findings.append(
            make(
                "presentation.recording",
                WARN,
                f"{len(recordings)} recordings were found; the marker will decide which one counts.",
                "",
                MARKER,
                {"files": [p.name for p in recordings]},
            )
        )
    return findings, facts


def _mmss(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d} min"
