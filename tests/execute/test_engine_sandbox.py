"""The sandboxed execution of one notebook (autograder.execute.engine.execute_job), on small real
notebooks: what the sandbox lets through and what it stops, the budgets, the memory limit by both
methods, the partial notebook, and the protocol trace written inside the kernel."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder.execute import sandbox as sb
from autograder.execute.engine import EngineSettings, Job, execute_job
from autograder.execute.trace import read_trace
from autograder.layout import NOTEBOOK_FILES_DIR
from autograder.records import ExecutionRecord

needs_bwrap = pytest.mark.skipif(not sb.bwrap_status()[0], reason="bubblewrap cannot run here")


def notebook(
    *sources: str,
    parameters: str = 'challenge = "B"\ndata_dir = None\nseed = 0\nn_jobs = 1\n'
    'results_path = "results.json.gz"',
) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata.tags = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def run(
    tmp_path: Path, nb, use_bwrap: bool = True, support_files: tuple[str, ...] = (), **settings
) -> tuple[ExecutionRecord, Path]:
    course = tmp_path / "course"
    defaults = dict(
        cell_timeout=30,
        timeout=120,
        memory_limit=sb.parse_size("2G"),
        threads=1,
        seed=0,
        use_bwrap=use_bwrap,
        data_dir=os.environ["MATMINER_DATA"],
    )
    defaults.update(settings)
    settings = EngineSettings(**defaults)
    data_dir = sb.SANDBOX_DATA if use_bwrap else settings.data_dir
    job = Job(
        course_root=str(course),
        student_id="s1",
        assignment="research_challenge",
        notebook_name="research_challenge.ipynb",
        submitted_at=None,
        challenge="B",
        task="matbench_expt_gap",
        sanitised=nbformat.writes(nb),
        changes=[],
        cache_key="test",
        environment={},
        declared_packages=[],
        parameters={
            "challenge": "B",
            "data_dir": data_dir,
            "seed": 0,
            "n_jobs": 1,
            "results_path": "results.json.gz",
        },
        settings=settings,
        support_files=list(support_files),
    )
    record = ExecutionRecord.from_dict(execute_job(job))
    return record, job.work_dir


def outputs(work: Path, index: int) -> str:
    nb = nbformat.read(work / "research_challenge.ipynb", as_version=4)
    cell = nb.cells[index]
    return "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) + o.get("evalue", "")
        for o in cell.outputs
    )


PROBE = """
    import json, os, socket, subprocess, sys
    facts = {"uid": os.getuid(), "home": os.environ.get("HOME"), "cwd": os.getcwd(),
             "secret": os.environ.get("AUTOGRADER_TEST_SECRET"), "threads": os.environ.get("OMP_NUM_THREADS"),
             "matminer_data": os.environ.get("MATMINER_DATA"), "data_dir": data_dir,
             "data_listing": sorted(os.listdir(data_dir)), "pids": len([p for p in os.listdir("/proc") if p.isdigit()])}
    def attempt(name, action):
        try:
            facts[name] = ("ok", action())
        except Exception as error:
            facts[name] = (type(error).__name__, str(error)[:120])
    attempt("write_site_packages", lambda: open(os.path.join(sys.prefix, "x.txt"), "w").write("x"))
    attempt("read_course_root", lambda: os.listdir(COURSE))
    attempt("read_shadow", lambda: open("/etc/shadow").read())
    attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
    attempt("dns", lambda: socket.getaddrinfo("pypi.org", 443))
    attempt("write_tmp", lambda: open("/tmp/" + MARK, "w").write("x"))
    attempt("write_home_cache", lambda: open(os.path.join(os.environ["XDG_CACHE_HOME"], "probe"), "w").write("x"))
    attempt("write_data", lambda: open(os.path.join(data_dir, "x"), "w").write("x"))
    attempt("write_cwd", lambda: open("own-file.txt", "w").write("x"))
    attempt("forge_status", lambda: open("result.json", "w").write("{}"))
    attempt("nested_userns", lambda: subprocess.run(["unshare", "-U", "true"], check=True, capture_output=True))
    print(json.dumps(facts))
"""

NUMBA_MPL = """
    import numba, numpy as np
    @numba.njit(cache=True)
    def total(a):
        return a.sum()
    print("numba", total(np.arange(10.0)))
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    fig.savefig("figure.png")
    print("figure saved")
"""


@needs_bwrap
def test_sandbox_isolation(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_TEST_SECRET", "grader-only")
    mark = f"probe-{os.getpid()}-{time.time_ns()}"
    nb = notebook(f"COURSE = {str(tmp_path / 'course')!r}\nMARK = {mark!r}", PROBE, NUMBA_MPL)
    record, work = run(tmp_path, nb)
    assert record.status == "executed", record.reason
    facts = json.loads(outputs(work, 3).strip().splitlines()[-1])
    assert facts["secret"] is None  # the grader's environment does not leak in
    assert facts["uid"] == sb.SANDBOX_UID and facts["home"] == sb.SANDBOX_HOME
    assert facts["cwd"] == f"{sb.SANDBOX_HOME}/research_challenge"
    assert facts["threads"] == "1" and facts["matminer_data"] == sb.SANDBOX_DATA == facts["data_dir"]
    assert "matbench_expt_gap.json.gz" in facts["data_listing"]
    assert all(name.endswith(".json.gz") for name in facts["data_listing"])  # the data sets, nothing else
    assert facts["pids"] < 10  # its own PID namespace: no view of the grader's processes
    assert facts["write_site_packages"][0] == "OSError" and "Read-only" in facts["write_site_packages"][1]
    assert facts["read_course_root"][0] == "FileNotFoundError"
    assert facts["read_shadow"] == ["ok", ""] or facts["read_shadow"][0] == "PermissionError"  # masked
    assert facts["network"][0] == "OSError" and "unreachable" in facts["network"][1]
    assert facts["dns"][0] == "gaierror"
    assert facts["write_tmp"][0] == "ok" and not Path("/tmp", mark).exists()  # private /tmp
    assert facts["write_home_cache"][0] == "ok" and facts["write_cwd"][0] == "ok"
    assert facts["write_data"][0] == "OSError"
    assert facts["forge_status"][0] == "ok"  # its own result.json, in its own folder: not the record
    assert facts["nested_userns"][0] in ("CalledProcessError", "FileNotFoundError")
    files = work / NOTEBOOK_FILES_DIR
    assert (files / "own-file.txt").is_file() and ExecutionRecord.load(
        work / "result.json"
    ).status == "executed"
    assert "numba 45.0" in outputs(work, 4) and "figure saved" in outputs(work, 4)
    assert (files / "figure.png").is_file()
    assert record.cpu_seconds > 0.3 and record.wall_seconds >= record.cpu_seconds / 4
    assert record.peak_memory_mb > 50
    assert [c.status for c in record.cells] == ["completed"] * 5  # params, injected params, 3 cells


def test_unsandboxed_run_works_and_keeps_the_environment_clean(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_TEST_SECRET", "grader-only")
    nb = notebook(
        'import os\nprint(os.environ.get("AUTOGRADER_TEST_SECRET"), os.environ["HOME"] != '
        'os.path.expanduser("~root"), os.getcwd())'
    )
    record, work = run(tmp_path, nb, use_bwrap=False)
    assert record.status == "executed" and record.sandbox == "none"
    text = outputs(work, 2)
    assert text.startswith("None True") and str(work) in text


def test_errors_do_not_stop_the_run_and_statuses_are_per_cell(tmp_path):
    nb = notebook("1/0", "print('after the error')", "import this_package_does_not_exist", "")
    record, work = run(tmp_path, nb)
    statuses = {c.index: (c.status, (c.error or {}).get("ename")) for c in record.cells}
    assert statuses[2] == ("failed", "ZeroDivisionError")
    assert statuses[3] == ("completed", None) and "after the error" in outputs(work, 3)
    assert statuses[4] == ("failed", "ModuleNotFoundError")
    assert statuses[5] == ("completed", None)  # an empty cell
    # every cell ran, but cells raised and no results were saved: a failed run, named by its first error
    assert record.status == "failed" and record.reason.startswith(
        "Cell 2 raised ZeroDivisionError: division by zero"
    )
    assert "did not save its results" in record.reason
    assert not any(f.check_id == "execution.not_run" for f in record.findings)
    executed = nbformat.read(work / "research_challenge.ipynb", as_version=4)
    assert not any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in executed.cells)
    assert [c.metadata.papermill.status for c in executed.cells[2:5]] == ["failed", "completed", "failed"]
    assert any(
        f.check_id == "environment.missing_package" and "this_package_does_not_exist" in f.message
        for f in record.findings
    )
    # messages number the cells as the student's notebook does (papermill's injected cell not counted)
    found = {f.check_id: f.message for f in record.findings}
    assert "the first, cell 2, raised ZeroDivisionError" in found["execution.cell_errors"]
    assert found["environment.missing_package"].startswith("Cell 4 imports")


def test_cell_budget_interrupts_and_the_rest_still_runs(tmp_path):
    nb = notebook("import time\nwhile True:\n    time.sleep(0.01)", "print('next cell ran')")
    record, work = run(tmp_path, nb, cell_timeout=3)
    assert record.status == "executed"
    assert [c.status for c in record.cells][2:] == ["timeout", "completed"]
    assert "next cell ran" in outputs(work, 3)
    assert "stopped after 3 s" in outputs(work, 2)
    assert any(
        f.check_id == "execution.cell_timeout" and f.message.startswith("Cell 2 ran longer")
        for f in record.findings
    )


def test_notebook_budget_keeps_the_partial_notebook(tmp_path):
    nb = notebook("print('first cell done')", "import time\ntime.sleep(600)", "print('never')")
    start = time.monotonic()
    record, work = run(tmp_path, nb, cell_timeout=300, timeout=8)
    assert time.monotonic() - start < 60
    assert record.status == "failed" and "did not finish within 8 s" in record.reason
    assert [c.status for c in record.cells][2:] == ["completed", "timeout", "pending"]
    assert "first cell done" in outputs(work, 2)
    assert any(f.check_id == "execution.notebook_timeout" for f in record.findings)


def test_both_budgets_are_reported_where_each_ran_out(tmp_path):
    """A cell over the per-cell limit is interrupted and the notebook goes on; later the whole-notebook
    budget runs out in another cell: both are said, each with its cell, and the cells that did not run."""
    nb = notebook(
        "import time\nwhile True:\n    time.sleep(0.01)",
        "print('went on')",
        "import time\ntime.sleep(600)",
        "print('never')",
        "print('nor this')",
    )
    record, work = run(
        tmp_path, nb, cell_timeout=6, timeout=10
    )  # cell 4 meets the budget before its own limit
    assert record.status == "failed"
    assert [c.status for c in record.cells][2:] == ["timeout", "completed", "timeout", "pending", "pending"]
    assert "the budget ran out in cell 4, and cells 5 to 6 (2 code cells) did not run" in record.reason
    found = {(f.check_id, f.status): f for f in record.findings}
    assert found[("execution.cell_timeout", "fail")].message.startswith("Cell 2 ran longer than 6 s")
    assert found[("execution.notebook_timeout", "fail")].details["cell"] == 3


def test_a_file_or_module_not_handed_in_is_named_as_the_cause(tmp_path):
    nb = notebook(
        "import pandas as pd\nteam = pd.read_csv('team-a.csv')", "print(team.shape)", "import train_crabnet"
    )
    record, work = run(tmp_path, nb)
    found = {f.check_id: f for f in record.findings}
    missing = found["execution.missing_file"]
    assert missing.status == "fail" and missing.message.startswith(
        "Cell 2 reads `team-a.csv`, a file that was not handed in"
    )
    errors = found["execution.cell_errors"].message
    assert "cell 3, raised NameError" in errors and "follow from the error in cell 2" in errors
    module = found["environment.missing_package"]
    assert (
        "`train_crabnet`, which is neither a package of the course environment nor a file handed in"
        in module.message
        and "train_crabnet.py" in module.advice
    )


@pytest.mark.parametrize(
    "code, words",
    [
        ("import os\nos._exit(3)", "exited with status 3"),
        ("import ctypes\nctypes.string_at(0)", "segmentation fault"),
    ],
)
def test_kernel_death_is_recorded_with_its_cause(tmp_path, code, words):
    nb = notebook("print('before')", code, "print('after')")
    record, work = run(tmp_path, nb)
    assert record.status == "failed" and words in record.reason
    assert [c.status for c in record.cells][2:] == ["completed", "killed", "pending"]
    assert "before" in outputs(work, 2)
    assert any(f.check_id == "execution.kernel_died" for f in record.findings)


HOG = """
    import subprocess, sys, time
    # three helpers of 400 MB each: each below the per-process limit, together above the 1 GB budget
    code = "import time; x = bytearray(400 * 2**20); [x.__setitem__(i, 1) for i in range(0, len(x), 4096)]; time.sleep(60)"
    helpers = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    time.sleep(8)
    print("survived", sorted(str(h.poll()) for h in helpers))
    for h in helpers:
        h.kill()
"""


@pytest.mark.parametrize("method", ["cgroup", "watchdog"])
def test_memory_limit_for_the_whole_process_tree(tmp_path, monkeypatch, method):
    if method == "cgroup" and sb.MemoryCgroup.detect() is None:
        pytest.skip("no writable memory cgroup here")
    if method == "watchdog":
        monkeypatch.setattr(sb.MemoryCgroup, "detect", staticmethod(lambda: None))
    nb = notebook("print('before')", HOG, "print('after')")
    record, work = run(tmp_path, nb, memory_limit=sb.parse_size("1G"))
    if method == "watchdog":  # the sum over the tree passes the limit: the kernel side is stopped
        assert record.environment["memory_method"] == "rlimit+watchdog"
        assert record.status == "failed" and "more memory than the limit" in record.reason
        assert [c.status for c in record.cells][2:] == ["completed", "killed", "pending"]
        assert "survived" not in outputs(work, 3)
    else:  # the cgroup's out-of-memory killer stops the biggest process (a helper); the notebook goes on
        assert record.environment["memory_method"].startswith("cgroup")
        assert "-9" in outputs(work, 3)  # at least one helper was killed
        assert any(f.check_id == "execution.memory" for f in record.findings)
    assert record.peak_memory_mb < 1024 + 600  # stopped near the limit, not at 1.2 GB + kernel
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if "bytearray(400" in " ".join(p.info["cmdline"] or [])
    ]


def test_single_allocation_over_the_limit_is_a_memory_error(tmp_path):
    nb = notebook("import numpy as np\nx = np.ones(300_000_000)", "print('still alive')")
    record, work = run(tmp_path, nb, memory_limit=sb.parse_size("1G"))
    assert record.cells[2].status == "failed" and record.cells[2].error["ename"] == "MemoryError"
    assert "still alive" in outputs(work, 3)
    assert any(f.check_id == "execution.memory" for f in record.findings)


WRITER = """
    import os, time
    # 1 GB in 5 MB files, half in the notebook's folder and half in its home, over about 5 s
    for i in range(200):
        folder = "." if i % 2 else os.path.expanduser("~")
        with open(os.path.join(folder, f"junk{i:03d}.bin"), "wb") as handle:
            handle.write(b"x" * 5 * 2**20)
        time.sleep(0.02)
    print("wrote everything")
"""


@pytest.mark.parametrize("use_bwrap", [True, False], ids=["sandboxed", "unsandboxed"])
def test_disk_limit_stops_a_notebook_that_fills_the_disk(tmp_path, use_bwrap):
    """A notebook writing without bound is stopped near the limit, and what it wrote is removed, so that
    one submission cannot fill the grading machine's disk for the rest of the batch."""
    nb = notebook("print('before')", WRITER, "print('after')")
    (tmp_path / "course").mkdir()
    free_before = shutil.disk_usage(tmp_path).free
    record, work = run(tmp_path, nb, use_bwrap=use_bwrap, disk_limit=sb.parse_size("100M"))
    assert record.status == "failed" and "wrote more than 100 MB of files" in record.reason
    assert [c.status for c in record.cells][2:] == ["completed", "killed", "pending"]
    assert "wrote everything" not in outputs(work, 3)
    finding = next(f for f in record.findings if f.check_id == "execution.disk")
    assert finding.status == "fail" and finding.advice
    assert finding.details["written_mb"] >= 100
    removed = finding.details["removed"]  # the half written to its folder (its home goes with the sandbox)
    assert removed and all(name.startswith("junk") for name in removed)
    assert len(removed) < 60  # stopped on the way (at most 300 MB), not after the whole gigabyte
    assert (
        not list((work / NOTEBOOK_FILES_DIR).glob("junk*")) and (work / "research_challenge.ipynb").is_file()
    )
    assert shutil.disk_usage(tmp_path).free > free_before - 50 * 2**20  # the space is given back


def test_a_run_within_the_disk_limit_keeps_its_files(tmp_path):
    """Only what the run writes counts: a data file handed in with the notebook, larger than the
    limit itself, is not held against it."""
    handed_in = tmp_path / "course" / "submitted" / "s1" / "research_challenge"
    handed_in.mkdir(parents=True)
    (handed_in / "features.npy").write_bytes(b"\1" * 120 * 2**20)
    nb = notebook("open('table.csv', 'w').write('a,b\\n' * 1000)\nprint('saved')")
    record, work = run(tmp_path, nb, support_files=("features.npy",), disk_limit=sb.parse_size("100M"))
    assert record.status == "executed" and (work / NOTEBOOK_FILES_DIR / "table.csv").stat().st_size == 4000
    assert (work / NOTEBOOK_FILES_DIR / "features.npy").stat().st_size == 120 * 2**20
    assert not any(f.check_id == "execution.disk" for f in record.findings)


TRACE_CELLS = [
    """
    import os, importlib
    os.environ["MATMINER_DATA"] = data_dir
    import matbench.task
    importlib.reload(matbench.task)              # reloading must not lose the instrumentation
    from matbench.task import MatbenchTask       # the class imported directly, not through the benchmark
    from matbench.bench import MatbenchBenchmark
    mb = MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
    task = mb.matbench_expt_gap
    task.load()
    lone = MatbenchTask("matbench_expt_gap", autoload=False)
    """,
    """
    import numpy as np
    df = task.df                                 # whole data frame before the loop
    for fold in task.folds:
        X, y = task.get_train_and_val_data(fold)
        full = task.df                           # whole data frame inside the loop
        test = task.get_test_data(fold, include_target=(fold == 1))
        inputs = test[0] if fold == 1 else test
        task.record(fold, np.full(len(inputs), float(y.mean())))
    task.record(0, np.zeros(len(task.get_test_data(0))))   # ignored by matbench: already recorded
    mb.to_file(results_path)
    """,
]


def test_protocol_trace_inside_the_kernel(tmp_path):
    record, work = run(tmp_path, notebook(*TRACE_CELLS))
    assert record.status == "executed", record.reason
    trace = read_trace(work / "protocol_trace.jsonl", record.environment["trace_nonce"])
    assert trace.valid, trace.problem
    events = trace.events
    kinds = [e["event"] for e in events]
    assert kinds[0] == "trace_start"
    assert [e["index"] for e in events if e["event"] == "cell"] == [0, 1, 2, 3]
    assert next(e for e in events if e["event"] == "benchmark_init")["subset"] == ["matbench_expt_gap"]
    assert [e["task"] for e in events if e["event"] == "task_load"] == ["matbench_expt_gap"]
    tests = [e for e in events if e["event"] == "get_test_data"]
    assert [e["include_target"] for e in tests] == [False, True, False, False, False, False]
    assert [e["fold"] for e in events if e["event"] == "get_train_and_val_data"] == [0, 1, 2, 3, 4]
    records = [e for e in events if e["event"] == "record"]
    assert [(e["fold"], e["already_recorded"]) for e in records] == [
        (0, False),
        (1, False),
        (2, False),
        (3, False),
        (4, False),
        (0, True),
    ]
    assert records[0]["n_predictions"] == 921 and all(e["cell"] == 3 for e in records)
    df = [e for e in events if e["event"] == "df_access"]
    assert [d["inside_fold_loop"] for d in df] == [False, True]  # once per (cell, inside loop)
    (saved,) = [e for e in events if e["event"] == "to_file"]
    import hashlib

    assert saved["path"] == "results.json.gz"
    assert (
        saved["sha256"]
        == hashlib.sha256((work / NOTEBOOK_FILES_DIR / "results.json.gz").read_bytes()).hexdigest()
    )
    assert "trace_error" not in kinds
    # the kernel's view: the nonce file is gone before the first cell runs
    _, work2 = run(
        tmp_path / "again", notebook('import os\nprint(os.listdir(os.path.expanduser("~/.autograder")))')
    )
    assert "kernel.json" not in outputs(work2, 2)


def test_trace_is_cheap_and_does_not_touch_the_namespace(tmp_path):
    nb = notebook(
        "import sys\nprint(sorted(k for k in globals() if 'autograder' in k.lower()), "
        "'matbench' in sys.modules)"
    )
    record, work = run(tmp_path, nb)
    assert outputs(work, 2).strip() == "[] False"  # nothing defined, matbench not imported eagerly
    trace = read_trace(work / "protocol_trace.jsonl", record.environment["trace_nonce"])
    assert trace.valid and [e["event"] for e in trace.events] == ["trace_start", "cell", "cell", "cell"]


def test_symlinks_planted_by_the_notebook_are_removed(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("grader file")
    nb = notebook(
        f"import os\nos.symlink({str(target)!r}, 'results.json.gz')\nos.symlink('/etc/passwd', "
        "'research_challenge.ipynb.bak')\nos.symlink('/etc', 'protocol_trace.jsonl')"
    )
    record, work = run(tmp_path, nb)
    assert record.results_file is None
    assert not any(p.is_symlink() for p in (work / NOTEBOOK_FILES_DIR).iterdir())
    assert target.read_text() == "grader file"
    assert any(f.check_id == "execution.links_removed" for f in record.findings)
    assert read_trace(work / "protocol_trace.jsonl", record.environment["trace_nonce"]).valid


FORGER = """
    import json, os
    open("index.html", "w").write("<html><body>Mark: 100/100. Nothing to check here.</body></html>")
    for name in ("grade.json", "checks.json", "score.json", "result.json", "execution.log", "research_challenge.ipynb"):
        open(name, "w").write(json.dumps({"status": "executed", "overall": {"mark": 100}}))
    for name in UP:  # the folder above its own: in the sandbox, its private home
        open(os.path.join("..", name), "w").write("forged")
"""


@pytest.mark.parametrize("use_bwrap", [True, False], ids=["sandboxed", "unsandboxed"])
def test_files_a_notebook_writes_stay_apart_from_the_graders(tmp_path, use_bwrap):
    """A notebook that writes an index.html and the grader's artefact names into its working folder: they
    stay in a folder of the notebook's own, and nothing beside result.json is the notebook's."""
    up = (
        ["index.html", "grade.json", "result.json"] if use_bwrap else []
    )  # unsandboxed: the student's own machine
    record, work = run(tmp_path, notebook(f"UP = {up!r}", FORGER), use_bwrap=use_bwrap)
    assert record.status == "executed", record.reason
    assert {
        "index.html",
        "grade.json",
        "checks.json",
        "score.json",
        "result.json",
        "execution.log",
        "research_challenge.ipynb",
    } <= {p.name for p in (work / NOTEBOOK_FILES_DIR).iterdir()}
    assert sorted(p.name for p in work.iterdir()) == sorted(
        [
            "execution.log",
            "protocol_trace.jsonl",
            "research_challenge.ipynb",
            "result.json",
            NOTEBOOK_FILES_DIR,
        ]
    )
    assert ExecutionRecord.load(
        work / "result.json"
    ).cells  # the grader's record, the grader's log and notebook
    assert (work / "execution.log").read_text().startswith("# s1/research_challenge")
    ran = nbformat.read(work / "research_challenge.ipynb", as_version=4)
    assert ran.cells[-1].metadata["autograder"]["status"] == "completed"


def test_the_results_file_in_the_notebooks_folder_is_an_input_of_the_checks(tmp_path):
    """The checks run again when the results file the run wrote (now under the notebook's own folder) changes."""
    from grading_support import ASSIGNMENT, add_submission, make_course

    from autograder.checks.inputs import check_inputs_key

    course = make_course(tmp_path / "course")
    folder = add_submission(course, "ab1234", "B", "RF-SCM/Magpie", [], tmp_path, recording=None)
    (folder / NOTEBOOK_FILES_DIR).mkdir()
    results = (folder / "results.json.gz").rename(folder / NOTEBOOK_FILES_DIR / "results.json.gz")
    record = ExecutionRecord.load(course.result_path("ab1234"))
    record.results_file = f"{NOTEBOOK_FILES_DIR}/results.json.gz"
    record.save(course.result_path("ab1234"))
    before = check_inputs_key(course, "ab1234", ASSIGNMENT, record)
    results.write_bytes(results.read_bytes() + b"changed")
    assert before is not None and check_inputs_key(course, "ab1234", ASSIGNMENT, record) != before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-x", "-q"]))


@needs_bwrap
def test_a_python_installation_under_tmp_stays_visible(tmp_path, monkeypatch):
    """A virtual environment under /tmp (CI checks out there) is bound on top of the sandbox's private /tmp,
    and nothing else of the host's /tmp shows."""
    import subprocess

    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "marker").write_text("here")
    (tmp_path / "secret").write_text("host /tmp")
    real_roots = sb._python_roots
    monkeypatch.setattr(sb, "_python_roots", lambda: [*real_roots(), venv])
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    spec = sb.SandboxSpec(work_dir=work, home_dir=home, inner_work_dir=f"{sb.SANDBOX_HOME}/work", env={})
    seen = subprocess.run(
        sb.bwrap_command(spec, ["/bin/cat", str(venv / "marker")]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert seen.stdout == "here", seen.stderr
    hidden = subprocess.run(
        sb.bwrap_command(spec, ["/bin/cat", str(tmp_path / "secret")]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert hidden.returncode != 0 and "host /tmp" not in hidden.stdout


@needs_bwrap
def test_a_virtual_environment_reached_through_a_symlink_runs_in_the_sandbox(tmp_path):
    """A worktree's .venv that links to another checkout's: the interpreter is run by the link's path, which the
    sandbox shows too (before: `bwrap: execvp …/.venv/bin/python: No such file or directory`)."""
    import subprocess

    link = tmp_path / "linked" / ".venv"
    link.parent.mkdir()
    link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    code = (
        "import subprocess, sys; from pathlib import Path; from autograder.execute import sandbox as sb\n"
        f"spec = sb.SandboxSpec(work_dir=Path({str(work)!r}), home_dir=Path({str(home)!r}), "
        "inner_work_dir=sb.SANDBOX_HOME + '/work', env={})\n"
        "done = subprocess.run(sb.bwrap_command(spec, [sys.executable, '-c', 'import sys; print(sys.prefix)']),"
        " capture_output=True, text=True)\n"
        "print(done.stdout.strip() or done.stderr.strip())\n"
    )
    ran = subprocess.run(
        [str(link / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert ran.stdout.strip() == str(link), ran.stdout + ran.stderr
