"""Challenge allocation: one challenge per student, balanced and reproducible.

`autograder assign roster.csv` reads a roster (a CSV with a `student_id` column; other columns such
as names are ignored and never copied), and writes `allocation.csv` (`student_id,challenge`) at the
course root. Students already in `allocation.csv` keep their challenge (an instructor may edit the
file by hand); new students fill the least-used challenges first, in an order fixed by a seeded
shuffle of the sorted ids, so the same roster always gives the same allocation.
"""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from pathlib import Path

from autograder.course.challenges import Catalogue
from autograder.errors import UserError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # used as a folder name, so no '/' or spaces
ID_COLUMNS = ("student_id", "username", "user name", "id", "cid")


class RosterError(UserError, ValueError):
    """A roster or allocation file that cannot be used, with the line at fault."""


def _id_column(header: list[str], path: Path) -> int:
    lowered = [h.strip().lower() for h in header]
    for name in ID_COLUMNS:
        if name in lowered:
            return lowered.index(name)
    raise RosterError(f"{path}, line 1: no student id column. The header must name one of: "
                      f"{', '.join(ID_COLUMNS)} (found: {', '.join(header) or 'nothing'}).")


def read_roster(path: Path) -> list[str]:
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
        raise RosterError(f"{path} is empty; it needs a header line with student_id and one line per student.")
    column = _id_column(rows[0], path)
    ids, seen = [], {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless
        if len(row) <= column:
            raise RosterError(f"{path}, line {line_number}: has {len(row)} fields, the student id "
                              f"is field {column + 1}.")
        student = row[column].strip()
        if not STUDENT_ID.match(student):
            raise RosterError(f"{path}, line {line_number}: '{student}' is not a usable student id "
                              "(letters, digits, '.', '_' or '-', starting with a letter or digit).")
        if student in seen:
            raise RosterError(f"{path}, line {line_number}: student '{student}' is listed twice "
                              f"(first on line {seen[student]}).")
        seen[student] = line_number
        ids.append(student)
    if not ids:
        raise RosterError(f"{path} lists no students.")
    return ids


def read_allocation(path: Path, catalogue: Catalogue) -> dict[str, str]:
    """student_id -> challenge letter, from allocation.csv (errors name the line)."""
    path = Path(path)
    if not path.exists():
        return {}
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    if not rows or [h.strip().lower() for h in rows[0][:2]] != ["student_id", "challenge"]:
        raise RosterError(f"{path}, line 1: the header must be 'student_id,challenge'.")
    allocation = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise RosterError(f"{path}, line {line_number}: expected 'student_id,challenge'.")
        student, letter = row[0].strip(), row[1].strip()
        if not STUDENT_ID.match(student):
            raise RosterError(f"{path}, line {line_number}: '{student}' is not a usable student id.")
        try:
            allocation[student] = catalogue.get(letter).letter
        except ValueError as error:
            raise RosterError(f"{path}, line {line_number}: {error}") from error
    return allocation


def allocate(students: list[str], catalogue: Catalogue, existing: dict[str, str] | None = None,
             seed: int = 0) -> dict[str, str]:
    """Balanced, reproducible allocation; students in `existing` keep their challenge."""
    existing = dict(existing or {})
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
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "challenge"])
        writer.writerows(sorted(allocation.items()))
    tmp.replace(path)


def assign(roster: Path, allocation_path: Path, catalogue: Catalogue, seed: int = 0,
           keep_existing: bool = True) -> dict[str, str]:
    students = read_roster(roster)
    existing = read_allocation(allocation_path, catalogue) if keep_existing else {}
    result = allocate(students, catalogue, existing, seed)
    # Students who left the roster but were allocated before stay in the file: their work may
    # already be submitted, and the instructor decides whether to remove them.
    merged = {**existing, **result}
    write_allocation(allocation_path, merged)
    return result
