"""Figure: the reference solutions' scores on the four challenges, beside the leaderboard.

For each challenge, the released notebook with the reference solution written in is executed headlessly
(papermill, all five official folds, offline data in $MATMINER_DATA, n_jobs=2), and matbench's own
per-fold scores are read from the saved results. Printed: mean ± std, the RF-SCM/Magpie baseline it must
beat, the best leaderboard entry, the rank it would take, and the wall time (budget: 15 min on 2 cores).

    python benchmarks/reference_solutions.py [A B C D]
"""

from __future__ import annotations

import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course.challenges import Catalogue  # noqa: E402
from autograder.course.release import solved_copy  # noqa: E402

NOTEBOOK = "research_challenge.ipynb"
BUDGET_SECONDS = 15 * 60


def run(letter: str, workdir: Path) -> tuple[list[float], float]:
    challenge = Catalogue().get(letter)
    notebook = workdir / NOTEBOOK
    nbformat.write(solved_copy(REPO / "release" / "research_challenge" / NOTEBOOK,
                               REPO / "source" / "research_challenge" / NOTEBOOK), notebook)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(workdir / "executed.ipynb"),
                           "--cwd", str(workdir), "--no-progress-bar", "-p", "challenge", letter,
                           "-p", "n_jobs", "2"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"challenge {letter} failed:\n{done.stderr[-2000:]}")
    raw = (workdir / "results.json.gz").read_bytes()
    results = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    folds = results["tasks"][challenge.task]["results"]
    return [folds[f"fold_{i}"]["scores"][challenge.metric] for i in range(5)], wall


def main(letters: list[str]) -> None:
    rows = []
    for letter in letters:
        challenge = Catalogue().get(letter)
        with tempfile.TemporaryDirectory() as tmp:
            scores, wall = run(letter, Path(tmp))
        mean, std = statistics.fmean(scores), statistics.pstdev(scores)  # matbench: population std
        rf, best = challenge.reference("RF-SCM/Magpie"), challenge.best
        beats = mean > rf.mean if challenge.higher_is_better else mean < rf.mean
        rows.append((challenge, mean, std, rf, best, beats, wall))
        print(f"  {letter} {challenge.task}: {challenge.metric_label} {mean:.4f} ± {std:.4f} "
              f"in {wall:.0f} s", flush=True)
    print("\n| Challenge | Task | Reference solution | RF-SCM/Magpie | Best on leaderboard | Rank | Beats RF? | Wall time |")
    print("|---|---|---|---|---|---|---|---|")
    for challenge, mean, std, rf, best, beats, wall in rows:
        print(f"| {challenge.letter} | {challenge.task} | {challenge.metric_label} {mean:.4f} ± {std:.4f} | "
              f"{rf.mean:.4f} | {best.mean:.4f} ({best.algorithm}) | {challenge.rank(mean)} of "
              f"{len(challenge.leaderboard) + 1} | {'yes' if beats else 'NO'} | {wall / 60:.1f} min "
              f"({'within' if wall < BUDGET_SECONDS else 'OVER'} 15 min) |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["A", "B", "C", "D"])
