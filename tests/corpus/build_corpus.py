"""Build the labelled corpus of submissions from the released notebook.

    python tests/corpus/build_corpus.py          (re)write tests/corpus/<case>/ from release/
    python tests/corpus/build_corpus.py --check  exit 1 if a stored case differs from what would be built

Each case folder holds `research_challenge.ipynb` (the submission, as a student would save it: not
executed), any extra files the student submitted, and `expected.json`: the challenge the student was
allocated and the expected status of each check id. A status may depend on whether the grader's
protocol trace exists: {"with_trace": ..., "without_trace": ...}.

The models are deliberately quick (a few element or geometry features, gradient-boosted trees)
because tests/checks/test_checks_corpus.py executes every case.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RELEASED = REPO / "release" / "research_challenge" / "research_challenge.ipynb"
LEADERBOARD = REPO.parent / "shared" / "matbench-data" / "leaderboard"
NOTEBOOK = "research_challenge.ipynb"

# --- the student's code, in pieces -----------------------------------------------------------------

DETAILS = '''# Your details (used only to identify your submission)
name = "Corpus Student"        # e.g. "Ada Lovelace"
student_id = "00000000"  # your College ID (CID)
'''

EXPLORE = '''# Explore the data: the distribution of the target.
import matplotlib.pyplot as plt

# Look at the target's distribution before choosing a model (skewed? many zeros?).
print(task.df[target_column].astype(float).describe())
print("fraction of exact zeros:", float((task.df[target_column].astype(float) == 0).mean()))
'''

COMPOSITION_FEATURISE = '''# Composition features: weighted means and ranges of a few tabulated element properties.
# Cheap to compute (no matminer featuriser) and physically motivated: electronegativity
# differences and the period/group of the elements relate to bonding and band gaps.
from pymatgen.core import Composition, Element

PROPERTIES = ("X", "Z", "row", "group", "atomic_mass", "mendeleev_no")
_element_cache = {}


def element_properties(symbol: str) -> list[float]:
    """Tabulated properties of one element (cached: pymatgen look-ups are slow)."""
    if symbol not in _element_cache:
        element = Element(symbol)
        values = [getattr(element, name) for name in PROPERTIES]
        _element_cache[symbol] = [np.nan if value is None else float(value) for value in values]
    return _element_cache[symbol]


def featurise(inputs: pd.Series) -> pd.DataFrame:
    """Features for every material in `inputs` (composition strings)."""
    rows = []
    for formula in inputs:
        fractions = Composition(formula).fractional_composition.get_el_amt_dict()
        properties = np.array([element_properties(symbol) for symbol in fractions])
        weights = np.array(list(fractions.values()))
        # weighted mean, and the spread between the elements, of each property
        rows.append(np.concatenate([weights @ properties, properties.max(axis=0) - properties.min(axis=0),
                                    [len(fractions)]]))
    columns = [f"mean_{p}" for p in PROPERTIES] + [f"range_{p}" for p in PROPERTIES] + ["n_elements"]
    return pd.DataFrame(rows, index=inputs.index, columns=columns)
'''

STRUCTURE_FEATURISE = '''# Structure features: cell geometry and the elements on the sites (cheap to compute).
from pymatgen.core import Element

_electronegativity = {}


def electronegativity(z: int) -> float:
    """Pauling electronegativity of element number z (cached)."""
    if z not in _electronegativity:
        _electronegativity[z] = float(Element.from_Z(z).X)
    return _electronegativity[z]


def featurise(inputs: pd.Series) -> pd.DataFrame:
    """Features for every material in `inputs` (pymatgen Structures)."""
    rows = []
    for structure in inputs:
        z = np.array(sorted(site.specie.Z for site in structure), dtype=float)
        x = np.array([electronegativity(int(v)) for v in z])
        lattice = structure.lattice
        # volume per atom and cell lengths describe packing; Z and X describe the chemistry
        rows.append([structure.volume / len(structure), len(structure), lattice.a, lattice.b, lattice.c,
                     z.mean(), z.min(), z.max(), x.mean(), x.min(), x.max(), x.max() - x.min()])
    columns = ["volume_per_atom", "n_sites", "a", "b", "c", "mean_Z", "min_Z", "max_Z",
               "mean_X", "min_X", "max_X", "range_X"]
    return pd.DataFrame(rows, index=inputs.index, columns=columns)
'''

MODEL = '''# Gradient-boosted trees: fast on a few thousand rows of tabular features, no scaling needed.
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor


def train_model(features: pd.DataFrame, targets: pd.Series):
    """Fit on one fold's training data; early stopping on an inner validation split of it."""
    settings = dict(max_iter=200, learning_rate=0.1, early_stopping=True, validation_fraction=0.15,
                    random_state=seed)
    if is_classification:
        model = HistGradientBoostingClassifier(**settings)
    else:
        model = HistGradientBoostingRegressor(**settings)
    return model.fit(features, targets)


def predict(model, features: pd.DataFrame):
    """Numbers for regression; the probability of True for glass."""
    if is_classification:
        return model.predict_proba(features)[:, list(model.classes_).index(True)]
    return model.predict(features)
'''

ANALYSIS = '''# Error analysis on the recorded test predictions of all five folds.
recorded = pd.concat([pd.Series(dict(task.results[f"fold_{fold}"].data)) for fold in task.folds])
truth = task.df.loc[recorded.index, target_column]
if is_classification:
    print(pd.crosstab(truth, recorded.astype(float) > 0.5))  # confusion matrix at threshold 0.5
else:
    errors = (recorded.astype(float) - truth.astype(float)).abs()
    print("largest errors:", errors.sort_values().tail(5).round(3).to_dict())
'''

ANSWERS = {
    "problem_statement": "We predict a property of each material from its {input}. Good predictions screen "
                         "candidates before expensive calculations or experiments. The leaderboard's best models "
                         "use graph networks or large pretrained models; a small tabular model is a fair baseline.",
    "data_preparation": "I used weighted means and ranges of tabulated element properties, which are cheap and "
                        "physically motivated. I looked at the target distribution, checked for duplicates and "
                        "exact zeros, and left missing values to the tree model.",
    "model_choice": "I chose gradient-boosted trees because they suit a few thousand materials described by a "
                    "dozen tabular, partly redundant features: they need no scaling, capture non-linear "
                    "interactions, and train in seconds. A linear model and the Dummy baseline were my "
                    "points of comparison.",
    "training_testing": "Each fold's model uses early stopping on an inner validation split of its training data "
                        "only. The per-fold scores printed by the protocol cell vary by a few percent, and I "
                        "report their mean and standard deviation.",
    "leaderboard_comparison": "My model is well behind the best models on the leaderboard but clearly better "
                              "than the Dummy baseline.",
}

DECLARATION_FILLED = [
    "Yes: ChatGPT (GPT-4o) and GitHub Copilot.",
    "Explaining scikit-learn error messages and suggesting pandas code for the error analysis.",
    "It suggested an outdated matminer API and once proposed fitting a scaler on all the data, which would "
    "leak the test folds.",
    "I tested and rewrote every suggestion; the modelling choices and this text are my own.",
]


# --- building notebooks -------------------------------------------------------------------------

def load_release() -> dict:
    return json.loads(RELEASED.read_text(encoding="utf-8"))


def cell_index(nb: dict, grade_id: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def set_source(cell: dict, text: str) -> None:
    cell["source"] = text


def new_cell(kind: str, text: str, key: str) -> dict:
    cell = {"cell_type": kind, "id": hashlib.sha1(key.encode()).hexdigest()[:8], "metadata": {}, "source": text}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def answer(nb: dict, grade_id: str, text: str) -> None:
    cell = nb["cells"][cell_index(nb, grade_id)]
    set_source(cell, source(cell).replace("YOUR ANSWER HERE", text))


def fill_declaration(nb: dict, answers: list[str]) -> None:
    cell = nb["cells"][cell_index(nb, "llm_declaration")]
    text = source(cell)
    for value in answers:
        text = text.replace("YOUR ANSWER HERE", value, 1)
    set_source(cell, text)


def base(challenge: str, structure: bool | None = None) -> dict:
    """A compliant submission for a challenge, built on the released notebook."""
    nb = copy.deepcopy(load_release())
    structure = challenge in ("A", "C") if structure is None else structure
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and source(cell).startswith("# Your details"):
            set_source(cell, DETAILS)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            set_source(cell, source(cell).replace('challenge = ""', f'challenge = "{challenge}"'))
    set_source(nb["cells"][cell_index(nb, "explore_data")], EXPLORE)
    set_source(nb["cells"][cell_index(nb, "featurise")], STRUCTURE_FEATURISE if structure else COMPOSITION_FEATURISE)
    set_source(nb["cells"][cell_index(nb, "model")], MODEL)
    set_source(nb["cells"][cell_index(nb, "analysis")], ANALYSIS)
    for grade_id, text in ANSWERS.items():
        answer(nb, grade_id, text.format(input="crystal structure" if structure else "composition"))
    fill_declaration(nb, DECLARATION_FILLED)
    return nb


def replace_in(nb: dict, grade_id: str, old: str, new: str) -> None:
    cell = nb["cells"][cell_index(nb, grade_id)]
    text = source(cell)
    if old not in text:
        raise ValueError(f"{grade_id}: {old!r} not found")
    set_source(cell, text.replace(old, new))


def append_code(nb: dict, grade_id: str, code: str) -> None:
    cell = nb["cells"][cell_index(nb, grade_id)]
    set_source(cell, source(cell).rstrip("\n") + "\n\n\n" + code)


def delete(nb: dict, grade_id: str) -> None:
    del nb["cells"][cell_index(nb, grade_id)]


# --- the cases -------------------------------------------------------------------------------------

COMPLIANT = {  # what a compliant submission gets
    "protocol.api_used": "pass", "protocol.results_file": "pass", "protocol.task": "pass",
    "protocol.folds_complete": "pass", "protocol.test_ids": "pass", "protocol.prediction_values": "pass",
    "protocol.scores": "pass", "protocol.test_targets": "pass", "protocol.full_data_in_loop": "pass",
    "protocol.record_twice": "pass", "protocol.own_split": "pass", "protocol.subsample": "pass",
    "protocol.preprocessing_leak": "pass", "protocol.test_tuning": "pass", "protocol.alignment": "pass",
    "protocol.plausibility": "pass",
    "protocol.written_by_run": {"with_trace": "pass", "without_trace": "info"},
    "protocol.trace": {"with_trace": "pass", "without_trace": "not-applicable"},
    "declaration.present": "pass", "declaration.complete": "pass",
    "leaderboard.rank": "info", "leaderboard.extrapolation": "info",
    "practice.inner_validation": "info", "practice.features": "info",
}


def case_compliant(challenge):
    return base(challenge), dict(COMPLIANT), "A compliant submission: the template, quick features, boosted trees."


def case_own_split():
    nb = base("B")
    delete(nb, "protocol")
    for test in ("test_results_saved", "test_all_folds_recorded", "test_predictions_valid"):
        delete(nb, test)
    own = '''# My own evaluation: an 80/20 split, as in the course's earlier notebooks.
from sklearn.model_selection import train_test_split
from sklearn.metrics import mean_absolute_error

features = featurise(task.df[input_column])
X_train, X_test, y_train, y_test = train_test_split(features, task.df[target_column], test_size=0.2,
                                                    random_state=42)
model = train_model(X_train, y_train)
print(f"test MAE: {mean_absolute_error(y_test, predict(model, X_test)):.3f} eV")
'''
    nb["cells"].insert(cell_index(nb, "training_testing"), new_cell("code", own, "own_split"))
    return nb, {"protocol.api_used": "fail", "protocol.own_split": "fail", "declaration.complete": "pass"}, \
        "Deleted the locked protocol cell and evaluated on an 80/20 train_test_split instead."


OLD_TEMPLATE_CELLS = [
    ("markdown", "# Research challenge\n\nThis is the work of Corpus Student [CID: 00000000].\n\n## Problem statement\n\n"
                 "Band gaps of inorganic compounds from their composition."),
    ("code", "!pip install matminer --quiet\nimport numpy as np\nimport pandas as pd\n"
             "from matminer.datasets import load_dataset\n\ndf = load_dataset(\"matbench_expt_gap\")\n"
             "fast_mode = True  # use a subset of the data to save time\nif fast_mode:\n"
             "    df = df.sample(n=1500, random_state=41)\nprint(df.shape)"),
    ("markdown", "## Data preparation\n\nI use simple composition features."),
    ("code", "from pymatgen.core import Composition\n\n\ndef features_of(formula):\n"
             "    \"\"\"Mean electronegativity and number of elements.\"\"\"\n"
             "    comp = Composition(formula)\n    return [comp.average_electroneg, len(comp)]\n\n\n"
             "X = np.array([features_of(f) for f in df[\"composition\"]])\ny = df[\"gap expt\"].to_numpy()"),
    ("markdown", "## Model choice and training\n\nA random forest, checked with 5-fold cross-validation."),
    ("code", "from sklearn.ensemble import RandomForestRegressor\n"
             "from sklearn.model_selection import KFold, cross_val_score\n\n"
             "cv = KFold(n_splits=5, shuffle=True, random_state=42)\n"
             "scores = cross_val_score(RandomForestRegressor(n_estimators=50, random_state=42), X, y, cv=cv,\n"
             "                         scoring=\"neg_mean_absolute_error\")\n"
             "print(f\"MAE: {-scores.mean():.3f} +/- {scores.std():.3f} eV\")"),
    ("markdown", "My model reaches an MAE of about 0.75 eV."),
    ("markdown", "## **Large Language Model (LLM) Usage Declaration**\n\n"
                 "- Did you use an LLM (e.g. GPT-3, Gemini, Co-Pilot)? No, I did not use any LLM.\n"
                 "  - Specify tasks (e.g. summarising research)\n  - Were any limitations/biases noted?\n"
                 "  - How did you ensure ethical use?"),
]


def case_old_template():
    cells = [new_cell(kind, text, f"old-{i}") for i, (kind, text) in enumerate(OLD_TEMPLATE_CELLS)]
    nb = {"cells": cells, "metadata": load_release()["metadata"], "nbformat": 4, "nbformat_minor": 5}
    return nb, {"protocol.api_used": "fail", "protocol.own_split": "fail", "protocol.subsample": "fail",
                "protocol.results_file": "fail", "declaration.present": "pass", "declaration.complete": "pass"}, \
        "The course's older template: matminer's load_dataset, fast_mode subsample, KFold(random_state=42); " \
        "never uses the Matbench API (and the old declaration, answered 'No')."


def case_official_folds_without_api():
    cells = [new_cell(kind, text, f"official-{i}") for i, (kind, text) in enumerate(OLD_TEMPLATE_CELLS)]
    src = cells[1]["source"].replace("fast_mode = True", "fast_mode = False")
    cells[1]["source"] = src
    cells[5]["source"] = cells[5]["source"].replace("random_state=42)\n", "random_state=18012019)\n", 1)
    assert "18012019" in cells[5]["source"]
    nb = {"cells": cells, "metadata": load_release()["metadata"], "nbformat": 4, "nbformat_minor": 5}
    return nb, {"protocol.api_used": "warn", "protocol.own_split": "pass", "protocol.subsample": "pass"}, \
        "Older template, but on the full unshuffled data with KFold(5, shuffle=True, random_state=18012019): " \
        "the official folds reproduced without the API."


def case_subsampled():
    nb = base("B")
    replace_in(nb, "model", "def train_model(features: pd.DataFrame, targets: pd.Series):\n"
                            "    \"\"\"Fit on one fold's training data; early stopping on an inner validation split of it.\"\"\"\n",
               "fast_mode = True  # train on a subsample to save time\n\n\n"
               "def train_model(features: pd.DataFrame, targets: pd.Series):\n"
               "    \"\"\"Fit on one fold's training data; early stopping on an inner validation split of it.\"\"\"\n"
               "    if fast_mode:\n"
               "        features = features.sample(n=500, random_state=41)\n"
               "        targets = targets.loc[features.index]\n")
    expected = {**COMPLIANT, "protocol.subsample": "fail"}
    return nb, expected, "fast_mode subsamples each fold's training data to 500 materials."


def case_partial_folds():
    nb = base("B")
    replace_in(nb, "featurise", 'PROPERTIES = ("X", "Z", "row", "group", "atomic_mass", "mendeleev_no")',
               'PROPERTIES = ("X", "Z", "row", "group", "atomic_mass", "atomic_radius")')
    set_source(nb["cells"][cell_index(nb, "model")], '''# k nearest neighbours on standardised features: similar compositions have similar gaps.
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train_model(features: pd.DataFrame, targets: pd.Series):
    """Scale, then k-NN; rows with a missing feature are left out of training."""
    complete = features.notna().all(axis=1)
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=10))
    return model.fit(features[complete], targets[complete])


def predict(model, features: pd.DataFrame):
    """One gap per material."""
    return model.predict(features)
''')
    return nb, {"protocol.results_file": "fail", "protocol.folds_complete": "fail",
                "protocol.preprocessing_leak": "pass", "declaration.complete": "pass"}, \
        "pymatgen has no atomic radius for Xe; the one Xe compound is in test fold 4, so predict() fails " \
        "there: folds 0-3 recorded, no results file."


def case_recorded_twice():
    nb = base("B")
    append_code(nb, "model", '''# Quick check of the pipeline on fold 0 with a mean predictor, before the full run.
check_inputs, check_targets = task.get_train_and_val_data(0)
check_test = task.get_test_data(0, include_target=False)
task.record(0, [float(check_targets.mean())] * len(check_test))
print("fold 0 recorded with the mean predictor")
''')
    expected = {**COMPLIANT, "protocol.record_twice": "fail", "protocol.alignment": "pass"}
    return nb, expected, "Records fold 0 with a mean predictor before the protocol cell: the real fold 0 is ignored."


def case_test_tuning():
    nb = base("B")
    append_code(nb, "model", '''# Choose the learning rate by the error on the test folds.
from sklearn.metrics import mean_absolute_error

tuning_features = featurise(task.df[input_column])
best_rate, best_error = None, float("inf")
for rate in (0.05, 0.2):
    errors = []
    for fold in task.folds[:2]:
        fold_inputs, fold_targets = task.get_train_and_val_data(fold)
        test_inputs, test_targets = task.get_test_data(fold, include_target=True)
        candidate = HistGradientBoostingRegressor(learning_rate=rate, max_iter=100, random_state=seed)
        candidate.fit(tuning_features.loc[fold_inputs.index], fold_targets)
        errors.append(mean_absolute_error(test_targets, candidate.predict(tuning_features.loc[test_inputs.index])))
    if np.mean(errors) < best_error:
        best_rate, best_error = rate, float(np.mean(errors))
print("best learning rate:", best_rate)
''')
    expected = {**COMPLIANT, "protocol.test_targets": "fail", "protocol.test_tuning": "fail"}
    return nb, expected, "Picks the learning rate by the MAE on test folds fetched with include_target=True."


def case_scaler_leak():
    nb = base("B")
    replace_in(nb, "featurise", "    return pd.DataFrame(rows, index=inputs.index, columns=columns)\n",
               "    table = pd.DataFrame(rows, index=inputs.index, columns=columns)\n"
               "    # put every feature on the same scale\n"
               "    return pd.DataFrame(StandardScaler().fit_transform(table), index=table.index, columns=columns)\n")
    replace_in(nb, "featurise", "from pymatgen.core import Composition, Element\n",
               "from pymatgen.core import Composition, Element\nfrom sklearn.preprocessing import StandardScaler\n")
    expected = {**COMPLIANT, "protocol.preprocessing_leak": "fail"}
    return nb, expected, "featurise() standardises the features of all materials at once (scaler fitted before the split)."


def case_misaligned():
    nb = base("B")
    replace_in(nb, "model", "    return model.predict(features)\n",
               "    # sort by electronegativity so that the parity plot is easier to read\n"
               "    return model.predict(features.sort_values(\"mean_X\"))\n")
    expected = {**COMPLIANT, "protocol.alignment": "fail", "leaderboard.rank": "warn"}  # no better than the Dummy
    return nb, expected, "predict() sorts the rows before predicting: predictions no longer match the test ids."


def case_wrong_task():
    nb = base("D", structure=False)
    append_code(nb, "explore_data", '''# I worked on the band gaps.
mb = MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
task = mb.matbench_expt_gap
task.load()
target_column = task.metadata.target
is_classification = False
''')
    return nb, {"protocol.task": "fail", "protocol.results_file": "pass", "declaration.complete": "pass"}, \
        "Allocated D (glass) but re-created the benchmark for expt_gap in a student cell."


def case_copied_results():
    nb = base("B")
    append_code(nb, "analysis", '''# Keep the predictions of my best run from last week.
import shutil

shutil.copy("best_results.json.gz", results_path)
''')
    expected = {**COMPLIANT,
                "protocol.written_by_run": {"with_trace": "fail", "without_trace": "warn"},
                "protocol.scores": "pass"}
    return nb, expected, "Overwrites the protocol's results with a results file shipped with the submission " \
                         "(RF-SCM/Magpie's leaderboard predictions)."


def case_perfect_fake():
    nb = base("B")
    replace_in(nb, "model", "    return model.predict(features)\n",
               "    # calibrate against the reference values\n"
               "    return task.df.loc[features.index, target_column].to_numpy()\n")
    expected = {**COMPLIANT, "protocol.plausibility": "fail", "protocol.full_data_in_loop": "fail"}
    return nb, expected, "predict() looks the targets up in task.df: a perfect score."


def case_no_declaration():
    nb = base("B")
    delete(nb, "llm_declaration")
    expected = {**COMPLIANT, "declaration.present": "fail", "declaration.complete": "not-applicable"}
    return nb, expected, "The LLM usage declaration section was deleted."


def case_declaration_template_only():
    nb = base("B")
    cell = nb["cells"][cell_index(nb, "llm_declaration")]
    set_source(cell, source(load_release()["cells"][cell_index(load_release(), "llm_declaration")]))
    expected = {**COMPLIANT, "declaration.present": "pass", "declaration.complete": "fail"}
    return nb, expected, "The declaration heading with only the template's prompts (YOUR ANSWER HERE)."


def case_declaration_no_llm():
    nb = base("D")
    cell = nb["cells"][cell_index(nb, "llm_declaration")]
    released = source(load_release()["cells"][cell_index(load_release(), "llm_declaration")])
    set_source(cell, released.replace("YOUR ANSWER HERE", "No, I did not use an LLM.", 1)
               .replace("\n\nYOUR ANSWER HERE", ""))
    expected = {**COMPLIANT, "declaration.present": "pass", "declaration.complete": "pass"}
    return nb, expected, "A complete 'No, I did not use an LLM' declaration (the other prompts left unanswered)."


def case_declaration_odd_markdown():
    nb = base("A")
    cell = nb["cells"][cell_index(nb, "llm_declaration")]
    set_source(cell, """##**LLM usage**

| Question | Answer |
|---|---|
| Ethical use | I checked every line it wrote against the scikit-learn documentation and wrote the discussion myself. |
| Tasks | Debugging a pandas indexing error and drafting a plotting function. |
| LLM used? | Yes, Gemini 1.5. |

* Limitations/biases: it invented a matminer featuriser that does not exist.""")
    expected = {**COMPLIANT, "declaration.present": "pass", "declaration.complete": "pass"}
    return nb, expected, "Declaration as `##**LLM usage**` (no space) with a table in another order and a bullet."


def case_declaration_partial():
    nb = base("C")
    fill = copy.deepcopy(load_release())
    released = source(fill["cells"][cell_index(fill, "llm_declaration")])
    text = released.replace("YOUR ANSWER HERE", "Yes, Copilot in VS Code.", 1) \
        .replace("YOUR ANSWER HERE", "Autocompleting the plotting code.", 1)
    set_source(nb["cells"][cell_index(nb, "llm_declaration")], text)
    expected = {**COMPLIANT, "declaration.present": "pass", "declaration.complete": "warn"}
    return nb, expected, "Declaration answers two of the four questions."


# --- notebooks written without the template -------------------------------------------------------
# In the styles of earlier years' submissions and of the official Matbench notebooks: their own
# split, their own loop, matminer's load_dataset, `!pip install`, names and ids in the first cell,
# `##**Title**` headings. Quick on purpose (three composition features, small models).

FREE_HEAD = ("markdown", "##**Research challenge: band gaps**\n\nName: Corpus Student, CID 00000000")
FREE_SETUP = ("code", """!pip install matminer --quiet
import numpy as np
import pandas as pd
from pymatgen.core import Composition


def composition_features(formulas: pd.Series) -> pd.DataFrame:
    \"\"\"Mean electronegativity, number of elements and mass per atom of each composition.\"\"\"
    rows = []
    for formula in formulas:
        comp = Composition(formula)
        rows.append([comp.average_electroneg, len(comp), comp.weight / comp.num_atoms])
    table = pd.DataFrame(rows, columns=["chi", "n_elements", "mass_per_atom"], index=formulas.index)
    return table.fillna(table.mean())
""")
FREE_LOAD = ("code", """from matminer.datasets import load_dataset

df = load_dataset("matbench_expt_gap")
X = composition_features(df["composition"])
y = df["gap expt"]
print(df.shape)
""")
OLD_DECLARATION = """## Large Language Model (LLM) usage declaration

Acknowledge use of a generative model during your assignment. Points to consider:

* State which LLM (e.g. GPT-4, Gemini, Co-Pilot)

* Specify tasks (e.g. summarising research or code snippets)

* Were any limitations/biases noted?

* How did you ensure ethical use?"""
OLD_DECLARATION_FILLED = """## Large Language Model (LLM) usage declaration

Acknowledge use of a generative model during your assignment. Points to consider:

* State which LLM (e.g. GPT-4, Gemini, Co-Pilot): ChatGPT (GPT-4o).

* Specify tasks (e.g. summarising research or code snippets): explaining matminer's featurisers and fixing a pandas error.

* Were any limitations/biases noted? It suggested a featuriser argument that does not exist in this matminer version.

* How did you ensure ethical use? I checked every suggestion against the documentation and wrote the analysis myself."""
FREE_DECLARATION = ("markdown", OLD_DECLARATION_FILLED)
MATBENCH_LOOP = """from matbench.bench import MatbenchBenchmark
from sklearn.ensemble import RandomForestRegressor

mb = MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
for task in mb.tasks:
    task.load()
    for fold in task.folds:
        train_inputs, train_outputs = task.get_train_and_val_data(fold)
        model = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0, n_jobs=1)
        model.fit(composition_features(train_inputs), train_outputs)
        test_inputs = task.get_test_data(fold, include_target=False)
        predictions = model.predict(composition_features(test_inputs))
        task.record(fold, predictions)
    print(task.scores)
mb.to_file("results.json.gz")
"""
FREE_NOT_MATBENCH = {"protocol.api_used": "fail", "protocol.results_file": "fail"}
FREE_MATBENCH = {
    "protocol.api_used": "pass", "protocol.results_file": "pass", "protocol.task": "pass",
    "protocol.folds_complete": "pass", "protocol.test_ids": "pass", "protocol.prediction_values": "pass",
    "protocol.scores": "pass", "protocol.full_data_in_loop": "pass", "protocol.record_twice": "pass",
    "protocol.own_split": "pass", "protocol.subsample": "pass", "protocol.preprocessing_leak": "pass",
    "protocol.test_tuning": "pass", "protocol.alignment": "pass", "protocol.plausibility": "pass",
    "protocol.written_by_run": {"with_trace": "pass", "without_trace": "info"},
    "leaderboard.rank": "info", "declaration.present": "pass", "declaration.complete": "pass",
}


def free(*cells: tuple[str, str]) -> dict:
    """A notebook of the given (kind, text) cells, with the released notebook's kernel metadata."""
    return {"cells": [new_cell(kind, text, f"free-{i}-{text[:40]}") for i, (kind, text) in enumerate(cells)],
            "metadata": load_release()["metadata"], "nbformat": 4, "nbformat_minor": 5}


def case_free_own_split_scaled():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", """from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
scaler = StandardScaler().fit(X_train)  # fitted on the training split only
model = Ridge(alpha=1.0).fit(scaler.transform(X_train), y_train)
print(f"test MAE: {mean_absolute_error(y_test, model.predict(scaler.transform(X_test))):.3f} eV")
"""), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "protocol.own_split": "fail", "protocol.preprocessing_leak": "pass",
                "protocol.test_tuning": "pass", "declaration.complete": "pass"}
    return nb, expected, "Own train_test_split, the scaler fitted on the training split after it (no leak)."


def case_free_kfold_scaler():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", """from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

errors = []
for train_idx, test_idx in KFold(n_splits=5, shuffle=True, random_state=42).split(X):
    scaler = StandardScaler()
    X_tr = scaler.fit_transform(X.iloc[train_idx])  # this fold's training part only
    model = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(X_tr, y.iloc[train_idx])
    errors.append(mean_absolute_error(y.iloc[test_idx], model.predict(scaler.transform(X.iloc[test_idx]))))
print(f"MAE {np.mean(errors):.3f} +/- {np.std(errors):.3f} eV")
"""), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "protocol.own_split": "fail", "protocol.preprocessing_leak": "pass",
                "protocol.test_tuning": "pass"}
    return nb, expected, "Own KFold loop with a StandardScaler fitted inside it on each fold's training part."


def case_free_official_folds_fixed_model():
    loop = MATBENCH_LOOP.replace("""        task.record(fold, predictions)
""", """        task.record(fold, predictions)
        print(f"fold {fold}: MAE {task.results[f'fold_{fold}']['scores']['mae']:.4f} eV")
""")
    nb = free(FREE_HEAD, FREE_SETUP, ("code", loop), ("code", """import matplotlib.pyplot as plt

# Parity plots of the recorded test predictions, fold by fold (evaluation, nothing is chosen here).
truth = mb.matbench_expt_gap.df["gap expt"]
fig, axes = plt.subplots(1, 5, figsize=(15, 3))
for ax, fold in zip(axes, mb.matbench_expt_gap.folds):
    recorded = mb.matbench_expt_gap.results[f"fold_{fold}"]["data"]
    ids = list(recorded)
    ax.scatter(truth.loc[ids], [recorded[i] for i in ids], s=2)
    ax.set_title(f"fold {fold}")
plt.close(fig)
"""), FREE_DECLARATION)
    return nb, dict(FREE_MATBENCH), ("The official Matbench loop with a fixed random forest, the MAE printed per "
                                     "fold and parity plots per fold: evaluation, not tuning.")


def case_free_record_with_std():
    loop = MATBENCH_LOOP.replace("""        predictions = model.predict(composition_features(test_inputs))
        task.record(fold, predictions)""", """        features = composition_features(test_inputs)
        per_tree = np.stack([tree.predict(features.to_numpy()) for tree in model.estimators_])
        predictions, stds = per_tree.mean(axis=0), per_tree.std(axis=0)
        task.record(fold, predictions, std=stds)""")
    nb = free(FREE_HEAD, FREE_SETUP, ("code", loop), FREE_DECLARATION)
    return nb, dict(FREE_MATBENCH), "The official Matbench loop recording an uncertainty: record(fold, p, std=...)."


def case_free_official_one_task():
    nb = free(("markdown", "# Matbench benchmark: a baseline on one task"), ("code", """import numpy as np
from matbench.bench import MatbenchBenchmark

mb = MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
for task in mb.tasks:
    task.load()
    for fold in task.folds:
        train_inputs, train_outputs = task.get_train_and_val_data(fold)
        test_inputs = task.get_test_data(fold, include_target=False)
        # the Dummy: the mean of the fold's training targets
        task.record(fold, np.full(len(test_inputs), train_outputs.mean()))
    mae = task.scores["mae"]
    print(f"{task.dataset_name}: mae = {mae['mean']:.4f} ± {mae['std']:.4f} over the 5 folds")
mb.to_file("results.json.gz")
"""))
    expected = {k: v for k, v in FREE_MATBENCH.items() if not k.startswith("declaration.")}
    # the Dummy is no better than the mean: the alignment check says so (a warning, rightly)
    expected.update({"declaration.present": "fail", "protocol.alignment": "warn", "leaderboard.rank": "warn"})
    return nb, expected, ("An official-style Matbench notebook restricted to one task (the Dummy baseline); its "
                          "printed score is the leaderboard's Dummy, MAE 1.1435 ± 0.0310.")


def case_free_scaler_on_all_rows():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", """from sklearn.preprocessing import StandardScaler

scaler = StandardScaler()
X_scaled = pd.DataFrame(scaler.fit_transform(X), index=X.index, columns=X.columns)  # every row of the data set
# matbench's ids are the rows of load_dataset's table, numbered from 1
X_scaled.index = [f"mb-expt-gap-{i + 1:04d}" for i in range(len(X_scaled))]
"""), ("code", MATBENCH_LOOP.replace("model.fit(composition_features(train_inputs), train_outputs)",
                                     "model.fit(X_scaled.loc[train_inputs.index], train_outputs)")
        .replace("predictions = model.predict(composition_features(test_inputs))",
                 "predictions = model.predict(X_scaled.loc[test_inputs.index])")), FREE_DECLARATION)
    expected = {**FREE_MATBENCH, "protocol.preprocessing_leak": "fail"}
    return nb, expected, ("A StandardScaler fitted on every row of the data set loaded with matminer's "
                          "load_dataset, before the official fold loop: a leak.")


def case_free_repeated_splits():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", """from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

# The same fixed model on five random splits: how much does the test error move?
errors = []
for seed in range(5):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    model = Ridge(alpha=1.0).fit(X_train, y_train)
    errors.append(mean_absolute_error(y_test, model.predict(X_test)))
print(f"MAE {np.mean(errors):.3f} +/- {np.std(errors):.3f} eV over {len(errors)} splits")
"""), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "protocol.own_split": "fail", "protocol.test_tuning": "pass",
                "protocol.preprocessing_leak": "pass"}
    return nb, expected, "Repeated random splits with a fixed model: evaluation, not tuning."


def case_free_data_file_not_handed_in():
    nb = free(FREE_HEAD, FREE_SETUP, ("code", """# My cleaned copy of the data set (made on my laptop).
team = pd.read_csv("team-a.csv")
X = composition_features(team["composition"])
"""), ("code", "print(X.describe())"), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "execution.missing_file": "fail", "execution.cell_errors": "fail"}
    return nb, expected, "Reads team-a.csv, a data file that was not handed in."


def case_free_local_module():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", """# My CrabNet training loop lives in train_crabnet.py.
from train_crabnet import train

model = train(X, y)
"""), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "environment.missing_package": "fail"}
    return nb, expected, "Imports train_crabnet, a module of the student's own that was not handed in."


def case_free_old_declaration_filled():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", "print(X.describe())"),
              ("markdown", OLD_DECLARATION_FILLED), ("code", "# Spare cell\n\n"))
    return nb, {"declaration.present": "pass", "declaration.complete": "pass"}, \
        "The earlier template's declaration (2024/25 wording), answered after each prompt."


def case_free_old_declaration_untouched():
    nb = free(FREE_HEAD, FREE_SETUP, FREE_LOAD, ("code", "print(X.describe())"),
              ("markdown", OLD_DECLARATION), ("code", "# Spare cell\n\n"))
    return nb, {"declaration.present": "pass", "declaration.complete": "fail"}, \
        "The earlier template's declaration left as it was given (its prompts only)."


def case_free_other_task():
    nb = free(FREE_HEAD, FREE_SETUP, ("code", """from matminer.datasets import load_dataset

df = load_dataset("matbench_dielectric")  # refractive index from the structure
print(df.shape)
"""), FREE_DECLARATION)
    expected = {**FREE_NOT_MATBENCH, "protocol.task": "fail"}
    return nb, expected, "Works on matbench_dielectric (an earlier year's task A) although allocated B."


# --- free-form notebooks in the shapes real ones take (issue: every sentence true) -------------------

REPORT_FEATURISER = ("code", """import numpy as np
import pandas as pd
from pymatgen.core import Composition


class CompositionFeaturiser:
    \"\"\"Turns formulas into a few physically motivated descriptors (my own, not matminer's).\"\"\"

    columns = ["chi_mean", "chi_range", "n_elements", "mass_per_atom"]

    def transform(self, formulas: pd.Series) -> pd.DataFrame:
        rows = []
        for formula in formulas:
            comp = Composition(formula)
            chis = [el.X for el in comp.elements]
            rows.append([comp.average_electroneg, max(chis) - min(chis), len(comp), comp.weight / comp.num_atoms])
        table = pd.DataFrame(rows, columns=self.columns, index=formulas.index)
        return table.fillna(table.mean())
""")


def case_free_long_report():
    loop = MATBENCH_LOOP.replace("composition_features(train_inputs)", "featuriser.transform(train_inputs)") \
        .replace("composition_features(test_inputs)", "featuriser.transform(test_inputs)") \
        .replace("mb = MatbenchBenchmark", "featuriser = CompositionFeaturiser()\nmb = MatbenchBenchmark")
    nb = free(
        ("markdown", "# Predicting experimental band gaps\n\nName: Corpus Student (CID 00000000)"),
        ("markdown", "##**Introduction and problem statement**\n\nThe task is to predict the experimental band gap "
                     "of 4,604 inorganic compounds from their composition alone. Band gaps decide whether a "
                     "material is useful for solar cells or LEDs, and measuring them is slow, so a model that "
                     "screens compositions first is valuable. About half of the compounds are metals with a gap "
                     "of exactly zero, which makes the target strongly skewed."),
        REPORT_FEATURISER,
        ("markdown", "##**Data Cleaning**\n\nI checked the data for missing values and duplicate formulas before "
                     "modelling: there are no missing targets, but several formulas appear more than once with "
                     "slightly different measured gaps, and many gaps are exactly zero. I kept the duplicates, "
                     "because the official folds are fixed, and imputed the few missing electronegativities with "
                     "the column mean."),
        ("markdown", "## 3. Feature engineering\n\nMy `CompositionFeaturiser` class computes the mean and the range "
                     "of the Pauling electronegativity, the number of elements and the mass per atom. "
                     "Electronegativity differences relate to ionic bonding and hence to larger gaps."),
        ("markdown", "## Model selection and justification\n\nI chose a random forest regressor because it "
                     "handles non-linear relations between a handful of descriptors and the gap, needs no "
                     "feature scaling and is robust to the many zero targets. A linear model was my baseline; "
                     "a neural network would need far more data than 4,604 compounds."),
        ("code", loop),
        ("markdown", "## Results and validation\n\nI trained and tested the model on the five official Matbench "
                     "folds, recording every fold's predictions. The mean absolute error is about 0.6 eV, with "
                     "little spread between folds, so the model generalises consistently across the splits."),
        ("markdown", "## Comparison with the Matbench leaderboard\n\nThe best model on the leaderboard reaches "
                     "an MAE near 0.33 eV, so mine is well behind, but it is clearly better than the Dummy "
                     "baseline (1.14 eV). More descriptors, e.g. matminer's Magpie set, would close the gap."),
        FREE_DECLARATION)
    # its own sections answer every question and its own class featurises (INFO: evidence found)
    expected = dict(FREE_MATBENCH, **{"practice.features": "info", "practice.answers": "info",
                                      "practice.model_justification": "info"})
    return nb, expected, ("A long report in its own sections (`##**Data Cleaning**`, numbered and plain "
                                     "headings) with a class-based featuriser of its own and the official loop.")


def case_free_benchmark_download_fails():
    loop = MATBENCH_LOOP.replace("composition_features(", "embedding_features(")
    nb = free(
        ("markdown", "# Random forest on element embeddings: matbench_expt_gap\n\nThis benchmark notebook first "
                     "downloads our pre-computed element embeddings, then runs the official Matbench loop."),
        ("code", """import urllib.request
from zipfile import ZipFile

import pandas as pd

url = "https://github.com/corpus-student/element-embeddings/archive/refs/tags/v1.0.zip"
urllib.request.urlretrieve(url, "embeddings.zip")
with ZipFile("embeddings.zip") as archive:
    archive.extractall(".")
embeddings = pd.read_csv("element-embeddings-1.0/elements.csv", index_col=0)
"""),
        ("code", """import numpy as np
from pymatgen.core import Composition


def embedding_features(formulas: pd.Series) -> pd.DataFrame:
    \"\"\"The composition-weighted mean of the element embeddings of each formula.\"\"\"
    rows = []
    for formula in formulas:
        comp = Composition(formula)
        vectors = np.array([embeddings.loc[el.symbol].to_numpy() for el in comp.elements])
        weights = np.array([comp.get_atomic_fraction(el) for el in comp.elements])
        rows.append(weights @ vectors)
    return pd.DataFrame(rows, index=formulas.index)
"""),
        ("code", loop))
    expected = {"protocol.api_used": "pass", "protocol.results_file": "fail", "execution.cell_errors": "fail",
                "execution.network": "warn", "declaration.present": "fail"}
    return nb, expected, ("The official benchmark style (MatbenchBenchmark, get_train_and_val_data, get_test_data, "
                          "record on every fold) whose first code cell fails on a download the sandbox blocks, "
                          "so the loop that records never completes.")


SKELETON_2024 = [
    ("markdown", "# 🔬 Research Challenge\n\nYou will be assigned one of the Matbench tasks. Build an original "
                 "model and compare it with the leaderboard."),
    ("markdown", "## Problem statement\n\nYOUR ANSWER HERE"),
    ("code", "# Installation of libraries\n!pip install matminer --quiet\nimport numpy as np\nimport pandas as pd\n"),
    ("markdown", "## Data preparation\n\nCheck the data distribution and apply appropriate pre-processing steps "
                 "as required."),
    ("code", "# YOUR CODE HERE\n"),
    ("markdown", "Choose relevant features, which may be based on composition or structure. matminer is a great "
                 "place to start."),
    ("code", "# YOUR CODE HERE\n"),
    ("markdown", "## Model choice\n\nDefine your model and justify your choice based on the problem and "
                 "available data. You can look back at earlier notebooks for inspiration."),
    ("code", "# YOUR CODE HERE\n"),
    ("markdown", "## Training and testing\n\nTrain, validate and test your model. Comment on the performance "
                 "metrics. Note the best-performing model on the MatBench leaderboard."),
    ("code", "# YOUR CODE HERE\n"),
    ("markdown", """## Large Language Model (LLM) usage declaration

You should acknowledge any use of a generative model during your assignment. Points to consider:

* State which LLM (e.g. GPT-3, Gemini, Co-Pilot)

* Specify tasks (e.g. summarising research or code snippets)

* Were any limitations/biases noted?

* How did you ensure ethical use?"""),
    ("markdown", "## ☘️ Final word\n\nGood luck building your own model!"),
]


def case_free_2024_skeleton_untouched():
    nb = free(*SKELETON_2024)
    expected = {"protocol.api_used": "fail", "protocol.results_file": "fail", "declaration.present": "pass",
                "declaration.complete": "fail", "practice.answers": "fail", "practice.features": "warn",
                "practice.model_justification": "warn"}
    return nb, expected, "The 2024 template's skeleton handed in untouched: its prompts only, no code."


def case_free_own_mae_after_recording():
    nb = free(FREE_HEAD, FREE_SETUP, ("code", MATBENCH_LOOP), ("code", """from sklearn.metrics import mean_absolute_error

# My own check of the recorded scores, after every fold was recorded: the test targets are read only here.
task = mb.matbench_expt_gap
for fold in task.folds:
    test_inputs, test_targets = task.get_test_data(fold, include_target=True)
    recorded = task.results[f"fold_{fold}"]["data"]
    print(f"fold {fold}: my MAE {mean_absolute_error(test_targets, [recorded[i] for i in test_targets.index]):.4f} eV")
"""), FREE_DECLARATION)
    return nb, dict(FREE_MATBENCH), ("The official loop, then its own MAE per fold from "
                                     "`get_test_data(fold, include_target=True)` after every fold was recorded.")


def case_template_settings_deleted():
    nb = base("B")
    del nb["cells"][next(i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", []))]
    expected = {**COMPLIANT, "execution.cell_errors": "absent"}
    return nb, expected, "The template with its Settings cell deleted: the grader puts it back and runs it."


CASES = {
    "compliant_A_phonons": ("A", lambda: case_compliant("A")),
    "compliant_B_expt_gap": ("B", lambda: case_compliant("B")),
    "compliant_C_perovskites": ("C", lambda: case_compliant("C")),
    "compliant_D_glass": ("D", lambda: case_compliant("D")),
    "own_split": ("B", case_own_split),
    "old_template_no_api": ("B", case_old_template),
    "official_folds_without_api": ("B", case_official_folds_without_api),
    "subsampled": ("B", case_subsampled),
    "partial_folds": ("B", case_partial_folds),
    "recorded_twice": ("B", case_recorded_twice),
    "test_data_tuning": ("B", case_test_tuning),
    "scaler_before_split": ("B", case_scaler_leak),
    "misaligned_predictions": ("B", case_misaligned),
    "wrong_task": ("D", case_wrong_task),
    "copied_results": ("B", case_copied_results),
    "perfect_fake": ("B", case_perfect_fake),
    "no_declaration": ("B", case_no_declaration),
    "declaration_template_only": ("B", case_declaration_template_only),
    "declaration_no_llm": ("D", case_declaration_no_llm),
    "declaration_odd_markdown": ("A", case_declaration_odd_markdown),
    "declaration_partial": ("C", case_declaration_partial),
    "free_own_split_scaled": ("B", case_free_own_split_scaled),
    "free_kfold_scaler": ("B", case_free_kfold_scaler),
    "free_official_folds_fixed_model": ("B", case_free_official_folds_fixed_model),
    "free_record_with_std": ("B", case_free_record_with_std),
    "free_official_one_task": ("B", case_free_official_one_task),
    "free_scaler_on_all_rows": ("B", case_free_scaler_on_all_rows),
    "free_repeated_splits": ("B", case_free_repeated_splits),
    "free_data_file_not_handed_in": ("B", case_free_data_file_not_handed_in),
    "free_local_module": ("B", case_free_local_module),
    "free_old_declaration_filled": ("B", case_free_old_declaration_filled),
    "free_old_declaration_untouched": ("B", case_free_old_declaration_untouched),
    "free_other_task": ("B", case_free_other_task),
    "template_settings_deleted": ("B", case_template_settings_deleted),
    "free_long_report": ("B", case_free_long_report),
    "free_benchmark_download_fails": ("B", case_free_benchmark_download_fails),
    "free_2024_skeleton_untouched": ("B", case_free_2024_skeleton_untouched),
    "free_own_mae_after_recording": ("B", case_free_own_mae_after_recording),
}
# Written without the template (the styles of earlier years and of the official Matbench notebooks).
TEMPLATE_FREE_CASES = {name for name in CASES if name.startswith("free_")}
COMPLIANT_CASES = {"compliant_A_phonons", "compliant_B_expt_gap", "compliant_C_perovskites", "compliant_D_glass",
                   "no_declaration", "declaration_template_only", "declaration_no_llm", "declaration_odd_markdown",
                   "declaration_partial", "free_official_folds_fixed_model", "free_record_with_std",
                   "free_official_one_task", "template_settings_deleted", "free_long_report",
                   "free_own_mae_after_recording"}


def rf_results_file() -> bytes:
    """RF-SCM/Magpie's official expt_gap predictions as a matbench results file (plain JSON, like 0.6)."""
    sys.path.insert(0, str(REPO))
    from autograder.results.file import build_results_dict

    with gzip.open(LEADERBOARD / "rf.json.gz", "rt") as handle:
        board = json.load(handle)
    folds = board["tasks"]["matbench_expt_gap"]
    raw = build_results_dict("matbench_expt_gap", {int(k.split("_")[1]): v["predictions"] for k, v in folds.items()},
                             scores={int(k.split("_")[1]): v["scores"] for k, v in folds.items()},
                             user_metadata={"challenge": "B"}, datestamp="2026.02.20 10:00.00.000000")
    return json.dumps(raw).encode("utf-8")


def build_case(name: str) -> dict[str, bytes]:
    challenge, make = CASES[name]
    nb, expected, description = make()
    files = {NOTEBOOK: (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")}
    meta = {"challenge": challenge, "description": description, "compliant": name in COMPLIANT_CASES,
            "expected": expected}
    files["expected.json"] = (json.dumps(meta, indent=1) + "\n").encode("utf-8")
    if name == "copied_results":
        files["best_results.json.gz"] = rf_results_file()
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in CASES:
        folder = HERE / name
        for file_name, blob in build_case(name).items():
            path = folder / file_name
            if check:
                if not path.is_file() or path.read_bytes() != blob:
                    stale.append(str(path.relative_to(REPO)))
            else:
                folder.mkdir(exist_ok=True)
                path.write_bytes(blob)
    if check and stale:
        print("Stale corpus files (run python tests/corpus/build_corpus.py):\n  " + "\n  ".join(stale))
        return 1
    if not check:
        print(f"wrote {len(CASES)} cases to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
