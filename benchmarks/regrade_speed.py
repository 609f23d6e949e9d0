"""Re-grading speed: a synthetic cohort of graded submissions re-graded by
`autograder grade --no-execute --workers 2` after a marks change and after a rubric change, next to a
full re-render of the same cohort.

    python benchmarks/regrade_speed.py [--n 200] [--from DEMO_COURSE] [--changed 20] [--keep DIR]

The cohort is made of copies of the real executions of the demo course (`autograder demo`, built
here unless --from names one already graded): each copy is one of the eight demo students' executed
notebook, trace and results file, with its predictions varied (regression targets scaled by a few
per cent, a few classification labels flipped; the results file's matbench hash and the trace's
record of it updated, so the copy is a valid run), its own allocation line and its own marks in
marks.csv (varied by a few marks; one in five has no presentation mark yet, so stays provisional).
The first pass runs the checks (one Score per copy), grades, and draws every page.

Then, each timed as one `autograder grade --no-execute --workers 2` command (wall and CPU):

    full re-render   as every re-grade was before: the check stage run again on every submission (its
                     record of its inputs dropped), the cache removed, every gradebook entry, chart
                     and page redone
    marks change     the presentation mark of --changed students changed in marks.csv
    rubric change    the weights changed (presentation 30 -> 25, data preparation 20 -> 25): every
                     grade and page changes, no figure does, no results file is read again

and checks that exactly the pages the marks changed were rewritten, and that no results file was read
after the rubric change (their access times are not relied on: the check stage's output, score.json,
must be untouched).

Targets (issue 16): after a marks change <= 15 s for 200 submissions; after a rubric change <= 30 s.
The machine is shared: the figures are single runs, say how loaded it was, and compare as ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENT = "research_challenge"
STAGE_FILES = ("result.json", "results.json.gz", "protocol_trace.jsonl", "execution.log")


def env() -> dict:
    result = dict(os.environ)
    result["PATH"] = f"{BIN}{os.pathsep}{result.get('PATH', '')}"
    result.setdefault("MATMINER_DATA", str(REPO.parent / "shared" / "matbench-data"))
    return result


def timed(command: list[str]) -> dict:
    """Wall and CPU (user + system of the command and its children) of one command."""
    before = os.times()
    start = time.monotonic()
    done = subprocess.run(command, env=env(), capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    after = os.times()
    if done.returncode not in (0, 1):  # 1: something to look at (the demo's broken submissions)
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, "stdout": done.stdout, "stderr": done.stderr}


def regrade(course: Path) -> dict:
    return timed([str(BIN / "autograder"), "grade", "--no-execute", "--workers", "2", "--timings", "--course",
                  str(course)])


def demo_course(root: Path, given: Path | None) -> Path:
    if given is not None:
        if not (given / "autograded").is_dir():
            raise SystemExit(f"{given} is not a graded demo course (no autograded/ folder); build one with "
                             "`autograder demo --course DIR`.")
        return given
    course = root / "demo"
    print(f"building the demo course in {course} (about 2-3 minutes on 2 cores) ...", flush=True)
    timed([str(BIN / "autograder"), "demo", "--course", str(course)])
    return course


def vary_results(path: Path, rng: random.Random) -> None:
    """Vary a results file's predictions and keep it a valid matbench file (its hash recomputed)."""
    from autograder.results.file import matbench_hash, read_bytes_as_json

    blob = path.read_bytes()
    raw = read_bytes_as_json(blob)
    for task in raw.get("tasks", {}).values():
        for fold in (task.get("results") or {}).values():
            data = fold.get("data")
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                if isinstance(value, bool):
                    data[key] = (not value) if rng.random() < 0.05 else value
                elif isinstance(value, (int, float)):
                    data[key] = value * (1 + rng.uniform(-0.08, 0.08))
    raw["hash"] = matbench_hash(raw)
    text = json.dumps(raw).encode("utf-8")
    if blob[:2] == b"\x1f\x8b":
        import gzip

        text = gzip.compress(text)
    path.write_bytes(text)


def retrace(path: Path, results: Path) -> None:
    """The trace's record of the results file saved follows the varied file (as if the run wrote it)."""
    import hashlib

    if not path.is_file():
        return
    digest = hashlib.sha256(results.read_bytes()).hexdigest()
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line) if line.strip() else None
        if event and event.get("event") == "to_file":
            event["sha256"] = digest
            line = json.dumps(event)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_cohort(demo: Path, course: Path, n: int, seed: int = 2026) -> list[str]:
    """n copies of the demo's real executions, each with varied predictions and marks."""
    rng = random.Random(seed)
    course.mkdir(parents=True)
    for item in demo.iterdir():
        if item.name in ("submitted", "autograded", "feedback", "reports", "export", "marks.csv", "allocation.csv",
                         "blackboard_download.zip"):
            continue
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, course / item.name)
    allocation = dict(csv.reader((demo / "allocation.csv").read_text().splitlines()[1:]))
    with (demo / "marks.csv").open(newline="") as handle:
        demo_marks = list(csv.DictReader(handle))
    templates = sorted(p.name for p in (demo / "autograded").iterdir() if (p / ASSIGNMENT / "result.json").is_file())
    students, allocation_rows, marks_rows = [], [], []
    for i in range(n):
        template = templates[i % len(templates)]
        student = f"s{i + 1:03d}"
        students.append(student)
        shutil.copytree(demo / "submitted" / template / ASSIGNMENT, course / "submitted" / student / ASSIGNMENT)
        submission = course / "submitted" / student / ASSIGNMENT / "submission.json"
        if submission.is_file():
            data = json.loads(submission.read_text())
            data["student_id"] = student
            submission.write_text(json.dumps(data, indent=1))
        source, target = demo / "autograded" / template / ASSIGNMENT, course / "autograded" / student / ASSIGNMENT
        target.mkdir(parents=True)
        record = json.loads((source / "result.json").read_text())
        for name in [*STAGE_FILES, record.get("notebook") or ""]:
            if name and (source / name).is_file():
                shutil.copy2(source / name, target / name)
        record["student_id"] = student
        (target / "result.json").write_text(json.dumps(record, indent=1))
        if (target / "results.json.gz").is_file():
            vary_results(target / "results.json.gz", rng)
            retrace(target / "protocol_trace.jsonl", target / "results.json.gz")
        allocation_rows.append((student, allocation[template]))
        for row in demo_marks:
            if row["student_id"] != template:
                continue
            if row["criterion"] == "presentation" and i % 5 == 4:
                continue  # not marked yet: provisional
            mark = row["mark"]
            if re.fullmatch(r"\d+(\.\d+)?", mark or ""):
                mark = str(max(0, min(100, int(float(mark)) + rng.randint(-6, 6))))
            marks_rows.append({**row, "student_id": student, "mark": mark})
    with (course / "allocation.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "challenge"])
        writer.writerows(allocation_rows)
    write_marks(course, marks_rows)
    return students


def write_marks(course: Path, rows: list[dict]) -> None:
    with (course / "marks.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student_id", "criterion", "mark", "comment"])
        writer.writeheader()
        writer.writerows(rows)


def read_marks(course: Path) -> list[dict]:
    with (course / "marks.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def pages(course: Path) -> dict[str, tuple[int, bytes]]:
    """student -> (mtime_ns, bytes) of each feedback page."""
    out = {}
    for page in sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/index.html")):
        out[page.parent.parent.name] = (page.stat().st_mtime_ns, page.read_bytes())
    return out


def scores(course: Path) -> dict[str, int]:
    return {p.parent.parent.name: p.stat().st_mtime_ns for p in (course / "autograded").glob(f"*/{ASSIGNMENT}/score.json")}


def forget(course: Path) -> None:
    """A re-grade as it was before anything was content-addressed: the cache of charts, page keys and
    gradebook keys removed, and the check stage's record of its inputs dropped (so it runs again)."""
    from autograder.layout import CACHE_DIR

    shutil.rmtree(course / "autograded" / CACHE_DIR, ignore_errors=True)
    for path in (course / "autograded").glob(f"*/{ASSIGNMENT}/checks.json"):
        stored = json.loads(path.read_text(encoding="utf-8"))
        stored.pop("inputs", None)
        path.write_text(json.dumps(stored, indent=1), encoding="utf-8")


def rewritten(before: dict, after: dict) -> list[str]:
    return sorted(s for s in after if s not in before or before[s][0] != after[s][0])


def change_marks(course: Path, students: list[str]) -> None:
    """A batch of marks: a new presentation mark for each of `students` (added where there was none)."""
    rows = read_marks(course)
    todo = set(students)
    for row in rows:
        if row["student_id"] in todo and row["criterion"] == "presentation":
            row["mark"] = str(100 - int(float(row["mark"]))) if row["mark"].isdigit() else "64"
            row["comment"] = "Re-marked after moderation."
            todo.discard(row["student_id"])
    rows += [{"student_id": s, "criterion": "presentation", "mark": "64", "comment": "Marked late."}
             for s in sorted(todo)]
    write_marks(course, rows)


def change_rubric(course: Path) -> None:
    path = course / "rubric" / f"{ASSIGNMENT}.toml"
    text = path.read_text(encoding="utf-8")
    weights = [m for m in re.finditer(r"^weight = (\d+)$", text, flags=re.MULTILINE)]
    # data preparation (the first weighted criterion) 20 -> 25, presentation (30) -> 25
    first = next(m for m in weights if m.group(1) == "20")
    last = next(m for m in weights if m.group(1) == "30")
    for match, new in sorted(((first, 25), (last, 25)), key=lambda item: -item[0].start()):
        text = text[:match.start()] + f"weight = {new}" + text[match.end():]
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="submissions in the synthetic cohort")
    parser.add_argument("--from", dest="demo", type=Path, help="a graded demo course to copy (else one is built)")
    parser.add_argument("--changed", type=int, default=20, help="students whose presentation mark changes")
    parser.add_argument("--keep", type=Path, help="keep the courses in this folder")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    root = args.keep or Path(tempfile.mkdtemp(prefix="regrade-speed-"))
    root.mkdir(parents=True, exist_ok=True)
    demo = demo_course(root, args.demo)
    course = root / "cohort"
    if course.exists():
        shutil.rmtree(course)
    students = build_cohort(demo, course, args.n)
    executions = len(list((demo / "autograded").glob(f"*/{ASSIGNMENT}/result.json")))
    print(f"cohort: {args.n} copies of the demo's {executions} executions "
          f"in {course}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)

    first = regrade(course)
    print(f"  first pass (checks: one Score per copy; grades; pages):  {first['wall']:6.1f} s wall, "
          f"{first['cpu']:6.1f} s CPU", flush=True)
    forget(course)
    before = pages(course)
    full = regrade(course)
    after_full = pages(course)
    print(f"  full re-render (as before: checks, grades, every chart):  {full['wall']:6.1f} s wall, "
          f"{full['cpu']:6.1f} s CPU; {len(rewritten(before, after_full))} pages rewritten", flush=True)

    same = regrade(course)
    after_same = pages(course)
    print(f"  nothing changed:                                         {same['wall']:6.1f} s wall, "
          f"{same['cpu']:6.1f} s CPU; {len(rewritten(after_full, after_same))} pages rewritten", flush=True)

    changed = sorted(random.Random(7).sample(students, min(args.changed, len(students))))
    change_marks(course, changed)
    marks = regrade(course)
    after_marks = pages(course)
    redrawn = rewritten(after_same, after_marks)
    print(f"  marks change ({len(changed)} presentation marks):                 {marks['wall']:6.1f} s wall, "
          f"{marks['cpu']:6.1f} s CPU; {len(redrawn)} pages rewritten "
          f"({'exactly the students whose marks changed' if redrawn == changed else 'NOT the students changed: ' + ', '.join(redrawn[:10])})",
          flush=True)

    scored = scores(course)
    change_rubric(course)
    rubric = regrade(course)
    after_rubric = pages(course)
    rescored = [s for s, mtime in scores(course).items() if scored.get(s) != mtime]
    print(f"  rubric change (weights):                                 {rubric['wall']:6.1f} s wall, "
          f"{rubric['cpu']:6.1f} s CPU; {len(rewritten(after_marks, after_rubric))} pages rewritten, "
          f"{len(rescored)} results files scored again", flush=True)
    print()
    print(f"after a marks change:  {marks['wall']:.1f} s wall, {marks['cpu']:.1f} s CPU for {args.n} (target <= 15 s): "
          f"{full['wall'] / marks['wall']:.1f}x less wall and {full['cpu'] / marks['cpu']:.1f}x less CPU than the "
          f"full re-render ({full['wall']:.1f} s wall, {full['cpu']:.1f} s CPU)")
    print(f"after a rubric change: {rubric['wall']:.1f} s wall, {rubric['cpu']:.1f} s CPU for {args.n} (target <= 30 s): "
          f"{full['wall'] / rubric['wall']:.1f}x less wall and {full['cpu'] / rubric['cpu']:.1f}x less CPU than the "
          "full re-render")
    print("  (a re-grade is one process: on an idle machine its wall time is about its CPU time)")
    print(f"load average after: {os.getloadavg()[0]:.1f} (the machine is shared: single runs, noisy)")
    for label, run in (("marks change", marks), ("rubric change", rubric)):
        phases = next((line for line in run["stdout"].splitlines() + run["stderr"].splitlines()
                       if line.startswith("time:")), "")
        if phases:
            print(f"  {label}: {phases}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
