"""Figure: how long all the checks take on one executed submission (target: under 1 s), so that
re-grading a cohort from stored executions (`autograder grade --no-execute`) is quick.

Two corpus submissions are executed once by the real pipeline (`autograder.batch.grade`: sandboxed
papermill run with the protocol trace): perovskites (C, the largest data set: 18,928 predictions)
and expt_gap (B). Then `check_submission(course, student, assignment)` is timed:

* warm: in one process, as the batch runs it (imports done, ground truth in the on-disk cache),
  median of several runs, each with a fresh context (nothing memoised between runs);
* cold: a fresh Python process per run (imports included: the student self-check's cost);
* the slowest individual checks.

    python benchmarks/checks_speed.py [--runs 7] [--course DIR --student ID]   (an existing graded folder)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("MATMINER_DATA", str(REPO.parent / "shared" / "matbench-data"))

TARGET_SECONDS = 1.0
ASSIGNMENT = "research_challenge"
CASES = {"compliant_C_perovskites": "C", "compliant_B_expt_gap": "B"}


def graded_course(workdir: Path) -> Path:
    from autograder.batch import GradeOptions, grade
    from autograder.course.config import Course

    root = workdir / "course"
    root.mkdir()
    for name in ("nbgrader_config.py", "autograder.toml"):
        shutil.copy2(REPO / name, root / name)
    for name in ("source", "release", "rubric"):
        shutil.copytree(REPO / name, root / name)
    for case in CASES:
        folder = root / "submitted" / case / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy2(REPO / "tests" / "corpus" / case / "research_challenge.ipynb", folder)
    with open(root / "allocation.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("student_id", "challenge"), *CASES.items()])
    started = time.perf_counter()
    summary = grade(Course.open(root), GradeOptions(workers=2, run_grading=False, progress=False,
                                                   allow_unsandboxed=True))
    print(f"executed {len(CASES)} submissions with the pipeline in {time.perf_counter() - started:.0f} s "
          f"({', '.join(f'{s}: {r.status}' for s, r in summary.records.items())})")
    return root


def warm(course_root: Path, student: str, runs: int) -> tuple[list[float], dict, int]:
    from autograder.checks import run_checks
    from autograder.checks.context import CheckContext
    from autograder.course.config import Course

    course = Course.open(course_root)
    run_checks(CheckContext.from_autograded(course, student, ASSIGNMENT))  # imports, on-disk caches
    times, per_check = [], {}
    for _ in range(runs):
        timings: dict = {}
        started = time.perf_counter()
        findings = run_checks(CheckContext.from_autograded(course, student, ASSIGNMENT), timings=timings)
        times.append(time.perf_counter() - started)
        for key, value in timings.items():
            per_check.setdefault(key, []).append(value)
    return times, {k: statistics.median(v) for k, v in per_check.items()}, len(findings)


def cold(course_root: Path, student: str, runs: int) -> list[float]:
    code = ("import time, sys; t = time.perf_counter(); from autograder.course.config import Course; "
            "from autograder.checks import check_submission; "
            f"check_submission(Course.open({str(course_root)!r}), {student!r}, {ASSIGNMENT!r}); "
            "print(time.perf_counter() - t)")
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO), check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--course", type=Path)
    parser.add_argument("--student", action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="checks-speed-") as tmp:
        root = args.course or graded_course(Path(tmp))
        students = args.student or list(CASES)
        for student in students:
            result = json.loads((root / "autograded" / student / ASSIGNMENT / "result.json").read_text())
            times, per_check, n = warm(root, student, args.runs)
            cold_times = cold(root, student, max(3, args.runs // 2))
            median = statistics.median(times)
            print(f"\n{student} ({result.get('task')}, run status {result.get('status')}): {n} findings")
            print(f"  warm (in the batch's process): median {median * 1000:.0f} ms over {len(times)} runs "
                  f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); target < {TARGET_SECONDS:.1f} s: "
                  f"{'MET' if median < TARGET_SECONDS else 'NOT MET'} ({median / TARGET_SECONDS:.2f} of the budget)")
            cold_median = statistics.median(cold_times)
            print(f"  cold (fresh process, imports included): median {cold_median * 1000:.0f} ms over "
                  f"{len(cold_times)} runs; {'within' if cold_median < TARGET_SECONDS else 'over'} the 1 s target")
            slowest = sorted(per_check.items(), key=lambda kv: -kv[1])[:5]
            print("  slowest checks (median ms): " + ", ".join(f"{k} {v * 1000:.0f}" for k, v in slowest))


if __name__ == "__main__":
    main()
