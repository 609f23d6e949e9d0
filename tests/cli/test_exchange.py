"""A term through nbgrader's exchange: `autograder release --exchange`, two students fetch and submit
with nbgrader's own student commands (the second twice), `autograder collect`, `grade`, the markers'
marks, `release-feedback`, and each student's `nbgrader fetch_feedback` gets their own page only, with
the mark the gradebook holds. Run as root, the students are real Unix users (useradd), so the test also
shows what one student cannot see of another in the exchange; otherwise they are told apart with
nbgrader's --student and that part is skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from cli_support import run_autograder
from engine_support import make_course, quick_notebook

from autograder.course.config import Course
from autograder.execute import sandbox as sb

ASSIGNMENT = "research_challenge"
COURSE_ID = "MATE70026"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"  # the system's interpreters, not this environment's

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]


def autograder(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_autograder(*args, cwd=cwd, timeout=600)


class Student:
    """One student with their own home and working folder, running nbgrader's student commands."""

    def __init__(self, name: str, home: Path, exchange: Path, unix: bool):
        self.name, self.home, self.exchange, self.unix = name, home, exchange, unix
        home.mkdir(parents=True)
        if unix:
            subprocess.run(
                ["useradd", "-M", "-N", "-d", str(home), "-s", "/usr/sbin/nologin", name], check=True
            )
            shutil.chown(home, user=name)
            home.chmod(0o700)

    def run(self, *args: str, python: list[str] | None = None) -> subprocess.CompletedProcess:
        command, env = _student_python(self.unix)
        command = [*command, "-m", "nbgrader", *args, f"--Exchange.root={self.exchange}"]
        command += [f"--CourseDirectory.course_id={COURSE_ID}"]
        if not self.unix:  # one Unix user for both: nbgrader's own way to name another student
            command.append(f"--student={self.name}")
        extra = {"user": self.name, "group": "users", "extra_groups": []} if self.unix else {}
        return subprocess.run(
            command,
            cwd=self.home,
            env={**env, "HOME": str(self.home)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            **extra,
        )

    def work(self, nb) -> None:
        """The student's answer, saved over the fetched notebook (as their own file)."""
        path = self.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nbformat.write(nb, path)
        if self.unix:
            shutil.chown(path, user=self.name)


def _student_python(unix: bool) -> tuple[list[str], dict]:
    """The interpreter a student runs nbgrader with: this one, or (when its folder is closed to other
    users, a pyenv under /root) the system's Python of the same version on this environment's packages."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if not unix or _executable_by_others(Path(sys.executable)):
        return [sys.executable], env
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [shutil.which(version, path=SYSTEM_PATH) or version], {
        **env,
        "PYTHONPATH": os.pathsep.join(sorted(paths)),
    }


def _executable_by_others(path: Path) -> bool:
    real = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in real.parents) and bool(real.stat().st_mode & 0o001)


def _unix_users_possible() -> bool:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        return False
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return _executable_by_others(Path(sys.executable)) or shutil.which(version, path=SYSTEM_PATH) is not None


@pytest.fixture
def place(tmp_path):
    """Where the exchange and the students' homes go: under tmp_path, or (real users) a folder other
    users can enter (pytest's own is the instructor's alone); real users are removed afterwards."""
    unix = _unix_users_possible()
    base = Path(tempfile.mkdtemp(prefix="exchange-test-")) if unix else tmp_path
    base.chmod(0o755)
    names = [f"agx{uuid.uuid4().hex[:6]}a", f"agx{uuid.uuid4().hex[:6]}b"] if unix else ["ab1234", "cd5678"]
    yield base, names, unix
    if unix:
        for name in names:
            subprocess.run(["userdel", name], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _mark(page: str) -> int:
    return int(re.search(r'data-mark="(\d+)"', page).group(1))


@pytest.mark.timeout(900)
def test_a_term_through_nbgraders_exchange(course_dir, place):
    base, (first, second), unix = place
    exchange = base / "exchange"
    make_course(course_dir, {}, execution={"cell_timeout": 60, "timeout": 240, "memory_limit": '"1G"'})
    config = (course_dir / "autograder.toml").read_text()
    deadline = (datetime.now() + timedelta(days=1)).replace(microsecond=0).isoformat()
    config = re.sub(r"(?m)^deadline = .*$", f'deadline = {deadline}\nexchange = "{exchange}"', config)
    (course_dir / "autograder.toml").write_text(config + "\n[similarity]\nenabled = false\n")
    (course_dir / "allocation.csv").write_text(f"student_id,challenge\n{first},B\n{second},B\n")

    released = autograder("release", cwd=course_dir)
    assert released.returncode == 0, released.stderr
    assert "published to nbgrader's exchange" in released.stdout
    assert exchange.stat().st_mode & 0o1777 == 0o1777  # world-writable with the sticky bit

    students = {name: Student(name, base / "home" / name, exchange, unix) for name in (first, second)}
    for student in students.values():
        fetched = student.run("fetch_assignment", ASSIGNMENT)
        assert fetched.returncode == 0, fetched.stderr
        folder = student.home / ASSIGNMENT
        assert (folder / "requirements.txt").is_file() and list(folder.glob("mlmat_autograder-*.whl"))
    students[first].work(quick_notebook("good", marker=f"work of {first}"))
    students[second].work(quick_notebook("good", marker="a first draft"))
    for student in students.values():
        done = student.run("submit", ASSIGNMENT)
        assert done.returncode == 0, done.stderr

    inbound = exchange / COURSE_ID / "inbound"
    if unix:  # a student cannot list the inbound folder, so cannot find another's submission
        peek = subprocess.run(
            [*_student_python(True)[0], "-c", f"import os; os.listdir({str(inbound)!r})"],
            user=second,
            capture_output=True,
            text=True,
            check=False,
        )
        assert peek.returncode != 0 and "PermissionError" in peek.stderr

    collected = autograder("collect", cwd=course_dir)
    assert collected.returncode == 0, collected.stderr
    assert "2 new, 0 replaced" in collected.stdout
    # the second student submits again: the later submission replaces the first one on the next collect
    students[second].work(quick_notebook("good", marker=f"work of {second}"))
    assert students[second].run("submit", ASSIGNMENT).returncode == 0
    again = autograder("collect", "--json", cwd=course_dir)
    assert again.returncode == 0, again.stderr
    import json

    intake = json.loads(again.stdout)
    assert intake["exchange"]["replaced"] == [second] and intake["ready"] == 2
    course = Course.open(course_dir)
    latest = sorted(inbound.glob(f"{second}+*"))[-1]
    stamp = (latest / "timestamp.txt").read_text()
    submitted = course.submitted_dir(second)
    assert (submitted / "timestamp.txt").read_text() == stamp  # nbgrader's time: what the late policy reads
    assert f"work of {second}" in (submitted / f"{ASSIGNMENT}.ipynb").read_text()

    graded = autograder("grade", "--workers", "2", cwd=course_dir)
    assert graded.returncode == 0, graded.stdout + graded.stderr[-3000:]
    nothing = autograder("release-feedback", cwd=course_dir)  # no mark is final yet: nothing goes out
    assert nothing.returncode == 2 and "No feedback to release" in nothing.stderr
    assert "--include-provisional" in nothing.stderr
    assert not (exchange / COURSE_ID / "feedback").exists()

    rows = ["student_id,criterion,mark,comment"]
    for name, presentation in ((first, 72), (second, 58)):
        rows += [f"{name},{c},60," for c in ("data_preparation", "model_choice", "training_testing", "code")]
        rows.append(f"{name},presentation,{presentation},")
    (course_dir / "marks.csv").write_text("\n".join(rows) + "\n")
    regraded = autograder("grade", "--no-execute", cwd=course_dir)
    assert regraded.returncode == 0, regraded.stdout + regraded.stderr[-3000:]

    released_feedback = autograder("release-feedback", cwd=course_dir)
    assert released_feedback.returncode == 0, released_feedback.stderr
    assert "2 feedback page(s) released" in released_feedback.stdout

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}", course_id=COURSE_ID) as gradebook:
        totals = {name: gradebook.find_submission(ASSIGNMENT, name).score for name in students}
    for name, student in students.items():
        other = second if name == first else first
        done = student.run("fetch_feedback", ASSIGNMENT)
        assert done.returncode == 0, done.stderr
        pages = sorted((student.home / ASSIGNMENT / "feedback").rglob("*.html"))
        assert [p.name for p in pages] == [f"{ASSIGNMENT}.html"]  # one page: the latest submission's
        page = pages[0].read_text()
        grade = course.load_grade(name)
        assert grade["status"] == "final"
        assert _mark(page) == grade["overall"]["mark"] == round(totals[name])
        assert name in page and f"work of {name}" in page  # their page, with their notebook in it
        assert other not in page and "a first draft" not in page
        assert "moderation" not in page.lower() and "similarity" not in page.lower()
    if unix:  # nor can a student list the released pages (each is named by a secret only its student has)
        peek = subprocess.run(
            [
                *_student_python(True)[0],
                "-c",
                f"import os; os.listdir({str(exchange / COURSE_ID / 'feedback')!r})",
            ],
            user=first,
            capture_output=True,
            text=True,
            check=False,
        )
        assert peek.returncode != 0 and "PermissionError" in peek.stderr
