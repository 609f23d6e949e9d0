"""Intake: a Blackboard bulk-download zip (with garbage in it) and nbgrader's submitted/ layout."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime

import nbformat
import pytest
from engine_support import quick_notebook
from typer.testing import CliRunner

from autograder.cli import app
from autograder.course.config import Course
from autograder.intake import collect_submitted, collect_zip, inspect_submission, read_timestamp
from autograder.records import ExecutionRecord

BB = "Research Challenge"  # Blackboard's column name, with a space as it often has


def _nb_bytes(marker: str) -> bytes:
    return nbformat.writes(quick_notebook("good", marker=marker)).encode()


def _receipt(user: str, full: str, stamp: str, files: list[str]) -> bytes:
    listing = "".join(
        f"\tOriginal filename: {f}\n\tFilename: {BB}_{user}_attempt_{stamp}_{f}\n" for f in files
    )
    return (
        f"Name: {full} ({user})\nAssignment: {BB}\nDate Submitted: Tuesday, 10 March 2026 14:55:02 o'clock GMT\n"
        f"Current Mark: Needs Marking\n\nSubmission Field:\nThere is no student submission text data for this "
        f"assignment.\n\nComments:\nThere are no student comments for this assignment.\n\nFiles:\n{listing}"
    ).encode()


def build_blackboard_zip(path):
    """A realistic bulk download: receipts, two attempts, recordings, and every kind of garbage."""
    entries = []

    def attempt(user, full, stamp, files: dict[str, bytes]):
        entries.append((f"{BB}_{user}_attempt_{stamp}.txt", _receipt(user, full, stamp, list(files))))
        for name, data in files.items():
            entries.append((f"{BB}_{user}_attempt_{stamp}_{name}", data))

    attempt("ab1234", "Ada Byron", "2026-03-09-10-00-00", {"my notebook.ipynb": _nb_bytes("first attempt")})
    attempt(
        "ab1234",
        "Ada Byron",
        "2026-03-10-14-55-02",
        {
            "Challenge B final.ipynb": _nb_bytes("second attempt"),
            "presentation.mp4": b"\x00\x00\x00\x18ftypmp42" * 10,
        },
    )
    attempt(
        "jk_lee",
        "Ji-Kyung Lee",
        "2026-03-11-09-30-00",
        {"research_challenge.ipynb": _nb_bytes("jk"), "slides.pptx": b"PK\x03\x04slides"},
    )
    attempt("cd5678", "Cy Dee", "2026-03-10-12-00-00", {"report.pdf": b"%PDF-1.7 no notebook here"})
    attempt("ef9012", "Ef Eff", "2026-03-10-12-00-00", {"a.ipynb": _nb_bytes("a"), "b.ipynb": _nb_bytes("b")})
    attempt(
        "gh3456", "Gee Aitch", "2026-03-10-12-00-00", {"research_challenge.ipynb": b"%PDF-1.4 not a notebook"}
    )
    attempt("ij7890", "Eye Jay", "2026-03-10-12-00-00", {"research_challenge.ipynb": _nb_bytes("damaged")})
    entries.append(("desktop.ini", b"[junk]"))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    # damage ij7890's notebook inside the zip: its CRC no longer matches (an interrupted download)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{BB}_ij7890_attempt_2026-03-10-12-00-00_research_challenge.ipynb")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 40] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


@pytest.fixture
def course(course_dir) -> Course:
    return Course.open(course_dir)


def _record(course, student):
    return ExecutionRecord.load(course.autograded_dir(student) / "result.json")


def test_blackboard_zip_intake(course, tmp_path):
    archive = build_blackboard_zip(tmp_path / "gradebook_download.zip")
    subs, ignored = collect_zip(course, archive)
    by = {s.student_id: s for s in subs}
    assert ignored == ["desktop.ini"]
    assert set(by) == {"ab1234", "jk_lee", "cd5678", "ef9012", "gh3456", "ij7890"}

    ada = by["ab1234"]  # latest attempt wins; notebook renamed to the released name; recording kept
    assert ada.ok and ada.notebook == "research_challenge.ipynb" and ada.recordings == ["presentation.mp4"]
    folder = course.submitted_dir("ab1234")
    assert sorted(p.name for p in folder.iterdir()) == [
        "presentation.mp4",
        "research_challenge.ipynb",
        "submission.json",
        "timestamp.txt",
    ]
    assert "second attempt" in (folder / "research_challenge.ipynb").read_text()
    stamp = datetime.fromisoformat(read_timestamp(folder))
    assert stamp == datetime(2026, 3, 10, 14, 55, 2).astimezone()  # Blackboard's local time, kept exactly
    assert any("2 attempts" in n for n in ada.notes)
    assert json.loads((folder / "submission.json").read_text())["source"] == "blackboard"

    jk = by["jk_lee"]  # an underscore in the username: the receipt names the user
    assert jk.ok and jk.recordings == ["slides.pptx"]

    reasons = {s: _record(course, s).reason for s in ("cd5678", "ef9012", "gh3456", "ij7890")}
    assert all(_record(course, s).status == "intake-error" for s in reasons)
    assert "no notebook" in reasons["cd5678"] and "report.pdf" in reasons["cd5678"]
    assert "2 notebooks" in reasons["ef9012"]
    assert "not a Jupyter notebook" in reasons["gh3456"] and "PDF" in reasons["gh3456"]
    assert "damaged" in reasons["ij7890"]
    assert not course.autograded_dir("ab1234").exists()

    # grading later sees the same verdicts (intake is re-checked, nothing crashes)
    assert not inspect_submission(course, "ef9012").ok and inspect_submission(course, "ab1234").ok

    # the instructor fixes a folder by hand: it is judged again from what is in it
    (course.submitted_dir("ef9012") / "b.ipynb").unlink()
    assert inspect_submission(course, "ef9012").ok
    assert (
        not inspect_submission(course, "ij7890").ok
        and "damaged" in inspect_submission(course, "ij7890").problem
    )

    # collecting the same zip again keeps what is there (same attempt); --force replaces
    again, _ = collect_zip(course, archive)
    assert any("already collected" in n for n in {s.student_id: s for s in again}["ab1234"].notes)


def test_collect_command(course, tmp_path):
    archive = build_blackboard_zip(tmp_path / "download.zip")
    result = CliRunner().invoke(app, ["collect", "--zip", str(archive), "--course", str(course.root)])
    assert result.exit_code == 0, result.output
    assert "2 submission(s) ready to grade, 4 intake error(s)" in result.output
    assert "ab1234" in result.output and "presentation.mp4" in result.output
    missing = CliRunner().invoke(
        app, ["collect", "--zip", str(tmp_path / "nope.zip"), "--course", str(course.root)]
    )
    assert missing.exit_code != 0


def test_nbgrader_layout(course):
    good = course.submitted_dir("s1")
    good.mkdir(parents=True)
    nbformat.write(quick_notebook("good"), good / "research_challenge.ipynb")
    nbformat.write(quick_notebook("good"), good / "research_challenge-Copy1.ipynb")
    (good / "timestamp.txt").write_text("2026-03-11 14:00:00.123456 UTC")
    empty = course.submitted_dir("s2")
    empty.mkdir(parents=True)
    (empty / "notes.txt").write_text("forgot")
    broken = course.submitted_dir("s3")
    broken.mkdir(parents=True)
    (broken / "whatever.ipynb").write_text('{"not": "a notebook"}')
    subs = {s.student_id: s for s in collect_submitted(course)}
    assert subs["s1"].ok and subs["s1"].notebook == "research_challenge.ipynb"
    assert subs["s1"].submitted_at == "2026-03-11T14:00:00+00:00"
    assert "other notebooks ignored" in subs["s1"].notes[0]
    assert "no notebook" in subs["s2"].problem and "notes.txt" in subs["s2"].problem
    assert "not a Jupyter notebook" in subs["s3"].problem
    assert _record(course, "s3").status == "intake-error"


def test_a_newer_attempt_that_cannot_be_unpacked_leaves_the_earlier_one(course, tmp_path, monkeypatch):
    """Unpacking writes beside the student's folder and swaps it in when complete: a disk that fills up
    half way through the newer attempt leaves the attempt already collected as it was, and nothing else."""
    import errno

    from autograder import intake

    archive = tmp_path / "bb.zip"
    build_blackboard_zip(archive)
    collect_zip(course, archive)
    folder = course.submitted_dir("ab1234")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(folder, *args):
        (folder / "half-written.ipynb").write_bytes(b"{")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(intake, "_unpack_into", full_disk)
    with pytest.raises(OSError, match="No space left"):
        collect_zip(course, archive, force=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
