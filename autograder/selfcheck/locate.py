"""Where the notebook is: the path a user gave (resolve_notebook; explain_unreadable when it is not a
notebook we can read), the course folder around it (find_course), and, from inside a kernel, the
notebook open in JupyterLab / Jupyter Notebook, VS Code or Colab (find_open_notebook), with Colab's
results file (_colab_results)."""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from pathlib import Path

from autograder.errors import UserError
from autograder.layout import CONFIG_FILE, NBGRADER_CONFIG_FILE, RELEASE, RESULTS_FILE
from autograder.selfcheck.report import SelfCheckError

# --- finding the files ---------------------------------------------------------------------------


def resolve_notebook(path: Path | str) -> Path:
    """The notebook a user named, or a SelfCheckError that says what is there instead."""
    given = Path(os.path.expanduser(str(path)))
    if given.is_dir():
        found = _notebooks_in(given)
        if len(found) == 1:
            return found[0]
        if not found:
            raise SelfCheckError(
                f"{given} is a folder with no notebook (.ipynb) in it. Give the path to your "
                "notebook file, e.g. `autograder check research_challenge.ipynb`.",
                "not-found",
            )
        raise SelfCheckError(
            f"{given} is a folder with {len(found)} notebooks; say which one to check: "
            + ", ".join(p.name for p in found)
            + ".",
            "not-found",
        )
    if given.is_file():
        return given
    folder = given.parent if str(given.parent) not in ("", ".") else Path.cwd()
    shown = given.parent if str(given.parent) not in ("", ".") else Path(".")
    if not folder.is_dir():
        raise SelfCheckError(
            f"There is no file {given}: the folder {shown} does not exist. Give the path to your "
            "notebook (in a terminal, `cd` to its folder first, or drag the file into the "
            "terminal to paste its path).",
            "not-found",
        )
    found = _notebooks_in(folder)
    message = f"There is no file {given}."
    if found:
        names = [p.name for p in found]
        close = difflib.get_close_matches(given.name, names, n=1, cutoff=0.5)
        if close:
            message += f" Did you mean {shown / close[0]}?"
        message += f" Notebooks in {'this folder' if shown == Path('.') else shown}: " + ", ".join(names[:10])
        message += " …" if len(names) > 10 else ""
        message += "."
    else:
        message += (
            f" There is no notebook (.ipynb) in {'this folder' if shown == Path('.') else shown} "
            "at all: `cd` to the folder that holds your notebook, or give its full path."
        )
    raise SelfCheckError(message, "not-found")


def _notebooks_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def explain_unreadable(path: Path, error: str = "") -> str:
    """Why a file is not a notebook we can read, in words a student can act on."""
    name = path.name
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    restore = (
        f" Jupyter's last checkpoint of it is {checkpoint}: open that and save it under the notebook's name."
        if checkpoint.is_file()
        else ""
    )
    try:
        blob = path.read_bytes()
    except OSError as err:
        return (
            f"{name} cannot be read ({err.strerror}); check that you may read it and that it is not open "
            "in another program that locks it."
        )
    if not blob.strip():
        return (
            f"{name} is empty (0 bytes): it was not saved completely. Open the notebook in Jupyter and save "
            "it again." + restore
        )
    head = blob[:4096].decode("utf-8", "replace").lstrip("\ufeff").lstrip()
    lowered = head.lower()
    if blob[:4] == b"PK\x03\x04":
        return f"{name} is a zip archive, not a notebook: unzip it and check the .ipynb file inside."
    if blob[:2] == b"\x1f\x8b":
        return f"{name} is gzip-compressed, not a notebook: decompress it first (or give the .ipynb file)."
    if lowered.startswith(("<!doctype html", "<html")):
        return (
            f"{name} is a web page (HTML), not the notebook: you probably saved the page that shows it. "
            "Download the notebook file itself (on GitHub: 'Download raw file'; in Jupyter: File > "
            "Download)."
        )
    if path.suffix == ".py" or _looks_like_python(head):
        return (
            f"{name} is a Python script, not a Jupyter notebook: the check needs the .ipynb file with its "
            "cells and outputs. In Jupyter use File > Save Notebook (not 'Save as Python'); a script "
            "paired with jupytext can be turned back with `jupytext --to notebook "
            f"{path.with_suffix('.py').name}`."
        )
    if head.startswith(("{", "[")):
        try:
            raw = json.loads(blob.decode("utf-8", "replace"))
        except json.JSONDecodeError as err:
            near_end = err.pos >= len(blob.decode("utf-8", "replace").rstrip()) - 2
            if near_end:
                return (
                    f"{name} is cut short: the JSON ends in the middle ({err.msg} at line {err.lineno}), so "
                    "the save was interrupted or the disk was full. Open the notebook in Jupyter (it may "
                    "still be open with your work) and save it again." + restore
                )
            return (
                f"{name} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): it was "
                "edited outside Jupyter or damaged (for example by a merge conflict). Open it in Jupyter; "
                "if Jupyter cannot open it either, go back to your last good copy." + restore
            )
        if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
            return (
                f"{name} is JSON but not a Jupyter notebook (it has no list of cells). Give your notebook "
                "file, the one you open in Jupyter."
            )
        return f"{name} cannot be read as a Jupyter notebook ({error})."
    return (
        f"{name} is not a Jupyter notebook: a notebook is a JSON file that begins with '{{', this one begins "
        f"with {head[:30]!r}. Give the .ipynb file you open in Jupyter."
    )


def _looks_like_python(head: str) -> bool:
    first = next((line.strip() for line in head.splitlines() if line.strip()), "")
    return first.startswith(
        ("# %%", "#%%", "# In[", "#!", "import ", "from ", "def ", "# ---", '"""')
    ) or bool(re.match(r"^[A-Za-z_]\w*\s*=", first))


def find_course(*starts: Path):
    """The course directory (nbgrader_config.py + autograder.toml or release/) at or above the given
    places, else $AUTOGRADER_COURSE; None on a student's laptop."""
    from autograder.course.config import ConfigError, Course

    candidates = []
    for start in starts:
        try:
            start = Path(start).resolve()
        except OSError:
            continue
        candidates.extend([start, *start.parents])
    if os.environ.get("AUTOGRADER_COURSE"):
        candidates.insert(0, Path(os.environ["AUTOGRADER_COURSE"]))
    seen = set()
    for folder in candidates:
        if folder in seen:
            continue
        seen.add(folder)
        if (folder / NBGRADER_CONFIG_FILE).is_file() and (
            (folder / CONFIG_FILE).is_file() or (folder / RELEASE).is_dir()
        ):
            try:
                return Course.open(folder)
            except (ConfigError, UserError, OSError):
                return None
    return None


# --- inside a notebook ----------------------------------------------------------------------------


def find_open_notebook(user_ns: dict | None = None, environ: dict | None = None) -> tuple[Path, str]:
    """The path of the notebook this kernel belongs to, and how it was found.

    VS Code: the `__vsc_ipynb_file__` global its Jupyter extension sets. Colab: the notebook's JSON
    through google.colab's `get_ipynb` request (written to a temporary file). JupyterLab / Jupyter
    Notebook: the running Jupyter servers' /api/sessions, matched by this kernel's id (from its
    connection file); else `JPY_SESSION_NAME`, which jupyter_server gives the kernel at start (stale if
    the notebook was renamed since). Raises SelfCheckError when none of these tells."""
    environ = os.environ if environ is None else environ
    if user_ns is None:
        user_ns = _user_namespace()
    vsc = user_ns.get("__vsc_ipynb_file__")
    if vsc and Path(vsc).is_file():
        return Path(vsc), "vscode"
    if "google.colab" in sys.modules or Path("/content").is_dir() and environ.get("COLAB_RELEASE_TAG"):
        found = _colab_notebook()
        if found is not None:
            return found, "colab"
    kernel_id = _kernel_id()
    if kernel_id:
        found = _path_from_servers(kernel_id)
        if found is not None:
            return found, "jupyter-server"
    session = environ.get("JPY_SESSION_NAME") or user_ns.get("__session__")
    if session and Path(session).is_file() and str(session).endswith(".ipynb"):
        return Path(session), "jupyter-session-name"
    raise SelfCheckError(
        "Could not tell which notebook is open here (this works in JupyterLab, Jupyter Notebook, VS Code and "
        'Colab). Give its file name: autograder.self_check("research_challenge.ipynb").',
        "cannot-find-notebook",
    )


def _user_namespace() -> dict:
    if "IPython" not in sys.modules:
        return {}
    from IPython import get_ipython

    shell = get_ipython()
    return dict(shell.user_ns) if shell is not None else {}


def _kernel_id() -> str | None:
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).name
    except Exception:  # noqa: BLE001 - not in a kernel, or an old ipykernel
        return None
    match = re.match(r"kernel-(.+)\.json$", name)
    return match.group(1) if match else None


def _running_servers() -> list[dict]:
    servers = []
    for module in ("jupyter_server.serverapp", "notebook.notebookapp"):
        try:
            lister = __import__(module, fromlist=["list_running_servers"]).list_running_servers
            servers.extend(lister())
        except Exception:  # noqa: BLE001, S112 - not installed, or an unreadable runtime dir
            continue
    return servers


def _path_from_servers(
    kernel_id: str, servers: list[dict] | None = None, timeout: float = 2.0
) -> Path | None:
    """Ask each running Jupyter server which session runs this kernel: /api/sessions."""
    import urllib.request

    for server in _running_servers() if servers is None else servers:
        url = str(server.get("url", "")).rstrip("/") + "/api/sessions"
        request = urllib.request.Request(url)
        if server.get("token"):
            request.add_header("Authorization", f"token {server['token']}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                sessions = json.loads(response.read().decode("utf-8"))
        except Exception:  # noqa: BLE001, S112 - password-protected, gone, not a Jupyter server
            continue
        for session in sessions if isinstance(sessions, list) else []:
            if (session.get("kernel") or {}).get("id") == kernel_id:
                rel = session.get("path") or (session.get("notebook") or {}).get("path")
                root = server.get("root_dir") or server.get("notebook_dir") or ""
                if rel:
                    path = Path(root) / rel
                    if path.is_file():
                        return path
    return None


def _colab_notebook() -> Path | None:
    """Colab keeps the notebook in the browser: ask the front end for its JSON (with outputs)."""
    try:
        from google.colab import _message  # type: ignore[import-not-found]

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=30)
    except Exception:  # noqa: BLE001 - not Colab, or the front end did not answer
        return None
    nb = (reply or {}).get("ipynb") if isinstance(reply, dict) else None
    if not isinstance(nb, dict):
        return None
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="autograder-selfcheck-"))
    path = folder / "colab_notebook.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _colab_results(notebook: Path) -> Path | None:
    """On Colab the notebook JSON comes from the browser; its results file is in the working folder."""
    from autograder.checks.notebook import Notebook, read_notebook

    named = Notebook(read_notebook(notebook)).parameters().get("results_path") or RESULTS_FILE
    candidate = Path.cwd() / str(named)
    return candidate if candidate.is_file() else None
