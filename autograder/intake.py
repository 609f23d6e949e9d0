"""Intake: find each student's submission and check that it can be graded.

Two sources, one result: nbgrader's `submitted/{student_id}/{assignment}/` layout (from
`nbgrader collect`, or copied there by hand; `timestamp.txt` holds the submission time), and a
Blackboard "download assignment" zip, which `collect_zip` unpacks into that same layout:

    <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original file name>   the files
    <assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt                    the receipt

The latest attempt of each student wins. The notebook is renamed to the released notebook's name
(nbgrader grades by name); recordings and other files are kept beside it under their own names;
`timestamp.txt` (nbgrader's format, UTC) and `submission.json` are written. Blackboard's times are
the local time of the Blackboard server, taken to be the local time of this machine.

A submission that cannot be graded (no notebook, two notebooks, a file with an .ipynb name that is
not a notebook, a file the zip cannot give back, an attempt that would unpack to more than the
[intake] bounds of autograder.toml allow) is an intake error for that student:
autograded/{student}/{assignment}/result.json with status "intake-error" and a plain reason.
Never an exception.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograder.course.allocation import STUDENT_ID
from autograder.course.sizes import format_size, parse_size
from autograder.errors import UserError
from autograder.layout import (
    CONFIG_FILE,
    SUBMISSION_FILE,
    SUBMISSION_SECRET_FILE,
    SUBMITTED,
    TIMESTAMP_FILE,
    is_recording,
)
from autograder.records import INTAKE_ERROR, ExecutionRecord, write_json_atomic

# nbgrader's own files of a submission (and the desktop's): never a file handed in
IGNORED_NAMES = {TIMESTAMP_FILE, SUBMISSION_FILE, SUBMISSION_SECRET_FILE, ".DS_Store", "Thumbs.db"}
_BB_FILE = re.compile(
    r"^(?P<prefix>.+?)_attempt_(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})"
    r"(?:(?P<receipt>\.txt)|_(?P<name>.+))$"
)
_BB_NAME = re.compile(r"^Name:\s*(?P<full>.*?)\s*\((?P<user>[^()\s]+)\)\s*$", re.MULTILINE)
_NBGRADER_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


class IntakeError(UserError):
    """The intake as a whole cannot proceed (e.g. the zip file does not exist)."""


@dataclass
class Submission:
    student_id: str
    assignment: str
    folder: Path
    notebook: str | None = None  # file name inside folder
    submitted_at: str | None = None  # ISO 8601 with offset
    recordings: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    source: str = "nbgrader"  # "nbgrader" | "blackboard"
    problem: str = ""  # plain reason when it cannot be graded
    notes: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # files the Blackboard zip could not give back
    refused: str = ""  # why the Blackboard attempt was not unpacked (too large); nothing of it is on disk

    @property
    def ok(self) -> bool:
        return not self.problem

    def to_json(self) -> dict:
        data = asdict(self)
        data["folder"] = str(self.folder)
        return data


def released_notebook_name(course, assignment: str | None = None) -> str:
    """The notebook name students were given (release/), else the source's, else <assignment>.ipynb."""
    for folder in (course.release_dir(assignment), course.source_dir(assignment)):
        notebooks = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        if len(notebooks) == 1:
            return notebooks[0]
    return f"{assignment or course.assignment}.ipynb"


def notebook_problem(data: bytes, name: str) -> str:
    """'' if `data` is a Jupyter notebook; else what it is, in plain words."""
    if not data.strip():
        return f"{name} is empty"
    head = data[:8]
    kinds = {
        b"%PDF": "a PDF document",
        b"PK\x03\x04": "a zip archive (or a Word/PowerPoint file)",
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"{\\rtf": "an RTF document",
    }
    for magic, kind in kinds.items():
        if head.startswith(magic):
            return f"{name} is not a Jupyter notebook: it is {kind} renamed to .ipynb"
    try:
        content = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return f"{name} is not a Jupyter notebook (it is not notebook JSON; was it saved from Jupyter?)"
    if (
        not isinstance(content, dict)
        or not isinstance(content.get("cells"), list)
        or "nbformat" not in content
    ):
        return f"{name} is not a Jupyter notebook (JSON, but without notebook cells)"
    try:
        import nbformat

        nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception as error:  # noqa: BLE001 - any parse failure is the student's file
        return f"{name} cannot be read as a Jupyter notebook ({type(error).__name__})"
    return ""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def read_timestamp(folder: Path) -> str | None:
    """nbgrader's timestamp.txt -> ISO time with offset (naive times there are UTC, as nbgrader)."""
    path = Path(folder) / TIMESTAMP_FILE
    if not path.is_file():
        return None
    try:
        from nbgrader.utils import parse_utc

        moment = parse_utc(path.read_text(encoding="utf-8").strip())
    except (ValueError, OverflowError, OSError):
        return None
    return _iso(moment.replace(tzinfo=UTC)) if moment else None


def write_timestamp(folder: Path, moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    (Path(folder) / TIMESTAMP_FILE).write_text(utc.strftime(_NBGRADER_TS_FORMAT), encoding="utf-8")


def _classify(folder: Path) -> tuple[list[str], list[str], list[str]]:
    notebooks, recordings, others = [], [], []
    for path in sorted(folder.iterdir()):
        if path.name in IGNORED_NAMES or path.name.startswith(".") or path.is_dir():
            continue
        suffix = path.suffix.lower()
        if suffix == ".ipynb":
            notebooks.append(path.name)
        elif is_recording(path):
            recordings.append(path.name)
        else:
            others.append(path.name)
    return notebooks, recordings, others


def inspect_submission(course, student_id: str, assignment: str | None = None) -> Submission:
    """Check one submitted/{student}/{assignment}/ folder, from what is in it now (an instructor may
    fix a folder by hand). nbgrader's layout: the notebook with the released name wins when there are
    several (as nbgrader grades); a Blackboard intake must hold exactly one notebook."""
    assignment = assignment or course.assignment
    folder = course.submitted_dir(student_id, assignment)
    sub = Submission(student_id, assignment, folder)
    if not folder.is_dir():
        sub.problem = "nothing was submitted"
        return sub
    stored = {}
    if (folder / SUBMISSION_FILE).is_file():
        try:
            stored = json.loads((folder / SUBMISSION_FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            stored = {}
    sub.source = stored.get("source", "nbgrader")
    sub.submitted_at = read_timestamp(folder) or stored.get("submitted_at")
    notebooks, sub.recordings, sub.other_files = _classify(folder)
    released = released_notebook_name(course, assignment)
    damaged = [name for name in stored.get("damaged") or [] if name.lower().endswith(".ipynb")]
    if not notebooks:
        if stored.get(
            "refused"
        ):  # the attempt was too large to unpack (a notebook put here by hand is graded)
            sub.problem = sub.refused = stored["refused"]
        elif damaged:
            sub.problem = (
                f"{', '.join(damaged)} could not be read from the Blackboard zip (the file is damaged); "
                "download the submission again or ask the student to resubmit"
            )
        else:
            files = sub.recordings + sub.other_files
            sub.problem = "no notebook was submitted" + (f" (files: {', '.join(files)})" if files else "")
        return sub
    if sub.source == "blackboard" and len(notebooks) > 1:
        sub.problem = (
            f"{len(notebooks)} notebooks were submitted ({', '.join(notebooks)}); submit exactly one notebook"
        )
        return sub
    if released in notebooks:
        chosen = released
        if len(notebooks) > 1:
            sub.notes.append(f"other notebooks ignored: {', '.join(n for n in notebooks if n != released)}")
    elif len(notebooks) == 1:
        chosen = notebooks[0]
    else:
        sub.problem = (
            f"{len(notebooks)} notebooks were submitted ({', '.join(notebooks)}) and none is named "
            f"{released}; submit exactly one notebook"
        )
        return sub
    try:
        data = (folder / chosen).read_bytes()
    except OSError as error:
        sub.problem = f"{chosen} could not be read ({error.strerror})"
        return sub
    sub.problem = notebook_problem(data, chosen)
    sub.notebook = chosen
    return sub


def record_intake_error(course, sub: Submission) -> ExecutionRecord:
    record = ExecutionRecord(
        student_id=sub.student_id,
        assignment=sub.assignment,
        status=INTAKE_ERROR,
        reason=f"The submission cannot be graded: {sub.problem}.",
        submitted_at=sub.submitted_at,
    )
    record.save(course.result_path(sub.student_id, sub.assignment))
    return record


def collect_submitted(course, assignment: str | None = None) -> list[Submission]:
    """Check every submitted/*/{assignment}; record intake errors; write submission.json."""
    assignment = assignment or course.assignment
    results = []
    for student in course.submitted_students(assignment):
        sub = inspect_submission(course, student, assignment)
        if not STUDENT_ID.match(student):
            sub.problem = f"'{student}' is not a usable student id (folder name)"
        _store(course, sub)
        results.append(sub)
    return results


def _store(course, sub: Submission) -> None:
    data = sub.to_json()
    data.pop("folder")
    if sub.folder.is_dir():
        write_json_atomic(sub.folder / SUBMISSION_FILE, data)
    if sub.problem:
        record_intake_error(course, sub)
    else:
        stale = course.result_path(sub.student_id, sub.assignment)
        if stale.is_file():
            try:
                if json.loads(stale.read_text(encoding="utf-8")).get("status") == INTAKE_ERROR:
                    stale.unlink()  # fixed since: grade it
            except (ValueError, OSError):
                pass


# --- Blackboard ------------------------------------------------------------------------------------


@dataclass
class _Attempt:
    username: str
    stamp: str  # YYYY-MM-DD-HH-MM-SS
    files: list[tuple[zipfile.ZipInfo, str]] = field(default_factory=list)  # (member, original name)
    receipt: zipfile.ZipInfo | None = None
    bb_assignment: str = ""

    @property
    def moment(self) -> datetime:
        return datetime.strptime(self.stamp, "%Y-%m-%d-%H-%M-%S").astimezone()  # local time


def _safe_name(name: str) -> str:
    name = Path(name.replace("\\", "/")).name.strip()
    return re.sub(r"[\x00-\x1f/]", "_", name) or "file"


def _parse_zip(archive: zipfile.ZipFile) -> tuple[dict[str, list[_Attempt]], list[str]]:
    attempts: dict[tuple[str, str], _Attempt] = {}
    receipts_user: dict[tuple[str, str], str] = {}
    ignored = []
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:  # receipts first: they name the user unambiguously
        match = _BB_FILE.match(_safe_name(member.filename))
        if match and match.group("receipt"):
            try:
                text = archive.read(member).decode("utf-8", errors="replace")
            except Exception:  # noqa: BLE001 - a damaged receipt only loses the name hint
                continue
            found = _BB_NAME.search(text)
            if found and match.group("prefix").endswith("_" + found.group("user")):
                receipts_user[(match.group("prefix"), match.group("ts"))] = found.group("user")
    for member in members:
        base = _safe_name(member.filename)
        match = _BB_FILE.match(base)
        if not match:
            ignored.append(base)
            continue
        prefix, stamp = match.group("prefix"), match.group("ts")
        user = receipts_user.get((prefix, stamp)) or prefix.rsplit("_", 1)[-1]
        bb_assignment = prefix[: -len(user) - 1] if prefix.endswith("_" + user) else prefix
        attempt = attempts.setdefault((user, stamp), _Attempt(user, stamp, bb_assignment=bb_assignment))
        if match.group("receipt"):
            attempt.receipt = member
        else:
            attempt.files.append((member, _safe_name(match.group("name"))))
    by_user: dict[str, list[_Attempt]] = {}
    for attempt in attempts.values():
        by_user.setdefault(attempt.username, []).append(attempt)
    for user_attempts in by_user.values():
        user_attempts.sort(key=lambda a: a.stamp)
    return by_user, ignored


def collect_zip(
    course, zip_path: Path, assignment: str | None = None, force: bool = False
) -> tuple[list[Submission], list[str]]:
    """Unpack a Blackboard bulk download into submitted/ (latest attempt per student).
    Returns the submissions and the names of files in the zip that are not Blackboard submissions."""
    assignment = assignment or course.assignment
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise IntakeError(
            f"{zip_path} does not exist: give the zip file Blackboard's 'Download assignment' produced."
        )
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise IntakeError(
            f"{zip_path} is not a zip file ({error}); download it from Blackboard again."
        ) from error
    released = released_notebook_name(course, assignment)
    limits = _Limits.of(course)
    results = []
    with archive:
        by_user, ignored = _parse_zip(archive)
        if not by_user:
            raise IntakeError(
                f"{zip_path} holds no Blackboard submissions (no file named "
                "<assignment>_<username>_attempt_<date>_<name>); is it the right zip?"
            )
        for user, attempts in sorted(by_user.items()):
            latest = attempts[-1]
            folder = course.submitted_dir(user, assignment)
            sub = Submission(user, assignment, folder, source="blackboard", submitted_at=_iso(latest.moment))
            if len(attempts) > 1:
                sub.notes.append(f"{len(attempts)} attempts; the latest ({latest.stamp}) is graded")
            if not STUDENT_ID.match(user):
                sub.problem = f"the Blackboard username '{user}' cannot be used as a student id"
                results.append(sub)
                continue
            existing = read_timestamp(folder) if folder.is_dir() else None
            if existing and not force and datetime.fromisoformat(existing) >= latest.moment:
                kept = inspect_submission(course, user, assignment)
                if (
                    not kept.refused
                ):  # a refused attempt left nothing on disk: tried again (a bound may be raised)
                    kept.notes.append("already collected (same or newer attempt on disk)")
                    results.append(kept)
                    continue
            refusal = limits.refusal(latest)
            if refusal:
                _refuse(latest, sub, refusal)
            else:
                _check_free_space(course.root, latest, sub)
                try:
                    _unpack_attempt(sub.folder, _unpack_into, archive, latest, sub, released, limits)
                except _TooLarge as error:  # a size the zip's header did not declare
                    sub = Submission(
                        user,
                        assignment,
                        folder,
                        source="blackboard",
                        submitted_at=sub.submitted_at,
                        notes=sub.notes,
                    )
                    _refuse(latest, sub, str(error))
            _store(course, sub)
            results.append(sub)
    return results, ignored


class _TooLarge(Exception):
    """An entry unpacked past a bound; the message is the reason the attempt is refused."""


@dataclass
class _Limits:
    """The [intake] bounds, in bytes (None: no bound)."""

    file: int | None
    attempt: int | None
    ratio: float | None

    @classmethod
    def of(cls, course) -> _Limits:
        settings = course.config.intake
        where = f"{course.config_path}: [intake]"
        return cls(
            file=parse_size(settings.max_file_size, f"{where} max_file_size"),
            attempt=parse_size(settings.max_attempt_size, f"{where} max_attempt_size"),
            ratio=settings.max_compression_ratio or None,
        )

    def refusal(self, attempt: _Attempt) -> str:
        """Why the attempt must not be unpacked, from the sizes the zip declares; '' if it may."""
        for member, original in attempt.files:
            size, packed = member.file_size, member.compress_size
            if self.file and size > self.file:
                return (
                    f"{original} unpacks to {_size(size)}, more than the {_size(self.file)} taken for one file "
                    "of a submission"
                )
            if self.ratio and size > RATIO_FLOOR and size > self.ratio * max(packed, 1):
                return (
                    f"{original} unpacks to {_size(size)} from {_size(packed)} ({size / max(packed, 1):.0f} times "
                    f"its packed size, more than the {self.ratio:g} times taken; a file that shrinks so much is "
                    "mostly empty, as a zip bomb is)"
                )
        total = sum(member.file_size for member, _ in attempt.files)
        if self.attempt and total > self.attempt:
            return (
                f"its files unpack to {_size(total)}, more than the {_size(self.attempt)} taken for one "
                "submission"
            )
        return ""


# A file under this size is never refused for how well it compresses (a notebook's JSON packs 10:1).
RATIO_FLOOR = 4 * 1024**2
# Free space left on the course's disk after unpacking an attempt, for the grading that follows.
FREE_SPACE_MARGIN = 256 * 1024**2
_CHUNK = 1024**2


def _size(n: int) -> str:
    return format_size(n) if n >= 1024**2 else f"{n:,} bytes"


def _refuse(attempt: _Attempt, sub: Submission, reason: str) -> None:
    """The attempt is not unpacked: its folder holds only its time and the reason (submission.json)."""
    sub.problem = sub.refused = (
        f"the attempt of {attempt.stamp} was not unpacked: {reason}. Ask the student to "
        "resubmit without it (or, if the file is genuine, raise the [intake] limits in "
        f"{CONFIG_FILE} and collect again)"
    )
    _unpack_attempt(sub.folder, write_timestamp, attempt.moment)


def _check_free_space(root: Path, attempt: _Attempt, sub: Submission) -> None:
    size = sum(member.file_size for member, _ in attempt.files)
    free = shutil.disk_usage(root).free
    if free < size + FREE_SPACE_MARGIN:
        raise IntakeError(
            f"Only {_size(free)} is free on the disk holding {root}, and unpacking {sub.student_id}'s "
            f"attempt of {attempt.stamp} needs {_size(size)} and {_size(FREE_SPACE_MARGIN)} left free "
            "to grade: free some space "
            "and run the same `autograder collect --zip` again (students collected so far are kept)."
        )


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, original: str, out, limit: int | None
) -> int:
    """Copy one entry to `out` in chunks, counting: a header that understates the size gets no further."""
    written = 0
    with archive.open(member) as source:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if limit is not None and written > limit:
                raise _TooLarge(f"{original} unpacks to more than the {_size(limit)} left for it")
            out.write(chunk)
    return written


def _unpack_attempt(target: Path, fill, *args) -> None:
    """fill(folder, *args) a folder beside the student's, swapped in only when complete: an unpacking that fails
    (a full disk, a damaged zip, a file too large) leaves the earlier attempt as it was."""
    staging = target.parent / f".{target.name}.unpacking"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        fill(staging, *args)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        old = target.parent / f".{target.name}.replaced"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def _unpack_into(
    folder: Path, archive: zipfile.ZipFile, attempt: _Attempt, sub: Submission, released: str, limits: _Limits
) -> None:
    damaged, notebooks = sub.damaged, []
    left = limits.attempt  # bytes the attempt may still unpack to
    for member, original in attempt.files:
        limit = min((x for x in (limits.file, left) if x is not None), default=None)
        is_notebook = original.lower().endswith(".ipynb")
        try:
            if is_notebook:
                with io.BytesIO() as buffer:
                    written = _read_member(archive, member, original, buffer, limit)
                    notebooks.append((original, buffer.getvalue()))
            else:
                with open(folder / original, "wb") as out:
                    written = _read_member(archive, member, original, out, limit)
        except _TooLarge:
            raise
        except Exception:  # noqa: BLE001 - CRC errors, truncated members, unsupported compression
            (folder / original).unlink(missing_ok=True)
            damaged.append(original)
            continue
        if left is not None:
            left -= written
        if not is_notebook:
            (sub.recordings if is_recording(original) else sub.other_files).append(original)
    write_timestamp(folder, attempt.moment)
    damaged_notebooks = [name for name in damaged if name.lower().endswith(".ipynb")]
    if damaged and not damaged_notebooks:
        sub.notes.append(
            f"{', '.join(damaged)} could not be read from the zip (damaged); the notebook is fine"
        )
    if damaged_notebooks:
        sub.problem = (
            f"{', '.join(damaged_notebooks)} could not be read from the Blackboard zip (the file is "
            "damaged); download the submission again or ask the student to resubmit"
        )
    elif not notebooks:
        files = sub.recordings + sub.other_files
        sub.problem = "no notebook was submitted" + (f" (files: {', '.join(files)})" if files else "")
    elif len(notebooks) > 1:
        sub.problem = (
            f"{len(notebooks)} notebooks were submitted ({', '.join(n for n, _ in notebooks)}); "
            "submit exactly one notebook"
        )
    else:
        original, data = notebooks[0]
        sub.problem = notebook_problem(data, original)
        if not sub.problem:
            sub.notebook = released
            (folder / released).write_bytes(data)
            if original != released:
                sub.notes.append(f"notebook {original} renamed to {released}")
    if sub.problem:  # keep what was sent, for the instructor to look at
        for original, data in notebooks:
            (folder / original).write_bytes(data)


def no_submissions(course, assignment: str) -> UserError:
    """The error of a command that finds nothing submitted: where it looked, and how to fill it."""
    return UserError(
        f"No submissions of {assignment} in {course.root / SUBMITTED}/<student>/{assignment}/. "
        f"Put nbgrader's submitted folders there (nbgrader collect), or take in a Blackboard "
        f"download with `autograder collect --zip FILE`."
    )
