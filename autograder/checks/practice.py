"""practice.*: evidence of good practice for the three modelling criteria (Data preparation,
Model choice, Training and testing). INFO when a marker is found (listing what), WARN when an
expected one is absent. These inform the marker; they never replace the marker's judgement.

Markers come from the student's own code (calls, imports, attributes, found with `ast`) and the
student's own text (markdown minus the released template's prompts).
"""

from __future__ import annotations

import re

from autograder.checks import ANALYSIS, NOTEBOOK, check
from autograder.checks.analysis import CV_FUNCTIONS, GROUP_SPLITTERS, PREPROCESSORS, SEARCHES, SPLITTERS
from autograder.checks.notebook import normalise_code
from autograder.records import INFO, WARN, Finding

ANSWER_CELLS = {
    "problem_statement": ("general", "problem statement"),
    "data_preparation": ("data_preparation", "data preparation"),
    "model_choice": ("model_choice", "model choice"),
    "training_testing": ("training_testing", "training and testing"),
    "leaderboard_comparison": ("training_testing", "comparison with the leaderboard"),
}
ESTIMATOR_SUFFIXES = ("Regressor", "Classifier", "Regression", "SVR", "SVC", "Ridge", "Lasso", "ElasticNet",
                      "KernelRidge", "GaussianProcessRegressor", "MLPRegressor", "MLPClassifier", "LGBMRegressor",
                      "LGBMClassifier", "XGBRegressor", "XGBClassifier", "CatBoostRegressor", "CatBoostClassifier")


def student_prose(ctx) -> str:
    """All markdown the student wrote (template prompts removed), lower-cased."""
    return "\n".join(text for _, text in ctx.notebook.student_markdown()).lower()


def _code_names(ctx) -> dict[str, list[str]]:
    """Every callee / attribute / imported name in the student's code -> where (cell numbers)."""
    facts = ctx.analysis.student
    names: dict[str, list[str]] = {}
    for call in facts.calls:
        names.setdefault(call.attr, []).append(f"cell {call.cell.number}")
    for attr in facts.attributes:
        names.setdefault(attr.name.rsplit(".", 1)[-1], []).append(f"cell {attr.cell.number}")
    for local, full in facts.imports.items():
        names.setdefault(local, []).append("import")
        names.setdefault(full, []).append("import")
    return names


def _found(names: dict, wanted) -> list[str]:
    out = []
    for name in wanted:
        if name in names:
            out.append(name)
    return sorted(set(out))


def _words(prose: str, patterns) -> list[str]:
    return [p for p in patterns if re.search(p, prose)]


@check("practice.features", needs=(NOTEBOOK, ANALYSIS))
def features(ctx, spec) -> list[Finding]:
    """Which featurisers build the features."""
    facts = ctx.analysis.student
    matminer = sorted({full.rsplit(".", 1)[-1] for full in facts.imports.values() if full.startswith("matminer.featurizers")})
    presets = sorted({str(c.node.args[0].value) for c in facts.calls_named("from_preset")
                      if c.node.args and hasattr(c.node.args[0], "value")})
    other = sorted({m for m in facts.modules if m.split(".")[0] in ("elementembeddings", "dscribe", "mendeleev",
                                                                     "pymatgen", "megnet", "matgl", "m3gnet",
                                                                     "chgnet", "modnet", "crabnet", "roost")})
    featurise_code = ""
    if "featurise" in facts.functions:
        cell, _ = facts.functions["featurise"]
        featurise_code = normalise_code(cell.code)
    released_featurise = ""
    if ctx.released is not None:
        cell = ctx.released.cell_by_grade_id("featurise")
        released_featurise = normalise_code(cell.source) if cell else ""
    written = "featurise" in facts.functions and featurise_code != released_featurise
    details = {"matminer_featurizers": matminer, "presets": presets, "other_libraries": other,
               "featurise_written": written}
    if not written:
        return [spec.finding(WARN, "`featurise` is not written (it is missing or still the template's stub).",
                             advice="Write `featurise` in section 2: turn each material into a row of numbers.",
                             details=details)]
    if matminer:
        text = "matminer " + ", ".join(matminer) + (f" (presets: {', '.join(presets)})" if presets else "")
        if other:
            text += "; also " + ", ".join(other)
    else:
        text = "written by hand, without a matminer featuriser" + (f" (using {', '.join(other)})" if other else "")
    return [spec.finding(INFO, f"Features: {text}.", details=details)]


@check("practice.preprocessing", needs=(NOTEBOOK, ANALYSIS))
def preprocessing(ctx, spec) -> list[Finding]:
    """Pre-processing steps used (scaling, imputation, selection, resampling, target transforms)."""
    names = _code_names(ctx)
    steps = _found(names, PREPROCESSORS | {"fillna", "clip", "log1p", "log", "Pipeline", "make_pipeline",
                                           "ColumnTransformer", "TransformedTargetRegressor", "interpolate",
                                           "replace"})
    inside = sorted({c.attr for c in ctx.analysis.student.calls
                     if c.function in ctx.analysis.loop_called_functions and c.attr in PREPROCESSORS})
    details = {"steps": steps, "fitted_inside_model": inside}
    if not steps:
        return [spec.finding(INFO, "No pre-processing step found in the code (scaling, imputation, feature "
                                   "selection, resampling, target transform). Tree models need little; say why "
                                   "you did or did not pre-process.", details=details)]
    return [spec.finding(INFO, "Pre-processing: " + ", ".join(steps)
                         + (f"; fitted inside the model code: {', '.join(inside)}" if inside else "") + ".", details=details)]


@check("practice.data_checks", needs=(NOTEBOOK, ANALYSIS))
def data_checks(ctx, spec) -> list[Finding]:
    """The data were checked: distribution, duplicates, zeros, missing values."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    checks = {
        "distribution": _found(names, {"hist", "histplot", "describe", "kdeplot", "displot", "boxplot",
                                       "violinplot", "value_counts"}),
        "duplicates": _found(names, {"duplicated", "drop_duplicates", "nunique", "unique", "groupby"})
        + _words(prose, [r"duplicat", r"polymorph", r"same (formula|composition)"]),
        "zeros_or_imbalance": _words(prose, [r"\bzeros?\b", r"zero[- ]gap", r"metals?\b", r"imbalanc",
                                             r"class (balance|weight)"])
        + _found(names, {"class_weight", "compute_class_weight"}),
        "missing_values": _found(names, {"isna", "isnull", "fillna", "dropna", "SimpleImputer", "KNNImputer",
                                         "IterativeImputer"}) + _words(prose, [r"missing", r"\bnan\b", r"impute"]),
        "outliers": _words(prose, [r"outlier", r"skew", r"long tail", r"heavy tail"])
        + _found(names, {"clip", "IsolationForest", "zscore"}),
    }
    found = {k: sorted(set(v)) for k, v in checks.items() if v}
    details = {"found": found}
    if not found:
        return [spec.finding(WARN, "No sign that the data were examined (distribution, duplicates, zeros, missing "
                                   "values, outliers).",
                             advice="Look at the target's distribution and check for duplicates and missing values; say "
                                    "what you found and what you did about it.", details=details)]
    missing = [k.replace("_", " ") for k in checks if k not in found]
    return [spec.finding(INFO, "Data checks found: " + ", ".join(k.replace("_", " ") for k in found)
                         + (f"; not found: {', '.join(missing)}." if missing else "."), details=details)]


@check("practice.baseline", needs=(NOTEBOOK, ANALYSIS))
def baseline(ctx, spec) -> list[Finding]:
    """A baseline (dummy / simple model) or other models are compared."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    dummies = _found(names, {"DummyRegressor", "DummyClassifier"})
    estimators = sorted({n for n in names if n.endswith(ESTIMATOR_SUFFIXES) and n[:1].isupper()})
    said = _words(prose, [r"baseline", r"dummy", r"mean predictor", r"predicting the mean", r"rf-scm", r"compared"])
    details = {"dummy": dummies, "estimators": estimators, "text": said}
    if not dummies and len(estimators) < 2 and not said:
        return [spec.finding(WARN, "No baseline or second model is compared with your model.",
                             advice="Compare with a trivial baseline (DummyRegressor/DummyClassifier, or the leaderboard's "
                                    "Dummy) and, ideally, a simple model.", details=details)]
    parts = []
    if dummies:
        parts.append("dummy baseline in the code")
    if len(estimators) >= 2:
        parts.append(f"{len(estimators)} model classes in the code ({', '.join(estimators[:5])})")
    if said:
        parts.append("baseline discussed in the text")
    return [spec.finding(INFO, "Comparison: " + "; ".join(parts) + ".", details=details)]


def _answer_text(ctx, grade_id: str) -> str | None:
    cell = ctx.notebook.cell_by_grade_id(grade_id)
    if cell is None:
        return None
    return ctx.notebook.student_text(cell)


@check("practice.model_justification", needs=(NOTEBOOK, ANALYSIS))
def model_justification(ctx, spec) -> list[Finding]:
    """The model choice is justified in the student's own words."""
    text = _answer_text(ctx, "model_choice")
    if text is None:
        return [spec.finding(WARN, "The 'Your model choice' answer cell is missing.",
                             advice="Explain which models you considered and why yours suits this problem and this data.")]
    words = len(re.findall(r"[A-Za-z]{2,}", text))
    reasons = _words(text.lower(), [r"because", r"since", r"suit", r"non-?linear", r"interpret", r"data set|dataset",
                                    r"small|few|size|samples", r"overfit", r"tabular", r"features?", r"compared?"])
    details = {"words": words, "reasoning_words": reasons, "quote": text[:400]}
    if words < 20:
        return [spec.finding(WARN, f"The model choice is hardly justified ({words} words of your own).",
                             advice="Say which models you considered and why your choice suits the problem and the amount "
                                    "of data.", details=details)]
    return [spec.finding(INFO, f"Model choice explained in {words} words of your own.", details=details)]


@check("practice.answers", needs=(NOTEBOOK, ANALYSIS))
def answers(ctx, spec) -> list[Finding]:
    """Every written answer of the template is filled in."""
    counts, missing = {}, []
    for grade_id, (_, label) in ANSWER_CELLS.items():
        text = _answer_text(ctx, grade_id)
        if text is None:
            counts[grade_id] = None
            missing.append(label)
            continue
        counts[grade_id] = len(re.findall(r"[A-Za-z]{2,}", text))
        if counts[grade_id] < 5:
            missing.append(label)
    details = {"words": counts}
    if missing:
        return [spec.finding(WARN, "Not answered: " + ", ".join(missing) + ".",
                             advice="Write each answer in its cell, replacing YOUR ANSWER HERE.", details=details)]
    return [spec.finding(INFO, "Every written answer is filled in ("
                         + ", ".join(f"{ANSWER_CELLS[k][1]} {v} words" for k, v in counts.items()) + ").", details=details)]


@check("practice.inner_validation", needs=(NOTEBOOK, ANALYSIS))
def inner_validation(ctx, spec) -> list[Finding]:
    """Validation / tuning happens inside the training folds (in train_model)."""
    a = ctx.analysis
    inside = sorted({c.attr for c in a.student.calls if c.function in a.loop_called_functions
                     and c.attr in SPLITTERS | CV_FUNCTIONS | SEARCHES})
    early_stop = sorted({kw.arg for c in a.student.calls if c.function in a.loop_called_functions
                         for kw in c.node.keywords if kw.arg in ("early_stopping", "early_stopping_rounds",
                                                                 "n_iter_no_change", "validation_fraction",
                                                                 "eval_set", "callbacks")})
    details = {"inside_train_model": inside, "early_stopping": early_stop}
    if not inside and not early_stop:
        return [spec.finding(WARN, "No validation or tuning inside the training folds (no inner split, "
                                   "cross-validation, search or early stopping in `train_model`).",
                             advice="Choose hyper-parameters inside `train_model` with an inner cross-validation of the "
                                    "training data (e.g. GridSearchCV), or justify fixed settings.", details=details)]
    return [spec.finding(INFO, "Inside the training folds: " + ", ".join(inside + early_stop) + ".",
                         details=details)]


@check("practice.uncertainty", needs=(NOTEBOOK, ANALYSIS))
def uncertainty(ctx, spec) -> list[Finding]:
    """Uncertainty is reported: spread over folds, per-prediction uncertainty."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    per_prediction = _found(names, {"GaussianProcessRegressor", "GaussianProcessClassifier", "predict_interval",
                                    "QuantileRegressor", "NGBRegressor", "MapieRegressor", "estimators_",
                                    "BayesianRidge", "return_std", "quantile"})
    per_prediction += [kw.arg for c in ctx.analysis.student.calls for kw in c.node.keywords
                       if kw.arg in ("return_std", "alpha") and c.attr in ("predict", "GradientBoostingRegressor",
                                                                            "LGBMRegressor")]
    spread = _words(prose, [r"±", r"\+/-", r"standard deviation", r"\bstd\b", r"spread", r"uncertaint",
                            r"confidence interval", r"error bars?"])
    details = {"per_prediction": sorted(set(per_prediction)), "text": spread}
    if not per_prediction and not spread:
        return [spec.finding(WARN, "No uncertainty is discussed (neither the spread over the folds nor "
                                   "per-prediction uncertainty).",
                             advice="Report mean ± standard deviation over the folds; if you can, estimate per-prediction "
                                    "uncertainty (an ensemble's spread, quantile regression, a Gaussian process).",
                             details=details)]
    return [spec.finding(INFO, "Uncertainty: " + ", ".join(
        (["per-prediction (" + ", ".join(sorted(set(per_prediction))) + ")"] if per_prediction else [])
        + (["discussed in the text"] if spread else [])) + ".", details=details)]


def _code_or_text(ctx, spec, code_names: set[str], phrases: list[str], label: str,
                  missing: str, advice: str) -> list[Finding]:
    """Evidence of a practice in the student's code (names called or imported) or in their own words:
    INFO listing what was found, or WARN with advice when neither shows it."""
    found = _found(_code_names(ctx), code_names)
    said = _words(student_prose(ctx), phrases)
    details = {"code": found, "text": said}
    if not found and not said:
        return [spec.finding(WARN, missing, advice=advice, details=details)]
    return [spec.finding(INFO, f"{label}: " + ", ".join(found + said) + ".", details=details)]


@check("practice.interpretability", needs=(NOTEBOOK, ANALYSIS))
def interpretability(ctx, spec) -> list[Finding]:
    """Interpretability: feature importance, permutation importance, SHAP, surrogates."""
    return _code_or_text(
        ctx, spec,
        {"feature_importances_", "permutation_importance", "shap", "TreeExplainer", "Explainer", "KernelExplainer",
         "summary_plot", "coef_", "partial_dependence", "PartialDependenceDisplay", "plot_tree", "export_text",
         "lime"},
        [r"feature importance", r"\bshap\b", r"surrogate", r"counterfactual", r"interpretab"],
        "Interpretability", "No interpretability analysis (feature importance, SHAP, a surrogate model).",
        "Show which features drive the predictions and whether they make physical sense.")


@check("practice.error_analysis", needs=(NOTEBOOK, ANALYSIS))
def error_analysis(ctx, spec) -> list[Finding]:
    """Errors are analysed: parity plot, residuals, confusion matrix."""
    return _code_or_text(
        ctx, spec,
        {"scatter", "confusion_matrix", "ConfusionMatrixDisplay", "roc_curve", "RocCurveDisplay",
         "PredictionErrorDisplay", "classification_report", "residplot", "parity", "crosstab",
         "precision_recall_curve"},
        [r"parity", r"residual", r"largest errors?", r"confusion matrix", r"worst"],
        "Error analysis", "No error analysis (parity plot, residuals, confusion matrix).",
        "Plot predictions against the truth (or a confusion matrix) and look at where the largest errors are.")


@check("practice.extrapolation", needs=(NOTEBOOK, ANALYSIS))
def extrapolation(ctx, spec) -> list[Finding]:
    """An extrapolation test: unseen chemical systems, leave-one-cluster-out, grouped splits."""
    return _code_or_text(
        ctx, spec,
        GROUP_SPLITTERS | {"chemical_system", "chemsys"},  # the splitters protocol.own_split also accepts
        [r"extrapolat", r"unseen", r"leave[- ]one", r"chemical system", r"out[- ]of[- ]distribution", r"\bloco\b",
         r"never seen"],
        "Extrapolation", "No extrapolation test (how the model does on materials unlike its training data).",
        "For example, compare errors on test materials whose chemical system is or is not in the training data, "
        "or use a leave-one-group-out split.")
