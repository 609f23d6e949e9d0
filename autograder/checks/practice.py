"""practice.*: evidence of good practice for the three modelling criteria (Data preparation,
Model choice, Training and testing). INFO when a marker is found (listing what), WARN when an
expected one is absent. These inform the marker; they never replace the marker's judgement.

Markers come from the student's own code (calls, imports, attributes, found with `ast`) and the
student's own text (markdown minus the prompts and printed questions of the released template and of
its earlier editions, `checks/released/templates.toml`).

The written answers and the features are looked for according to what the notebook is
(`Notebook.kind`): on today's template, in its answer cells and its `featurise`; on an earlier edition
of it, in the sections under its headings; free-form, in its own sections (any heading style, any
order) or paragraphs about each question, and featurisation anywhere in its code. Each message that
reports something missing says which kind was assumed and what was looked for.
"""

from __future__ import annotations

import re

from autograder.checks import ANALYSIS, NOTEBOOK, check
from autograder.checks.analysis import CV_FUNCTIONS, GROUP_SPLITTERS, PREPROCESSORS, SEARCHES, SPLITTERS
from autograder.checks.notebook import normalise_code, normalise_text, template_wording
from autograder.records import FAIL, INFO, WARN, Finding

ANSWER_CELLS = {
    "problem_statement": ("general", "problem statement"),
    "data_preparation": ("data_preparation", "data preparation"),
    "model_choice": ("model_choice", "model choice"),
    "training_testing": ("training_testing", "training and testing"),
    "leaderboard_comparison": ("training_testing", "comparison with the leaderboard"),
}
# How a notebook not written on today's template (an earlier edition, or free-form) answers each
# question: a section whose heading says so, or (free-form) a paragraph about it. `content` is also
# required when one heading asks several questions ("Model selection, testing and training").
QUESTIONS = {
    "problem_statement": {
        "title": r"problem|introduction|overview|\baims?\b|objective|motivation|background|task description",
        "content": r"predict|\btask\b|\bgoal\b|\baims?\b|problem",
        "about": "what is predicted and why it matters",
    },
    "data_preparation": {
        "title": r"\bdata\b|dataset|clean|featur|descriptor|pre-?process|explorat|\beda\b",
        "content": r"distribution|duplicat|missing|outlier|featur|descriptor|clean|pre-?process|scal(e|ing)|\bzeros?\b",
        "about": "the data, its checks and the features",
    },
    "model_choice": {
        "title": r"\bmodels?\b.{0,25}(choice|selection|justif|choos)|choice of (the )?model|(choos|select)\w* (a |the )?model|"
        r"^(the )?models?$|method|algorithm|architecture",
        "content": r"\bchose\b|choice|choos|select|because|\bsuit|justif",
        "about": "which model was chosen and why",
    },
    "training_testing": {
        "title": r"train|test|valid|evaluat|\bresults?\b|performance",
        "content": r"train|\bfolds?\b|cross[- ]?valid|validat|\bmae\b|rmse|roc|accuracy|hyper-?param|\btest",
        "about": "how the model was trained, validated and tested",
    },
    "leaderboard_comparison": {
        "title": r"leaderboard|benchmark|compar|discussion|conclusion",
        "content": r"leaderboard|best[- ]performing|state[- ]of[- ]the[- ]art|modnet|rf-scm|dummy|baseline|"
        r"compared? (with|to)|best model",
        "about": "the scores compared with the Matbench leaderboard",
    },
}
_NOT_A_QUESTION = re.compile(r"declaration|\bllms?\b|final word|your details|settings")
MIN_WORDS = 5  # fewer of the student's own words is no answer
MIN_PARAGRAPH_WORDS = 15  # a paragraph outside any matching section must say this much to count

ESTIMATOR_SUFFIXES = (
    "Regressor",
    "Classifier",
    "Regression",
    "SVR",
    "SVC",
    "Ridge",
    "Lasso",
    "ElasticNet",
    "KernelRidge",
    "GaussianProcessRegressor",
    "MLPRegressor",
    "MLPClassifier",
    "LGBMRegressor",
    "LGBMClassifier",
    "XGBRegressor",
    "XGBClassifier",
    "CatBoostRegressor",
    "CatBoostClassifier",
)


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
    matminer = sorted(
        {
            full.rsplit(".", 1)[-1]
            for full in facts.imports.values()
            if full.startswith("matminer.featurizers")
        }
    )
    presets = sorted(
        {
            str(c.node.args[0].value)
            for c in facts.calls_named("from_preset")
            if c.node.args and hasattr(c.node.args[0], "value")
        }
    )
    other = sorted(
        {
            m
            for m in facts.modules
            if m.split(".")[0]
            in (
                "elementembeddings",
                "dscribe",
                "mendeleev",
                "pymatgen",
                "megnet",
                "matgl",
                "m3gnet",
                "chgnet",
                "modnet",
                "crabnet",
                "roost",
            )
        }
    )
    details = {
        "matminer_featurizers": matminer,
        "presets": presets,
        "other_libraries": other,
        "notebook_kind": ctx.notebook.kind,
    }
    if ctx.notebook.on_template:
        written = _featurise_written(ctx)
        details["featurise_written"] = written
        if not written:
            return [
                spec.finding(
                    WARN,
                    "`featurise` is not written (it is missing or still the template's stub).",
                    advice="Write `featurise` in section 2: turn each material into a row of numbers.",
                    details=details,
                )
            ]
    else:
        own = _own_featurisers(ctx)
        calls = sorted(
            {c.attr for c in facts.calls if c.attr in ("featurize_dataframe", "featurize_many", "featurize")}
        )
        details.update(own_featurisers=own, featurise_calls=calls)
        if not (matminer or presets or own or calls or other):
            return [
                spec.finding(
                    WARN,
                    f"{ctx.notebook.kind_phrase}: looked for featurisation anywhere in the code (a "
                    "matminer featuriser, `featurize_dataframe`, `from_preset`, a function or class of "
                    "your own named for features, descriptors or fingerprints, pymatgen "
                    "compositions or structures) and found none.",
                    advice="Show how each material becomes a row of numbers, in a function or class "
                    "whose name says so (e.g. `featurise`).",
                    details=details,
                )
            ]
        if own and not matminer:
            return [
                spec.finding(
                    INFO,
                    "Features: your own "
                    + ", ".join(own)
                    + (f" (using {', '.join(other)})" if other else "")
                    + ".",
                    details=details,
                )
            ]
    if matminer:
        text = "matminer " + ", ".join(matminer) + (f" (presets: {', '.join(presets)})" if presets else "")
        if other:
            text += "; also " + ", ".join(other)
    else:
        text = "written by hand, without a matminer featuriser" + (
            f" (using {', '.join(other)})" if other else ""
        )
    return [spec.finding(INFO, f"Features: {text}.", details=details)]


def _featurise_written(ctx) -> bool:
    """Today's template: its `featurise` is there and no longer the released stub."""
    facts = ctx.analysis.student
    if "featurise" not in facts.functions:
        return False
    cell, _ = facts.functions["featurise"]
    released = ctx.released.cell_by_grade_id("featurise") if ctx.released is not None else None
    return released is None or normalise_code(cell.code) != normalise_code(released.source)


_FEATURE_NAME = re.compile(r"featur|descriptor|fingerprint|embedding", re.IGNORECASE)


def _own_featurisers(ctx) -> list[str]:
    """The student's own functions and classes named for features ("CompositionFeaturiser",
    "make_descriptors"), with the cell they are defined in."""
    facts = ctx.analysis.student
    found = [
        f"function `{name}` (cell {cell.number})"
        for name, (cell, _) in facts.functions.items()
        if "." not in name and _FEATURE_NAME.search(name)
    ]
    classes = {name.split(".", 1)[0]: cell for name, (cell, _) in facts.functions.items() if "." in name}
    found += [
        f"class `{name}` (cell {classes[name].number})" if name in classes else f"class `{name}`"
        for name in sorted(facts.classes)
        if _FEATURE_NAME.search(name)
    ]
    return found


@check("practice.preprocessing", needs=(NOTEBOOK, ANALYSIS))
def preprocessing(ctx, spec) -> list[Finding]:
    """Pre-processing steps used (scaling, imputation, selection, resampling, target transforms)."""
    names = _code_names(ctx)
    steps = _found(
        names,
        PREPROCESSORS
        | {
            "fillna",
            "clip",
            "log1p",
            "log",
            "Pipeline",
            "make_pipeline",
            "ColumnTransformer",
            "TransformedTargetRegressor",
            "interpolate",
            "replace",
        },
    )
    inside = sorted(
        {
            c.attr
            for c in ctx.analysis.student.calls
            if c.function in ctx.analysis.loop_called_functions and c.attr in PREPROCESSORS
        }
    )
    details = {"steps": steps, "fitted_inside_model": inside}
    if not steps:
        return [
            spec.finding(
                INFO,
                "No pre-processing step found in the code (scaling, imputation, feature "
                "selection, resampling, target transform). Tree models need little; say why "
                "you did or did not pre-process.",
                details=details,
            )
        ]
    return [
        spec.finding(
            INFO,
            "Pre-processing: "
            + ", ".join(steps)
            + (f"; fitted inside the model code: {', '.join(inside)}" if inside else "")
            + ".",
            details=details,
        )
    ]


@check("practice.data_checks", needs=(NOTEBOOK, ANALYSIS))
def data_checks(ctx, spec) -> list[Finding]:
    """The data were checked: distribution, duplicates, zeros, missing values."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    checks = {
        "distribution": _found(
            names,
            {"hist", "histplot", "describe", "kdeplot", "displot", "boxplot", "violinplot", "value_counts"},
        ),
        "duplicates": _found(names, {"duplicated", "drop_duplicates", "nunique", "unique", "groupby"})
        + _words(prose, [r"duplicat", r"polymorph", r"same (formula|composition)"]),
        "zeros_or_imbalance": _words(
            prose, [r"\bzeros?\b", r"zero[- ]gap", r"metals?\b", r"imbalanc", r"class (balance|weight)"]
        )
        + _found(names, {"class_weight", "compute_class_weight"}),
        "missing_values": _found(
            names, {"isna", "isnull", "fillna", "dropna", "SimpleImputer", "KNNImputer", "IterativeImputer"}
        )
        + _words(prose, [r"missing", r"\bnan\b", r"impute"]),
        "outliers": _words(prose, [r"outlier", r"skew", r"long tail", r"heavy tail"])
        + _found(names, {"clip", "IsolationForest", "zscore"}),
    }
    found = {k: sorted(set(v)) for k, v in checks.items() if v}
    details = {"found": found}
    if not found:
        return [
            spec.finding(
                WARN,
                "No sign that the data were examined (distribution, duplicates, zeros, missing "
                "values, outliers).",
                advice="Look at the target's distribution and check for duplicates and missing values; say "
                "what you found and what you did about it.",
                details=details,
            )
        ]
    missing = [k.replace("_", " ") for k in checks if k not in found]
    return [
        spec.finding(
            INFO,
            "Data checks found: "
            + ", ".join(k.replace("_", " ") for k in found)
            + (f"; not found: {', '.join(missing)}." if missing else "."),
            details=details,
        )
    ]


@check("practice.baseline", needs=(NOTEBOOK, ANALYSIS))
def baseline(ctx, spec) -> list[Finding]:
    """A baseline (dummy / simple model) or other models are compared."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    dummies = _found(names, {"DummyRegressor", "DummyClassifier"})
    estimators = sorted({n for n in names if n.endswith(ESTIMATOR_SUFFIXES) and n[:1].isupper()})
    said = _words(
        prose, [r"baseline", r"dummy", r"mean predictor", r"predicting the mean", r"rf-scm", r"compared"]
    )
    details = {"dummy": dummies, "estimators": estimators, "text": said}
    if not dummies and len(estimators) < 2 and not said:
        return [
            spec.finding(
                WARN,
                "No baseline or second model is compared with your model.",
                advice="Compare with a trivial baseline (DummyRegressor/DummyClassifier, or the leaderboard's "
                "Dummy) and, ideally, a simple model.",
                details=details,
            )
        ]
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


def _own_words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))


def _asked_under(nb, question: str) -> list[str]:
    """The headings under which the notebook's earlier edition asks `question` besides its own."""
    edition = template_wording().get("editions", {}).get(nb.earlier_edition or "", {})
    return [normalise_text(h) for h in edition.get("asked_under", {}).get(question, ())]


def find_answer(ctx, question: str) -> tuple[str | None, str]:
    """The student's answer to one of the written questions, and where it was found.

    On today's template: its answer cell (None when the cell is gone). Otherwise the sections whose
    heading asks the question (when a heading asks several, the text must also be about this one);
    free-form, also a paragraph about it outside the declaration."""
    nb = ctx.notebook
    if nb.on_template:
        text = _answer_text(ctx, question)
        return text, "its answer cell"
    spec = QUESTIONS[question]
    texts, where = [], []
    for section in nb.sections:
        if _NOT_A_QUESTION.search(section.title):
            continue
        asks = [q for q, s in QUESTIONS.items() if re.search(s["title"], section.title)]
        extra = section.title in _asked_under(nb, question)
        if question not in asks and not extra:
            continue
        if (len(asks) > 1 or extra) and not re.search(spec["content"], section.own_text.lower()):
            continue
        if _own_words(section.own_text) >= MIN_WORDS:
            texts.append(section.own_text)
            where.append(f"section '{section.title}'")
    if not texts and nb.earlier_edition is None:
        from autograder.checks.declaration import find_section  # the declaration is not an answer

        declaration = find_section(nb)
        skip = set(declaration[1]) if declaration else set()
        for cell in nb.markdown_cells:
            own = nb.student_text(cell)
            if (
                cell.index not in skip
                and _own_words(own) >= MIN_PARAGRAPH_WORDS
                and re.search(spec["content"], own.lower())
            ):
                texts.append(own)
                where.append(f"a paragraph in cell {cell.number}")
                break
    return ("\n".join(texts) if texts else None), ", ".join(where)


def _looked_for(nb) -> str:
    """Where a question's answer was looked for, in the kind of notebook assumed."""
    return "a section" if nb.earlier_edition else "a section or a paragraph"


@check("practice.model_justification", needs=(NOTEBOOK, ANALYSIS))
def model_justification(ctx, spec) -> list[Finding]:
    """The model choice is justified in the student's own words."""
    nb = ctx.notebook
    text, where = find_answer(ctx, "model_choice")
    details = {"notebook_kind": nb.kind}
    if text is None:
        if nb.on_template:
            message = "The 'Your model choice' answer cell is missing."
        else:
            message = (
                f"{nb.kind_phrase}: looked for {_looked_for(nb)} on the model choice (which model was chosen "
                f"and why) and found none."
            )
        return [
            spec.finding(
                WARN,
                message,
                details=details,
                advice="Explain which models you considered and why yours suits this problem and this data.",
            )
        ]
    words = _own_words(text)
    reasons = _words(
        text.lower(),
        [
            r"because",
            r"since",
            r"suit",
            r"non-?linear",
            r"interpret",
            r"data set|dataset",
            r"small|few|size|samples",
            r"overfit",
            r"tabular",
            r"features?",
            r"compared?",
        ],
    )
    details.update(words=words, reasoning_words=reasons, quote=text[:400], found_in=where)
    if words < 20:
        return [
            spec.finding(
                WARN,
                f"The model choice is hardly justified ({words} words of your own).",
                advice="Say which models you considered and why your choice suits the problem and the amount "
                "of data.",
                details=details,
            )
        ]
    found_in = "" if nb.on_template else f" ({where})"
    return [
        spec.finding(INFO, f"Model choice explained in {words} words of your own{found_in}.", details=details)
    ]


@check("practice.answers", needs=(NOTEBOOK, ANALYSIS))
def answers(ctx, spec) -> list[Finding]:
    """Every written question is answered: in its answer cell on today's template, in a section (or,
    free-form, a paragraph) about it otherwise. FAIL when none is, WARN when some are not."""
    nb = ctx.notebook
    counts, found_in, missing = {}, {}, []
    for question in ANSWER_CELLS:
        text, where = find_answer(ctx, question)
        counts[question] = None if text is None else _own_words(text)
        if text is None or counts[question] < MIN_WORDS:
            missing.append(question)
        else:
            found_in[question] = where
    details = {"words": counts, "notebook_kind": nb.kind, "found_in": found_in}
    labels = ", ".join(ANSWER_CELLS[q][1] for q in missing)
    if nb.on_template:
        advice = "Write each answer in its cell, replacing YOUR ANSWER HERE."
        none_message, some_message = (
            f"None of the written answers is filled in: {labels}.",
            f"Not answered: {labels}.",
        )
    else:
        advice = (
            "Answer each question in your own words under a heading that names it (e.g. '## Data preparation'), "
            "not only with the template's prompt."
        )
        items = ", ".join(f"{ANSWER_CELLS[q][1]} ({QUESTIONS[q]['about']})" for q in missing)
        none_message = (
            f"{nb.kind_phrase}: none of the written questions is answered; looked for {_looked_for(nb)} "
            f"on each of: {items}."
        )
        some_message = (
            f"{nb.kind_phrase}: looked for {_looked_for(nb)} on each question and found none on: {items}."
        )
    if len(missing) == len(ANSWER_CELLS):
        return [spec.finding(FAIL, none_message, advice=advice, details=details)]
    if missing:
        return [spec.finding(WARN, some_message, advice=advice, details=details)]
    where = "" if nb.on_template else f" ({nb.kind_phrase.replace('Read as ', 'read as ')})"
    return [
        spec.finding(
            INFO,
            "Every written answer is filled in ("
            + ", ".join(f"{ANSWER_CELLS[k][1]} {v} words" for k, v in counts.items())
            + f"){where}.",
            details=details,
        )
    ]


@check("practice.inner_validation", needs=(NOTEBOOK, ANALYSIS))
def inner_validation(ctx, spec) -> list[Finding]:
    """Validation / tuning happens inside the training folds (in train_model)."""
    a = ctx.analysis
    inside = sorted(
        {
            c.attr
            for c in a.student.calls
            if c.function in a.loop_called_functions and c.attr in SPLITTERS | CV_FUNCTIONS | SEARCHES
        }
    )
    early_stop = sorted(
        {
            kw.arg
            for c in a.student.calls
            if c.function in a.loop_called_functions
            for kw in c.node.keywords
            if kw.arg
            in (
                "early_stopping",
                "early_stopping_rounds",
                "n_iter_no_change",
                "validation_fraction",
                "eval_set",
                "callbacks",
            )
        }
    )
    details = {"inside_train_model": inside, "early_stopping": early_stop}
    if not inside and not early_stop:
        return [
            spec.finding(
                WARN,
                "No validation or tuning inside the training folds (no inner split, "
                "cross-validation, search or early stopping in `train_model`).",
                advice="Choose hyper-parameters inside `train_model` with an inner cross-validation of the "
                "training data (e.g. GridSearchCV), or justify fixed settings.",
                details=details,
            )
        ]
    return [
        spec.finding(
            INFO, "Inside the training folds: " + ", ".join(inside + early_stop) + ".", details=details
        )
    ]


@check("practice.uncertainty", needs=(NOTEBOOK, ANALYSIS))
def uncertainty(ctx, spec) -> list[Finding]:
    """Uncertainty is reported: spread over folds, per-prediction uncertainty."""
    names = _code_names(ctx)
    prose = student_prose(ctx)
    per_prediction = _found(
        names,
        {
            "GaussianProcessRegressor",
            "GaussianProcessClassifier",
            "predict_interval",
            "QuantileRegressor",
            "NGBRegressor",
            "MapieRegressor",
            "estimators_",
            "BayesianRidge",
            "return_std",
            "quantile",
        },
    )
    per_prediction += [
        kw.arg
        for c in ctx.analysis.student.calls
        for kw in c.node.keywords
        if kw.arg in ("return_std", "alpha")
        and c.attr in ("predict", "GradientBoostingRegressor", "LGBMRegressor")
    ]
    spread = _words(
        prose,
        [
            r"±",
            r"\+/-",
            r"standard deviation",
            r"\bstd\b",
            r"spread",
            r"uncertaint",
            r"confidence interval",
            r"error bars?",
        ],
    )
    details = {"per_prediction": sorted(set(per_prediction)), "text": spread}
    if not per_prediction and not spread:
        return [
            spec.finding(
                WARN,
                "No uncertainty is discussed (neither the spread over the folds nor "
                "per-prediction uncertainty).",
                advice="Report mean ± standard deviation over the folds; if you can, estimate per-prediction "
                "uncertainty (an ensemble's spread, quantile regression, a Gaussian process).",
                details=details,
            )
        ]
    return [
        spec.finding(
            INFO,
            "Uncertainty: "
            + ", ".join(
                (
                    ["per-prediction (" + ", ".join(sorted(set(per_prediction))) + ")"]
                    if per_prediction
                    else []
                )
                + (["discussed in the text"] if spread else [])
            )
            + ".",
            details=details,
        )
    ]


def _code_or_text(
    ctx, spec, code_names: set[str], phrases: list[str], label: str, missing: str, advice: str
) -> list[Finding]:
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
        ctx,
        spec,
        {
            "feature_importances_",
            "permutation_importance",
            "shap",
            "TreeExplainer",
            "Explainer",
            "KernelExplainer",
            "summary_plot",
            "coef_",
            "partial_dependence",
            "PartialDependenceDisplay",
            "plot_tree",
            "export_text",
            "lime",
        },
        [r"feature importance", r"\bshap\b", r"surrogate", r"counterfactual", r"interpretab"],
        "Interpretability",
        "No interpretability analysis (feature importance, SHAP, a surrogate model).",
        "Show which features drive the predictions and whether they make physical sense.",
    )


@check("practice.error_analysis", needs=(NOTEBOOK, ANALYSIS))
def error_analysis(ctx, spec) -> list[Finding]:
    """Errors are analysed: parity plot, residuals, confusion matrix."""
    return _code_or_text(
        ctx,
        spec,
        {
            "scatter",
            "confusion_matrix",
            "ConfusionMatrixDisplay",
            "roc_curve",
            "RocCurveDisplay",
            "PredictionErrorDisplay",
            "classification_report",
            "residplot",
            "parity",
            "crosstab",
            "precision_recall_curve",
        },
        [r"parity", r"residual", r"largest errors?", r"confusion matrix", r"worst"],
        "Error analysis",
        "No error analysis (parity plot, residuals, confusion matrix).",
        "Plot predictions against the truth (or a confusion matrix) and look at where the largest errors are.",
    )


@check("practice.extrapolation", needs=(NOTEBOOK, ANALYSIS))
def extrapolation(ctx, spec) -> list[Finding]:
    """An extrapolation test: unseen chemical systems, leave-one-cluster-out, grouped splits."""
    return _code_or_text(
        ctx,
        spec,
        GROUP_SPLITTERS | {"chemical_system", "chemsys"},  # the splitters protocol.own_split also accepts
        [
            r"extrapolat",
            r"unseen",
            r"leave[- ]one",
            r"chemical system",
            r"out[- ]of[- ]distribution",
            r"\bloco\b",
            r"never seen",
        ],
        "Extrapolation",
        "No extrapolation test (how the model does on materials unlike its training data).",
        "For example, compare errors on test materials whose chemical system is or is not in the training data, "
        "or use a leave-one-group-out split.",
    )
