"""Cohort similarity (autograder.similarity): accuracy on a labelled set, and speed.

    python benchmarks/similarity_accuracy.py            accuracy, then both speed runs
    python benchmarks/similarity_accuracy.py --quick    accuracy only

Labelled set (tests/similarity/): as independent work, the reference solution and eight different
works written on the released template (other featurisations, models, analyses and answers); as
copies, altered copies of six of them (identifiers renamed, comments rewritten, prints and blank lines
added, cells reordered and merged, the text paraphrased lightly, one function rewritten) and lighter
copies of four (renamed, comments rewritten, prints added, text paraphrased); and two notebooks that
hold nothing but the template. Every pair is scored exactly; a pair is a copy when both notebooks come
from the same work. Prints the copied pairs found and the independent pairs flagged at the default
threshold, and the ROC AUC of the pair score (targets: AUC 1.0, no template-only pair flagged).

Speed: every pair of 200 submissions, then 200 submissions against an archive of 2,000 notebooks,
through the same path `autograder similarity` takes (read, fingerprint, candidates, exact scores,
evidence). Each notebook is drawn at random from all the works' statements and sentences (so most
pairs share a few statements or sentences, as students using the same libraries do), and one in
twenty is an altered copy of a submission. Targets: < 60 s and
< 3 min on 2 cores. Timings are noisy on a shared machine: one run each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sklearn.metrics import roc_auc_score

from autograder.course.config import SimilaritySettings
from autograder.similarity import compare, read_material
from autograder.similarity.compare import Cohort
from tests.similarity import build

HEAVY = ("reference", "magpie_forest", "knn_orbitals", "structure_boosting", "fraction_mlp", "glass_logistic")
LIGHT = ("magpie_forest", "pymatgen_ridge", "lasso_masses", "oxidation_trees")
LIGHT_CHANGES = ("rename", "comments", "prints", "paraphrase")


def labelled_set(folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Notebooks (name -> path) and the work each comes from (template-only ones: their own name)."""
    notebooks, origin = {}, {}
    originals = build.independent()
    for name, nb in originals.items():
        notebooks[name] = build.save(nb, folder / name / build.NOTEBOOK)
        origin[name] = name
    for n, name in enumerate(HEAVY):
        key = f"{name}~copy"
        copy = build.altered(originals[name], build.CHANGES, seed=100 + n, work=name, name=key)
        notebooks[key], origin[key] = build.save(copy, folder / key / build.NOTEBOOK), name
    for n, name in enumerate(LIGHT):
        key = f"{name}~light"
        copy = build.altered(originals[name], LIGHT_CHANGES, seed=200 + n, work=name, name=key)
        notebooks[key], origin[key] = build.save(copy, folder / key / build.NOTEBOOK), name
    for name in ("template_only_1", "template_only_2"):
        notebooks[name] = build.save(build.template_only(name), folder / name / build.NOTEBOOK)
        origin[name] = name
    return notebooks, origin


def accuracy(folder: Path, threshold: float) -> None:
    notebooks, origin = labelled_set(folder)
    material = read_material(notebooks, {}, build.released_path())
    cohort = Cohort(material.documents, material.template)
    keys = [d.key for d in cohort.documents]
    index = {k: i for i, k in enumerate(keys)}
    scores, labels, rows = [], [], []
    for a, b in combinations(keys, 2):
        pair = cohort.score(index[a], index[b])
        copied = origin[a] == origin[b]
        scores.append(pair.score)
        labels.append(copied)
        rows.append((pair.score, copied, a, b, pair))
    positives = [r for r in rows if r[1]]
    negatives = [r for r in rows if not r[1]]
    found = sum(1 for r in positives if r[0] >= threshold)
    flagged = sum(1 for r in negatives if r[0] >= threshold)
    template_pair = next(r for r in rows if {r[2], r[3]} == {"template_only_1", "template_only_2"})
    template_flagged = sum(1 for r in rows if r[0] >= threshold and "template_only" in r[2] + r[3])
    print(f"labelled set: {len(notebooks)} notebooks ({len(set(origin.values())) - 2} independent works, "
          f"{len(HEAVY)} altered copies, {len(LIGHT)} lightly altered copies, 2 template-only); "
          f"{len(rows)} pairs: {len(positives)} copied, {len(negatives)} independent")
    print(f"default threshold {threshold}: copied pairs found {found} of {len(positives)}; "
          f"independent pairs flagged {flagged} of {len(negatives)}; pairs with a template-only notebook "
          f"flagged {template_flagged} (template-only pair scores {template_pair[0]:.3f})")
    print(f"ROC AUC of the pair score: {roc_auc_score(labels, scores):.4f} (target 1.0)")
    for kind in ("code", "text"):  # each alone: a copy caught by its code even when its text was rewritten
        alone = [(r[4].sides[kind][0].share + r[4].sides[kind][1].share) / 2 for r in rows]
        print(f"  {kind} alone (mean of the two sides' shares): ROC AUC {roc_auc_score(labels, alone):.4f}, copies "
              f"{min(a for a, r in zip(alone, rows) if r[1]):.2f} or more, independent pairs "
              f"{max(a for a, r in zip(alone, rows) if not r[1]):.2f} or less")
    lowest = min(positives, key=lambda r: r[0])
    highest = max(negatives, key=lambda r: r[0])
    print(f"lowest copied pair:       {lowest[0]:.3f}  {lowest[2]} / {lowest[3]}  {_sides(lowest[4])}")
    print(f"highest independent pair: {highest[0]:.3f}  {highest[2]} / {highest[3]}  {_sides(highest[4])}")
    for score, _, a, b, pair in sorted(positives, key=lambda r: r[0]):
        print(f"  copied {score:.3f}  {a} / {b}  {_sides(pair)}")


def _sides(pair) -> str:
    return "; ".join(f"{kind} {sa.share:.2f}/{sb.share:.2f} of {sa.own}/{sb.own}"
                     for kind, (sa, sb) in pair.sides.items())


def speed(folder: Path, threshold: float, cohort_size: int = 200, archive_size: int = 2000) -> None:
    pool = build.pools()
    started = time.monotonic()
    notebooks = {}
    for n in range(cohort_size + archive_size):
        if n % 20 == 19:  # one in twenty: an altered copy of a submission (in the archive: a later copy)
            nb = build.altered(notebooks[(n * 7919) % min(n, cohort_size)], build.CHANGES, seed=n, name=f"c{n}")
        else:
            nb = build.synthetic(n, pool)
        notebooks[n] = nb
    cohort = {f"s{n:03d}": build.save(notebooks[n], folder / "cohort" / f"s{n:03d}.ipynb") for n in range(cohort_size)}
    archive = {f"archive/{n:04d}.ipynb": build.save(notebooks[n], folder / "archive" / f"{n:04d}.ipynb")
               for n in range(cohort_size, cohort_size + archive_size)}
    print(f"(built {cohort_size} + {archive_size} different notebooks, one in twenty an altered copy of a "
          f"submission, in {time.monotonic() - started:.0f} s)")
    for label, members in (("all pairs", {}), ("against the archive", archive)):
        started = time.monotonic()
        material = read_material(cohort, members, build.released_path())
        data = compare(material, threshold)
        seconds = time.monotonic() - started
        target = 60 if not members else 180
        print(f"{label}: {cohort_size} submissions" + (f" x {len(members)} archive notebooks" if members else "")
              + f": {seconds:.1f} s (target < {target} s); {data['candidates']} candidate pairs, {data['scored']} "
              f"scored exactly, {data['flagged']} at or above the threshold; phases {data['seconds']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="accuracy only")
    parser.add_argument("--threshold", type=float, default=SimilaritySettings().threshold)
    parser.add_argument("--cohort", type=int, default=200)
    parser.add_argument("--archive", type=int, default=2000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        accuracy(Path(scratch) / "labelled", arguments.threshold)
        if not arguments.quick:
            speed(Path(scratch), arguments.threshold, arguments.cohort, arguments.archive)
