"""Challenge allocation: one challenge per student, balanced and reproducible.

`autograder assign roster.csv` reads a roster (a CSV with a `student_id` column; other columns such
as names are ignored and never copied), and writes `allocation.csv` (`student_id,challenge`) at the
course root. Students already in `allocation.csv` keep their challenge (an instructor may edit the
file by hand); new students fill the least-used challenges first, in an order fixed by a seeded
shuffle of the sorted ids, so the same roster always gives the same allocation.

Student ids are compared without regard to case (`AB123` and `ab123` are one student; the spelling
first written stays) unless `[course] case_sensitive_ids = true`. A roster that leaves out students
of the existing allocation is refused, naming them, unless `force` (then they are removed); so is a
fresh allocation that would change anyone's challenge. allocation.csv is written atomically.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, overload

from autograder.course.challenges import Catalogue
from autograder.errors import UserError
from autograder.layout import write_text_atomic

T = TypeVar("T")

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # used as a folder name, so no '/' or spaces
ID_COLUMNS = ("student_id", "username", "user name", "id", "cid")


class RosterError(UserError, ValueError):
    """A roster or allocation file that cannot be used, with the line at fault."""


def id_key(student: str, case_sensitive: bool = False) -> str:
    """What two student ids are compared by."""
    return student if case_sensitive else student.casefold()


class Allocation(dict[str, str]):
    """student_id -> challenge letter, looked up by id_key (so `AB123` finds `ab123`), in the
    spelling of the file."""

    def __init__(
        self, items: Mapping[str, str] | Iterable[tuple[str, str]] = (), case_sensitive: bool = False
    ):
        super().__init__(dict(items))
        self.case_sensitive = case_sensitive
        self._keys = {id_key(k, case_sensitive): k for k in self}

    def spelling(self, student: str) -> str | None:
        """The id as the allocation spells it, or None."""
        return self._keys.get(id_key(student, self.case_sensitive))

    def __setitem__(self, student: str, letter: str) -> None:
        existing = self.spelling(student)
        super().__setitem__(existing if existing is not None else student, letter)
        self._keys.setdefault(id_key(student, self.case_sensitive), student)

    def __getitem__(self, student: str) -> str:
        spelled = self.spelling(student)
        return super().__getitem__(student if spelled is None else spelled)

    def __contains__(self, student: object) -> bool:
        return isinstance(student, str) and self.spelling(student) is not None

    @overload
    def get(self, student: str, default: None = None, /) -> str | None: ...
    @overload
    def get(self, student: str, default: str, /) -> str: ...
    @overload
    def get(self, student: str, default: T, /) -> str | T: ...
    def get(self, student: str, default: object = None, /) -> object:
        return self[student] if student in self else default  # noqa: SIM401 - this is get()


def _id_column(header: list[str], path: Path) -> int:
    lowered = [h.strip().lower() for h in header]
    for name in ID_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    raise RosterError(
        f"{path}, line 1: no student id column. The header must name one of: "
        f"{', '.join(ID_COLUMNS)} (found: {', '.join(header) or 'nothing'})."
    )


def read_roster(path: Path, case_sensitive: bool = False) -> list[str]:
    """Student ids from a roster CSV, in file order; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"Roster {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterError(f"{path} is not a UTF-8 text file; save it as CSV (UTF-8).") from error
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise RosterError(
            f"{path} is empty; it needs a header line with student_id and one line per student."
        )
    column = _id_column(rows[0], path)
    ids: list[str] = []
    seen: dict[str, tuple[str, int]] = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless
        if len(row) <= column:
            raise RosterError(
                f"{path}, line {line_number}: has {len(row)} fields, the student id is field {column + 1}."
            )
        student = row[column].strip()
        if not STUDENT_ID.match(student):
            raise RosterError(
                f"{path}, line {line_number}: '{student}' is not a usable student id "
                "(letters, digits, '.', '_' or '-', starting with a letter or digit)."
            )
        key = id_key(student, case_sensitive)
        if key in seen:
            first, first_line = seen[key]
            same = "" if first == student else f", as '{first}': ids are compared without regard to case"
            raise RosterError(
                f"{path}, line {line_number}: student '{student}' is listed twice "
                f"(first on line {first_line}{same})."
            )
        seen[key] = (student, line_number)
        ids.append(student)
    if not ids:
        raise RosterError(f"{path} lists no students.")
    return ids


def read_allocation(path: Path, catalogue: Catalogue, case_sensitive: bool = False) -> Allocation:
    """student_id -> challenge letter, from allocation.csv (errors name the line)."""
    path = Path(path)
    if not path.exists():
        return Allocation(case_sensitive=case_sensitive)
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    if not rows or [h.strip().lower() for h in rows[0][:2]] != ["student_id", "challenge"]:
        raise RosterError(f"{path}, line 1: the header must be 'student_id,challenge'.")
    allocation = Allocation(case_sensitive=case_sensitive)
    lines: dict[str, int] = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise RosterError(f"{path}, line {line_number}: expected 'student_id,challenge'.")
        student, letter = row[0].strip(), row[1].strip()
        if not STUDENT_ID.match(student):
            raise RosterError(f"{path}, line {line_number}: '{student}' is not a usable student id.")
        if student in allocation:
            raise RosterError(
                f"{path}, line {line_number}: student '{student}' is listed twice (first on line "
                f"{lines[allocation.spelling(student) or student]}); keep one line per student."
            )
        lines[student] = line_number
        try:
            allocation[student] = catalogue.get(letter).letter
        except ValueError as error:
            raise RosterError(f"{path}, line {line_number}: {error}") from error
    return allocation


def allocate(
    students: list[str], catalogue: Catalogue, existing: dict[str, str] | None = None, seed: int = 0
) -> dict[str, str]:
    """Balanced, reproducible allocation; students in `existing` keep their challenge."""
    existing = existing if isinstance(existing, Allocation) else Allocation(existing or {})
    counts = Counter({letter: 0 for letter in catalogue.letters})
    counts.update(existing.values())  # everyone in allocation.csv counts, on the roster or not
    newcomers = sorted(s for s in students if s not in existing)
    random.Random(seed).shuffle(newcomers)
    allocation = {s: existing[s] for s in students if s in existing}
    for student in newcomers:
        letter = min(catalogue.letters, key=lambda c: (counts[c], catalogue.letters.index(c)))
        allocation[student] = letter
        counts[letter] += 1
    return {s: allocation[s] for s in students}


def write_allocation(path: Path, allocation: dict[str, str]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "challenge"])
    writer.writerows(sorted(allocation.items()))
    write_text_atomic(Path(path), buffer.getvalue())


@dataclass
class AssignResult:
    allocation: dict[str, str]  # the roster's students -> challenge letter
    new: list[str] = field(default_factory=list)  # allocated now
    removed: list[str] = field(default_factory=list)  # in the old allocation, not on the roster (force)
    changed: list[str] = field(default_factory=list)  # another challenge than before (fresh, force)


def plan_assignment(
    roster: Path,
    allocation_path: Path,
    catalogue: Catalogue,
    seed: int = 0,
    keep_existing: bool = True,
    force: bool = False,
    case_sensitive: bool = False,
) -> AssignResult:
    """The allocation a roster gives, checked before anything is written: students who would be
    removed, or whose challenge would change, need `force`."""
    students = read_roster(roster, case_sensitive)
    existing = read_allocation(allocation_path, catalogue, case_sensitive)
    # the spelling already in allocation.csv stays (it names the student's folders)
    students = [existing.spelling(s) or s for s in students]
    # only the students who stay count towards the balance
    staying = Allocation({s: existing[s] for s in students if s in existing}, case_sensitive)
    result = allocate(students, catalogue, staying if keep_existing else None, seed)
    on_roster = Allocation(result, case_sensitive)
    removed = sorted(s for s in existing if s not in on_roster)
    changed = sorted(s for s in existing if s in on_roster and on_roster[s] != existing[s])
    problems = []
    if removed:
        problems.append(
            f"{len(removed)} student(s) in {Path(allocation_path).name} are not on the roster and would "
            f"be removed: {_names(removed)} (add them to the roster to keep them)"
        )
    if changed:
        problems.append(
            f"{len(changed)} student(s) would get another challenge: {_names(changed)} (run without "
            "--fresh to keep their challenges)"
        )
    if problems and not force:
        raise RosterError(
            f"{Path(roster)}: " + "; ".join(problems) + ". Nothing was changed; pass --force to "
            "apply the roster as it is."
        )
    return AssignResult(
        result, new=sorted(s for s in result if s not in existing), removed=removed, changed=changed
    )


def _names(students: list[str], shown: int = 10) -> str:
    return ", ".join(students[:shown]) + (
        f" and {len(students) - shown} more" if len(students) > shown else ""
    )


def assign(
    roster: Path,
    allocation_path: Path,
    catalogue: Catalogue,
    seed: int = 0,
    keep_existing: bool = True,
    force: bool = False,
    case_sensitive: bool = False,
) -> dict[str, str]:
    """Allocate the roster's students and write allocation.csv (see plan_assignment)."""
    return assign_roster(
        roster, allocation_path, catalogue, seed, keep_existing, force, case_sensitive
    ).allocation


def assign_roster(
    roster: Path,
    allocation_path: Path,
    catalogue: Catalogue,
    seed: int = 0,
    keep_existing: bool = True,
    force: bool = False,
    case_sensitive: bool = False,
) -> AssignResult:
    result = plan_assignment(roster, allocation_path, catalogue, seed, keep_existing, force, case_sensitive)
    write_allocation(allocation_path, result.allocation)
    return result
