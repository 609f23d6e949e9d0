"""Rosters through `autograder assign`: ids compared without regard to case (configurable), and a
roster that would remove allocated students, or a --fresh allocation that would change challenges,
names them and changes nothing without --force."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_support import run_autograder

from autograder.course.allocation import read_allocation
from autograder.course.challenges import Catalogue


def assign(course: Path, *args: str) -> subprocess.CompletedProcess:
    return run_autograder("assign", *args, "--course", str(course), timeout=120)


def roster(path: Path, ids: list[str]) -> Path:
    path.write_text("student_id,name\n" + "".join(f"{i},Name of {i}\n" for i in ids), encoding="utf-8")
    return path


def test_ids_differing_only_in_case_are_one_student(course_dir):
    allocation = course_dir / "allocation.csv"
    allocation.write_text("student_id,challenge\nab123,C\n")
    done = assign(course_dir, str(roster(course_dir / "roster.csv", ["AB123", "cd456"])))
    assert done.returncode == 0, done.stderr
    assert "2 students allocated" in done.stdout and "(1 new)" in done.stdout
    rows = allocation.read_text().splitlines()
    assert rows[0] == "student_id,challenge" and "ab123,C" in rows and len(rows) == 3  # the spelling kept
    assert read_allocation(allocation, Catalogue()).get("AB123") == "C"  # every reader finds the student

    twice = assign(course_dir, str(roster(course_dir / "twice.csv", ["ab123", "AB123"])))
    assert twice.returncode == 2
    assert (
        "line 3: student 'AB123' is listed twice (first on line 2, as 'ab123': ids are compared without "
        "regard to case)"
    ) in twice.stderr


def test_case_sensitive_ids_when_configured(course_dir):
    config = course_dir / "autograder.toml"
    config.write_text(
        config.read_text().replace(
            'assignment = "research_challenge"\n',
            'assignment = "research_challenge"\ncase_sensitive_ids = true\n',
        )
    )
    done = assign(course_dir, str(roster(course_dir / "roster.csv", ["ab123", "AB123"])))
    assert done.returncode == 0, done.stderr
    assert "2 students allocated" in done.stdout
    config.write_text(config.read_text().replace("case_sensitive_ids = true", 'case_sensitive_ids = "yes"'))
    wrong = assign(course_dir, str(course_dir / "roster.csv"))
    assert wrong.returncode == 2 and "case_sensitive_ids: expected true or false" in wrong.stderr


def test_a_roster_that_drops_students_names_them_and_needs_force(course_dir):
    allocation = course_dir / "allocation.csv"
    ids = [f"s{n:02d}" for n in range(9)]
    assert assign(course_dir, str(roster(course_dir / "roster.csv", ids))).returncode == 0
    before = allocation.read_bytes()
    smaller = roster(course_dir / "new.csv", ["s00", "s01"])
    done = assign(course_dir, str(smaller))
    assert done.returncode == 2
    assert (
        "7 student(s) in allocation.csv are not on the roster and would be removed: s02, s03, s04, s05, s06, "
        "s07, s08"
    ) in done.stderr and "--force" in done.stderr
    assert allocation.read_bytes() == before  # nothing changed
    forced = assign(course_dir, str(smaller), "--force")
    assert forced.returncode == 0 and "2 students allocated" in forced.stdout
    assert "Removed (not on the roster): s02, s03" in forced.stderr
    assert sorted(read_allocation(allocation, Catalogue())) == ["s00", "s01"]
    assert [p.name for p in course_dir.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_fresh_needs_force_when_a_challenge_would_change(course_dir):
    allocation = course_dir / "allocation.csv"
    allocation.write_text("student_id,challenge\ns00,D\ns01,D\n")
    before = allocation.read_bytes()
    the_roster = roster(course_dir / "roster.csv", ["s00", "s01"])
    done = assign(course_dir, str(the_roster), "--fresh")
    assert done.returncode == 2 and "would get another challenge" in done.stderr
    assert allocation.read_bytes() == before
    forced = assign(course_dir, str(the_roster), "--fresh", "--force")
    assert forced.returncode == 0 and "Challenge changed (--fresh)" in forced.stderr
    assert sorted(read_allocation(allocation, Catalogue()).values()) == ["A", "B"]
