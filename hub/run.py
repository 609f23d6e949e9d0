"""A local JupyterHub for trying the whole term (`make hub`): an instructor and three students.

Run with the toolkit's venv (`.venv/bin/python hub/run.py`). Everything it writes is under the hub's
folder (default `.hub/`):

* `course/`: the course the hub serves: a copy of `demo-course/` when `make demo` has built it (its
  graded cohort shows in formgrader), else a new course from this repository's files; `--course DIR`
  serves DIR itself. `autograder release --exchange` publishes its assignment on every start;
* `exchange/`: nbgrader's exchange (`Exchange.root`), root-owned, `1777`, as on a real hub;
* `config/`: the users' `nbgrader_config.py` (the exchange and the course id), read through
  `JUPYTER_CONFIG_PATH` by every single-user server;
* `user-venv/`: run as root, a venv of a system Python that every user can run, with the toolkit's venv's
  packages on its path (the toolkit's interpreter may live where other users cannot read, e.g. pyenv
  under /root); it is the students' kernel, so they get the course environment;
* `home/` (not root: the accounts' homes), `jupyterhub.sqlite`, `jupyterhub_cookie_secret`, `hub.log`.

As root each account is a real Unix user (created with useradd when missing) and the hub's
LocalProcessSpawner starts each server as that user; otherwise all servers run as the current user
(SimpleLocalProcessSpawner: fine for a try, no isolation between the accounts).
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).resolve().with_name("jupyterhub_config.py")
INSTRUCTOR = "instructor"
STUDENTS = ("student1", "student2", "student3")
PASSWORD = "matbench"
EXCHANGE_MODE = 0o1777  # nbgrader's Exchange.root: world-writable with the sticky bit
SCRIPTS = {
    "alembic": "alembic.config:main",
    "nbgrader": "nbgrader.apps.nbgraderapp:main",
    "jupyter": "jupyter_core.command:main",
    "autograder": "autograder.cli:main",
}


def _as_root() -> bool:
    return os.geteuid() == 0


def _world_runnable(path: Path) -> bool:
    """Can any user run this file: every folder above it searchable, the file readable and executable?"""
    real = path.resolve()
    for folder in real.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    mode = real.stat().st_mode
    return bool(mode & stat.S_IXOTH and mode & stat.S_IROTH)


def _system_python() -> Path:
    """A Python of the same version as the venv's that every user can run."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = Path(folder) / version
        if candidate.is_file() and _world_runnable(candidate):
            return candidate
    raise SystemExit(
        f"hub: the venv's Python ({Path(sys.executable).resolve()}) is not readable by other users and no "
        f"system {version} was found for the accounts' servers: install {version} (apt-get install "
        f"{version} {version}-venv) or build .venv from a Python every user can run."
    )


def users_python(hub_dir: Path) -> Path:
    """The interpreter of the accounts' servers and kernels: the venv's own when every user can run it,
    else a venv of the system's Python seeing the toolkit venv's packages (its site-packages, with the
    .pth files there, added by a .pth of its own)."""
    if not _as_root() or _world_runnable(Path(sys.executable)):
        return Path(sys.executable)
    user_venv = hub_dir / "user-venv"
    python = user_venv / "bin" / "python"
    if not python.exists():
        subprocess.run([str(_system_python()), "-m", "venv", "--without-pip", str(user_venv)], check=True)
    purelib = Path(sysconfig.get_paths()["purelib"])
    done = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(done.stdout.strip(), "toolkit-venv.pth").write_text(
        f"import site; site.addsitedir({str(purelib)!r})\n"
    )
    # the commands the servers and nbgrader run by name (nbgrader calls alembic), for this interpreter
    for name, target in SCRIPTS.items():
        module, function = target.split(":")
        script = user_venv / "bin" / name
        script.write_text(
            f"#!{python}\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"
        )
        script.chmod(0o755)
    return python


def ensure_users(names: tuple[str, ...]) -> None:
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
            print(f"hub: created the Unix user {name}")


def _course_id(course: Path) -> str:
    sys.path.insert(0, str(REPO))
    from autograder.course.config import Course
    from autograder.course.exchange import exchange_course_id

    return exchange_course_id(Course.open(course))


def prepare_course(hub_dir: Path, given: Path | None) -> Path:
    if given is not None:
        return given.resolve()
    course = hub_dir / "course"
    if not course.exists():
        demo = REPO / "demo-course"
        if (demo / "gradebook.db").exists():
            print(f"hub: serving a copy of {demo} in {course}")
            shutil.copytree(demo, course, symlinks=True)
        else:
            sys.path.insert(0, str(REPO))
            from autograder.demo import build_course

            print(f"hub: no demo-course/ (make demo builds it): a new course from the repository in {course}")
            build_course(course)
    return course


def release(course: Path, exchange: Path, python: Path) -> None:
    """`autograder release --exchange`, as the instructor (who must own the course's exchange folders),
    with the accounts' interpreter (the toolkit venv's may not be the instructor's to run)."""
    command = [
        str(python),
        "-m",
        "autograder",
        "release",
        "--exchange",
        str(exchange),
        "--course",
        str(course),
    ]
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    kwargs: dict = {}
    if _as_root():
        home = pwd.getpwnam(INSTRUCTOR).pw_dir
        env.update(HOME=home, USER=INSTRUCTOR, LOGNAME=INSTRUCTOR)
        kwargs = {"user": INSTRUCTOR, "group": pwd.getpwnam(INSTRUCTOR).pw_gid, "extra_groups": []}
    done = subprocess.run(command, env=env, cwd=course, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"hub: `autograder release --exchange` failed:\n{done.stdout}{done.stderr}")
    print(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO / ".hub", help="the hub's folder (default .hub/)")
    parser.add_argument("--course", type=Path, default=None, help="serve this course (default: .hub/course)")
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--proxy", default=None, help="configurable-http-proxy's command")
    args = parser.parse_args(argv)

    hub_dir = args.dir.resolve()
    hub_dir.mkdir(parents=True, exist_ok=True)
    hub_dir.chmod(0o755)
    accounts = (INSTRUCTOR, *STUDENTS)
    if _as_root():
        ensure_users(accounts)
    course = prepare_course(hub_dir, args.course)
    course_id = _course_id(course)
    exchange = hub_dir / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(EXCHANGE_MODE)
    python = users_python(hub_dir)
    if _as_root():
        instructor = pwd.getpwnam(INSTRUCTOR)
        subprocess.run(["chown", "-R", f"{instructor.pw_uid}:{instructor.pw_gid}", str(course)], check=True)
        if (exchange / course_id).exists():
            subprocess.run(
                ["chown", "-R", f"{instructor.pw_uid}:{instructor.pw_gid}", str(exchange / course_id)]
            )
    release(course, exchange, python)

    config_dir = hub_dir / "config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "nbgrader_config.py").write_text(
        "# written by hub/run.py: every account's nbgrader (the Assignments tab, formgrader)\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
    )
    proxy = args.proxy or str(
        Path(sys.prefix) / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    )
    settings = {
        "MLMAT_HUB_DIR": hub_dir,
        "MLMAT_HUB_COURSE": course,
        "MLMAT_HUB_COURSE_ID": course_id,
        "MLMAT_HUB_EXCHANGE": exchange,
        "MLMAT_HUB_IP": args.ip,
        "MLMAT_HUB_PORT": args.port,
        "MLMAT_HUB_PROXY": proxy,
        "MLMAT_HUB_USER_PYTHON": python,
        "MLMAT_HUB_JUPYTER_DATA": Path(sys.prefix) / "share" / "jupyter",
        "MLMAT_HUB_JUPYTER_CONFIG": Path(sys.prefix) / "etc" / "jupyter",
        "MLMAT_HUB_INSTRUCTOR": INSTRUCTOR,
        "MLMAT_HUB_STUDENTS": ",".join(STUDENTS),
        "MLMAT_HUB_PASSWORD": PASSWORD,
    }
    os.environ.update({key: str(value) for key, value in settings.items()})
    print(
        f"""
Local hub for course {course_id}: http://{args.ip}:{args.port}/
  accounts   {INSTRUCTOR} (formgrader, the course in {course}), {", ".join(STUDENTS)} (the Assignments tab)
  password   {PASSWORD} (every account)
  exchange   {exchange}
  stop       Ctrl-C
""",
        flush=True,
    )
    os.chdir(hub_dir)
    jupyterhub = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)]
    os.execv(sys.executable, jupyterhub)


if __name__ == "__main__":
    main()
