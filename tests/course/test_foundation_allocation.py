"""Challenge allocation: balanced, reproducible, hand-editable, with clear roster errors."""

import os
import subprocess
import sys
from collections import Counter

import pytest

from autograder.course.allocation import RosterError, allocate, assign, read_allocation, read_roster
from autograder.course.challenges import Catalogue


def _roster(path, ids, header="student_id,name"):
    path.write_text(header + "\n" + "".join(f"{i},Name {i}\n" for i in ids))
    return path


def test_balanced_and_reproducible(tmp_path):
    ids = [f"s{n:03d}" for n in range(41)]
    roster = _roster(tmp_path / "roster.csv", ids)
    first = assign(roster, tmp_path / "a1.csv", Catalogue(), seed=7)
    second = assign(roster, tmp_path / "a2.csv", Catalogue(), seed=7)
    assert first == second
    assert (tmp_path / "a1.csv").read_text() == (tmp_path / "a2.csv").read_text()
    counts = Counter(first.values())
    assert set(counts) == {"A", "B", "C", "D"} and max(counts.values()) - min(counts.values()) <= 1
    # the order of the roster does not change anyone's challenge
    shuffled = _roster(tmp_path / "roster2.csv", list(reversed(ids)))
    assert assign(shuffled, tmp_path / "a3.csv", Catalogue(), seed=7) == first


def test_hand_edits_are_kept_and_newcomers_balance(tmp_path):
    catalogue = Catalogue()
    allocation_file = tmp_path / "allocation.csv"
    allocation_file.write_text("student_id,challenge\nann,C\nbob,C\n")
    roster = _roster(tmp_path / "roster.csv", ["ann", "bob", "cat", "dan", "eve", "fay"])
    result = assign(roster, allocation_file, catalogue)
    assert result["ann"] == "C" and result["bob"] == "C"
    # the four newcomers fill A, B and D (empty) before anyone joins C again
    assert Counter(result.values()) == Counter({"A": 2, "B": 1, "C": 2, "D": 1})
    assert read_allocation(allocation_file, catalogue) == result


def test_allocate_fills_least_used_first():
    result = allocate(["a", "b", "c", "d"], Catalogue(), existing={"x": "A"}, seed=1)
    # x already holds A, so the first three newcomers get B, C and D and the fourth gets A
    assert Counter(result.values()) == Counter({"A": 1, "B": 1, "C": 1, "D": 1})
    assert "A" not in allocate(["a", "b", "c"], Catalogue(), existing={"x": "A"}, seed=1).values()


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("name,email\nAnn,a@x\n", "line 1: no student id column"),
        ("student_id,name\nab12,Ann\nab12,Bob\n", "line 3: student 'ab12' is listed twice (first on line 2)"),
        ("student_id,name\nab12,Ann\nhas space,Bob\n", "line 3: 'has space' is not a usable student id"),
        ("name,student_id\nAnn\n", "line 2: has 1 fields"),
        ("student_id\n\n", "lists no students"),
    ],
)
def test_malformed_rosters_name_the_line(tmp_path, content, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(content)
    with pytest.raises(RosterError) as error:
        read_roster(roster)
    assert message in str(error.value)


def test_bad_allocation_file_names_the_line(tmp_path):
    path = tmp_path / "allocation.csv"
    path.write_text("student_id,challenge\nann,A\nbob,Z\n")
    with pytest.raises(RosterError, match=r"line 3: Unknown challenge 'Z'"):
        read_allocation(path, Catalogue())


def test_cli_assign_and_broken_roster(course_dir):
    roster = _roster(course_dir / "roster.csv", ["u1", "u2", "u3", "u4", "u5"])
    env = {**os.environ}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "assign", str(roster), "--course", str(course_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "5 students allocated" in done.stdout
    lines = (course_dir / "allocation.csv").read_text().splitlines()
    assert lines[0] == "student_id,challenge" and len(lines) == 6
    assert "Name" not in (course_dir / "allocation.csv").read_text()  # names are not copied
    (course_dir / "bad.csv").write_text("student_id\nu1\nu1\n")
    bad = subprocess.run(
        [sys.executable, "-m", "autograder", "assign", "bad.csv", "--course", str(course_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=course_dir,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "Error: bad.csv, line 3: student 'u1' is listed twice (first on line 2)."
