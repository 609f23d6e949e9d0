"""Intake of a Blackboard download built to fill the disk: a zip bomb is refused before anything of it
is written, with a reason that names the file, and the rest of the download is collected."""

from __future__ import annotations

import os
import re
import shutil
import zipfile

import pytest
from test_engine_intake import BB, _nb_bytes, _receipt, build_blackboard_zip
from typer.testing import CliRunner

from autograder import intake
from autograder.cli import app
from autograder.course.config import Course
from autograder.intake import IntakeError, collect_submitted, collect_zip, inspect_submission
from autograder.records import ExecutionRecord

BOMB_USER, STAMP = "zb9999", "2026-03-10-13-00-00"


@pytest.fixture
def course(course_dir) -> Course:
    return Course.open(course_dir)


def _folder_bytes(root) -> int:
    return sum(os.lstat(os.path.join(top, name)).st_size for top, _, names in os.walk(root) for name in names)


def _add_attempt(path, user: str, files: dict[str, bytes | int], level: int = 1) -> None:
    """Append an attempt to a Blackboard zip; a file given as a number of bytes is that many zeros,
    streamed in (the bomb is never held in memory)."""
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr(f"{BB}_{user}_attempt_{STAMP}.txt", _receipt(user, "Zed Bee", STAMP, list(files)))
        for name, data in files.items():
            entry = f"{BB}_{user}_attempt_{STAMP}_{name}"
            if isinstance(data, bytes):
                archive.writestr(entry, data)
                continue
            zeros = bytes(16 * 1024**2)
            with archive.open(entry, "w", force_zip64=True) as out:
                for _ in range(data // len(zeros)):
                    out.write(zeros)


def _bomb_zip(tmp_path, size: int = 3 * 1024**3):
    path = build_blackboard_zip(tmp_path / "download.zip")
    _add_attempt(path, BOMB_USER, {"research_challenge.ipynb": _nb_bytes("bomb"), "features.npy": size})
    return path


def test_a_zip_bomb_is_refused_and_the_rest_of_the_download_collected(course, tmp_path):
    archive = _bomb_zip(tmp_path)
    assert archive.stat().st_size < 20 * 1024**2  # 3 GB of zeros, packed
    before = _folder_bytes(course.root)
    done = CliRunner().invoke(app, ["collect", "--zip", str(archive), "--course", str(course.root)])
    assert done.exit_code == 0, done.output  # as for any other attempt that cannot be graded
    assert _folder_bytes(course.root) - before < 100 * 1024**2
    line = next(line for line in done.output.splitlines() if line.startswith(BOMB_USER))
    assert "INTAKE ERROR" in line and "features.npy unpacks to 3 GB" in line and "resubmit" in line
    assert "2 submission(s) ready to grade, 5 intake error(s)" in done.output  # the others as before
    folder = course.submitted_dir(BOMB_USER)
    assert sorted(p.name for p in folder.iterdir()) == ["submission.json", "timestamp.txt"]  # nothing of it
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no half-unpacked folder
    record = ExecutionRecord.load(course.result_path(BOMB_USER))
    assert record.status == "intake-error" and "features.npy" in record.reason
    # grading later sees the same verdict, not "no notebook"
    assert "features.npy unpacks to 3 GB" in inspect_submission(course, BOMB_USER).problem
    assert "features.npy" in {s.student_id: s for s in collect_submitted(course)}[BOMB_USER].problem
    assert inspect_submission(course, "ab1234").ok


def test_a_file_that_shrinks_too_much_is_refused_and_a_genuine_one_kept(course, tmp_path):
    """Below the size bounds, a file packed more than max_compression_ratio times is refused; a file of
    real data of the same size is not."""
    path = build_blackboard_zip(tmp_path / "download.zip")
    _add_attempt(path, BOMB_USER, {"research_challenge.ipynb": _nb_bytes("z"), "zeros.bin": 64 * 1024**2})
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        stamp = "2026-03-10-13-00-00"
        archive.writestr(f"{BB}_rd1234_attempt_{stamp}.txt", _receipt("rd1234", "Ar Dee", stamp, ["x"]))
        archive.writestr(f"{BB}_rd1234_attempt_{stamp}_research_challenge.ipynb", _nb_bytes("rd"))
        archive.writestr(f"{BB}_rd1234_attempt_{stamp}_features.npy", os.urandom(8 * 1024**2))
    subs = {s.student_id: s for s in collect_zip(course, path)[0]}
    assert (
        "zeros.bin unpacks to 64 MB" in subs[BOMB_USER].problem
        and "times its packed size" in subs[BOMB_USER].problem
    )
    assert subs["rd1234"].ok and subs["rd1234"].other_files == ["features.npy"]
    assert (course.submitted_dir("rd1234") / "features.npy").stat().st_size == 8 * 1024**2


def test_the_bounds_are_course_settings(course, tmp_path):
    """[intake] in autograder.toml: a bound of one attempt's total, named in the reason; a size that is
    not a size is a configuration error that says where."""
    path = build_blackboard_zip(tmp_path / "download.zip")
    _add_attempt(
        path,
        BOMB_USER,
        {
            "research_challenge.ipynb": _nb_bytes("z"),
            "a.csv": os.urandom(2 * 1024**2),
            "b.csv": os.urandom(2 * 1024**2),
        },
        level=0,
    )
    config = course.root / "autograder.toml"
    original = config.read_text(encoding="utf-8")
    config.write_text(original + '\n[intake]\nmax_attempt_size = "3M"\n', encoding="utf-8")
    subs = {s.student_id: s for s in collect_zip(Course.open(course.root), path)[0]}
    assert re.search(
        r"its files unpack to 4\.0\d MB, more than the 3 MB taken for one submission", subs[BOMB_USER].problem
    )
    assert subs["ab1234"].ok
    # the bound raised, the same download collected again takes the attempt in (no --force needed)
    config.write_text(original + '\n[intake]\nmax_attempt_size = "10M"\n', encoding="utf-8")
    subs = {s.student_id: s for s in collect_zip(Course.open(course.root), path)[0]}
    assert subs[BOMB_USER].ok and sorted(subs[BOMB_USER].other_files) == ["a.csv", "b.csv"]
    assert "already collected" in " ".join(subs["ab1234"].notes)
    config.write_text(original + '\n[intake]\nmax_file_size = "lots"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"\[intake\] max_file_size 'lots' is not a size"):
        collect_zip(Course.open(course.root), path, force=True)


def test_a_header_that_understates_a_size_gets_no_further(course, tmp_path):
    """The sizes the zip declares are checked first, and every entry is counted as it is unpacked: an
    entry larger than it says is stopped at the bound, and the attempt refused."""
    path = build_blackboard_zip(tmp_path / "download.zip")
    _add_attempt(
        path,
        BOMB_USER,
        {"research_challenge.ipynb": _nb_bytes("z"), "a.csv": os.urandom(3 * 1024**2)},
        level=0,
    )
    real_refusal = intake._Limits.refusal
    limits = intake._Limits(file=1024**2, attempt=None, ratio=None)

    def lying_header(self, attempt):  # as if every header had said 0 bytes
        return ""

    intake._Limits.refusal = lying_header
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(intake._Limits, "of", classmethod(lambda cls, course: limits))
            subs = {s.student_id: s for s in collect_zip(course, path)[0]}
    finally:
        intake._Limits.refusal = real_refusal
    assert "a.csv unpacks to more than the 1 MB left for it" in subs[BOMB_USER].problem
    assert sorted(p.name for p in course.submitted_dir(BOMB_USER).iterdir()) == [
        "submission.json",
        "timestamp.txt",
    ]


def test_free_space_is_checked_before_unpacking(course, tmp_path, monkeypatch):
    path = build_blackboard_zip(tmp_path / "download.zip")
    _add_attempt(
        path, BOMB_USER, {"research_challenge.ipynb": _nb_bytes("z"), "a.csv": os.urandom(1024**2)}, level=0
    )
    real = shutil.disk_usage
    # the disk has room for the students before, not for this one's file and the margin
    monkeypatch.setattr(
        intake.shutil, "disk_usage", lambda p: real(p)._replace(free=intake.FREE_SPACE_MARGIN + 512 * 1024)
    )
    with pytest.raises(
        IntakeError, match=rf"unpacking {BOMB_USER}'s attempt of {STAMP} needs .*free some space"
    ):
        collect_zip(course, path)
    assert not course.submitted_dir(BOMB_USER).exists()
    assert inspect_submission(course, "ab1234").ok  # collected before the check stopped the intake
