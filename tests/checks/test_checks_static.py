"""Static signals in the code (Python's ast, magics stripped): own splits, subsampling, pre-processing
fitted before the split, tuning / early stopping on test data, the whole data set inside the fold
loop, reordered predictions, own `record` calls; and the code checks (ruff, annotation,
organisation, execution order, errors left)."""

from __future__ import annotations

import dataclasses

import pytest
from checks_support import (
    RELEASED,
    add_cell,
    corpus_notebook,
    released,
    source_of,
    with_cells,
    without,
    write_notebook,
)

from autograder.checks import NOTEBOOK, REGISTRY, RESULTS, TRUTH, Need, check, registry, run_checks
from autograder.checks.context import CheckContext
from autograder.checks.notebook import strip_magics
from autograder.findings import UnknownFindingError, kind
from autograder.records import COULD_NOT_RUN, MARKER

BASE = corpus_notebook("compliant_B_expt_gap")
MODEL = source_of(BASE, "model")
FEATURISE = source_of(BASE, "featurise")


def run(tmp_path, nb, only=("protocol", "code")):
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    return {f.check_id: f for f in run_checks(ctx, only=list(only))}


def status(tmp_path, nb, check_id):
    return run(tmp_path, nb, only=(check_id,))[check_id]


def extra(code: str, after: str = "model") -> dict:
    return add_cell(BASE, after, code)


def test_compliant_code_has_no_static_signal(tmp_path):
    found = run(tmp_path, BASE)
    for check_id in (
        "protocol.api_used",
        "protocol.own_split",
        "protocol.subsample",
        "protocol.preprocessing_leak",
        "protocol.test_tuning",
        "protocol.test_targets",
        "protocol.full_data_in_loop",
        "protocol.record_twice",
        "protocol.alignment",
    ):
        assert found[check_id].status == "pass", (check_id, found[check_id].message)


# --- splits ---------------------------------------------------------------------------------------


def test_own_split_next_to_the_protocol_is_a_warning(tmp_path):
    nb = extra(
        "from sklearn.model_selection import train_test_split\n"
        "X_tr, X_te, y_tr, y_te = train_test_split(all_features, task.df[target_column], test_size=0.2)\n",
        after="test_predictions_valid",
    )
    assert status(tmp_path, nb, "protocol.own_split").status == "warn"


def test_own_split_instead_of_the_protocol_fails(tmp_path):
    nb = without(BASE, "protocol")
    nb = add_cell(
        nb,
        "model",
        "from sklearn.model_selection import KFold, cross_val_score\n"
        "scores = cross_val_score(train_model, featurise(task.df[input_column]), "
        "task.df[target_column], cv=KFold(5, shuffle=True, random_state=0))\n",
    )
    found = run(tmp_path, nb)
    assert found["protocol.own_split"].status == "fail"
    assert found["protocol.api_used"].status == "fail"
    assert "not followed" in found["protocol.api_used"].message


def test_inner_split_inside_train_model_is_fine(tmp_path):
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    from sklearn.model_selection import GridSearchCV, KFold\n"
        "    search = GridSearchCV(model, {'max_iter': [50, 100]}, cv=KFold(3, shuffle=True))\n"
        "    return search.fit(features, targets).best_estimator_\n",
    )
    assert model != MODEL
    found = run(tmp_path, with_cells(BASE, model=model), only=("protocol", "practice.inner_validation"))
    assert found["protocol.own_split"].status == "pass"
    assert found["protocol.test_tuning"].status == "pass"
    assert "GridSearchCV" in found["practice.inner_validation"].message


MODEL_CLASS = '''from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, cross_val_predict


class TunedModel:
    """Chooses the number of iterations by an inner cross-validation of the training data."""

    def fit(self, features, targets):
        inner = KFold(3, shuffle=True, random_state=0)
        scores = {n: abs(cross_val_predict(HistGradientBoostingRegressor(max_iter=n), features, targets,
                                           cv=inner) - targets).mean() for n in (50, 100)}
        self.model = HistGradientBoostingRegressor(max_iter=min(scores, key=scores.get)).fit(features, targets)
        return self

    def predict(self, features):
        return self.model.predict(features)


def train_model(features, targets):
    return TunedModel().fit(features, targets)


def predict(model, features):
    return model.predict(features)
'''


def test_inner_split_inside_a_model_class_is_fine(tmp_path):
    """A split in the `fit` of the student's own model class, used by train_model, is inner validation
    (and a method called `predict` is not mistaken for the notebook's `predict`)."""
    found = run(tmp_path, with_cells(BASE, model=MODEL_CLASS), only=("protocol", "practice.inner_validation"))
    assert found["protocol.own_split"].status == "pass", found["protocol.own_split"].message
    assert "inner validation" in found["protocol.own_split"].message
    assert "KFold" in found["practice.inner_validation"].message


def test_grouped_split_next_to_the_protocol_is_an_extrapolation_test(tmp_path):
    nb = extra(
        "from sklearn.model_selection import GroupKFold\n"
        "groups = task.df[input_column].astype(str)\n"
        "for train, test in GroupKFold(3).split(all_features, groups=groups):\n    pass\n",
        after="test_predictions_valid",
    )
    found = status(tmp_path, nb, "protocol.own_split")
    assert found.status == "pass" and "extrapolation" in found.message


def test_official_folds_reproduced_without_the_api(tmp_path):
    nb = without(BASE, "protocol")
    nb = add_cell(
        nb,
        "model",
        "from sklearn.model_selection import KFold\n"
        "folds = KFold(n_splits=5, shuffle=True, random_state=18012019)\n"
        "for train, test in folds.split(task.df):\n    pass\n",
    )
    found = run(tmp_path, nb)
    assert found["protocol.api_used"].status == "warn"
    assert found["protocol.own_split"].status == "pass"


# --- subsampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        ("fast_mode = True\nif fast_mode:\n    small = task.df.sample(n=1500, random_state=41)\n", "fail"),
        ("fast_mode = False\nif fast_mode:\n    task.df = task.df.sample(n=1500, random_state=41)\n", "pass"),
        ("df = task.df.sample(n=1000)\n", "fail"),
        ("task.df.sample(500).plot.scatter(x=0, y=1)\n", "warn"),
        ("shuffled = task.df.sample(frac=1, random_state=0)\n", "pass"),
    ],
)
def test_subsampling(tmp_path, code, expected):
    assert status(tmp_path, extra(code, after="explore_data"), "protocol.subsample").status == expected


def test_subsample_inside_train_model(tmp_path):
    model = MODEL.replace(
        '    """Fit on one fold\'s training data; early stopping on an inner validation split of it."""\n',
        '    """Fit on a subsample."""\n    features = features.sample(n=300)\n'
        "    targets = targets.loc[features.index]\n",
    )
    assert model != MODEL
    assert status(tmp_path, with_cells(BASE, model=model), "protocol.subsample").status == "fail"


# --- leakage ----------------------------------------------------------------------------------------


def test_scaler_fitted_in_featurise(tmp_path):
    feat = FEATURISE.replace(
        "    return pd.DataFrame(rows, index=inputs.index, columns=columns)\n",
        "    from sklearn.preprocessing import MinMaxScaler\n"
        "    return pd.DataFrame(MinMaxScaler().fit_transform(rows), index=inputs.index, "
        "columns=columns)\n",
    )
    assert feat != FEATURISE
    finding = status(tmp_path, with_cells(BASE, featurise=feat), "protocol.preprocessing_leak")
    assert finding.status == "fail" and "MinMaxScaler" in finding.message


def test_top_level_selector_used_by_the_model_leaks(tmp_path):
    nb = extra(
        "from sklearn.feature_selection import SelectKBest, f_regression\n"
        "selector = SelectKBest(f_regression, k=5)\n"
        "selector.fit(featurise(task.df[input_column]), task.df[target_column])\n",
        after="featurise",
    )
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    return model.fit(selector.transform(features), targets)\n",
    )
    finding = status(tmp_path, with_cells(nb, model=model), "protocol.preprocessing_leak")
    assert finding.status == "fail"


def test_smote_before_the_folds_leaks_when_the_model_uses_it(tmp_path):
    nb = extra(
        "from imblearn.over_sampling import SMOTE\n"
        "X_res, y_res = SMOTE().fit_resample(all_features, task.df[target_column])\n",
        after="featurise",
    )
    model = MODEL.replace("    return model.fit(features, targets)\n", "    return model.fit(X_res, y_res)\n")
    assert model != MODEL
    finding = status(tmp_path, with_cells(nb, model=model), "protocol.preprocessing_leak")
    assert finding.status == "fail" and "SMOTE" in finding.message, finding.message


def test_smote_on_all_the_data_that_nothing_uses_is_a_warning(tmp_path):
    """Fitted on every material, but its result never reaches the model: a warning for the marker."""
    nb = extra(
        "from imblearn.over_sampling import SMOTE\n"
        "X_res, y_res = SMOTE().fit_resample(all_features, task.df[target_column])\n",
        after="featurise",
    )
    finding = status(tmp_path, nb, "protocol.preprocessing_leak")
    assert finding.status == "warn" and "SMOTE" in finding.message, finding.message


def test_scaler_inside_train_model_is_fine(tmp_path):
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    from sklearn.pipeline import make_pipeline\n"
        "    from sklearn.preprocessing import StandardScaler\n"
        "    return make_pipeline(StandardScaler(), model).fit(features, targets)\n",
    )
    assert status(tmp_path, with_cells(BASE, model=model), "protocol.preprocessing_leak").status == "pass"


SCALED_MODEL = MODEL.replace(
    "def train_model(",
    '''from sklearn.preprocessing import StandardScaler


class ScaledBoosting:
    """Scales its inputs, then boosts."""

    def fit(self, features, targets):
        self.scaler = StandardScaler().fit(features)
        self.model = HistGradientBoostingRegressor(random_state=seed).fit(self.scaler.transform(features), targets)
        return self

    def predict(self, features):
        return self.model.predict(self.scaler.transform(features))


def train_model(''',
    1,
)


def test_own_model_class_fitted_on_all_the_data_at_the_top_level_leaks(tmp_path):
    """The scaler sits inside the student's class, but the class is fitted on every material (test folds
    included) at the top level and that fitted model then predicts in the protocol."""
    model = SCALED_MODEL.replace("    return model.fit(features, targets)\n", "    return whole_data_model\n")
    nb = add_cell(
        with_cells(BASE, model=model),
        "model",
        "whole_data_model = ScaledBoosting().fit(all_features, task.df[target_column])\n",
    )
    finding = status(tmp_path, nb, "protocol.preprocessing_leak")
    assert finding.status == "fail", finding.message
    assert "ScaledBoosting.fit" in finding.message and "StandardScaler" in finding.message


def test_train_model_on_all_the_data_for_a_first_look_is_not_a_leak(tmp_path):
    """The fold loop's own train_model fits its scaler on whatever it is given; called once on every
    material for a look at the data, with the result never reaching the protocol, nothing leaks."""
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    from sklearn.preprocessing import StandardScaler\n"
        "    scaler = StandardScaler().fit(features)\n"
        "    return model.fit(scaler.transform(features), targets)\n",
    )
    assert model != MODEL
    nb = add_cell(
        with_cells(BASE, model=model),
        "model",
        "first_look = train_model(all_features, task.df[target_column])\n",
    )
    finding = status(tmp_path, nb, "protocol.preprocessing_leak")
    assert finding.status == "pass", finding.message


def test_own_class_outside_the_model_fitted_on_all_the_data_is_a_warning(tmp_path):
    """A class of the student's that the fold loop never uses, fitted on every material: fine for
    exploring, a leak if its result feeds the model, which the code does not show: a warning."""
    nb = add_cell(
        with_cells(BASE, model=SCALED_MODEL),
        "model",
        "explored = ScaledBoosting().fit(all_features, task.df[target_column])\n",
    )
    finding = status(tmp_path, nb, "protocol.preprocessing_leak")
    assert finding.status == "warn" and "ScaledBoosting" in finding.message, finding.message


def test_own_model_class_used_inside_train_model_is_fine(tmp_path):
    model = SCALED_MODEL.replace(
        "    return model.fit(features, targets)\n", "    return ScaledBoosting().fit(features, targets)\n"
    )
    assert model != SCALED_MODEL
    finding = status(tmp_path, with_cells(BASE, model=model), "protocol.preprocessing_leak")
    assert finding.status == "pass", finding.message


def test_test_targets_requested(tmp_path):
    nb = extra("X_test, y_test = task.get_test_data(0, include_target=True)\n")
    assert status(tmp_path, nb, "protocol.test_targets").status == "fail"


def test_early_stopping_on_the_test_fold(tmp_path):
    nb = extra(
        "test_x = task.get_test_data(0)\nfeatures_test = all_features.loc[test_x.index]\n"
        "import xgboost\nxgboost.XGBRegressor().fit(all_features, task.df[target_column], "
        "eval_set=[(features_test, None)])\n",
        after="test_predictions_valid",
    )
    assert status(tmp_path, nb, "protocol.test_tuning").status == "fail"


def test_search_on_all_data_feeding_the_model(tmp_path):
    nb = extra(
        "from sklearn.model_selection import GridSearchCV\n"
        "search = GridSearchCV(HistGradientBoostingRegressor(), {'max_iter': [50, 100]}, cv=5)\n"
        "search.fit(featurise(task.df[input_column]), task.df[target_column])\n"
        "best = search.best_params_\n"
    )
    assert status(tmp_path, nb, "protocol.test_tuning").status == "fail"


SWEEP = (
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.metrics import mean_absolute_error\n"
    "X = featurise(task.df[input_column])\n"
    "X_tr, X_te, y_tr, y_te = train_test_split(X, task.df[target_column])\n"
    "best = float('inf')\n"
    "for depth in (3, 5, 8):\n"
    "    m = HistGradientBoostingRegressor(max_depth=depth).fit(X_tr, y_tr)\n"
    "    print(depth, mean_absolute_error(y_te, m.predict(X_te)))\n"
)


def test_choosing_settings_by_own_test_split_score(tmp_path):
    nb = add_cell(
        without(BASE, "protocol"),
        "model",
        SWEEP.replace(
            "    print(depth, mean_absolute_error(y_te, m.predict(X_te)))\n",
            "    error = mean_absolute_error(y_te, m.predict(X_te))\n"
            "    if error < best:\n        best, best_depth = error, depth\n",
        ),
    )
    finding = status(tmp_path, nb, "protocol.test_tuning")
    assert finding.status == "fail" and "max_depth" not in finding.message, finding.message
    assert "`error < best`" in finding.message and "(3, 5, 8)" in finding.message


def test_printing_the_test_score_of_each_setting_is_a_warning(tmp_path):
    """Several settings scored on the test split with no choice in the code: the choice may have been made by
    eye, which the analysis cannot tell."""
    finding = status(tmp_path, add_cell(without(BASE, "protocol"), "model", SWEEP), "protocol.test_tuning")
    assert finding.status == "warn" and "(3, 5, 8)" in finding.message, finding.message


def test_whole_data_frame_inside_the_model(tmp_path):
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    return model.fit(all_features, task.df[target_column])\n",
    )
    finding = status(tmp_path, with_cells(BASE, model=model), "protocol.full_data_in_loop")
    assert finding.status == "fail"


def test_a_global_named_like_a_parameter_is_not_read_by_the_model(tmp_path):
    """`targets = task.df[target_column]` while exploring, and `train_model(features, targets)`: inside
    the function `targets` is its own argument, the fold's training targets, not the global."""
    nb = extra("targets = task.df[target_column]\nprint(targets.describe())\n", after="explore_data")
    finding = status(tmp_path, nb, "protocol.full_data_in_loop")
    assert finding.status == "pass", finding.message


def test_a_global_read_inside_the_model_is_still_found(tmp_path):
    """The same global read by a function that does not bind the name is a leak."""
    nb = extra("all_targets = task.df[target_column]\n", after="explore_data")
    model = MODEL.replace(
        "    return model.fit(features, targets)\n",
        "    return model.fit(features, all_targets.loc[features.index])\n",
    )
    nb = with_cells(nb, model=model)
    finding = status(tmp_path, nb, "protocol.full_data_in_loop")
    assert finding.status == "fail" and "all_targets" in finding.message, finding.message


def test_reordering_in_predict_is_a_warning_without_scores(tmp_path):
    model = MODEL.replace(
        "    return model.predict(features)\n", "    return model.predict(features.dropna())\n"
    )
    assert status(tmp_path, with_cells(BASE, model=model), "protocol.alignment").status == "warn"


def test_recording_predictions_made_elsewhere_is_not_the_protocol(tmp_path):
    """The official benchmark notebooks' replay style: `record` of predictions loaded from a file,
    without asking Matbench for any fold's data. The message says so (not "never records")."""
    nb = without(BASE, "protocol")
    nb = add_cell(
        nb,
        "model",
        "import pickle\nsaved = pickle.load(open('predictions.pkl', 'rb'))\n"
        "for fold in task.folds:\n    task.record(fold, saved[fold])\n",
    )
    finding = status(tmp_path, nb, "protocol.api_used")
    assert (
        finding.status == "fail"
        and "task.record" in finding.message
        and "never records" not in finding.message
    )


def test_own_record_call(tmp_path):
    nb = extra("task.record(0, [0.0] * 921)\n")
    assert status(tmp_path, nb, "protocol.record_twice").status == "warn"


def test_writing_the_results_file_yourself(tmp_path):
    nb = extra("import shutil\nshutil.copy('old.json.gz', results_path)\n", after="analysis")
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    from autograder.results.file import build_results_dict, write_results

    write_results(tmp_path / "results.json.gz", build_results_dict("matbench_expt_gap", {0: {}}))
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    finding = {f.check_id: f for f in run_checks(ctx, only=["protocol.written_by_run"])}[
        "protocol.written_by_run"
    ]
    assert finding.status == "warn" and "shutil.copy" in finding.message


# --- magics, syntax, lint ---------------------------------------------------------------------------


def test_strip_magics_keeps_lines_and_blocks():
    code, magics = strip_magics(
        "!pip install shap\n%matplotlib inline\nfiles = !ls\nif True:\n    %time x = 1\nmodel?\nprint(1)"
    )
    assert code.split("\n") == ["pass", "pass", "files = None", "if True:", "    pass", "pass", "print(1)"]
    assert len(magics) == 5
    body, magics = strip_magics("%%time\nx = 1\n")
    assert body.split("\n")[1] == "x = 1"
    body, magics = strip_magics("%%bash\nls -l\n")
    assert body.strip() == "" and magics == ["%%bash"]


def test_magics_do_not_count_as_syntax_errors(tmp_path):
    nb = extra(
        "!pip install lightgbm --quiet\n%matplotlib inline\nimport lightgbm\nprint(lightgbm.__version__)\n",
        after="explore_data",
    )
    assert status(tmp_path, nb, "code.lint").status == "pass"


def test_syntax_error_and_undefined_names(tmp_path):
    assert status(tmp_path, extra("def broken(:\n    pass\n"), "code.lint").status == "fail"
    (tmp_path / "u").mkdir()
    # a name from a deleted cell: the grader's run from the top will fail on it, so the check fails
    finding = status(tmp_path / "u", extra("print(undefined_thing)\n"), "code.lint")
    assert finding.status == "fail" and "undefined_thing" in finding.message


def test_execution_order_and_errors_left(tmp_path):
    nb = corpus_notebook("compliant_B_expt_gap")
    counts = iter(range(1, 100))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["execution_count"] = next(counts)
    assert status(tmp_path, nb, "code.execution_order").status == "pass"
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code_cells[3]["execution_count"], code_cells[5]["execution_count"] = 40, 2
    (tmp_path / "o").mkdir()
    assert status(tmp_path / "o", nb, "code.execution_order").status == "warn"
    code_cells[4]["outputs"] = [
        {
            "output_type": "error",
            "ename": "FileNotFoundError",
            "evalue": "[Errno 2] /home/grader/secret/path/data.csv",
            "traceback": [],
        }
    ]
    (tmp_path / "e").mkdir()
    finding = status(tmp_path / "e", nb, "code.errors_left")
    assert finding.status == "warn" and "/home/grader" not in finding.message


def test_organisation_flags_repeated_blocks(tmp_path):
    block = (
        "a = task.df[target_column].astype(float)\nb = a.describe()\nc = a.quantile([0.1, 0.9])\n"
        "d = float(a.mean()) + float(a.std())\nprint(b, c, d)\n"
    )
    nb = extra(block, after="explore_data")
    nb = add_cell(nb, "explore_data", block)
    assert status(tmp_path, nb, "code.organisation").status == "warn"


# --- robustness -------------------------------------------------------------------------------------


def test_a_check_that_raises_could_not_run(tmp_path, monkeypatch):
    registry()
    spec = REGISTRY["protocol.subsample"]

    def boom(ctx, spec):
        raise RuntimeError("synthetic failure")

    monkeypatch.setitem(REGISTRY, "protocol.subsample", dataclasses.replace(spec, function=boom))
    finding = status(tmp_path, BASE, "protocol.subsample")
    assert finding.status == COULD_NOT_RUN and finding.visibility == MARKER
    assert "synthetic failure" in finding.details["error"]
    assert "protocol.subsample" in finding.message and finding.criterion == "training_testing"


def test_a_check_that_returns_no_list_of_findings_could_not_run(tmp_path, monkeypatch):
    registry()
    spec = REGISTRY["code.annotation"]
    monkeypatch.setitem(
        REGISTRY, "code.annotation", dataclasses.replace(spec, function=lambda ctx, spec: None)
    )
    finding = status(tmp_path, BASE, "code.annotation")
    assert finding.status == COULD_NOT_RUN and finding.visibility == MARKER
    assert "not a list of findings" in finding.details["error"]


def test_a_check_is_declared_with_an_id_from_the_registry_of_findings():
    registry()
    with pytest.raises(UnknownFindingError, match="protocol.scores"):
        check("protocol.scorez")
    with pytest.raises(ValueError, match="engine"):
        check("execution.memory")  # declared, but not a check's id
    with pytest.raises(ValueError, match="twice"):
        check("protocol.scores")(lambda ctx, spec: [])
    for check_id, spec in registry().items():
        declared = kind(check_id)
        assert (spec.id, spec.criterion, spec.label) == (declared.id, declared.criterion, declared.label)
        assert all(isinstance(n, Need) for n in spec.needs) and spec.description, check_id


def test_the_first_unmet_need_is_the_one_could_not_run_finding(tmp_path, monkeypatch):
    import autograder.checks as checks

    registry()
    monkeypatch.setattr(checks, "REGISTRY", {})
    called = []

    @check("protocol.scores", needs=(NOTEBOOK, RESULTS, TRUTH))
    def scores(ctx, spec):
        called.append(spec.id)
        return [spec.finding("pass", "fine", details={"n": 1})]

    @check("protocol.plausibility", needs=(RESULTS, TRUTH), visibility=MARKER)
    def plausibility(ctx, spec):
        called.append(spec.id)
        return [spec.finding("pass", "fine"), spec.finding("info", "for all", visibility="student")]

    path = tmp_path / "nb.ipynb"
    path.write_text("{not json")
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    found = run_checks(ctx)
    assert [f.check_id for f in found] == ["protocol.scores", "protocol.plausibility"] and not called
    assert found[0].status == COULD_NOT_RUN and found[0].message == f"Not checked: {ctx.notebook_error}."
    assert found[0].visibility == "student" and found[0].criterion == "training_testing"
    assert found[1].message == "Not checked: there is no results file (see protocol.results_file)."
    assert found[1].visibility == MARKER  # the check's own visibility, even when it cannot run

    nb = write_notebook(tmp_path / "ok" / "nb.ipynb", BASE)
    ctx = CheckContext.from_notebook(nb, challenge="B", released_path=RELEASED)
    monkeypatch.setattr(CheckContext, "results", property(lambda self: object()))
    monkeypatch.setattr(CheckContext, "task_result", property(lambda self: object()))
    monkeypatch.setattr(CheckContext, "_ground_truth", (None, "no data here"))
    found = run_checks(ctx)
    assert not called and all(
        f.visibility == MARKER and f.details == {"error": "no data here"} for f in found
    )
    assert found[0].message.startswith("Not checked: the Matbench data set is not available to the checker")

    monkeypatch.setattr(CheckContext, "_ground_truth", (object(), None))
    found = run_checks(ctx)
    assert called == ["protocol.scores", "protocol.plausibility"]
    assert [(f.status, f.visibility, f.details) for f in found] == [
        ("pass", "student", {"n": 1}),
        ("pass", MARKER, {}),
        ("info", "student", {}),
    ]


def test_unreadable_notebook_gives_findings_not_a_crash(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text("{not json")
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED)
    findings = run_checks(ctx)
    assert findings and all(
        f.status != "pass" for f in findings if f.check_id.startswith(("code", "declaration"))
    )
    assert {f.status for f in findings} <= {"could-not-run", "fail", "not-applicable", "info"}


def test_every_check_id_is_in_a_known_family():
    for check_id, spec in registry().items():
        assert check_id.split(".")[0] in ("protocol", "declaration", "code", "practice", "leaderboard"), (
            check_id
        )
        assert spec.criterion in ("data_preparation", "model_choice", "training_testing", "code", "general")


def test_code_that_nothing_explains_fails_annotation(tmp_path):
    """No comment, no docstring and no markdown of the student's own: the Code criterion's 'annotated' is
    not met, whatever the code does; one comment that says why, or answers in markdown, and it is met."""
    bare = (
        "from sklearn.linear_model import LinearRegression\n"
        "def train_model(features: pd.DataFrame, targets: pd.Series):\n"
        "    model = LinearRegression()\n    model.fit(features, targets)\n    return model\n"
    )
    nb = with_cells(released(), model=bare)
    finding = status(tmp_path, nb, "code.annotation")
    assert (
        finding.status == "fail"
        and "Nothing in the notebook explains your 5 lines of code" in finding.message
    )
    commented = bare.replace(
        "    model = LinearRegression()",
        "    model = LinearRegression()  # a linear baseline, to measure later models against",
    )
    assert status(tmp_path, with_cells(released(), model=commented), "code.annotation").status == "info"
    assert status(tmp_path, released(), "code.annotation").status == "fail"  # no code of their own at all
