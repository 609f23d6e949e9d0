"""`autograder.self_check()` finding the notebook that is open: VS Code's global, a Jupyter server's
/api/sessions (a real `jupyter server` and a stand-in HTTP server), JPY_SESSION_NAME, Colab's
get_ipynb request, and the plain answer when nothing tells. Plus self_check() outside a kernel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from selfcheck_support import RELEASED

from autograder import selfcheck
from autograder.selfcheck import SelfCheckError, find_open_notebook, locate


@pytest.fixture
def notebook(tmp_path) -> Path:
    path = tmp_path / "work" / "research_challenge.ipynb"
    path.parent.mkdir()
    shutil.copy(RELEASED, path)
    return path


@pytest.fixture
def no_kernel(monkeypatch):
    """As in a process that is not a Jupyter kernel, whatever the test runner imported."""
    monkeypatch.setattr(locate, "_kernel_id", lambda: None)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def test_vscode_global(notebook, no_kernel):
    assert find_open_notebook({"__vsc_ipynb_file__": str(notebook)}, environ={}) == (notebook, "vscode")


def test_jpy_session_name(notebook, no_kernel):
    assert find_open_notebook({}, environ={"JPY_SESSION_NAME": str(notebook)}) == (
        notebook,
        "jupyter-session-name",
    )
    # ipykernel copies it into the namespace as __session__
    assert find_open_notebook({"__session__": str(notebook)}, environ={})[1] == "jupyter-session-name"


def test_nothing_tells_gives_a_plain_answer(no_kernel, tmp_path):
    with pytest.raises(SelfCheckError) as error:
        find_open_notebook({"__vsc_ipynb_file__": str(tmp_path / "gone.ipynb")}, environ={})
    assert error.value.kind == "cannot-find-notebook"
    assert 'autograder.self_check("research_challenge.ipynb")' in str(error.value)


class _Sessions(BaseHTTPRequestHandler):
    sessions: ClassVar[list] = []
    token = "secret"

    def do_GET(self):
        if self.path != "/api/sessions" or self.headers.get("Authorization") != f"token {self.token}":
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps(self.sessions).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_jupyter_server_sessions_matched_by_kernel_id(notebook):
    _Sessions.sessions = [
        {"id": "s1", "path": "other.ipynb", "kernel": {"id": "k-other"}},
        {"id": "s2", "path": "work/research_challenge.ipynb", "type": "notebook", "kernel": {"id": "k-mine"}},
    ]
    server = HTTPServer(("127.0.0.1", 0), _Sessions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        info = {
            "url": f"http://127.0.0.1:{server.server_port}/",
            "token": "secret",
            "root_dir": str(notebook.parent.parent),
        }
        assert locate._path_from_servers("k-mine", [info]) == notebook
        assert locate._path_from_servers("k-unknown", [info]) is None
        assert locate._path_from_servers("k-mine", [{**info, "token": "wrong"}]) is None  # 403: skipped
        dead = {"url": "http://127.0.0.1:9/", "token": "", "root_dir": "/"}
        assert locate._path_from_servers("k-mine", [dead, info]) == notebook
    finally:
        server.shutdown()


@pytest.mark.slow
def test_real_jupyter_server_session(notebook, tmp_path):
    """A real `jupyter server`: a session opened on the notebook starts a kernel; the server's info
    file (list_running_servers) and /api/sessions lead from that kernel's id to the notebook."""
    runtime = tmp_path / "runtime"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--port=0",
            "--ServerApp.port_retries=0",
            "--allow-root",
            f"--ServerApp.root_dir={notebook.parent.parent}",
            "--IdentityProvider.token=tok",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from jupyter_server.serverapp import list_running_servers

        deadline = time.time() + 60
        servers = []
        while time.time() < deadline and not servers:
            servers = list(list_running_servers(str(runtime)))
            time.sleep(0.3)
        assert servers, "jupyter server did not start"
        info = servers[0]
        request = urllib.request.Request(
            info["url"] + "api/sessions",
            method="POST",
            data=json.dumps(
                {
                    "path": "work/research_challenge.ipynb",
                    "type": "notebook",
                    "name": "research_challenge.ipynb",
                    "kernel": {"name": "python3"},
                }
            ).encode(),
            headers={"Authorization": "token tok", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            kernel_id = json.loads(response.read())["kernel"]["id"]
        assert locate._path_from_servers(kernel_id, servers) == notebook
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_colab_notebook_comes_from_the_front_end(monkeypatch, tmp_path):
    """On Colab the notebook lives in the browser: google.colab._message.blocking_request('get_ipynb')
    returns it (a stand-in module answers here as Colab's does: {"ipynb": <notebook JSON>})."""
    nb = json.loads(RELEASED.read_text(encoding="utf-8"))
    calls = []

    def blocking_request(kind, request="", timeout_sec=5):
        calls.append(kind)
        return {"ipynb": nb}

    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    message = types.ModuleType("google.colab._message")
    message.blocking_request = blocking_request
    colab._message = message
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    monkeypatch.setattr(locate, "_kernel_id", lambda: None)
    path, how = find_open_notebook({}, environ={})
    assert how == "colab" and calls == ["get_ipynb"]
    assert json.loads(path.read_text(encoding="utf-8"))["cells"] == nb["cells"]
    # the results file is looked for in the working folder (/content on Colab)
    monkeypatch.chdir(tmp_path)
    assert locate._colab_results(path) is None
    (tmp_path / "results.json.gz").write_text("{}", encoding="utf-8")
    assert locate._colab_results(path) == tmp_path / "results.json.gz"


def test_self_check_outside_a_kernel_prints_and_returns_the_report(notebook, capsys, monkeypatch):
    monkeypatch.chdir(notebook.parent)
    report = selfcheck.self_check(str(notebook))
    out = capsys.readouterr().out
    assert report.exit_code == 1 and "Self-check of research_challenge.ipynb" in out
    assert "Your work is missing" in " ".join(out.split())
    html = report.to_html()
    assert 'data-exit-code="1"' in html and "LLM usage declaration answered" in html
