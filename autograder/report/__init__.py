"""Reports: the student's feedback page, the instructor's cohort summary, and the VLE export. They
read what the earlier stages stored (grade.json with the Score in it, and submission.json, score.npz,
allocation.csv, similarity.json, the rubric) and compute no mark or score.

feedback.py  one self-contained HTML page per student (Jinja2 + matplotlib figures as data: URIs)
summary.py   the cohort summary for the instructor
cohort.py    the report stage for a cohort: every page, then the summary
export.py    the Blackboard Grade Centre upload CSV and a plain CSV
figures.py   the charts
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def rendering_version() -> str:
    """The templates and the code that formats values in them: a change to either redraws every page."""
    import hashlib

    from autograder.version import __version__

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(TEMPLATES.rglob("*")) + [Path(__file__)]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)  # one environment per process: its templates are compiled once, not per student
def environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["mark"] = format_mark
    env.filters["duration"] = format_duration
    return env


def format_number(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.{max(1, digits - len(str(int(magnitude))))}f}"
    if digits >= 4:
        return f"{value:.{digits}f}"  # metric values: a fixed number of decimals, so columns align
    return f"{value:.{digits}g}"


def format_mark(value) -> str:
    """Marks and weights: 70 -> "70", 68.5 -> "68.5" (never "70.0")."""
    if value is None:
        return "–"
    value = round(float(value), 1)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def format_duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/-])(?:/[\w.@+~-]+){2,}/?")


class Scrubber:
    """Removes the grading machine's file paths from text shown to a student: the course root,
    the data cache, the home folder, and any other absolute path (kept as its last part)."""

    def __init__(self, *roots: Path | str | None):
        found = set()
        for root in roots:
            if root:
                found.add(str(root))
                try:
                    found.add(str(Path(root).resolve()))
                except OSError:
                    pass
        self.roots = sorted((r for r in found if len(r) > 1), key=len, reverse=True)

    def text(self, value: str) -> str:
        if "/" not in value:  # no path in it (most of a grade's strings): nothing to scrub
            return value
        value = _ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], value)
        for root in self.roots:
            value = value.replace(root, "…")
        return value

    def __call__(self, value):
        if isinstance(value, str):
            return value if value.startswith("data:image/") else self.text(value)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value
