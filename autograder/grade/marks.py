"""Marks: the markers' manual marks, the late penalty, the presentation recording, and the
arithmetic that turns findings + manual marks into a criterion-by-criterion and overall mark.

Sources of manual marks
  * nbgrader's formgrader: manual grades on the manually graded cells named in the rubric
    (`formgrader_cell`), read from the gradebook by autograder.grade.gradebook (scaled to 0-100);
  * the marks CSV `marks/<assignment>.csv` (student_id, criterion, mark, comment) for what no
    notebook shows, above all the presentation. A mark of `accept` confirms the suggested mark.
    A CSV mark wins over a formgrader mark for the same criterion (it is the later, explicit
    decision), and the difference is flagged for the instructor.

The rules (see `combine`): a manual mark overrides the suggestion; a criterion with no manual
mark shows the rubric's suggestion as provisional; a criterion with neither is missing, and then
no overall mark is computed (status "incomplete", with the missing parts listed). Caps from the
rubric apply to manual and suggested marks alike, visibly. The late penalty follows the course's
[late] policy, the deadline (plus any nbgrader extension) and the submission time.
"""

from __future__ import annotations

import csv
import math
import struct
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from autograder.errors import UserError
from autograder.records import COULD_NOT_RUN, FAIL, MARKER, PASS, STUDENT, WARN, Finding
from autograder.grade.rubric import Rubric, round_half_up

FORMGRADER, CSV_SOURCE, SUGGESTED, CONFIRMED = "formgrader", "marks CSV", "suggested", "confirmed"
FINAL, PROVISIONAL, INCOMPLETE = "final", "provisional", "incomplete"
ACCEPT_WORDS = ("accept", "accepted", "suggested")
COMMENT_ONLY = ("general", "declaration")  # CSV "criteria" that carry a comment but no mark

RECORDING_EXTENSIONS = (".mp4", ".m4a", ".m4v", ".mov", ".mp3", ".wav", ".webm", ".mkv", ".ogg", ".opus",
                        ".flac", ".aac", ".wma", ".wmv", ".avi", ".pptx", ".ppt", ".key", ".odp", ".pdf")
# (the same as autograder.intake's, plus audio formats; slides are kept so the marker is told that
# the length of what was submitted could not be read)


class MarksError(UserError, ValueError):
    """A marks file that cannot be used; the message names the line."""


@dataclass
class ManualMark:
    criterion: str  # rubric criterion key, or "general" / "declaration" for comments
    mark: float | None  # 0-100; None = comment only
    comment: str = ""
    source: str = CSV_SOURCE  # FORMGRADER | CSV_SOURCE
    where: str = ""  # file and line, or the formgrader cell (for markers only)
    accept_suggestion: bool = False


# --- the marks CSV ---------------------------------------------------------------------------------

def marks_csv_path(course, assignment: str | None = None) -> Path:
    """Where the marks CSV of an assignment goes: marks/<assignment>.csv at the course root."""
    return Path(course.root) / "marks" / f"{assignment or course.assignment}.csv"


def marks_csv_paths(course, assignment: str | None = None) -> list[Path]:
    """The marks CSVs that exist: marks/<assignment>.csv and, for a one-assignment course,
    marks.csv at the course root."""
    candidates = [marks_csv_path(course, assignment), Path(course.root) / "marks.csv"]
    return [p for p in candidates if p.is_file()]


def read_course_marks(course, rubric: Rubric, assignment: str | None = None) -> dict[str, dict[str, ManualMark]]:
    """All manual marks from the course's marks CSV(s); the same student and criterion in two
    files is an error naming both places."""
    merged: dict[str, dict[str, ManualMark]] = {}
    for path in marks_csv_paths(course, assignment):
        for student, marks in read_marks_csv(path, rubric).items():
            for criterion, mark in marks.items():
                earlier = merged.get(student, {}).get(criterion)
                if earlier is not None:
                    raise MarksError(f"{mark.where}: {student} / {criterion} is also given in {earlier.where}; "
                                     "keep it in one file.")
                merged.setdefault(student, {})[criterion] = mark
    return merged


def read_marks_csv(path: Path, rubric: Rubric) -> dict[str, dict[str, ManualMark]]:
    """student_id -> criterion -> ManualMark, from a CSV with columns student_id, criterion, mark,
    comment. Errors name the line. A missing file means no manual marks yet."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise MarksError(f"{path} is not UTF-8 text; save it as CSV (UTF-8).") from error
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return {}
    header = [h.strip().lower() for h in rows[0]]
    needed = ("student_id", "criterion", "mark")
    missing = [h for h in needed if h not in header]
    if missing:
        raise MarksError(f"{path}, line 1: the header must have student_id, criterion, mark and "
                         f"(optionally) comment; missing: {', '.join(missing)}.")
    col = {name: header.index(name) for name in header}
    result: dict[str, dict[str, ManualMark]] = {}
    seen: dict[tuple[str, str], int] = {}
    names = ", ".join(rubric.criterion_names() + list(COMMENT_ONLY))
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda name: row[col[name]].strip() if name in col and col[name] < len(row) else ""  # noqa: E731
        student, criterion_name, raw_mark, comment = cell("student_id"), cell("criterion"), cell("mark"), cell("comment")
        if not student:
            raise MarksError(f"{path}, line {number}: no student_id.")
        lowered = criterion_name.strip().lower()
        criterion = rubric.resolve_criterion(criterion_name)
        if criterion is None and lowered in COMMENT_ONLY + ("llm_declaration", "overall"):
            criterion = "declaration" if lowered == "llm_declaration" else ("general" if lowered == "overall" else lowered)
        if criterion is None:
            import difflib

            close = difflib.get_close_matches(lowered, rubric.criterion_names() + list(COMMENT_ONLY), n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise MarksError(f"{path}, line {number}: unknown criterion '{criterion_name}'.{hint} "
                             f"Criteria: {names}.")
        key = (student, criterion)
        if key in seen:
            raise MarksError(f"{path}, line {number}: {student} / {criterion} is already given on line "
                             f"{seen[key]}; keep one line per student and criterion.")
        seen[key] = number
        mark, accept = None, False
        if raw_mark.lower() in ACCEPT_WORDS:
            accept = True
        elif raw_mark:
            try:
                mark = float(raw_mark.rstrip("%"))
            except ValueError as error:
                raise MarksError(f"{path}, line {number}: mark '{raw_mark}' is not a number "
                                 "(0-100, or 'accept' to confirm the suggested mark).") from error
            if not math.isfinite(mark) or not 0 <= mark <= 100:
                raise MarksError(f"{path}, line {number}: mark {raw_mark} is outside 0-100.")
        if criterion in COMMENT_ONLY and (mark is not None or accept):
            raise MarksError(f"{path}, line {number}: '{criterion}' takes a comment only, not a mark.")
        result.setdefault(student, {})[criterion] = ManualMark(
            criterion, mark, comment, CSV_SOURCE, f"{path.name}, line {number}", accept)
    return result


# --- lateness ----------------------------------------------------------------------------------------

def parse_time(value) -> datetime | None:
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
            return parser.parse(text)
        except (ValueError, OverflowError):
            return None


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

    def apply(self, mark: float, late_policy) -> tuple[float, str]:
        """The mark after the penalty, and what was done (empty when nothing)."""
        if self.state != "late" or late_policy.kind == "none":
            return mark, ""
        if late_policy.kind == "cap":
            if self.hours_late <= late_policy.grace_hours:
                capped = min(mark, late_policy.cap_mark)
                return capped, (f"late by {_duration(self.hours_late)}: mark capped at "
                                f"{late_policy.cap_mark:g}" + (" (no change)" if capped == mark else ""))
            return 0.0, (f"late by {_duration(self.hours_late)}, more than {late_policy.grace_hours:g} h: "
                         "mark 0")
        if late_policy.kind == "per_day":
            days = math.ceil(self.hours_late / 24)
            if self.hours_late / 24 > late_policy.zero_after_days:
                return 0.0, (f"late by {_duration(self.hours_late)}, more than "
                             f"{late_policy.zero_after_days:g} days: mark 0")
            off = days * late_policy.percent_per_day
            return max(0.0, mark - off), (f"late by {_duration(self.hours_late)} ({days} started day"
                                          f"{'s' if days != 1 else ''}): {off:g} marks off")
        return mark, ""


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def assess_lateness(late_policy, deadline: datetime | None, submitted_at, extension: timedelta | None = None) -> Lateness:
    submitted = parse_time(submitted_at)
    extension_hours = extension.total_seconds() / 3600 if extension else 0.0
    if deadline is None:
        return Lateness("no-deadline", submitted_at=submitted.isoformat() if submitted else None,
                        policy=late_policy.kind, rule="No deadline is configured.")
    due = _aware(deadline) + (extension or timedelta(0))
    if submitted is None:
        return Lateness("unknown", deadline=due.isoformat(), policy=late_policy.kind,
                        extension_hours=extension_hours,
                        rule="The submission time is unknown, so lateness could not be checked.")
    hours = (_aware(submitted) - due).total_seconds() / 3600
    state = "late" if hours > 0 else "on-time"
    return Lateness(state, deadline=due.isoformat(), submitted_at=_aware(submitted).isoformat(),
                    hours_late=max(0.0, hours), extension_hours=extension_hours, policy=late_policy.kind,
                    rule="" if state == "on-time" else describe_policy(late_policy))


def describe_policy(late_policy) -> str:
    if late_policy.kind == "cap":
        return (f"Work up to {late_policy.grace_hours:g} h late is capped at {late_policy.cap_mark:g}; "
                "later work gets 0.")
    if late_policy.kind == "per_day":
        return (f"{late_policy.percent_per_day:g} marks off per started day late; 0 after "
                f"{late_policy.zero_after_days:g} days.")
    return "Lateness is recorded only."


# --- the presentation recording -------------------------------------------------------------------------

def find_recordings(*folders: Path) -> list[Path]:
    """Recording files kept with a submission (any depth), in a stable order."""
    found = []
    for folder in folders:
        if folder and Path(folder).is_dir():
            found += [p for p in sorted(Path(folder).rglob("*"))
                      if p.is_file() and p.suffix.lower() in RECORDING_EXTENSIONS
                      and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return found


def recording_duration(path: Path) -> float | None:
    """Length in seconds (tinytag reads the container headers: mp4/m4a/mp3/wav/ogg/flac/wma...)."""
    from tinytag import TinyTag, TinyTagException

    try:
        duration = TinyTag.get(str(path)).duration
    except (TinyTagException, OSError, ValueError, KeyError, IndexError, struct.error):
        return None
    return float(duration) if duration and duration > 0 and math.isfinite(duration) else None


def presentation_findings(recordings: list[Path], settings) -> tuple[list[Finding], dict]:
    """Findings about the recording's presence and length, and facts for the reports (file names
    only, never paths)."""
    limit = settings.max_minutes * 60
    allowed = limit + settings.tolerance_seconds
    facts = {"limit_seconds": limit, "tolerance_seconds": settings.tolerance_seconds, "recordings": []}
    if not recordings:
        return [Finding("presentation.recording", "presentation", FAIL,
                        "No presentation recording was found with your submission.",
                        "Submit your recorded presentation (at most 5 minutes) on Blackboard with the notebook; "
                        "if you did, tell the course team.", STUDENT, {"found": 0})], facts
    findings = []
    durations = []
    for path in recordings:
        seconds = recording_duration(path)
        facts["recordings"].append({"file": path.name, "seconds": seconds, "bytes": path.stat().st_size})
        if seconds is not None:
            durations.append(seconds)
    if not durations:
        names = ", ".join(p.name for p in recordings)
        findings.append(Finding(
            "presentation.recording", "presentation", COULD_NOT_RUN,
            f"The length of your recording ({names}) could not be read automatically; a marker will check it.",
            "", STUDENT, {"files": [p.name for p in recordings]}))
        return findings, facts
    findings.append(Finding("presentation.recording", "presentation", PASS,
                            "Your presentation recording was received.", "", STUDENT,
                            {"files": [p.name for p in recordings]}))
    longest = max(durations)
    facts["seconds"] = longest
    minutes = _mmss(longest)
    if longest <= limit:
        findings.append(Finding("presentation.length", "presentation", PASS,
                                f"Your recording lasts {minutes}, within the {settings.max_minutes:g}-minute limit.",
                                "", STUDENT, {"seconds": longest, "limit_seconds": limit}))
    elif longest <= allowed:
        findings.append(Finding("presentation.length", "presentation", WARN,
                                f"Your recording lasts {minutes}, slightly over the {settings.max_minutes:g}-minute "
                                "limit (within the tolerance).",
                                "Practise keeping to time: conciseness is part of the presentation mark.",
                                STUDENT, {"seconds": longest, "limit_seconds": limit}))
    else:
        findings.append(Finding("presentation.length", "presentation", FAIL,
                                f"Your recording lasts {minutes}, over the {settings.max_minutes:g}-minute limit.",
                                "Keep to the time limit: plan about a minute per part (data, model, training "
                                "and testing) and rehearse.", STUDENT,
                                {"seconds": longest, "limit_seconds": limit}))
    if len(recordings) > 1:
        findings.append(Finding("presentation.recording", "presentation", WARN,
                                f"{len(recordings)} recordings were found; the marker will decide which one counts.",
                                "", MARKER, {"files": [p.name for p in recordings]}))
    return findings, facts


def _mmss(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d} min"


# --- the arithmetic -------------------------------------------------------------------------------------------

@dataclass
class CriterionMark:
    key: str
    title: str
    weight: float
    mark: float | None = None  # the mark that counts (after caps); None = missing
    source: str = ""  # FORMGRADER | CSV_SOURCE | SUGGESTED | CONFIRMED | "" (missing)
    provisional: bool = True
    suggested: float | None = None
    manual: float | None = None
    uncapped: float | None = None
    caps: list[dict] = field(default_factory=list)  # {"cap", "rule", "check_id", "note"}
    comment: str = ""  # the marker's comment (student-visible)
    band: str = ""
    band_label: str = ""
    descriptor: str = ""
    evidence: list[dict] = field(default_factory=list)  # {"check_id", "status", "effect", "marks"}


def suggest(rubric: Rubric, findings: list[Finding]) -> dict[str, tuple[float | None, list[dict]]]:
    """criterion -> (suggested mark or None, the findings that informed it)."""
    totals: dict[str, list[float]] = {c: [0.0, 0.0] for c in rubric.criteria}
    evidence: dict[str, list[dict]] = {c: [] for c in rubric.criteria}
    for rule in rubric.rules:
        for finding in findings:
            if not rule.matches(finding):
                continue
            criterion = rule.criterion_of(finding)
            if criterion not in rubric.criteria:
                continue
            item = {"check_id": finding.check_id, "status": finding.status, "effect": rule.effect,
                    "rule": rule.index + 1}
            if rule.effect == "suggest" and finding.status in rule.marks:
                totals[criterion][0] += rule.marks[finding.status] * rule.weight
                totals[criterion][1] += rule.weight
                item["marks"] = rule.marks[finding.status]
            elif rule.effect == "cap":
                item["cap"] = rule.cap
            evidence[criterion].append(item)
    return {c: ((round(t[0] / t[1], 1) if t[1] else None), evidence[c]) for c, t in totals.items()}


def caps_for(rubric: Rubric, findings: list[Finding]) -> dict[str, list[dict]]:
    caps: dict[str, list[dict]] = {}
    for rule in rubric.rules:
        if rule.effect != "cap":
            continue
        for finding in findings:
            if rule.matches(finding) and rule.criterion in rubric.criteria:
                caps.setdefault(rule.criterion, []).append(
                    {"cap": rule.cap, "rule": rule.index + 1, "check_id": finding.check_id,
                     "note": rule.note or finding.message})
    return caps


def attention_flags(rubric: Rubric, findings: list[Finding]) -> list[dict]:
    """The instructor's "needs attention" items from rules with a flag (one per flag and check)."""
    flags, seen = [], set()
    for rule in rubric.rules:
        if not rule.flag:
            continue
        for finding in findings:
            if rule.matches(finding) and (rule.flag, finding.check_id) not in seen:
                seen.add((rule.flag, finding.check_id))
                flags.append({"flag": rule.flag, "check_id": finding.check_id, "status": finding.status,
                              "message": finding.message})
    return flags


def combine(rubric: Rubric, findings: list[Finding], formgrader: dict[str, ManualMark],
            csv_marks: dict[str, ManualMark], lateness: Lateness, late_policy) -> dict:
    """The whole mark of one submission as a JSON-able dict (see grading.py for the file)."""
    suggestions = suggest(rubric, findings)
    caps = caps_for(rubric, findings)
    flags = attention_flags(rubric, findings)
    criteria: list[CriterionMark] = []
    missing: list[str] = []
    for criterion in rubric.criteria.values():
        suggested, evidence = suggestions[criterion.key]
        entry = CriterionMark(criterion.key, criterion.title, criterion.weight, suggested=suggested,
                              evidence=evidence)
        fg, cs = formgrader.get(criterion.key), csv_marks.get(criterion.key)
        chosen = None
        if cs is not None and (cs.mark is not None or cs.accept_suggestion):
            chosen = cs
            if fg is not None and fg.mark is not None and cs.mark is not None and abs(fg.mark - cs.mark) > 1e-9:
                flags.append({"flag": "Conflicting manual marks", "check_id": "",
                              "status": WARN, "message": f"{criterion.title}: marks CSV {cs.mark:g} "
                                                         f"({cs.where}) differs from formgrader "
                                                         f"{fg.mark:g}; the CSV mark counts."})
        elif fg is not None and fg.mark is not None:
            chosen = fg
        comments = [m.comment for m in (fg, cs) if m is not None and m.comment]
        entry.comment = "\n\n".join(dict.fromkeys(comments))
        if chosen is not None and chosen.accept_suggestion:
            if suggested is None:
                flags.append({"flag": "Nothing to accept", "check_id": "", "status": WARN,
                              "message": f"{criterion.title}: 'accept' in {chosen.where}, but there is no "
                                         "suggested mark to accept."})
            else:
                entry.mark, entry.manual, entry.source, entry.provisional = suggested, suggested, CONFIRMED, False
        elif chosen is not None:
            entry.mark, entry.manual, entry.source, entry.provisional = chosen.mark, chosen.mark, chosen.source, False
        if entry.mark is None and suggested is not None:
            entry.mark, entry.source, entry.provisional = suggested, SUGGESTED, True
        if entry.mark is None:
            missing.append(f"{criterion.title}: no mark yet (awaiting the marker)")
        elif criterion.key in caps:
            lowest = min(caps[criterion.key], key=lambda c: c["cap"])
            entry.caps = caps[criterion.key]
            if entry.mark > lowest["cap"]:
                entry.uncapped = entry.mark
                entry.mark = lowest["cap"]
        band = rubric.band_for(entry.mark)
        if band:
            entry.band, entry.band_label = band.key, band.label
            entry.descriptor = criterion.descriptors.get(band.key, "")
        criteria.append(entry)

    provisional_parts = [f"{c.title}: suggested by the autograder, not yet confirmed by a marker"
                         for c in criteria if c.mark is not None and c.provisional]
    if lateness.state == "unknown":
        flags.append({"flag": "Submission time unknown", "check_id": "", "status": WARN,
                      "message": lateness.rule})
        provisional_parts.append("Lateness: the submission time is unknown")
    elif lateness.state == "late":
        flags.append({"flag": "Late submission", "check_id": "", "status": WARN,
                      "message": f"Submitted {_duration(lateness.hours_late)} after the deadline."})

    marked = [c for c in criteria if c.mark is not None]
    marked_weight = sum(c.weight for c in marked)
    partial = (sum(c.weight * c.mark for c in marked) / marked_weight) if marked_weight else None
    overall = {"mark": None, "exact": None, "before_late": None, "band": "", "band_label": "",
               "late_penalty": "", "partial": round(partial, 2) if partial is not None else None,
               "marked_weight": marked_weight, "total_weight": rubric.total_weight}
    if missing:
        status = INCOMPLETE
    else:
        exact = sum(c.weight * c.mark for c in criteria) / rubric.total_weight
        after, penalty = lateness.apply(exact, late_policy)
        mark = round_half_up(after)
        band = rubric.band_for(mark)
        overall.update(mark=mark, exact=round(after, 4), before_late=round(exact, 4), late_penalty=penalty,
                       band=band.key if band else "", band_label=band.label if band else "")
        status = PROVISIONAL if provisional_parts else FINAL
    return {
        "status": status,
        "overall": overall,
        "criteria": [asdict(c) for c in criteria],
        "missing": missing,
        "provisional_parts": provisional_parts,
        "lateness": asdict(lateness),
        "attention": flags,
    }
