"""`autograder.self_check()` in a real Jupyter server's kernel: a `jupyter server` on loopback (a free
port, a token, its own runtime folder), a notebook session opened through its REST API, the call run
in that kernel over the kernel's websocket, as a student's cell runs it. The kernel must find its own
notebook by asking the server (/api/sessions, by its kernel id) and show the checklist.

Colab and VS Code cannot run here: their stand-ins are in test_selfcheck_discovery.py."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from selfcheck_support import dummy_results, solved, write

websocket = pytest.importorskip("websocket", reason="websocket-client talks to the kernel")
pytest.importorskip("jupyter_server", reason="the test starts a real Jupyter server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    def __init__(self, root: Path, runtime: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            JUPYTER_RUNTIME_DIR=str(runtime),
            JUPYTER_CONFIG_DIR=str(runtime / "config"),
            JUPYTER_DATA_DIR=str(runtime / "data"),
        )
        env.pop("JPY_SESSION_NAME", None)
        self.log = open(runtime / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(
                        "jupyter server did not start:\n" + (runtime / "server.log").read_text()
                    ) from None
                time.sleep(0.5)

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def run_in_kernel(self, kernel_id: str, code: str, timeout: float = 300) -> list[dict]:
        """Execute `code` in the kernel over its websocket; every message it sent back (iopub, shell)
        until the reply and the kernel's return to idle."""
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}",
            header=[f"Authorization: token {self.token}"],
            timeout=timeout,
        )
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "student",
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        messages, replied, idle = [], False, False
        deadline = time.monotonic() + timeout
        try:
            while not (replied and idle):
                assert time.monotonic() < deadline, (
                    f"no reply from the kernel in {timeout} s: {messages[-5:]}"
                )
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                messages.append(message)
                kind = message["header"]["msg_type"]
                replied = replied or kind == "execute_reply"
                idle = idle or (kind == "status" and message["content"].get("execution_state") == "idle")
        finally:
            ws.close()
        return messages

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def server(tmp_path, shared_data):
    root = tmp_path / "work"
    write(solved("B"), root / "research_challenge.ipynb")
    (root / "results.json.gz").write_text(json.dumps(dummy_results("matbench_expt_gap")), encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    running = _Server(root, runtime)
    yield running, root
    running.stop()


def _text(messages: list[dict], kind: str) -> str:
    out = []
    for m in messages:
        if m["header"]["msg_type"] == kind:
            content = m["content"]
            out.append(content.get("text") or json.dumps(content.get("data", {})))
    return "\n".join(out)


def test_self_check_in_a_jupyter_server_kernel_finds_its_notebook_and_shows_the_checklist(server):
    running, root = server
    session = running.api(
        "POST",
        "/api/sessions",
        {
            "path": "research_challenge.ipynb",
            "type": "notebook",
            "name": "research_challenge.ipynb",
            "kernel": {"name": "python3"},
        },
    )
    kernel_id = session["kernel"]["id"]
    # which front end the kernel finds itself in, and the path: from the server, not a stand-in
    found = running.run_in_kernel(
        kernel_id,
        "from autograder.selfcheck import find_open_notebook\n"
        "path, how = find_open_notebook()\nprint(path, how)",
    )
    assert _text(found, "stream").split() == [
        str((root / "research_challenge.ipynb").resolve()),
        "jupyter-server",
    ] or _text(found, "stream").split() == [str(root / "research_challenge.ipynb"), "jupyter-server"], found
    # the student's cell
    messages = running.run_in_kernel(kernel_id, "import autograder\nautograder.self_check()")
    reply = next(m for m in messages if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["status"] == "ok", reply["content"]
    html = next(
        m["content"]["data"]["text/html"]
        for m in messages
        if m["header"]["msg_type"] == "display_data" and "text/html" in m["content"].get("data", {})
    )
    assert "Self-check of research_challenge.ipynb: challenge B (matbench_expt_gap)" in html
    assert 'data-exit-code="0"' in html and "Result: Nothing fails" in html
    assert "Your MAE: 1.1435" in html  # matbench's Dummy, recomputed from the results file beside it
    assert "error" not in [m["header"]["msg_type"] for m in messages]
