"""nbgrader's exchange (its `Exchange.root`): the course's side of a term on a JupyterHub.

The moving is done by nbgrader's own commands, run as the instructor in the course folder (so the
course's nbgrader_config.py and whichever exchange nbgrader is configured with apply):

* `publish_release`: `nbgrader release_assignment` of release/<assignment>/ (the notebook, the
  students' checker and requirements.txt) to <root>/<course_id>/outbound/<assignment>/, which students
  get with `nbgrader fetch_assignment` (or the Assignments tab);
* `collect_inbound`: `nbgrader collect --update` of what students sent with `nbgrader submit` into
  submitted/<student>/<assignment>/, the latest submission of each student replacing an earlier one
  (nbgrader's timestamp.txt is the submission time the late policy reads);
* `release_feedback_pages`: `nbgrader release_feedback` of the pages given, from a staging course
  folder holding only them, so that nothing else under feedback/ (and nothing under reports/) can
  go out. nbgrader names a page in the exchange by the hash of the submission's secret
  (submission_secret.txt, written by `nbgrader submit`) and the notebook's name; `nbgrader
  fetch_feedback` finds it from the copy of the submission in the student's own nbgrader cache, so a
  student gets the page of their latest collected submission and no other.

The course id is nbgrader's (`c.CourseDirectory.course_id` in nbgrader_config.py), else `[course]
course_id` in autograder.toml; the two must agree where both are set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.config import Course, nbgrader_course_settings
from autograder.course.release import nbgrader_env
from autograder.errors import UserError
from autograder.layout import (
    CONFIG_FILE,
    NBGRADER_CONFIG_FILE,
    TIMESTAMP_FILE,
    CourseLayout,
    exchange_course_dir,
    exchange_feedback_dir,
    exchange_inbound_dir,
    exchange_outbound_dir,
)

# world-writable with the sticky bit (as /tmp): every instructor may add a course, none remove another's
ROOT_MODE = 0o1777
_LOG_LINE = re.compile(r"^\[\w+ \| (ERROR|CRITICAL|WARNING)\] (?P<text>.*)$")


class ExchangeError(UserError):
    """nbgrader's exchange cannot be used as asked; the message says what to set or do."""


@dataclass(frozen=True)
class Exchange:
    root: Path  # nbgrader's Exchange.root
    course_id: str  # nbgrader's CourseDirectory.course_id

    @property
    def course_dir(self) -> Path:
        return exchange_course_dir(self.root, self.course_id)

    def outbound_dir(self, assignment: str) -> Path:
        return exchange_outbound_dir(self.root, self.course_id, assignment)

    @property
    def inbound_dir(self) -> Path:
        return exchange_inbound_dir(self.root, self.course_id)

    @property
    def feedback_dir(self) -> Path:
        return exchange_feedback_dir(self.root, self.course_id)


def no_exchange(course: Course) -> ExchangeError:
    return ExchangeError(
        f'No exchange configured for {course.root}: give --exchange DIR, or set exchange = "DIR" under '
        f"[course] in {CONFIG_FILE} (nbgrader's Exchange.root on the hub, e.g. /srv/nbgrader/exchange)."
    )


def configured(course: Course, given: Path | str | None) -> bool:
    """Is an exchange given on the command line or set in the course's configuration?"""
    return given is not None or bool(course.config.exchange)


def exchange_for(course: Course, given: Path | str | None = None) -> Exchange:
    """The exchange to use: `given` (--exchange, relative to the current folder), else `[course]
    exchange` (relative to the course root), with the course's id; an error when neither is set."""
    if given is not None:
        root = Path(given).expanduser()
    elif course.config.exchange:
        root = course.root / Path(course.config.exchange).expanduser()
    else:
        raise no_exchange(course)
    root = Path(os.path.abspath(root))
    if root.exists() and not root.is_dir():
        raise ExchangeError(
            f"The exchange {root} is a file: give the exchange's folder (nbgrader's Exchange.root)."
        )
    return Exchange(root, exchange_course_id(course))


def exchange_course_id(course: Course) -> str:
    """The course's id in the exchange: nbgrader's, else autograder.toml's; an error if neither is set,
    if they differ, or if it cannot name a folder."""
    nbgrader_id = str(nbgrader_course_settings(course.root).get("course_id") or "")
    ours = course.config.course_id if course.config.course_id_given else ""
    if nbgrader_id and ours and nbgrader_id != ours:
        raise ExchangeError(
            f"Two course ids: {NBGRADER_CONFIG_FILE} says '{nbgrader_id}', {CONFIG_FILE} [course] course_id "
            f"says '{ours}'. The exchange and the students' nbgrader commands use one: make them the same."
        )
    course_id = nbgrader_id or ours
    if not course_id:
        raise ExchangeError(
            f'No course id for nbgrader\'s exchange: set c.CourseDirectory.course_id = "..." in '
            f"{course.nbgrader_config_path} (or course_id under [course] in {CONFIG_FILE}), the id "
            "the hub's students use."
        )
    if "/" in course_id or "+" in course_id or course_id.startswith(".") or course_id != course_id.strip():
        raise ExchangeError(
            f"The course id '{course_id}' cannot name a folder of the exchange (no '/', '+', leading '.' "
            f"or spaces): change it in {NBGRADER_CONFIG_FILE}."
        )
    return course_id


def _nbgrader(course: Course, exchange: Exchange, *args: str, root: Path | None = None) -> None:
    """One nbgrader command in the course folder, on this exchange and course id (`root`: another
    course folder to take nbgrader's folders from, the staged feedback)."""
    command = [
        sys.executable,
        "-m",
        "nbgrader",
        *args,
        f"--Exchange.root={exchange.root}",
        f"--CourseDirectory.course_id={exchange.course_id}",
        f"--CourseDirectory.root={root or course.root}",
        "--log-level=WARN",
    ]
    done = subprocess.run(
        command, cwd=course.root, env=nbgrader_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [m.group("text") for m in map(_LOG_LINE.match, done.stderr.splitlines()) if m]
        said = "; ".join(lines[-3:]) or " ".join(done.stderr.split()[-40:]) or "no message"
        raise ExchangeError(f"nbgrader {args[0]} failed on the exchange {exchange.root}: {said}")


def _ensure_root(root: Path) -> None:
    """A new exchange root is made world-writable with the sticky bit (an existing one is left as it
    is: on a hub the administrator made it)."""
    if not root.exists():
        try:
            root.mkdir(parents=True)
            os.chmod(root, ROOT_MODE)
        except PermissionError as error:
            raise ExchangeError(
                f"The exchange {root} cannot be created ({error.strerror}): ask the hub's administrator "
                f"to make it (world-writable with the sticky bit, chmod 1777), then release again."
            ) from error


def publish_release(course: Course, assignment: str, exchange: Exchange) -> Path:
    """release/<assignment>/ as it is into the exchange (replacing an earlier release of it)."""
    if not any(course.release_dir(assignment).glob("*.ipynb")):
        raise ExchangeError(
            f"Nothing to publish: no notebook in {course.release_dir(assignment)}; run `autograder release` first."
        )
    _ensure_root(exchange.root)
    _nbgrader(course, exchange, "release_assignment", assignment, "--force")
    return exchange.outbound_dir(assignment)


def _require_course(exchange: Exchange) -> None:
    if not exchange.inbound_dir.is_dir():
        raise ExchangeError(
            f"Course '{exchange.course_id}' is not in the exchange {exchange.root} (no "
            f"{exchange.inbound_dir}): publish the assignment there first (`autograder release --exchange "
            f"{exchange.root}`), or check the exchange's folder and the course id."
        )


@dataclass
class Collected:
    """What `collect_inbound` took from the exchange."""

    new: list[str] = field(default_factory=list)  # students collected for the first time
    replaced: list[str] = field(default_factory=list)  # a later submission replaced the one collected


def _stamps(course: Course, assignment: str) -> dict[str, str]:
    out = {}
    for student in course.submitted_students(assignment):
        path = course.submitted_dir(student, assignment) / TIMESTAMP_FILE
        out[student] = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    return out


def collect_inbound(course: Course, assignment: str, exchange: Exchange) -> Collected:
    """nbgrader's collect of every student's latest submission into submitted/ (an earlier one
    collected before is replaced by a later one, never the other way round)."""
    _require_course(exchange)
    before = _stamps(course, assignment)
    _nbgrader(course, exchange, "collect", assignment, "--update")
    result = Collected()
    for student, stamp in sorted(_stamps(course, assignment).items()):
        if student not in before:
            result.new.append(student)
        elif stamp != before[student]:
            result.replaced.append(student)
    return result


def release_feedback_pages(
    course: Course, assignment: str, exchange: Exchange, pages: dict[str, tuple[str, str]]
) -> dict[str, Path]:
    """Release these pages (student -> (the graded notebook's name, the page's HTML)) with nbgrader's
    release_feedback, each under its submission's secret and time (submitted/<student>/<assignment>/).
    Returns student -> the page's file in the exchange."""
    from autograder.nbgrader_import import skip_server_extensions  # nbgrader's hash, not its server

    skip_server_extensions()
    from nbgrader.utils import notebook_hash

    _require_course(exchange)
    released = {}
    with tempfile.TemporaryDirectory(prefix="autograder-feedback-") as tmp:
        staging = CourseLayout(Path(tmp))
        for student, (notebook, html) in sorted(pages.items()):
            page = staging.exchange_page(student, notebook, assignment)
            page.parent.mkdir(parents=True)
            page.write_text(html, encoding="utf-8")
            for source in (
                course.timestamp_path(student, assignment),
                course.submission_secret_path(student, assignment),
            ):
                shutil.copyfile(source, page.parent / source.name)
            secret = course.submission_secret_path(student, assignment).read_text(encoding="utf-8")
            released[student] = (
                exchange.feedback_dir / f"{notebook_hash(secret=secret, notebook_id=page.stem)}{page.suffix}"
            )
        _nbgrader(course, exchange, "release_feedback", assignment, root=Path(tmp))
    missing = sorted(student for student, path in released.items() if not path.is_file())
    if missing:
        raise ExchangeError(
            f"nbgrader release_feedback did not put the page of {', '.join(missing)} in {exchange.feedback_dir}."
        )
    return released
