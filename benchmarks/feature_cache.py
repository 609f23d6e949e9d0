"""Featurising once for the cohort: two cohorts graded by `autograder grade --workers 2`, with the
featurisation cache and with `--no-feature-cache`, in one run on this machine.

    python benchmarks/feature_cache.py [--n 6] [--keep DIR]

Cohort A: n real-style notebooks on challenge A (matbench_phonons, 1,265 structures) that featurise
with matminer's `SiteStatsFingerprint.from_preset("CrystalNNFingerprint_ops")` (half through
featurize_many with one process, half through featurize_dataframe with matminer's default process
pool) and train different scikit-learn models. Cohort B: n notebooks on challenge B
(matbench_expt_gap, 4,604 compositions) with the Magpie `ElementProperty` preset. Each cohort is graded
from scratch twice, first without the cache, then with it (an empty cache: the precomputation is in
the wall time).

Printed: both walls and their ratio, the precomputation's wall, the CPU seconds the kernels did not
spend (as the cache's entries record them), and whether every results file is identical (but for
matbench's datestamp and its hash). Target (issue 25): the structure cohort's wall at least 2.5x
shorter with the cache.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
BIN = Path(sys.executable).parent
ASSIGNMENT = "research_challenge"

FINGERPRINT_MANY = '''\
from matminer.featurizers.structure import SiteStatsFingerprint

FINGERPRINT = SiteStatsFingerprint.from_preset("CrystalNNFingerprint_ops")
FINGERPRINT.set_n_jobs(1)


def featurise(inputs: pd.Series) -> pd.DataFrame:
    """Statistics over the sites of each structure's CrystalNN order-parameter fingerprint."""
    rows = FINGERPRINT.featurize_many(list(inputs), ignore_errors=True, pbar=False)
    return pd.DataFrame(rows, columns=FINGERPRINT.feature_labels(), index=inputs.index).fillna(0.0)
'''
FINGERPRINT_DATAFRAME = """\
from matminer.featurizers.structure import SiteStatsFingerprint


def featurise(inputs: pd.Series) -> pd.DataFrame:
    fingerprint = SiteStatsFingerprint.from_preset("CrystalNNFingerprint_ops")
    frame = fingerprint.featurize_dataframe(inputs.to_frame("structure"), "structure", ignore_errors=True)
    return frame[fingerprint.feature_labels()].astype(float).fillna(0.0)
"""
MAGPIE_MANY = """\
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

MAGPIE = ElementProperty.from_preset("magpie")
MAGPIE.set_n_jobs(1)


def featurise(inputs: pd.Series) -> pd.DataFrame:
    rows = MAGPIE.featurize_many([Composition(f) for f in inputs], ignore_errors=True, pbar=False)
    return pd.DataFrame(rows, columns=MAGPIE.feature_labels(), index=inputs.index).fillna(0.0)
"""
MAGPIE_DATAFRAME = """\
from matminer.featurizers.composition import ElementProperty
from matminer.featurizers.conversions import StrToComposition


def featurise(inputs: pd.Series) -> pd.DataFrame:
    frame = StrToComposition(target_col_id="comp").featurize_dataframe(inputs.to_frame("formula"), "formula")
    magpie = ElementProperty.from_preset("magpie")
    frame = magpie.featurize_dataframe(frame, "comp", ignore_errors=True)
    return frame[magpie.feature_labels()].astype(float).fillna(0.0)
"""
MODELS = [
    (
        "from sklearn.linear_model import Ridge\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler",
        "make_pipeline(StandardScaler(), Ridge(alpha=1.0))",
    ),
    (
        "from sklearn.ensemble import RandomForestRegressor",
        "RandomForestRegressor(100, random_state=seed, n_jobs=1)",
    ),
    (
        "from sklearn.ensemble import HistGradientBoostingRegressor",
        "HistGradientBoostingRegressor(random_state=seed)",
    ),
    (
        "from sklearn.neighbors import KNeighborsRegressor\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler",
        "make_pipeline(StandardScaler(), KNeighborsRegressor(5))",
    ),
    (
        "from sklearn.ensemble import ExtraTreesRegressor",
        "ExtraTreesRegressor(100, random_state=seed, n_jobs=1)",
    ),
    ("from sklearn.linear_model import Lasso", "Lasso(alpha=0.01, max_iter=5000)"),
]


def model_cell(number: int) -> str:
    imports, model = MODELS[number % len(MODELS)]
    return (
        f"{imports}\n\n\ndef train_model(features: pd.DataFrame, targets: pd.Series):\n"
        f"    return {model}.fit(features, targets)\n\n\n"
        "def predict(model, features: pd.DataFrame):\n    return model.predict(features)\n"
    )


def build(course: Path, letter: str, featurisers: tuple[str, str], n: int) -> list[str]:
    from engine_support import _cell, make_course, quick_notebook

    for name in ("nbgrader_config.py", "autograder.toml"):
        shutil.copy2(REPO / name, course / name)
    for name in ("source", "release", "rubric"):
        shutil.copytree(REPO / name, course / name)
    notebooks = {}
    for number in range(n):
        student = f"s{letter.lower()}{number:02d}"
        nb = quick_notebook("good")
        nb.cells[_cell(nb, "featurise")].source = featurisers[number % 2] + f"# {student}\n"
        nb.cells[_cell(nb, "model")].source = model_cell(number)
        notebooks[student] = nb
    make_course(
        course,
        notebooks,
        letters=dict.fromkeys(notebooks, letter),
        execution={"cell_timeout": 1800, "timeout": 3600, "memory_limit": '"4G"', "workers": 2},
    )
    config = course / "autograder.toml"
    config.write_text(config.read_text() + "\n[similarity]\nenabled = false\n")
    return sorted(notebooks)


def grade(course: Path, cache: bool) -> dict:
    command = [
        str(BIN / "autograder"),
        "grade",
        "--course",
        str(course),
        "--workers",
        "2",
        "--quiet",
        "--timings",
    ]
    if not cache:
        command.append("--no-feature-cache")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"grading failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    precompute = re.search(r"featurised for the cohort ([0-9.]+) s", done.stdout)
    return {"wall": wall, "precompute": float(precompute.group(1)) if precompute else 0.0}


def results(course: Path, student: str) -> dict:
    data = (course / "autograded" / student / ASSIGNMENT / "student-files" / "results.json.gz").read_bytes()
    found = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    for when in ("datestamp", "hash"):
        found.pop(when, None)
    return found


def cohort(root: Path, letter: str, featurisers: tuple[str, str], n: int) -> None:
    runs, outputs, saved, served, kernel_cpu = {}, {}, 0.0, 0, {}
    for cache in (False, True):
        course = root / f"{letter}-{'cache' if cache else 'no-cache'}"
        course.mkdir(parents=True)
        students = build(course, letter, featurisers, n)
        runs[cache] = grade(course, cache)
        outputs[cache] = {s: results(course, s) for s in students}
        kernel_cpu[cache] = 0.0
        for student in students:
            record = json.loads((course / "autograded" / student / ASSIGNMENT / "result.json").read_text())
            if record["status"] != "executed":
                raise SystemExit(f"{student} did not run: {record.get('reason')}")
            kernel_cpu[cache] += record.get("cpu_seconds") or 0.0
            if cache:
                used = record.get("environment", {}).get("feature_cache") or {}
                saved += used.get("seconds_saved", 0.0)
                served += used.get("served", 0)
    identical = outputs[False] == outputs[True]
    without, with_cache = runs[False]["wall"], runs[True]["wall"]
    print(
        f"cohort {letter} ({n} notebooks): wall without the cache {without:.0f} s, with it {with_cache:.0f} s "
        f"(precomputation {runs[True]['precompute']:.0f} s of it): {without / with_cache:.2f}x shorter; "
        f"kernels' CPU {kernel_cpu[False]:.0f} -> {kernel_cpu[True]:.0f} s; entries served {served}, "
        f"CPU seconds the cache's entries record as saved {saved:.0f}; every results file identical: {identical}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=6, help="notebooks in each cohort")
    parser.add_argument("--keep", type=Path, help="keep the courses in this folder")
    parser.add_argument("--only", choices=["A", "B"], help="one cohort only")
    args = parser.parse_args()
    os.environ.setdefault("MATMINER_DATA", str((REPO.parent / "shared" / "matbench-data").resolve()))
    root = args.keep or Path(tempfile.mkdtemp(prefix="feature-cache-"))
    try:
        if args.only in (None, "A"):
            cohort(root, "A", (FINGERPRINT_MANY, FINGERPRINT_DATAFRAME), args.n)
        if args.only in (None, "B"):
            cohort(root, "B", (MAGPIE_MANY, MAGPIE_DATAFRAME), args.n)
        print("target: cohort A at least 2.5x shorter with the cache (issue 25)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
