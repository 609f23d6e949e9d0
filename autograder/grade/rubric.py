"""The rubric as data: `rubric/<assignment>.toml`, loaded and checked here.

A rubric holds the weighted criteria (the lecture's five), the mark bands with a descriptor per
band and criterion, and the rules that link findings (by check id or id pattern such as
`protocol.*`) to criteria: caps (on any mark, the marker can override), limits (on the autograder's
suggestion only), suggested marks, or information only. `load_rubric` refuses a
rubric with weights that do not sum to 100, bands that overlap or leave gaps, unknown finding
ids, or unknown keys (with the closest known key suggested), and every error names the line.

Known finding ids come from one place, the registry of findings (`autograder.findings`): every id
the engine, the sanitiser, the environment check, the checks, the presentation check and the
self-check can write.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from autograder.errors import UserError
from autograder.grade.record import FAILED_RUN_FLAG
from autograder.layout import CONFIG_FILE
from autograder.records import COULD_NOT_RUN, CRITERIA, FAIL, FINDING_STATUSES, INFO, PASS, WARN, Finding

if TYPE_CHECKING:
    from autograder.course.config import Course

EFFECTS = ("cap", "limit", "suggest", "info")
DEFAULT_STATUSES = {
    "cap": (FAIL,),
    "limit": (FAIL,),
    "suggest": (PASS, WARN, FAIL),
    "info": (PASS, WARN, FAIL, COULD_NOT_RUN, INFO),
}
GRADED_CRITERIA = tuple(c for c in CRITERIA if c != "general")

TOP_KEYS = ("rubric", "bands", "criteria", "declaration", "feedback", "rules", "export")
RUBRIC_KEYS = ("title", "assignment")
BAND_KEYS = ("label", "min", "max")
CRITERION_KEYS = ("title", "weight", "guideline", "formgrader_cell", "descriptors")
DECLARATION_KEYS = ("formgrader_cell",)
FEEDBACK_KEYS = ("formgrader_cell",)  # the cell whose formgrader comment is the marker's general feedback
RULE_KEYS = ("findings", "status", "criterion", "effect", "cap", "limit", "marks", "weight", "flag", "note")
EXPORT_KEYS = ("blackboard_column", "blackboard_column_id")


class RubricError(UserError, ValueError):
    """A rubric file that cannot be used; the message names the file and line of each problem."""


# --- known finding ids -----------------------------------------------------------------------------


def known_finding_ids() -> frozenset[str]:
    """Every finding id a rubric rule may name: the whole registry of findings."""
    from autograder.findings import ids

    return ids()


# --- the rubric ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    min: int
    max: int

    def contains(self, whole_mark: int) -> bool:
        return self.min <= whole_mark <= self.max


@dataclass
class Criterion:
    key: str  # one of records.CRITERIA (not "general")
    title: str
    weight: float
    guideline: str = ""
    formgrader_cell: str | None = None  # nbgrader grade_id whose manual grade is this criterion's mark
    descriptors: dict[str, str] = field(default_factory=dict)  # band key -> descriptor


@dataclass
class Rule:
    index: int  # 0-based position among [[rules]]
    line: int
    findings: tuple[str, ...]  # ids or fnmatch patterns
    effect: str
    statuses: tuple[str, ...]
    criterion: str | None = None  # None: the finding's own criterion
    cap: float | None = None
    limit: float | None = (
        None  # the highest mark the autograder may suggest (a marker's own mark is not limited)
    )
    marks: dict[str, float] = field(default_factory=dict)
    weight: float = 1.0
    flag: str = ""
    note: str = ""

    def matches(self, finding: Finding) -> bool:
        return finding.status in self.statuses and any(
            fnmatch.fnmatchcase(finding.check_id, pattern) for pattern in self.findings
        )

    def criterion_of(self, finding: Finding) -> str:
        return self.criterion or finding.criterion

    @property
    def label(self) -> str:
        return f"rule {self.index + 1} ({self.effect} {', '.join(self.findings)})"


@dataclass
class Rubric:
    title: str
    assignment: str
    bands: list[Band]  # highest first
    criteria: dict[str, Criterion]  # in file order
    rules: list[Rule]
    declaration_cell: str | None = None
    general_cell: str | None = None  # formgrader cell of the general feedback (a comment, no points)
    export: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""

    @property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.criteria.values())

    def band_for(self, mark: float | None) -> Band | None:
        if mark is None:
            return None
        whole = round_half_up(mark)
        return next((b for b in self.bands if b.contains(whole)), None)

    def descriptor(self, criterion: str, mark: float | None) -> str:
        band = self.band_for(mark)
        if band is None or criterion not in self.criteria:
            return ""
        return self.criteria[criterion].descriptors.get(band.key, "")

    @property
    def formgrader_cells(self) -> dict[str, str]:
        """nbgrader grade_id -> criterion key."""
        return {c.formgrader_cell: c.key for c in self.criteria.values() if c.formgrader_cell}

    def resolve_criterion(self, name: str) -> str | None:
        """A criterion from its key, title or formgrader cell, case-insensitively ('Code', 'code_quality')."""
        wanted = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
        for c in self.criteria.values():
            names = {c.key, re.sub(r"[\s\-]+", "_", c.title.lower())}
            if c.formgrader_cell:
                names.add(c.formgrader_cell.lower())
            if wanted in names:
                return c.key
        return None

    def criterion_names(self) -> list[str]:
        return [c.key for c in self.criteria.values()]

    @property
    def failed_run_flag(self) -> str:
        """The flag a failed run raises: that of the first rule flagging a failed `execution.*`
        finding (the course may rename it in its rubric), else "Failed run"."""
        execution_ids = sorted(i for i in known_finding_ids() if i.startswith("execution."))
        for rule in self.rules:
            if (
                rule.flag
                and FAIL in rule.statuses
                and any(fnmatch.filter(execution_ids, pattern) for pattern in rule.findings)
            ):
                return rule.flag
        return FAILED_RUN_FLAG


def round_half_up(value: float) -> int:
    """Marks are rounded half up (68.5 -> 69), as markers expect, not to even."""
    return int(float(value) + 0.5) if value >= 0 else -int(-float(value) + 0.5)


# --- locating keys in the TOML text (tomllib gives no line numbers for values) --------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _split_dotted(name: str) -> tuple[str, ...]:
    parts, current, quote = [], "", None
    for ch in name.strip():
        if quote:
            if ch == quote:
                quote = None
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return tuple(parts)


# a key's path in the rubric: table and key names, and the index of an array-of-tables entry
KeyPath = tuple[str | int, ...]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line (1-based) of every table header and key, by its path: ("criteria", "code", "weight"),
    ("rules", 2, "cap"). Inline-table keys get the line of the inline table."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    counts: dict[KeyPath, int] = {}
    in_multiline: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if in_multiline:
            if in_multiline in stripped:
                in_multiline = None
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            path: KeyPath = _split_dotted(stripped[2 : stripped.find("]]")])
            index = counts.get(path, 0)
            counts[path] = index + 1
            table = path + (index,)
            lines.setdefault(table, number)
            lines.setdefault(path, number)
            continue
        if stripped.startswith("["):
            table = _split_dotted(stripped[1 : stripped.find("]")])
            lines.setdefault(table, number)
            continue
        if "=" in stripped:
            key_text, value = stripped.split("=", 1)
            path = table + _split_dotted(key_text)
            lines.setdefault(path, number)
            value = value.strip()
            if value.startswith("{"):
                for inner in re.finditer(r"([A-Za-z0-9_\"'-]+)\s*=", value):
                    lines.setdefault(path + (inner.group(1).strip("\"'"),), number)
            for marker in ('"""', "'''"):
                if value.startswith(marker) and value.count(marker) == 1:
                    in_multiline = marker
    return lines


class _Problems:
    def __init__(self, path: Path | None, lines: dict[KeyPath, int]) -> None:
        self.path, self.lines = path, lines
        self.items: list[tuple[int, str]] = []

    def line_of(self, key_path: KeyPath) -> int | None:
        key_path = tuple(key_path)
        while key_path:
            if key_path in self.lines:
                return self.lines[key_path]
            key_path = key_path[:-1]
        return None

    def add(self, key_path: KeyPath, message: str, line: int | None = None) -> None:
        line = line or self.line_of(key_path)
        where = f"{self.path or 'rubric'}" + (f", line {line}" if line else "")
        self.items.append((line or 0, f"{where}: {message}"))

    def unknown_keys(
        self, table: dict[str, Any], known: tuple[str, ...], key_path: KeyPath, what: str
    ) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(known)}."
                self.add(key_path + (key,), f"unknown key '{key}' in {what}.{hint}")

    def raise_if_any(self) -> None:
        if self.items:
            ordered = [message for _, message in sorted(self.items, key=lambda item: item[0])]
            count = len(ordered)
            head = "The rubric has a problem" if count == 1 else f"The rubric has {count} problems"
            raise RubricError(head + ":\n  " + "\n  ".join(ordered))


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_rubric(text: str, path: Path | None = None, known_ids: frozenset[str] | None = None) -> Rubric:
    """Parse and check a rubric; raise RubricError listing every problem with its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RubricError(f"{path or 'rubric'}: {error}. Fix the TOML syntax there.") from error
    problems = _Problems(path, key_lines(text))
    known_ids = known_finding_ids() if known_ids is None else known_ids
    problems.unknown_keys(data, TOP_KEYS, (), "the rubric's top level")

    meta = data.get("rubric", {})
    problems.unknown_keys(meta, RUBRIC_KEYS, ("rubric",), "[rubric]")
    title = str(meta.get("title", "Rubric"))
    assignment = str(meta.get("assignment", path.stem if path else ""))

    bands = _parse_bands(data.get("bands", {}), problems)
    band_keys = tuple(b.key for b in bands)
    criteria = _parse_criteria(data.get("criteria", {}), band_keys, problems)

    declaration = data.get("declaration", {})
    problems.unknown_keys(declaration, DECLARATION_KEYS, ("declaration",), "[declaration]")
    feedback = data.get("feedback", {})
    problems.unknown_keys(feedback, FEEDBACK_KEYS, ("feedback",), "[feedback]")

    rules = []
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        problems.add(("rules",), "rules must be written as [[rules]] tables.")
        raw_rules = []
    for index, raw in enumerate(raw_rules):
        rule = _parse_rule(index, raw, criteria, known_ids, problems)
        if rule:
            rules.append(rule)

    export = data.get("export", {})
    problems.unknown_keys(export, EXPORT_KEYS, ("export",), "[export]")
    problems.raise_if_any()
    return Rubric(
        title=title,
        assignment=assignment,
        bands=bands,
        criteria=criteria,
        rules=rules,
        declaration_cell=declaration.get("formgrader_cell"),
        general_cell=feedback.get("formgrader_cell"),
        export={k: str(v) for k, v in export.items()},
        path=path,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _parse_bands(raw: dict[str, Any], problems: _Problems) -> list[Band]:
    if not raw:
        problems.add(("bands",), "no [bands.<name>] tables: the rubric needs its mark bands.")
        return []
    bands = []
    for key, table in raw.items():
        if not isinstance(table, dict):
            problems.add(("bands", key), f"bands.{key} must be a table with label, min and max.")
            continue
        problems.unknown_keys(table, BAND_KEYS, ("bands", key), f"[bands.{key}]")
        low, high = table.get("min"), table.get("max")
        if not (_number(low) and _number(high)) or int(low) != low or int(high) != high:
            problems.add(
                ("bands", key, "min" if not _number(low) else "max"),
                f"band '{key}' needs whole-number min and max marks.",
            )
            continue
        if not 0 <= low <= high <= 100:
            problems.add(
                ("bands", key, "min"), f"band '{key}': need 0 <= min <= max <= 100, got {low}-{high}."
            )
            continue
        bands.append(Band(key, str(table.get("label", key)), int(low), int(high)))
    bands.sort(key=lambda b: -b.min)
    for higher, lower in zip(bands, bands[1:]):
        if lower.max >= higher.min:
            problems.add(
                ("bands", lower.key, "max"),
                f"band '{lower.key}' ({lower.min}-{lower.max}) overlaps band '{higher.key}' "
                f"({higher.min}-{higher.max}).",
            )
        elif lower.max + 1 < higher.min:
            problems.add(
                ("bands", lower.key, "max"),
                f"marks {lower.max + 1}-{higher.min - 1} fall in no band (between '{lower.key}' "
                f"and '{higher.key}').",
            )
    if bands and bands[0].max != 100:
        problems.add(("bands", bands[0].key, "max"), f"the highest band '{bands[0].key}' must end at 100.")
    if bands and bands[-1].min != 0:
        problems.add(("bands", bands[-1].key, "min"), f"the lowest band '{bands[-1].key}' must start at 0.")
    return bands


def _parse_criteria(
    raw: dict[str, Any], band_keys: tuple[str, ...], problems: _Problems
) -> dict[str, Criterion]:
    criteria: dict[str, Criterion] = {}
    if not raw:
        problems.add(("criteria",), "no [criteria.<name>] tables: the rubric needs its criteria.")
        return criteria
    for key, table in raw.items():
        if key not in GRADED_CRITERIA:
            close = difflib.get_close_matches(key, GRADED_CRITERIA, n=1, cutoff=0.6)
            hint = (
                f" Did you mean '{close[0]}'?" if close else f" Known criteria: {', '.join(GRADED_CRITERIA)}."
            )
            problems.add(("criteria", key), f"unknown criterion '{key}'.{hint}")
            continue
        if not isinstance(table, dict):
            problems.add(("criteria", key), f"criteria.{key} must be a table.")
            continue
        problems.unknown_keys(table, CRITERION_KEYS, ("criteria", key), f"[criteria.{key}]")
        weight = table.get("weight")
        if not _number(weight) or weight < 0:
            problems.add(("criteria", key, "weight"), f"criterion '{key}' needs a weight (a number >= 0).")
            weight = 0
        descriptors = table.get("descriptors", {})
        if not isinstance(descriptors, dict):
            problems.add(("criteria", key, "descriptors"), f"criteria.{key}.descriptors must be a table.")
            descriptors = {}
        problems.unknown_keys(
            descriptors,
            band_keys,
            ("criteria", key, "descriptors"),
            f"[criteria.{key}.descriptors] (keys are band names)",
        )
        missing = [b for b in band_keys if b not in descriptors]
        if missing and band_keys:
            problems.add(
                ("criteria", key, "descriptors"),
                f"criterion '{key}' has no descriptor for band(s): {', '.join(missing)}.",
            )
        criteria[key] = Criterion(
            key=key,
            title=str(table.get("title", key.replace("_", " ").capitalize())),
            weight=float(weight),
            guideline=str(table.get("guideline", "")),
            formgrader_cell=table.get("formgrader_cell"),
            descriptors={k: str(v) for k, v in descriptors.items()},
        )
    total = sum(c.weight for c in criteria.values())
    if criteria and abs(total - 100) > 1e-9:
        listing = ", ".join(f"{c.key} {c.weight:g}" for c in criteria.values())
        first = next(iter(criteria))
        problems.add(("criteria", first, "weight"), f"the weights sum to {total:g}, not 100 ({listing}).")
    return criteria


def _parse_rule(
    index: int, raw: object, criteria: dict[str, Criterion], known_ids: frozenset[str], problems: _Problems
) -> Rule | None:
    here = ("rules", index)
    line = problems.line_of(here)
    if not isinstance(raw, dict):
        problems.add(here, f"rule {index + 1} must be a table.")
        return None
    problems.unknown_keys(raw, RULE_KEYS, here, f"rule {index + 1} ([[rules]])")
    patterns = raw.get("findings")
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        problems.add(
            here + ("findings",),
            f'rule {index + 1} needs findings = "<check id or pattern>" (or a list of them).',
        )
        return None
    for pattern in patterns:
        _check_finding_pattern(pattern, known_ids, problems, here + ("findings",))
    effect = raw.get("effect", "info")
    if effect not in EFFECTS:
        close = difflib.get_close_matches(str(effect), EFFECTS, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.add(
            here + ("effect",),
            f"rule {index + 1}: effect '{effect}' is not one of {', '.join(EFFECTS)}.{hint}",
        )
        return None
    statuses = raw.get("status", DEFAULT_STATUSES[effect])
    if isinstance(statuses, str):
        statuses = [statuses]
    for status in statuses:
        if status not in FINDING_STATUSES:
            close = difflib.get_close_matches(str(status), FINDING_STATUSES, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else f" Statuses: {', '.join(FINDING_STATUSES)}."
            problems.add(here + ("status",), f"rule {index + 1}: unknown status '{status}'.{hint}")
    criterion = raw.get("criterion")
    if criterion is not None and criterion not in criteria and criterion != "general":
        names = list(criteria) + ["general"]
        close = difflib.get_close_matches(str(criterion), names, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else f" Criteria: {', '.join(names)}."
        problems.add(here + ("criterion",), f"rule {index + 1}: unknown criterion '{criterion}'.{hint}")
    if effect in ("cap", "limit", "suggest") and (criterion is None or criterion == "general"):
        problems.add(
            here + ("criterion",),
            f"rule {index + 1}: a {effect} rule needs the criterion it "
            "applies to (one of the rubric's criteria).",
        )
    cap = raw.get("cap")
    if effect == "cap" and (not _number(cap) or not 0 <= cap <= 100):
        problems.add(here + ("cap",), f"rule {index + 1}: a cap rule needs cap = <mark 0-100>.")
    limit = raw.get("limit")
    if effect == "limit" and (not _number(limit) or not 0 <= limit <= 100):
        problems.add(
            here + ("limit",),
            f"rule {index + 1}: a limit rule needs limit = <mark 0-100> (the highest "
            "mark the autograder may suggest).",
        )
    marks = raw.get("marks", {})
    if effect == "suggest":
        if not isinstance(marks, dict) or not marks:
            problems.add(
                here + ("marks",),
                f"rule {index + 1}: a suggest rule needs marks = {{ pass = ..., warn = ..., fail = ... }}.",
            )
            marks = {}
        for status, mark in marks.items():
            if status not in (PASS, WARN, FAIL, INFO):
                close = difflib.get_close_matches(status, (PASS, WARN, FAIL, INFO), n=1, cutoff=0.5)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.add(
                    here + ("marks", status), f"rule {index + 1}: marks for unknown status '{status}'.{hint}"
                )
            elif not _number(mark) or not 0 <= mark <= 100:
                problems.add(here + ("marks", status), f"rule {index + 1}: marks.{status} must be 0-100.")
    weight = raw.get("weight", 1.0)
    if not _number(weight) or weight <= 0:
        problems.add(here + ("weight",), f"rule {index + 1}: weight must be a number > 0.")
        weight = 1.0
    return Rule(
        index=index,
        line=line or 0,
        findings=tuple(patterns),
        effect=effect,
        statuses=tuple(statuses),
        criterion=criterion,
        cap=float(cap) if _number(cap) else None,
        limit=float(limit) if _number(limit) else None,
        marks={k: float(v) for k, v in marks.items() if _number(v)} if isinstance(marks, dict) else {},
        weight=float(weight),
        flag=str(raw.get("flag", "")),
        note=str(raw.get("note", "")),
    )


def _check_finding_pattern(
    pattern: str, known_ids: frozenset[str], problems: _Problems, key_path: KeyPath
) -> None:
    if pattern == "*":
        return
    if any(ch in pattern for ch in "*?["):
        family = pattern.split(".", 1)[0]
        if any(fnmatch.fnmatchcase(i, pattern) for i in known_ids):
            return
        families = sorted({i.split(".", 1)[0] for i in known_ids})
        close = difflib.get_close_matches(family, families, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}.*'?" if close else f" Families: {', '.join(families)}."
        problems.add(key_path, f"the pattern '{pattern}' matches no known finding id.{hint}")
        return
    if pattern in known_ids:
        return
    close = difflib.get_close_matches(pattern, sorted(known_ids), n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    family = pattern.split(".", 1)[0]
    if not hint and family in {i.split(".", 1)[0] for i in known_ids}:
        hint = f" Use '{family}.*' for the whole family."
    problems.add(key_path, f"unknown finding id '{pattern}'.{hint}")


def load_rubric(path: Path, known_ids: frozenset[str] | None = None) -> Rubric:
    path = Path(path)
    if not path.is_file():
        raise RubricError(
            f"No rubric at {path}. Copy rubric/research_challenge.toml from the autograder "
            f"repository there, or set [course] rubric in {CONFIG_FILE}."
        )
    return parse_rubric(path.read_text(encoding="utf-8"), path=path, known_ids=known_ids)


def load_course_rubric(course: Course) -> Rubric:
    return load_rubric(course.rubric_path)
