"""The program that runs INSIDE the sandbox: execute one notebook with papermill, every cell even
after errors, and report back over a pipe only this process holds.

    python -I -m autograder.execute.run_one FRAME_FD        (spec as JSON on stdin)

The spec (from autograder.execute.engine) holds the sanitised notebook, the papermill parameters,
the budgets and the trace nonce; FRAME_FD is the pipe's file descriptor. Nothing of it is
written where the notebook's code could read it: the notebook (with any hidden test cells) and
its snapshots travel through the pipe, this process makes itself non-dumpable (so the kernel,
running as the same user, cannot read its memory or open its file descriptors through /proc),
and the nonce file for the kernel's start-up script is deleted by that script before any cell runs.

Outcome per cell is written into the cell metadata as `autograder.status` (completed, failed,
timeout) as soon as the cell finishes, so every snapshot carries it: papermill's own cell status
says "completed" for cells that never ran when the kernel dies, so it cannot be trusted alone.
"""

from __future__ import annotations

import sys

# jsonschema imports rfc3987_syntax when it is installed, which compiles a grammar (about 1.4 s on
# the reference machine) for URI format checks that notebook validation never uses. Every
# submission starts a fresh process, so this matters: see benchmarks/batch_throughput.py.
sys.modules.setdefault("rfc3987_syntax", None)

import ctypes
import hashlib
import json
import os
import resource
import shutil
import struct
import threading
import time
from pathlib import Path

INPUT_URL = "autograder-frame://input.ipynb"
OUTPUT_URL = "autograder-frame://output.ipynb"
TIMEOUT_ENAME = "CellTimeoutError"
STARTUP_NAME = "00-autograder-trace.py"


class FrameWriter:
    def __init__(self, fd: int):
        os.set_inheritable(fd, False)  # the kernel must not get it
        self.pipe = os.fdopen(fd, "wb", buffering=0)
        self.lock = threading.Lock()

    def send(self, kind: bytes, payload: bytes) -> None:
        with self.lock:
            self.pipe.write(kind + struct.pack(">Q", len(payload)) + payload)


def _non_dumpable() -> None:
    """Not readable through /proc by the kernel (same user); killed if the grader dies (matters
    without bubblewrap, whose --die-with-parent does this otherwise)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
    except (OSError, AttributeError):
        pass


def _limit_data(limit: int | None) -> None:
    if not limit:
        return
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        new = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (new, new))
    except (ValueError, OSError):
        pass


def code_cell_hashes(nb) -> list[list]:
    """[[index, sha1 of source]] of the code cells the kernel will be sent, for the trace's `cell`
    events (IPython's pre_run_cell sees the source, not the index)."""
    return [
        [i, hashlib.sha1(c.source.encode()).hexdigest()]
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.source.strip()
    ]


def install_kernel_startup(spec: dict, nb) -> None:
    home = Path(os.environ.get("HOME", "."))
    ipython_dir = Path(os.environ.get("IPYTHONDIR", home / ".ipython"))
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        Path(__file__).with_name("kernel_startup") / "autograder_trace.py", startup / STARTUP_NAME
    )
    config = home / ".autograder" / "kernel.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    Path(spec["trace_path"]).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {
                "nonce": spec["nonce"],
                "trace_path": spec["trace_path"],
                "cells": code_cell_hashes(nb),
                "feature_cache": spec.get("feature_cache") or "",
                "feature_module": str(Path(__file__).with_name("kernel_startup") / "autograder_features.py"),
            },
            handle,
        )


def main() -> int:
    spec = json.loads(sys.stdin.buffer.read())
    _non_dumpable()
    frames = FrameWriter(int(sys.argv[1]))
    _limit_data(spec.get("memory_limit"))
    outcome: dict = {
        "finished": False,
        "exception": None,
        "current_cell": None,
        "kernel_exit": None,
        "deadline_hit": False,
        "started": time.time(),
    }
    try:
        _run(spec, frames, outcome)
    except BaseException as error:  # noqa: BLE001 - everything becomes data for the engine
        outcome["exception"] = {"type": type(error).__name__, "message": str(error)[:2000]}
    outcome["ended"] = time.time()
    frames.send(b"O", json.dumps(outcome).encode())
    return 0


def _run(spec: dict, frames: FrameWriter, outcome: dict) -> None:
    import nbformat
    import papermill
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError
    from papermill.iorw import load_notebook_node, papermill_io
    from papermill.parameterize import parameterize_notebook

    from autograder.execute.outputs import OutputGuard

    source_text = spec["notebook"]

    class FrameHandler:
        @staticmethod
        def read(path):
            return source_text

        @staticmethod
        def write(buf, path):
            frames.send(b"N", buf.encode("utf-8") if isinstance(buf, str) else buf)

        @staticmethod
        def listdir(path):
            return []

        @staticmethod
        def pretty_path(path):
            return path

    papermill_io.register("autograder-frame://", FrameHandler)

    # The kernel's exit status, for "it died with SIGSEGV / os._exit(3)" messages.
    original_poll = LocalProvisioner.poll

    async def poll(self):
        code = await original_poll(self)
        if code is not None and self.process is not None:
            outcome["kernel_exit"] = code
        return code

    LocalProvisioner.poll = poll

    # Outputs past a cell's bound are dropped as they arrive (papermill's client is a NotebookClient).
    guard = OutputGuard(spec.get("max_cell_output"))
    original_output = NotebookClient.output

    def output(self, outs, msg, display_id, cell_index):
        if display_id is None and not guard.admit(cell_index, msg):
            return None
        out = original_output(self, outs, msg, display_id, cell_index)
        guard.added(cell_index, out)
        return out

    NotebookClient.output = output

    # The notebook as papermill will run it (same loading and parameter injection), for the trace's
    # map from cell source to cell index.
    parameterised = parameterize_notebook(
        load_notebook_node(INPUT_URL), spec["parameters"], kernel_name=spec["kernel_name"], language="python"
    )
    install_kernel_startup(spec, parameterised)

    def on_cell_start(cell, cell_index):
        outcome["current_cell"] = cell_index

    def on_cell_executed(cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content", {})
        status = {"ok": "completed", "error": "failed"}.get(content.get("status"), "completed")
        record = {"status": status}
        if content.get("ename") == TIMEOUT_ENAME:
            record["status"] = "timeout"
            cell.outputs.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stderr",
                    text=f"[autograder] This cell was stopped after {spec['cell_timeout']} s, the time "
                    "budget for one cell. The cells after it still ran.\n",
                )
            )
        if status == "failed":
            record["error"] = {"ename": content.get("ename"), "evalue": str(content.get("evalue"))[:500]}
        cell.metadata["autograder"] = record
        guard.finish(cell, cell_index)  # within its bound, with a note where it was cut

    deadline = spec.get("timeout")
    done = threading.Event()
    if deadline:
        threading.Thread(target=_notebook_deadline, args=(deadline, done, outcome), daemon=True).start()
    try:
        papermill.execute_notebook(
            INPUT_URL,
            OUTPUT_URL,
            parameters=spec["parameters"],
            kernel_name=spec["kernel_name"],
            language="python",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            start_timeout=spec.get("start_timeout", 120),
            execution_timeout=spec.get("cell_timeout"),
            allow_errors=True,
            interrupt_on_timeout=True,
            iopub_timeout=15,
            error_on_timeout={
                "ename": TIMEOUT_ENAME,
                "evalue": f"the cell ran longer than {spec.get('cell_timeout')} s",
                "traceback": [],
            },
            shutdown_kernel="immediate",
            on_cell_start=on_cell_start,
            on_cell_executed=on_cell_executed,
        )
        outcome["finished"] = True
    except PapermillExecutionError:
        outcome["finished"] = True  # some cells raised; every cell still ran (allow_errors)
    except (CellTimeoutError, DeadKernelError) as error:
        outcome["exception"] = {"type": type(error).__name__, "message": str(error)[:2000]}
    finally:
        done.set()


def _notebook_deadline(seconds: float, done: threading.Event, outcome: dict) -> None:
    """Stop the kernel when the whole-notebook budget is spent; nbclient then raises DeadKernelError
    and papermill saves the partial notebook."""
    if done.wait(seconds):
        return
    outcome["deadline_hit"] = True
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


if __name__ == "__main__":
    code = main()
    # Everything is sent and the kernel is gone: skip the interpreter's tear-down of every module
    # papermill imported (a tenth of a second per submission that nobody waits for usefully).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
