"""The cohort's featurisation cache (autograder.execute.feature_cache, kernel_startup/autograder_features.py):
a featuriser two notebooks build is computed once by the grader, and each sandboxed kernel reads it
read-only. Served features are exactly the computed ones; a notebook that tries to write or poison the
cache changes nothing another one reads; `--no-feature-cache` gives the same results files."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from engine_support import ASSIGNMENT, _cell, make_course, quick_notebook
from rich.console import Console

from autograder import batch
from autograder.checks.featurisers import featurisers_in
from autograder.course.config import Course
from autograder.execute.feature_cache import FeaturiserSpec, features_module, official_inputs

FEATURES = features_module()
COMPOSITE = "matminer.featurizers.composition.composite"


@functools.cache
def _inputs(task: str, on_compositions: bool, on_formulas: bool) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return official_inputs(task, "", on_compositions, on_formulas)


# Every allow-listed featuriser, built as notebooks build it, on real inputs of its kind.
ALLOW_LISTED = [
    ("ElementProperty", "from_preset", ("'magpie'",), "matbench_expt_gap"),
    ("ElementProperty", "from_preset", ("'deml'",), "matbench_expt_gap"),
    ("Meredig", "", (), "matbench_glass"),
    ("Stoichiometry", "", (), "matbench_expt_gap"),
    ("ElementFraction", "", (), "matbench_glass"),
    ("TMetalFraction", "", (), "matbench_expt_gap"),
    ("BandCenter", "", (), "matbench_expt_gap"),
    ("ValenceOrbital", "", (), "matbench_expt_gap"),
    ("IonProperty", "", (), "matbench_expt_gap"),
    ("SiteStatsFingerprint", "from_preset", ("'CrystalNNFingerprint_ops'",), "matbench_phonons"),
    ("DensityFeatures", "", (), "matbench_phonons"),
    ("GlobalSymmetryFeatures", "", (), "matbench_phonons"),
    ("StrToComposition", "", (), "matbench_glass"),
]


def _spec(name: str, constructor: str, args: tuple) -> FeaturiserSpec:
    module = next(m for m, names in FEATURES.ALLOWED.items() if name in names)
    return FeaturiserSpec(module, name, constructor, args)


def test_every_allow_listed_featuriser_is_listed_here():
    listed = {name for name, *_ in ALLOW_LISTED}
    assert listed == {name for names in FEATURES.ALLOWED.values() for name in names}


@pytest.mark.parametrize(
    "name,constructor,args,task", ALLOW_LISTED, ids=[a[0] + "".join(a[2]).strip("'") for a in ALLOW_LISTED]
)
def test_the_cache_holds_exactly_what_matminer_computes(name, constructor, args, task, shared_data):
    spec = _spec(name, constructor, args)
    size = 6 if name == "SiteStatsFingerprint" else 12 if name == "Meredig" else 40
    inputs = _inputs(task, spec.on_compositions, spec.on_formulas)[:size]
    cached = spec.build()
    key_before = FEATURES.featuriser_key(cached)
    rows, _, _ = FEATURES.compute_rows(cached, inputs)
    # as a student computes it: matminer's own batch call on a fresh featuriser, in one process
    fresh = spec.build()
    assert FEATURES.featuriser_key(fresh) == key_before  # the key is of the settings, not of the object
    computed = fresh.featurize_many(inputs, ignore_errors=True, pbar=False)
    served = [rows[FEATURES.input_key(x)][0] for x in inputs]
    assert pickle.dumps(served) == pickle.dumps(computed)  # bitwise, types included
    # using a featuriser leaves its key as it was (pymatgen's scratch between calls is not state)
    assert FEATURES.featuriser_key(cached) == key_before == FEATURES.featuriser_key(fresh)


def test_settings_subclasses_patches_and_fitted_state_change_or_refuse_the_key():
    from matminer.featurizers.composition import ElementProperty

    magpie = FEATURES.featuriser_key(ElementProperty.from_preset("magpie"))
    assert FEATURES.featuriser_key(ElementProperty.from_preset("deml")) != magpie
    fewer = ElementProperty.from_preset("magpie")
    fewer.stats = ["mean"]
    assert FEATURES.featuriser_key(fewer) != magpie

    class Mine(ElementProperty):
        pass

    with pytest.raises(FEATURES.Unkeyable):
        FEATURES.featuriser_key(Mine.from_preset("magpie"))
    patched = ElementProperty.from_preset("magpie")
    patched.featurize = lambda comp: [0.0]
    with pytest.raises(FEATURES.Unkeyable):
        FEATURES.featuriser_key(patched)
    holding = ElementProperty.from_preset("magpie")
    holding.fitted_on = [object()]  # state the cache cannot key
    with pytest.raises(FEATURES.Unkeyable):
        FEATURES.featuriser_key(holding)


def test_a_patched_class_is_never_served(tmp_path):
    """In a fresh interpreter (the patch must not leak into other tests): the wrapper serves a cached
    featuriser, and stops serving once a method of its class is replaced."""
    script = textwrap.dedent(f"""
        import importlib.util, json, warnings
        warnings.simplefilter("ignore")
        spec = importlib.util.spec_from_file_location("f", {str(FEATURES.__file__)!r})
        f = importlib.util.module_from_spec(spec); spec.loader.exec_module(f)
        from pymatgen.core import Composition
        from matminer.featurizers.composition import ElementProperty
        import matminer.featurizers.base as base
        inputs = [Composition(x) for x in ("Fe2O3", "NaCl", "GaAs", "SiO2")]
        ep = ElementProperty.from_preset("magpie")
        rows, _, seconds = f.compute_rows(ep, inputs)
        f.write_entry({str(tmp_path)!r}, f.featuriser_key(ep), "magpie", rows, seconds)
        events = []
        f.install(base, {str(tmp_path)!r}, lambda event, **fields: events.append(fields))
        first = ElementProperty.from_preset("magpie").featurize_many(inputs, pbar=False)
        ElementProperty.featurize = lambda self, comp: [1.0] * len(self.feature_labels())
        second = ElementProperty.from_preset("magpie").featurize_many(inputs, pbar=False)
        print(json.dumps({{"events": events, "first": first[0][:3], "second": second[0][:3]}}, default=str))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["events"][0]["served"] == 4
    assert out["events"][1]["served"] == 0 and "replaced" in out["events"][1]["reason"]
    assert out["second"] == [1.0, 1.0, 1.0] and out["first"] != out["second"]


def test_the_featurisers_a_notebook_builds_are_found_from_its_code():
    cells = [
        {
            "cell_type": "code",
            "source": "!pip install matminer\nfrom matminer.featurizers.composition import ElementProperty as EP, Stoichiometry",
        },
        {
            "cell_type": "code",
            "source": "import matminer.featurizers.structure as mfs\nfp = mfs.SiteStatsFingerprint.from_preset('CrystalNNFingerprint_ops')",
        },
        {
            "cell_type": "code",
            "source": "f = MultipleFeaturizer([EP.from_preset('magpie'), Stoichiometry(p_list=[2, 3])])\nx = EP.from_preset(preset)",
        },
    ]
    labels = sorted(spec.label for spec in featurisers_in(cells))
    assert labels == [
        "ElementProperty.magpie",
        "SiteStatsFingerprint.CrystalNNFingerprint_ops",
        "Stoichiometry(p_list=[2, 3])",
    ]


def test_one_featuriser_on_two_challenges_keeps_an_entry_for_each(tmp_path, shared_data):
    """An entry is named by its featuriser: the cohort's challenges each have their own folder, so the
    second challenge's precomputation neither finds the first's entry nor replaces it."""
    from autograder.execute.feature_cache import precompute

    spec = _spec("Stoichiometry", "", ())
    tasks = ["matbench_phonons", "matbench_expt_gap"]
    done = precompute(tmp_path, [(spec, task) for task in tasks], "", workers=1)
    assert done.computed == [f"Stoichiometry() on {task}" for task in tasks] and done.reused == []
    key = FEATURES.featuriser_key(spec.build())
    for task in tasks:
        entry = FEATURES.read_entry(str(tmp_path / task), key)
        wanted = {FEATURES.input_key(v) for v in _inputs(task, spec.on_compositions, spec.on_formulas)}
        assert entry is not None and set(entry["rows"]) == wanted, task
    again = precompute(tmp_path, [(spec, task) for task in tasks], "", workers=1)
    assert again.computed == [] and len(again.reused) == 2


# --- a cohort through the sandbox -------------------------------------------------------------------

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
    to_composition = StrToComposition(target_col_id="composition_obj")
    to_composition.set_n_jobs(1)
    frame = to_composition.featurize_dataframe(inputs.to_frame("formula"), "formula", pbar=False)
    magpie = ElementProperty.from_preset("magpie")
    magpie.set_n_jobs(1)
    frame = magpie.featurize_dataframe(frame, "composition_obj", ignore_errors=True, pbar=False)
    return frame[magpie.feature_labels()].astype(float).fillna(0.0)
"""
HOSTILE = """\
import os

from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

CACHE = "/data/autograder-features"
attempts = []
for root, _, files in os.walk(CACHE):
    for name in files + ["poison.pkl"]:
        try:
            with open(os.path.join(root, name), "wb") as handle:
                handle.write(b"poison")
            attempts.append("written")
        except OSError as error:
            attempts.append(type(error).__name__)
print("cache entries seen:", sum(len(f) for _, _, f in os.walk(CACHE)), "attempts:", sorted(set(attempts)))


class Poisoned(ElementProperty):
    def featurize(self, comp):
        return [0.0] * len(self.feature_labels())


ElementProperty.featurize = lambda self, comp: [1.0] * len(self.feature_labels())  # poison the class
MAGPIE = ElementProperty.from_preset("magpie")
MAGPIE.set_n_jobs(1)


def featurise(inputs: pd.Series) -> pd.DataFrame:
    compositions = [Composition(f) for f in inputs]
    Poisoned.from_preset("magpie").featurize_many(compositions[:5], pbar=False)
    rows = MAGPIE.featurize_many(compositions, ignore_errors=True, pbar=False)
    return pd.DataFrame(rows, columns=MAGPIE.feature_labels(), index=inputs.index)
"""


def _notebook(featurise: str, marker: str):
    nb = quick_notebook("good", marker=marker)
    nb.cells[_cell(nb, "featurise")].source = featurise + f"# {marker}\n"
    return nb


def _results(course: Course, student: str) -> dict:
    folder = course.autograded_dir(student, ASSIGNMENT) / "student-files"
    data = (folder / "results.json.gz").read_bytes()
    results = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    for when in ("datestamp", "hash"):  # the moment it was written, and matbench's hash of that moment
        results.pop(when)
    return results


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_cohort_reads_one_featurisation_and_a_hostile_notebook_changes_nothing(course_dir):
    make_course(
        course_dir,
        {
            "ann": _notebook(MAGPIE_MANY, "ann"),
            "bea": _notebook(MAGPIE_DATAFRAME, "bea"),
            "eve": _notebook(HOSTILE, "eve"),
        },
        execution={"cell_timeout": 300, "timeout": 600, "memory_limit": '"3G"'},
    )
    course = Course.open(course_dir)
    summary = batch.grade(course, batch.GradeOptions(progress=False), console=Console(file=io.StringIO()))
    assert summary.featurised is not None and summary.featurised.computed == [
        "ElementProperty.magpie on matbench_expt_gap"
    ]
    cache = course.feature_cache_dir
    stored = _tree_digest(cache)
    assert len(stored) == 1
    records = {s: course.load_record(s, ASSIGNMENT) for s in ("ann", "bea", "eve")}
    assert all(r.status == "executed" for r in records.values()), {s: r.reason for s, r in records.items()}
    for student in ("ann", "bea"):  # featurize_many and featurize_dataframe, both served
        used = records[student].environment["feature_cache"]
        assert used["served"] == 4604 and used["seconds_saved"] > 1, used
    hostile = records["eve"].environment["feature_cache"]
    assert hostile["served"] == 0 and any("replaced" in reason for reason in hostile["not_served"]), hostile
    executed = (course.autograded_dir("eve", ASSIGNMENT) / "research_challenge.ipynb").read_text()
    assert (
        "cache entries seen: 1" in executed
        and "written" not in executed.split("attempts:")[1].split("\\n")[0]
    )
    assert _tree_digest(cache) == stored  # nothing the hostile notebook did reached the cache
    # the markers' summary says what the cache saved; the students' pages say nothing of it
    page = course.summary_page(ASSIGNMENT).read_text()
    assert "Featurised once for the cohort: 2 submissions read 9208 feature rows" in page
    assert "Featurised once" not in course.feedback_page("ann", ASSIGNMENT).read_text()

    with_cache = {s: _results(course, s) for s in records}
    again = batch.grade(
        course,
        batch.GradeOptions(
            progress=False, run_grading=False, force=True, feature_cache=False, students=["ann", "bea"]
        ),
        console=Console(file=io.StringIO()),
    )
    assert again.featurised is None
    for student in ("ann", "bea"):
        record = course.load_record(student, ASSIGNMENT)
        assert "feature_cache" not in record.environment
        assert _results(course, student) == with_cache[student], student  # identical with and without
