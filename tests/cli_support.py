"""Running the toolkit's command line in a subprocess, as an instructor's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_autograder(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    columns: int = 160,
    timeout: float = 600,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """`python -m autograder ARGS` with this interpreter; `env` is laid over the test's environment and
    COLUMNS fixes Rich's width, so the wrapping of the messages a test reads is the same on every machine."""
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=cwd,
        capture_output=True,
        text=text,
        env={**os.environ, "COLUMNS": str(columns), **(env or {})},
        timeout=timeout,
        check=False,
    )
