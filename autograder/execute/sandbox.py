"""Run one program (the papermill client and its kernel) in a sandbox, under budgets, and measure it.

With bubblewrap (`bwrap`): new user, PID, IPC, UTS and network namespaces (only loopback, so the
client still talks to its kernel), no capabilities, no further user namespaces; a fresh root that
holds only the system directories, the Python installation, the autograder package and the data
cache, all read-only; the submission's work folder is the only writable host folder; a private
home (with writable cache directories for numba, matplotlib, fontconfig, IPython) and a private
/tmp. The course root (other students, the gradebook, the configuration, `source/` with hidden
tests) is simply not there. The environment is cleared and rebuilt from a short allow-list.

Memory: a cgroup (v2 if delegated to us, else v1's memory controller) when we may create one under
our own cgroup: the kernel's out-of-memory killer then enforces the limit for the process tree.
Otherwise `run_one` sets RLIMIT_DATA (per process; unlike RLIMIT_AS it does not count the address
space numpy, torch or BLAS reserve without using) and a watchdog here sums the resident memory of
the whole tree and kills the kernel side when the sum passes the limit.

Disk: the files a run writes to its folder and its home are measured every second; past the disk
limit the kernel side is stopped like for memory (the private /tmp is a tmpfs bounded in size).

Timing: wall time around the sandbox; CPU time from wait4()'s rusage of the sandbox (the kernel and
every process it started, once reaped) or from sampling, whichever is larger; peak memory from
sampling the tree's resident set every 0.2 s (and the largest single process from rusage).
"""

from __future__ import annotations

import functools
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.sizes import SizeError, format_size, parse_size  # noqa: F401 - used as sb.parse_size
from autograder.errors import UserError

SANDBOX_HOME = "/home/student"  # the private home as the notebook sees it
SANDBOX_DATA = "/data/matbench"  # the data cache as the notebook sees it
SANDBOX_FEATURES = "/data/autograder-features"  # the cohort's featurisation cache, read-only
SANDBOX_UID = 1000
SAMPLE_SECONDS = 0.2
DISK_EVERY = 5  # samples between two measures of what a run has written (once a second)
# Frames on the result pipe: 1 byte type, 8 bytes big-endian length, payload.
FRAME_NOTEBOOK, FRAME_OUTCOME = b"N", b"O"
# Files in /etc that a sandbox never needs and must not read (we may be mapped to root's files).
_ETC_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers")
_ETC_SECRET_DIRS = ("/etc/ssh", "/etc/sudoers.d", "/etc/ssl/private")


# Set when the batch is told to stop (Ctrl-C, SIGTERM, a full disk): every run under way is killed at
# its next sample (within SAMPLE_SECONDS) and says killed="interrupted". The batch clears it at start.
STOP = threading.Event()


class SandboxError(UserError):
    """The sandbox cannot be used here; the message says what to install or which flag to pass."""


# --- bubblewrap ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """(usable, reason). Runs a tiny sandbox once per process: bwrap may be installed but unusable
    (no unprivileged user namespaces)."""
    exe = shutil.which("bwrap")
    if not exe:
        return False, (
            "bubblewrap is not installed (sudo apt-get install bubblewrap; "
            "on other systems the package is usually called bubblewrap too)"
        )
    probe = [
        exe,
        "--unshare-user",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bubblewrap is installed but does not start ({error})"
    if done.returncode != 0:
        return False, (
            f"bubblewrap is installed but cannot create a sandbox here "
            f"({done.stderr.strip() or done.returncode}); user namespaces may be disabled "
            "(sysctl kernel.unprivileged_userns_clone=1 or run as root)"
        )
    return True, exe


def _python_roots() -> list[Path]:
    """Folders the interpreter, its standard library and site-packages live in, and the autograder
    package (for run_one). Other sys.path entries (the current folder, a script's folder: perhaps the
    course root) are deliberately left out."""
    roots = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
    }
    for entry in sys.path:
        if entry and os.path.isdir(entry) and ("site-packages" in entry or "dist-packages" in entry):
            roots.add(Path(entry))
    roots.add(
        Path(__file__).resolve().parents[1]
    )  # autograder/: this module is autograder/execute/sandbox.py
    return [p.resolve() for p in roots]


def check_layout(course_root: Path) -> None:
    """The sandbox shows the Python installation read-only; refuse if that would show the course."""
    course_root = Path(course_root).resolve()
    for path in _python_roots():
        if path == course_root or path in course_root.parents:
            raise SandboxError(
                f"The Python installation ({path}) contains the course directory, so the sandbox "
                "cannot show one without the other; put the course elsewhere."
            )


def _minimal(paths: list[Path]) -> list[Path]:
    """Drop paths inside other paths (binding a parent after a child would hide the child)."""
    result: list[Path] = []
    for path in sorted(set(paths), key=lambda p: (len(p.parts), str(p))):
        if not any(path == r or r in path.parents for r in result):
            result.append(path)
    return result


@dataclass
class SandboxSpec:
    """What one sandboxed run may see and use."""

    work_dir: Path  # the only writable host folder (the notebook's own folder under its autograded folder)
    home_dir: Path  # host folder that becomes the private home
    inner_work_dir: str  # where work_dir appears inside (the notebook's working directory)
    env: dict[str, str]
    readonly: dict[str, Path] = field(default_factory=dict)  # inside path -> host path
    memory_limit: int | None = None
    disk_limit: int | None = None  # bytes the run may write to work_dir and home_dir together
    hard_timeout: float | None = None  # seconds; everything is killed after this
    use_bwrap: bool = True


def bwrap_command(spec: SandboxSpec, inner: list[str]) -> list[str]:
    ok, exe = bwrap_status()
    if not ok:
        raise SandboxError(exe)
    args = [
        exe,
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-net",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--hostname",
        "grader",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    # The private /tmp, /var/tmp and /run come before the Python installation is bound: bubblewrap mounts in
    # order, and a virtual environment under /tmp (a CI checkout) must stay visible on top of the new /tmp.
    tmp_size = str(spec.memory_limit or 4 * 1024**3)  # tmpfs lives in memory: bound it
    args += [
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        tmp_size,
        "--tmpfs",
        "/tmp",
        "--size",
        tmp_size,
        "--tmpfs",
        "/var/tmp",
        "--size",
        str(64 * 1024**2),
        "--tmpfs",
        "/run",
    ]
    work = Path(spec.work_dir).resolve()
    system = [Path("/usr"), Path("/etc"), Path("/sys")]
    for path in _minimal([p for p in system if p.is_dir()] + _python_roots()):
        if path == work or path in work.parents:
            # e.g. Python installed in a folder that holds the course: binding it would show the course
            raise SandboxError(
                f"The Python installation ({path}) contains the course directory, so the sandbox "
                "cannot show one without the other; put the course elsewhere."
            )
        args += ["--ro-bind", str(path), str(path)]
    # a virtual environment reached through a symlink (a worktree's .venv linking to another checkout's) is run
    # by the link's path: show the environment there too, or the interpreter is not found inside
    prefix = Path(sys.prefix)
    if (
        prefix.is_absolute()
        and prefix.resolve() != prefix
        and not any(prefix == r or r in prefix.parents for r in _minimal([p for p in system if p.is_dir()]))
    ):
        args += ["--ro-bind", str(prefix.resolve()), str(prefix)]
    for secret in _ETC_SECRETS:
        if os.path.exists(secret):
            args += ["--ro-bind", "/dev/null", secret]
    for secret in _ETC_SECRET_DIRS:
        if os.path.isdir(secret):
            args += ["--tmpfs", secret]
    data_files = any(k.startswith(SANDBOX_DATA + "/") for k in spec.readonly)
    if data_files:
        args += ["--tmpfs", SANDBOX_DATA]
    for inside, host in spec.readonly.items():
        args += ["--ro-bind", str(host), inside]
    if data_files:
        args += ["--remount-ro", SANDBOX_DATA]
    args += ["--bind", str(spec.home_dir), SANDBOX_HOME, "--bind", str(spec.work_dir), spec.inner_work_dir]
    for key, value in spec.env.items():
        args += ["--setenv", key, value]
    args += ["--chdir", spec.inner_work_dir, "--"]
    return args + inner


# --- memory cgroups --------------------------------------------------------------------------------


class MemoryCgroup:
    """A child cgroup of our own with a memory limit (v2: memory.max; v1: memory.limit_in_bytes)."""

    _counter = 0
    _lock = threading.Lock()

    def __init__(self, base: Path, version: int):
        self.base, self.version = base, version
        with MemoryCgroup._lock:
            MemoryCgroup._counter += 1
            n = MemoryCgroup._counter
        self.path = base / f"autograder-{os.getpid()}-{n}"

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def detect() -> tuple[Path, int] | None:
        """Our own cgroup folder if we may create memory-limited children in it, else None."""
        try:
            memberships = Path("/proc/self/cgroup").read_text().splitlines()
            mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return None
        v1_mount = v2_mount = None
        for line in mounts:
            parts = line.split()
            if " - cgroup2 " in line:
                v2_mount = parts[4]
            elif " - cgroup " in line and "memory" in line.rsplit(" ", 1)[-1].split(","):
                v1_mount = parts[4]
        candidates = []
        for line in memberships:
            hier, controllers, rel = line.split(":", 2)
            if hier == "0" and v2_mount:
                candidates.append((Path(v2_mount + rel.rstrip("/")), 2))
            elif "memory" in controllers.split(",") and v1_mount:
                candidates.append((Path(v1_mount + rel.rstrip("/")), 1))
        for base, version in sorted(candidates, key=lambda c: -c[1]):
            if MemoryCgroup._usable(base, version):
                MemoryCgroup._remove_stale(base)
                return base, version
        return None

    @staticmethod
    def _usable(base: Path, version: int) -> bool:
        if not base.is_dir() or not os.access(base, os.W_OK):
            return False
        probe = base / f"autograder-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            return False
        try:
            limit = probe / ("memory.max" if version == 2 else "memory.limit_in_bytes")
            if not limit.exists():
                return False
            limit.write_text(str(256 * 1024**2))
            return True
        except OSError:
            return False
        finally:
            try:
                probe.rmdir()
            except OSError:
                pass

    @staticmethod
    def _remove_stale(base: Path) -> None:
        """Empty cgroups left by graders that were killed (their pid is gone)."""
        for child in base.glob("autograder-*-*"):
            try:
                pid = int(child.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                try:
                    child.rmdir()
                except OSError:
                    pass

    def create(self, limit: int) -> None:
        self.path.mkdir()
        if self.version == 2:
            (self.path / "memory.max").write_text(str(limit))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")
        else:
            (self.path / "memory.limit_in_bytes").write_text(str(limit))
            swap = self.path / "memory.memsw.limit_in_bytes"
            if swap.exists():
                try:
                    swap.write_text(str(limit))
                except OSError:
                    pass

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def oom_kills(self) -> int:
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self) -> None:
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            try:
                (self.path / "cgroup.kill").write_text("1")
                return
            except OSError:
                pass
        try:
            for pid in self.procs_file.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        except OSError:
            pass

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                self.kill_all()
                time.sleep(0.1)


# --- running ---------------------------------------------------------------------------------------


@dataclass
class SandboxResult:
    returncode: int | None
    wall_seconds: float
    cpu_seconds: float
    peak_memory_bytes: int
    killed: str | None = (
        None  # "memory" | "disk" | "timeout" | "interrupted" when we (or the OOM killer) stopped it
    )
    notebook: bytes | None = None  # the last notebook snapshot the run sent
    outcome: dict | None = None  # the run's own account (None if it was killed before sending it)
    memory_method: str = "none"  # "cgroup-v1" | "cgroup-v2" | "rlimit+watchdog" | "none"
    oom_kills: int = 0  # processes the cgroup's out-of-memory killer stopped
    disk_bytes: int = 0  # the most the run had written to its folder and home, when last measured


class _FrameReader(threading.Thread):
    def __init__(self, fd: int, on_notebook=None):
        super().__init__(daemon=True)
        self.fd, self.notebook, self.outcome = fd, None, None
        self.on_notebook = on_notebook  # called with each snapshot (the self-check's progress per cell)

    def run(self):
        import json

        with os.fdopen(self.fd, "rb") as pipe:
            while True:
                head = pipe.read(9)
                if len(head) < 9:
                    return
                kind, size = head[:1], struct.unpack(">Q", head[1:])[0]
                payload = pipe.read(size)
                if len(payload) < size:
                    return  # the writer died mid-frame: keep the previous complete snapshot
                if kind == FRAME_NOTEBOOK:
                    self.notebook = payload
                    if self.on_notebook is not None:
                        self.on_notebook(payload)
                elif kind == FRAME_OUTCOME:
                    try:
                        self.outcome = json.loads(payload)
                    except ValueError:
                        pass


def _tree(root):
    import psutil

    try:
        return [root] + root.children(recursive=True)
    except psutil.Error:
        return []


def _kernel_side(procs) -> list:
    """Descendants of the run_one process (the kernel and whatever it started): what to kill for
    memory so that run_one survives to save the partial notebook."""
    import psutil

    for proc in procs:
        try:
            if any("autograder.execute.run_one" in part for part in proc.cmdline()):
                return proc.children(recursive=True)
        except psutil.Error:
            continue
    return []


def _stop_kernel_side(procs) -> float:
    """Kill the kernel and what it started, so that run_one survives to send the partial notebook;
    returns the moment to kill everything if run_one then hangs."""
    import psutil

    for proc in _kernel_side(procs) or procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return time.monotonic() + 30


def run_sandboxed(
    spec: SandboxSpec, inner: list[str], stdin_data: bytes, log_path: Path, on_start=None, on_notebook=None
) -> SandboxResult:
    """Run `inner` (a command line for the sandbox's Python) with `stdin_data` on stdin; its stdout
    and stderr go to `log_path`; it may write frames to the file descriptor given in its stdin
    spec (we substitute `{frame_fd}` in `inner`). on_notebook: called with each notebook snapshot."""
    import psutil

    read_fd, write_fd = os.pipe()
    inner = [part.replace("{frame_fd}", str(write_fd)) for part in inner]
    command = bwrap_command(spec, inner) if spec.use_bwrap else inner
    cgroup, method = None, "none"
    if spec.memory_limit:
        found = MemoryCgroup.detect()
        if found:
            cgroup = MemoryCgroup(*found)
            try:
                cgroup.create(spec.memory_limit)
                method = f"cgroup-v{cgroup.version}"
                # The shell moves itself into the cgroup before exec: no preexec_fn (threads).
                command = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup.procs_file)] + command
            except OSError:
                cgroup, method = None, "rlimit+watchdog"
        else:
            method = "rlimit+watchdog"
    env = None if spec.use_bwrap else spec.env
    reader = _FrameReader(read_fd, on_notebook)
    reader.start()
    killed: str | None = None
    peak = cpu_sampled = 0.0
    # what the folders hold before the run (files that came with the submission) does not count
    disk_before = written_bytes((spec.work_dir, spec.home_dir)) if spec.disk_limit else 0
    start = time.monotonic()
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(write_fd,),
                env=env,
                start_new_session=True,
                cwd=None if spec.use_bwrap else spec.work_dir,
            )
        finally:
            os.close(write_fd)
        if on_start:
            on_start(proc.pid)
        writer = threading.Thread(target=_feed, args=(proc, stdin_data), daemon=True)
        writer.start()
        root = psutil.Process(proc.pid)
        exited = _ExitWatch(proc.pid)
        status, rusage = None, None
        kill_deadline = None
        samples = written = 0
        last_procs: list = []
        try:
            while status is None:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, rusage = st, ru
                    break
                procs = _tree(root)
                last_procs = procs or last_procs
                rss = cpu = 0
                for p in procs:
                    try:
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        cpu += t.user + t.system + t.children_user + t.children_system
                    except psutil.Error:
                        pass
                peak, cpu_sampled = max(peak, rss), max(cpu_sampled, cpu)
                elapsed = time.monotonic() - start
                samples += 1
                if spec.disk_limit and samples % DISK_EVERY == 0:
                    now = written_bytes((spec.work_dir, spec.home_dir), disk_before + spec.disk_limit)
                    written = max(written, now - disk_before)
                    if written > spec.disk_limit and killed is None:
                        killed, kill_deadline = "disk", _stop_kernel_side(procs)
                if spec.memory_limit and cgroup is None and rss > spec.memory_limit and killed is None:
                    killed, kill_deadline = "memory", _stop_kernel_side(procs)
                if spec.hard_timeout and elapsed > spec.hard_timeout and killed != "timeout":
                    killed = "timeout"
                    kill_deadline = time.monotonic()
                if STOP.is_set() and killed != "interrupted":  # the batch is stopping: nothing to save
                    killed, kill_deadline = "interrupted", time.monotonic()
                if kill_deadline is not None and time.monotonic() >= kill_deadline:
                    _kill_group(proc.pid, cgroup, procs)
                    kill_deadline = time.monotonic() + 5
                exited.wait(SAMPLE_SECONDS)
        finally:
            exited.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        writer.join(timeout=5)
    wall = time.monotonic() - start
    _kill_group(proc.pid, cgroup, last_procs)  # stragglers (none with --unshare-pid)
    reader.join(timeout=10)
    cpu_rusage = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
    maxrss = (rusage.ru_maxrss * 1024) if rusage else 0
    oom_kills = 0
    if cgroup is not None:
        oom_kills = cgroup.oom_kills()
        cgroup.remove()
    if oom_kills and killed is None and not (reader.outcome or {}).get("finished"):
        killed = (
            "memory"  # the out-of-memory killer stopped the kernel (a run that finished only lost a helper)
        )
    return SandboxResult(
        returncode=proc.returncode,
        wall_seconds=wall,
        cpu_seconds=max(cpu_rusage, cpu_sampled),
        peak_memory_bytes=int(max(peak, maxrss)),
        killed=killed,
        notebook=reader.notebook,
        outcome=reader.outcome,
        memory_method=method,
        oom_kills=oom_kills,
        disk_bytes=written,
    )


def written_bytes(folders, stop_above: int | None = None) -> int:
    """Bytes in the files under these folders (links not followed); counting stops once past
    `stop_above`, so a notebook that writes a million small files costs one walk, not many."""
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    continue
                if stop_above is not None and total > stop_above:
                    return total
    return total


class _ExitWatch:
    """Sleep between samples, but wake the moment the sandbox exits: with a pidfd (Linux 5.3+) the
    run is reaped at once instead of up to SAMPLE_SECONDS later, which adds up over a cohort of
    short notebooks. Without pidfds this is a plain sleep."""

    def __init__(self, pid: int):
        try:
            self.fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.fd = None

    def wait(self, seconds: float) -> None:
        if self.fd is None:
            time.sleep(seconds)
        else:
            select.select([self.fd], [], [], seconds)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _feed(proc, data: bytes) -> None:
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass


def _kill_group(pid: int, cgroup: MemoryCgroup | None, procs: list) -> None:
    """Kill the sandbox: its process group, every process we saw in its tree (kernels start their
    own sessions, so the group alone is not enough without bubblewrap), and its cgroup."""
    import psutil

    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    if cgroup is not None:
        cgroup.kill_all()
