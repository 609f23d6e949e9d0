"""The same cohort graded on a real Dask cluster (a scheduler and two worker processes on loopback)
and on the local pool gives the same results."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from engine_support import ASSIGNMENT, make_course, quick_notebook, stored_submission

from autograder.execute import sandbox as sb
from autograder.layout import NOTEBOOK_FILES_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here"),
]
KINDS = ["good", "exit", "tampered", "network"]


def _predictions(path) -> str:
    """The results file's content without matbench's datestamp (and the hash that covers it)."""
    data = json.loads(path.read_bytes())
    data.pop("datestamp", None)
    data.pop("hash", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _summary(course) -> dict:
    result = {}
    for kind in KINDS:
        work = course / "autograded" / kind / ASSIGNMENT
        record, status = stored_submission(course, kind)  # with the checks' findings
        results = work / NOTEBOOK_FILES_DIR / "results.json.gz"
        result[kind] = {
            "status": status,
            "reason": record.reason,
            "cells": [(c.index, c.status, (c.error or {}).get("ename")) for c in record.cells],
            "sanitise": sorted(c["kind"] for c in record.sanitise),
            "findings": sorted((f.check_id, f.status) for f in record.findings),
            "results": _predictions(results) if results.is_file() else None,
            "worker_pid": record.environment.get("worker_pid"),
        }
    return result


@pytest.mark.extended  # a local Dask cluster's start-up and two runs (35 s); the scheduler error below stays in CI
def test_dask_cluster_gives_the_same_results_as_the_local_pool(course_dir, tmp_path):
    from distributed import Client, LocalCluster

    make_course(course_dir, {kind: quick_notebook(kind) for kind in KINDS})
    local_course = shutil.copytree(course_dir, tmp_path / "local-course")
    local = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "--course",
            str(local_course),
            "--workers",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert local.returncode == 0, local.stderr[-3000:]

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
        remote = subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                "--course",
                str(course_dir),
                "--scheduler",
                cluster.scheduler_address,
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "4 executed" in remote.stdout and "on Dask (2 workers)" in remote.stdout

    on_dask, on_pool = _summary(course_dir), _summary(local_course)
    assert {v["worker_pid"] for v in on_dask.values()} <= worker_pids  # ran on the workers
    assert len({v["worker_pid"] for v in on_dask.values()}) == 2  # both workers took jobs
    for summary in (on_dask, on_pool):
        for value in summary.values():
            value.pop("worker_pid")
    assert on_dask == on_pool
    assert on_dask["good"]["status"] == "graded" and on_dask["exit"]["status"] == "failed"


def test_unreachable_scheduler_is_a_clear_error(course_dir):
    make_course(course_dir, {"good": quick_notebook("good")})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "--course",
            str(course_dir),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Cannot reach the Dask scheduler" in done.stderr
