"""Leak and tuning checks that follow the data (autograder.checks.dataflow.DataFlow): a pre-processing fit
on data that hold test rows before they are separated is a leak, a fit on a training part is not; a choice
made from test scores is tuning, scoring a fixed model on each test fold is evaluation; what the analysis
cannot follow is a warning, never a failure.

The notebooks are written in the styles of real submissions of earlier years (matminer's `load_dataset`,
an 80/20 `train_test_split`, a `KFold` loop, matbench's own `for fold in task.folds` loop), without the
released template and its locked protocol cell."""

from __future__ import annotations

import nbformat
import pytest
from checks_support import RELEASED

from autograder.checks import run_checks
from autograder.checks.context import CheckContext

LEAK, TUNING = "protocol.preprocessing_leak", "protocol.test_tuning"

LOAD = """!pip install matminer --quiet
import numpy as np  # Numerical operations
import pandas as pd  # DataFrames
from matminer.datasets import load_dataset

df = load_dataset("matbench_expt_gap")
print(df.shape)
"""

FEATURES = """from matminer.featurizers.composition import ElementProperty
from matminer.featurizers.conversions import StrToComposition

df = StrToComposition().featurize_dataframe(df, "composition", target_col_id="comp")
featurizer = ElementProperty.from_preset("magpie")
df = featurizer.featurize_dataframe(df, col_id="comp", ignore_errors=True)
X = df.drop(columns=["composition", "comp", "gap expt"]).fillna(0)
y = df["gap expt"]
"""

SPLIT = """from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
"""

RF = """from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error
"""
# a forest fitted on the training part and scored on the test part of the SPLIT
RF_ON_THE_SPLIT = (
    RF
    + """model = RandomForestRegressor().fit(X_train, y_train)
print(mean_absolute_error(y_test, model.predict(X_test)))
"""
)

MATBENCH = """from matbench.bench import MatbenchBenchmark

mb = MatbenchBenchmark(autoload=False, subset=["matbench_expt_gap"])
task = mb.matbench_expt_gap
task.load()
"""


def notebook(*cells: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Research challenge: band gaps")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


def findings(tmp_path, *cells: str, only=(LEAK, TUNING)) -> dict:
    path = tmp_path / "submission.ipynb"
    nbformat.write(notebook(*cells), path)
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    found = {f.check_id: f for f in run_checks(ctx, only=list(only))}
    assert ctx.flow.problems == [], ctx.flow.problems  # the analysis followed every statement
    return found


def leak(tmp_path, *cells: str):
    return findings(tmp_path, *cells, only=(LEAK,))[LEAK]


def tuning(tmp_path, *cells: str):
    return findings(tmp_path, *cells, only=(TUNING,))[TUNING]


# --- not a leak: fitted on a training part ------------------------------------------------------------


def test_scaler_fitted_on_x_train_after_the_split_is_not_a_leak(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.preprocessing import StandardScaler

scaler = StandardScaler()
X_train_s = scaler.fit_transform(X_train)
X_test_s = scaler.transform(X_test)
model = RandomForestRegressor(n_estimators=100, random_state=42).fit(X_train_s, y_train)
print("MAE:", mean_absolute_error(y_test, model.predict(X_test_s)))
""",
    )
    assert found.status == "pass", found.message


def test_scaler_fitted_in_place_on_x_train_is_not_a_leak(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        """from sklearn.preprocessing import StandardScaler

sc = StandardScaler()
sc.fit(X_train)
X_train = sc.transform(X_train)
X_test = sc.transform(X_test)
""",
        RF
        + """rf = RandomForestRegressor(random_state=0)
rf.fit(X_train, y_train)
print(mean_absolute_error(y_test, rf.predict(X_test)))
""",
    )
    assert found.status == "pass", found.message


def test_scaler_fitted_inside_an_own_kfold_loop_is_not_a_leak(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

X = X.to_numpy()
y = y.to_numpy()
maes = []
kf = KFold(n_splits=5, shuffle=True, random_state=42)
for i, (train_idx, test_idx) in enumerate(kf.split(X)):
    scaler = StandardScaler().fit(X[train_idx])
    model = RandomForestRegressor(n_estimators=100).fit(scaler.transform(X[train_idx]), y[train_idx])
    maes.append(mean_absolute_error(y[test_idx], model.predict(scaler.transform(X[test_idx]))))
print(f"MAE {np.mean(maes):.3f} +/- {np.std(maes):.3f}")
""",
    )
    assert found.status == "pass", found.message


def test_pipeline_fitted_on_x_train_is_not_a_leak(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pipe = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=200, random_state=1))
pipe.fit(X_train, y_train)
print(mean_absolute_error(y_test, pipe.predict(X_test)))
""",
    )
    assert found.status == "pass", found.message


def test_scaler_fitted_on_each_official_fold_training_part_is_not_a_leak(tmp_path):
    found = leak(
        tmp_path,
        MATBENCH,
        RF
        + """from sklearn.preprocessing import StandardScaler
from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

ep = ElementProperty.from_preset("magpie")
for fold in task.folds:
    train_inputs, train_outputs = task.get_train_and_val_data(fold)
    X_tr = np.array([ep.featurize(Composition(c)) for c in train_inputs])
    scaler = StandardScaler().fit(X_tr)
    model = RandomForestRegressor().fit(scaler.transform(X_tr), train_outputs)
    test_inputs = task.get_test_data(fold, include_target=False)
    X_te = np.array([ep.featurize(Composition(c)) for c in test_inputs])
    task.record(fold, model.predict(scaler.transform(X_te)))
mb.to_file("results.json.gz")
""",
    )
    assert found.status == "pass", found.message


# --- leaks: fitted on the whole data set, however it was loaded ------------------------------------------

OFFICIAL_LOOP = (
    RF
    + """for fold in task.folds:
    train_inputs, train_outputs = task.get_train_and_val_data(fold)
    test_inputs = task.get_test_data(fold, include_target=False)
    model = RandomForestRegressor(n_estimators=100, random_state=0)
    model.fit(X_scaled.loc[train_inputs.index], train_outputs)
    task.record(fold, model.predict(X_scaled.loc[test_inputs.index]))
"""
)


def test_scaler_on_load_dataset_features_before_the_official_folds_leaks(tmp_path):
    """Point 8: the whole data set loaded with matminer's load_dataset, not through task.df."""
    scale = """from sklearn.preprocessing import StandardScaler

scaler = StandardScaler()
scaler.fit(X)
X_scaled = pd.DataFrame(scaler.transform(X), index=X.index, columns=X.columns)
"""
    load = LOAD.replace(
        'df = load_dataset("matbench_expt_gap")',
        'df = load_dataset("matbench_expt_gap")\n'
        'df.index = [f"mb-expt-gap-{i + 1:04d}" '
        "for i in range(len(df))]",
    )
    found = leak(tmp_path, load, FEATURES, scale, MATBENCH, OFFICIAL_LOOP)
    assert found.status == "fail", found.message
    assert "`scaler.fit(X)` in cell 4" in found.message
    assert 'load_dataset("matbench_expt_gap")' in found.message and "cell 2" in found.message
    assert "StandardScaler" in found.message and "before the data are split" in found.message
    assert "Pipeline" in found.advice


def test_scaler_on_task_df_features_before_the_official_folds_leaks(tmp_path):
    features = FEATURES.replace(
        "df = StrToComposition().featurize_dataframe(df,",
        "df = StrToComposition().featurize_dataframe(task.df,",
    )
    scale = """from sklearn.preprocessing import StandardScaler

X_scaled = pd.DataFrame(StandardScaler().fit_transform(X), index=X.index)
"""
    found = leak(
        tmp_path, "import numpy as np\nimport pandas as pd\n", MATBENCH, features, scale, OFFICIAL_LOOP
    )
    assert found.status == "fail", found.message
    assert "task.df" in found.message


def test_scaler_on_a_csv_copy_of_the_data_set_before_the_split_leaks(tmp_path):
    found = leak(
        tmp_path,
        """import pandas as pd
from sklearn.preprocessing import MinMaxScaler

data = pd.read_csv("expt_gap.csv")
X = data.drop(columns=["composition", "gap expt"])
y = data["gap expt"]
X = MinMaxScaler().fit_transform(X)
""",
        SPLIT,
        RF_ON_THE_SPLIT,
    )
    assert found.status == "fail", found.message
    assert "MinMaxScaler" in found.message and 'read_csv("expt_gap.csv")' in found.message


def test_scaler_on_an_unnamed_file_then_split_leaks(tmp_path):
    """A file the analysis cannot name is the data set once it is split into training and test parts."""
    found = leak(
        tmp_path,
        """import pandas as pd
from sklearn.preprocessing import StandardScaler

features = pd.read_pickle("featurised.pkl")
X = StandardScaler().fit_transform(features.drop(columns=["target"]))
y = features["target"]
""",
        SPLIT,
        RF_ON_THE_SPLIT,
    )
    assert found.status == "fail", found.message
    assert "split into training and test parts only later" in found.message


def test_scaler_on_the_whole_data_then_cross_validation_leaks(tmp_path):
    """Notebook 3/7's pattern: scale everything, then cross_val_score."""
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

X_s = StandardScaler().fit_transform(X)
scores = cross_val_score(RandomForestRegressor(), X_s, y, cv=5, scoring="neg_mean_absolute_error")
print(-scores.mean())
""",
    )
    assert found.status == "fail", found.message
    assert "cross-validated" in found.message


def test_pca_on_the_whole_data_for_a_plot_is_a_warning(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        """import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

coords = PCA(n_components=2).fit_transform(X)
plt.scatter(coords[:, 0], coords[:, 1], c=y, s=3)
""",
        SPLIT,
        RF_ON_THE_SPLIT,
    )
    assert found.status == "warn", found.message
    assert "PCA" in found.message


def test_scaler_fitted_on_the_test_part_alone_is_a_warning(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.preprocessing import StandardScaler

X_train_s = StandardScaler().fit_transform(X_train)
X_test_s = StandardScaler().fit_transform(X_test)
model = RandomForestRegressor().fit(X_train_s, y_train)
print(mean_absolute_error(y_test, model.predict(X_test_s)))
""",
    )
    assert found.status == "warn" and "test data alone" in found.message, found.message


# --- what the analysis cannot follow: a warning, never a failure -------------------------------------------


def test_split_by_a_helper_the_analysis_cannot_follow_is_a_warning(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        """from my_utils import make_train_test  # the student's own module
from sklearn.preprocessing import StandardScaler

X_train, X_test, y_train, y_test = make_train_test(X, y)
scaler = StandardScaler().fit(X_train)
""",
        RF
        + """model = RandomForestRegressor().fit(scaler.transform(X_train), y_train)
print(mean_absolute_error(y_test, model.predict(scaler.transform(X_test))))
""",
    )
    assert found.status == "warn", found.message
    assert "make_train_test" in found.message


def test_a_name_rebound_to_the_whole_data_and_to_a_training_part_is_a_warning(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        """from sklearn.preprocessing import StandardScaler

features = X
scaler = StandardScaler().fit(features)
""",
        SPLIT + "features = X_train\n",
        RF
        + """model = RandomForestRegressor().fit(scaler.transform(X_train), y_train)
print(mean_absolute_error(y_test, model.predict(scaler.transform(X_test))))
""",
    )
    assert found.status == "warn", found.message
    assert "`features` is assigned both" in found.message


def test_a_manual_slice_of_the_rows_is_a_warning(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.preprocessing import StandardScaler

n = int(0.8 * len(X))
X_train, X_test, y_train, y_test = X[:n], X[n:], y[:n], y[n:]
scaler = StandardScaler().fit(X_train)
model = RandomForestRegressor().fit(scaler.transform(X_train), y_train)
print(mean_absolute_error(y_test, model.predict(scaler.transform(X_test))))
""",
    )
    assert found.status == "warn", found.message


def test_a_fit_inside_a_function_called_through_apply_is_never_a_failure(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        """from sklearn.preprocessing import StandardScaler


def scale_group(group):
    return pd.DataFrame(StandardScaler().fit_transform(group), index=group.index)


X_scaled = X.groupby(df["comp"].astype(str)).apply(scale_group)
""",
        SPLIT.replace("train_test_split(X,", "train_test_split(X_scaled,"),
        RF_ON_THE_SPLIT,
    )
    assert found.status == "warn", found.message


# --- evaluation is not tuning ---------------------------------------------------------------------------

FOLD_FEATURES = """from matminer.featurizers.composition import ElementProperty
from pymatgen.core import Composition

ep = ElementProperty.from_preset("magpie")


def featurize(compositions):
    return np.array([ep.featurize(Composition(c)) for c in compositions])
"""


def test_a_fixed_model_scored_on_each_official_test_fold_is_evaluation(tmp_path):
    """Point 4: matbench's documented loop, scoring each fold with the test targets."""
    found = findings(
        tmp_path,
        MATBENCH,
        FOLD_FEATURES,
        RF
        + """maes = []
for fold in task.folds:
    train_inputs, train_outputs = task.get_train_and_val_data(fold)
    model = RandomForestRegressor(n_estimators=500, random_state=0)
    model.fit(featurize(train_inputs), train_outputs)
    test_inputs, y_test = task.get_test_data(fold, include_target=True)
    preds = model.predict(featurize(test_inputs))
    maes.append(mean_absolute_error(y_test, preds))
    print(f"fold {fold}: MAE = {mean_absolute_error(y_test, preds):.3f}")
    task.record(fold, preds)
print("mean MAE", np.mean(maes), "+/-", np.std(maes), "best fold", min(maes))
""",
    )
    assert found[TUNING].status == "pass", found[TUNING].message
    assert found[LEAK].status == "pass", found[LEAK].message


def test_a_parity_plot_per_fold_is_evaluation(tmp_path):
    found = tuning(
        tmp_path,
        MATBENCH,
        FOLD_FEATURES,
        RF
        + """import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 5, figsize=(20, 4))
for fold, ax in zip(task.folds, axes):
    train_inputs, train_outputs = task.get_train_and_val_data(fold)
    model = RandomForestRegressor(random_state=0).fit(featurize(train_inputs), train_outputs)
    test_inputs, test_outputs = task.get_test_data(fold, include_target=True)
    preds = model.predict(featurize(test_inputs))
    ax.scatter(test_outputs, preds, s=2)
    ax.set_title(f"fold {fold}: MAE {np.mean(np.abs(test_outputs - preds)):.2f} eV")
""",
    )
    assert found.status == "pass", found.message


def test_repeated_splits_with_a_fixed_model_are_evaluation(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.model_selection import train_test_split

scores = []
for seed in range(5):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=seed)
    model = RandomForestRegressor(n_estimators=100, random_state=seed).fit(X_tr, y_tr)
    scores.append(mean_absolute_error(y_te, model.predict(X_te)))
print(f"MAE over 5 splits: {np.mean(scores):.3f} +/- {np.std(scores):.3f}")
""",
    )
    assert found.status == "pass", found.message


def test_a_search_on_the_training_part_is_not_tuning_on_test_data(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.model_selection import GridSearchCV

search = GridSearchCV(RandomForestRegressor(), {"max_depth": [5, 10, None]}, cv=5)
search.fit(X_train, y_train)
print(search.best_params_, mean_absolute_error(y_test, search.predict(X_test)))
""",
    )
    assert found.status == "pass", found.message


# --- tuning: a choice made from test scores ---------------------------------------------------------------


def test_best_depth_by_test_error_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """best, best_depth = float("inf"), None
for depth in (3, 5, 8):
    model = RandomForestRegressor(max_depth=depth).fit(X_train, y_train)
    mae_test = mean_absolute_error(y_test, model.predict(X_test))
    if mae_test < best:
        best, best_depth = mae_test, depth
print("best depth", best_depth)
""",
    )
    assert found.status == "fail", found.message
    assert "`mae_test < best` in cell 5" in found.message and "(3, 5, 8)" in found.message


def test_argmin_over_test_scores_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """estimators = [50, 100, 200, 400]
errors = []
for n in estimators:
    rf = RandomForestRegressor(n_estimators=n, random_state=0)
    rf.fit(X_train, y_train)
    errors.append(mean_absolute_error(y_test, rf.predict(X_test)))
best_n = estimators[int(np.argmin(errors))]
""",
    )
    assert found.status == "fail", found.message
    assert "argmin" in found.message


def test_choosing_the_model_by_test_score_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

models = {"ridge": Ridge(), "knn": KNeighborsRegressor(), "rf": RandomForestRegressor()}
results = {name: mean_absolute_error(y_test, m.fit(X_train, y_train).predict(X_test)) for name, m in models.items()}
best_name = min(results, key=results.get)
""",
    )
    assert found.status == "fail", found.message


def test_choosing_features_by_test_error_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.feature_selection import SelectKBest, f_regression

errors = {}
for k in (10, 20, 40):
    selector = SelectKBest(f_regression, k=k).fit(X_train, y_train)
    model = RandomForestRegressor().fit(selector.transform(X_train), y_train)
    errors[k] = mean_absolute_error(y_test, model.predict(selector.transform(X_test)))
best_k = sorted(errors.items(), key=lambda item: item[1])[0][0]
""",
    )
    assert found.status == "fail", found.message


def test_early_stopping_on_the_test_part_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        """from xgboost import XGBRegressor

model = XGBRegressor(n_estimators=2000, early_stopping_rounds=50)
model.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
""",
    )
    assert found.status == "fail", found.message
    assert "eval_set" in found.message


def test_early_stopping_on_an_inner_validation_part_is_fine(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        """from xgboost import XGBRegressor
from sklearn.model_selection import train_test_split

X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.1, random_state=0)
model = XGBRegressor(n_estimators=2000, early_stopping_rounds=50)
model.fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
""",
    )
    assert found.status == "pass", found.message


def test_grid_search_fitted_with_the_test_data_is_tuning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.model_selection import GridSearchCV

search = GridSearchCV(RandomForestRegressor(), {"max_depth": [5, 10, None]}, cv=3)
search.fit(X_test, y_test)
model = RandomForestRegressor(**search.best_params_).fit(X_train, y_train)
""",
    )
    assert found.status == "fail", found.message


def test_tuning_through_test_scores_the_analysis_cannot_follow_is_a_warning(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from joblib import Parallel, delayed


def test_error(depth):
    model = RandomForestRegressor(max_depth=depth).fit(X_train, y_train)
    return mean_absolute_error(y_test, model.predict(X_test))


depths = [4, 8, 16]
errors = Parallel(n_jobs=2)(delayed(test_error)(d) for d in depths)
best_depth = depths[int(np.argmin(errors))]
""",
    )
    assert found.status == "warn", found.message


def test_tuning_inside_a_function_is_followed(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """def test_error(depth):
    model = RandomForestRegressor(max_depth=depth).fit(X_train, y_train)
    return mean_absolute_error(y_test, model.predict(X_test))


scores = {depth: test_error(depth) for depth in (4, 8, 16)}
best_depth = min(scores, key=scores.get)
""",
    )
    assert found.status == "fail", found.message


@pytest.mark.parametrize(
    "objective_body, expected",
    [
        (
            "    model = RandomForestRegressor(max_depth=int(params[0])).fit(X_train, y_train)\n"
            "    return mean_absolute_error(y_test, model.predict(X_test))\n",
            "fail",
        ),
        (
            "    from sklearn.model_selection import cross_val_score\n"
            "    model = RandomForestRegressor(max_depth=int(params[0]))\n"
            "    return -cross_val_score(model, X_train, y_train, cv=3).mean()\n",
            "pass",
        ),
    ],
)
def test_bayesian_optimisation_of_a_test_score(tmp_path, objective_body, expected):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF + "from skopt import gp_minimize\n\n\n"
        "def objective(params):\n" + objective_body + "\n\n"
        "result = gp_minimize(objective, [(2, 30)], n_calls=20, random_state=0)\n",
    )
    assert found.status == expected, found.message


# --- shapes of real submissions -----------------------------------------------------------------------------


def test_official_folds_kept_in_a_dict_of_records_are_followed(tmp_path):
    """The official folds collected first (`splits[fold] = {"X_train": ..., "X_test": ...}`), then a suite of fixed
    models scaled and scored on each: no leak, and comparing several fixed models is not tuning."""
    found = findings(
        tmp_path,
        MATBENCH,
        FOLD_FEATURES,
        RF
        + """from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler


def get_splits(task):
    splits = {}
    for fold in task.folds:
        X_train, y_train = task.get_train_and_val_data(fold)
        X_test, y_test = task.get_test_data(fold, include_target=True)
        splits[fold] = {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    return splits


suite = {"linear": LinearRegression(), "rf": RandomForestRegressor(n_estimators=300, random_state=0)}
scores = {name: [] for name in suite}
for fold, data in get_splits(task).items():
    scaler = StandardScaler()
    X_tr = scaler.fit_transform(featurize(data["X_train"]))
    X_te = scaler.transform(featurize(data["X_test"]))
    for name, model in suite.items():
        model.fit(X_tr, data["y_train"])
        scores[name].append(mean_absolute_error(data["y_test"], model.predict(X_te)))
for name, maes in scores.items():
    print(name, np.mean(maes), np.std(maes))
""",
    )
    assert found[LEAK].status == "pass", found[LEAK].message
    assert found[TUNING].status == "pass", found[TUNING].message


def test_two_stage_model_tuned_on_the_training_part_in_a_main_function(tmp_path):
    """A script-style notebook: everything inside `main()`, pipelines built from a shared list of steps, searches on
    the training part, one score on the test part."""
    found = findings(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR


def main():
    nonmetal = y > 0
    X_tr, X_te, y_tr, y_te = train_test_split(X[nonmetal], y[nonmetal], test_size=0.2, random_state=42)
    steps = [("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]
    search = GridSearchCV(Pipeline(steps + [("svr", SVR())]), {"svr__C": [1, 10, 100]}, cv=5)
    search.fit(X_tr, y_tr)
    print(search.best_params_, mean_absolute_error(y_te, search.best_estimator_.predict(X_te)))


if __name__ == "__main__":
    main()
""",
    )
    assert found[LEAK].status == "pass", found[LEAK].message
    assert found[TUNING].status == "pass", found[TUNING].message


def test_the_same_pipeline_fitted_on_every_row_and_scored_leaks(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

steps = [("scaler", StandardScaler())]
pipe = Pipeline(steps + [("rf", RandomForestRegressor())])
pipe.fit(X, y)
print(mean_absolute_error(y_test, pipe.predict(X_test)))
""",
    )
    assert found.status == "fail" and "StandardScaler" in found.message, found.message


def test_code_the_analysis_gives_up_on_is_a_warning_not_a_pass(tmp_path, monkeypatch):
    """Past its budget the analysis stops; a scaler fitted in the code it did not reach is left to the marker."""
    from autograder.checks.dataflow.interpreter import DataFlow

    monkeypatch.setattr(DataFlow, "BUDGET", 40)  # the whole notebook takes about 60 steps
    path = tmp_path / "submission.ipynb"
    nbformat.write(
        notebook(
            LOAD,
            FEATURES,
            """from sklearn.preprocessing import StandardScaler

X = StandardScaler().fit_transform(X)
""",
            SPLIT,
        ),
        path,
    )
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    found = {f.check_id: f for f in run_checks(ctx, only=[LEAK])}[LEAK]
    assert not ctx.flow.complete
    assert found.status == "warn" and "StandardScaler().fit_transform(X)" in found.message, found.message


def test_a_variable_called_all_features_is_not_the_protocol_s_outside_the_template(tmp_path):
    found = leak(
        tmp_path,
        LOAD,
        FEATURES,
        SPLIT,
        RF
        + """from sklearn.preprocessing import StandardScaler

all_features = X_train
scaler = StandardScaler().fit(all_features)
model = RandomForestRegressor().fit(scaler.transform(X_train), y_train)
print(mean_absolute_error(y_test, model.predict(scaler.transform(X_test))))
""",
    )
    assert found.status == "pass", found.message


def test_a_search_on_every_row_used_as_the_model_is_tuning_with_test_rows(tmp_path):
    found = tuning(
        tmp_path,
        LOAD,
        FEATURES,
        RF
        + """from sklearn.model_selection import RandomizedSearchCV, train_test_split

search = RandomizedSearchCV(RandomForestRegressor(), {"max_depth": [4, 8, 16, None]}, n_iter=4, cv=5)
search.fit(X, y)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
print(mean_absolute_error(y_test, search.predict(X_test)))
""",
    )
    assert found.status == "fail" and "RandomizedSearchCV" in found.message, found.message
