"""protocol.* read from where the data go (autograder.checks.dataflow, `ctx.flow`): pre-processing
fitted on data that hold test rows (protocol.preprocessing_leak), and the test data used to tune or
select the model (protocol.test_tuning); with the messages that say which fit, on what, and where.
"""

from __future__ import annotations

import ast

from autograder.checks import ANALYSIS, check
from autograder.checks.analysis import (
    EARLY_STOPPING_KEYWORDS,
    FIT_METHODS,
    METRIC_FUNCTIONS,
    PREPROCESSORS,
    dotted,
)
from autograder.checks.dataflow.values import FILE, TEST, TRAIN, WHOLE, segment
from autograder.records import FAIL, PASS, WARN, Finding


@check("protocol.preprocessing_leak", needs=(ANALYSIS,))
def preprocessing_leak(ctx, spec) -> list[Finding]:
    """Scalers, imputers, feature selection and resampling are fitted on training data only."""
    a = ctx.analysis
    flow = ctx.flow
    protocol_at = a.protocol_cell_index
    verdicts = {FAIL: [], WARN: [], PASS: []}
    for event in flow.fits:
        if event.cell.origin != "student":
            continue
        if protocol_at is not None and event.root_cell.index > protocol_at:
            continue  # analysis after the protocol cell has recorded the predictions
        status, message = _judge_fit(event, a, flow)
        verdicts[status].append((event, message))
    details = {
        "leaks": [m for _, m in verdicts[FAIL]],
        "unsure": [m for _, m in verdicts[WARN]],
        "fitted_on_training_data": [f"{e.text()} ({e.where()})" for e, _ in verdicts[PASS]],
        "analysis_problems": flow.problems[:5],
    }
    if verdicts[FAIL]:
        return [
            spec.finding(
                FAIL,
                verdicts[FAIL][0][1] + " Fitting pre-processing on data that include the test "
                "rows lets them leak into training and makes the scores "
                "optimistic.",
                advice=_leak_advice(a),
                details=details,
            )
        ]
    if verdicts[WARN]:
        return [spec.finding(WARN, verdicts[WARN][0][1], advice=_leak_advice(a), details=details)]
    missed = flow.unfollowed(lambda call: _fits_preprocessing(call, a))
    if missed:
        cell, call = missed[0]
        return [
            spec.finding(
                WARN,
                f"Could not follow the data to `{segment(cell, call, 100)}` in cell "
                f"{cell.number} ({flow.problems[0]}), so whether it is fitted on training data "
                "only is not known; a marker will check.",
                details=details,
            )
        ]
    if verdicts[PASS]:
        return [
            spec.finding(
                PASS,
                f"Pre-processing is fitted on training data only ({len(verdicts[PASS])} fit"
                f"{'s' if len(verdicts[PASS]) > 1 else ''} followed to the data "
                f"{'they are' if len(verdicts[PASS]) > 1 else 'it is'} fitted on).",
                details=details,
            )
        ]
    return [
        spec.finding(PASS, "No pre-processing is fitted to data that include test rows.", details=details)
    ]


def _fits_preprocessing(call: ast.Call, a) -> bool:
    """`StandardScaler().fit(X)`, `scaler.fit_transform(X)`: a pre-processing step (or a pipeline) fitted."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in FIT_METHODS:
        return False
    if isinstance(func.value, ast.Call):
        klass = dotted(func.value.func).rsplit(".", 1)[-1]
    else:
        klass = a.student.constructed.get(dotted(func.value), "")
    return klass in PREPROCESSORS or klass in ("Pipeline", "make_pipeline")


def _leak_advice(a) -> str:
    if _template_protocol(a):
        return (
            "Fit scalers, imputers, feature selection and resampling inside `train_model`, on the fold's training "
            "data only (a scikit-learn Pipeline does this for you)."
        )
    return (
        "Split first and fit the pre-processing on the training part only (inside the fold loop, on each fold's "
        "training part, when there are folds), then only `transform` the test part; or put it in a Pipeline "
        "(`make_pipeline(StandardScaler(), model)`), which refits it on each training part."
    )


def _template_protocol(a) -> bool:
    """The official loop is the released template's locked protocol cell (not the student's own loop)."""
    at = a.protocol_cell_index
    return at is not None and a.notebook.cells[at].origin == "locked"


def _judge_fit(event, a, flow) -> tuple[str, str]:
    """Is this fit a leak (FAIL), something the analysis cannot settle (WARN) or fitted on training data (PASS)?"""
    protocol_at = a.protocol_cell_index
    kinds = event.data.kinds
    unsure = sorted(event.data.unsure)
    rebound = flow.rebound(event.arg_names)
    in_model = event.function in a.loop_called_functions
    from_protocol = protocol_at is not None and event.root_cell.index == protocol_at
    uses = list(event.used)
    first_look = in_model and bool(event.chain) and not from_protocol
    if (
        first_look
    ):  # the fold loop's own model code, called on other data for a look: only what comes out counts
        uses = [u for u in uses if u.root_id != event.root_id]
    what = f"A {event.klass}"
    if kinds and kinds <= {TRAIN}:
        fixed = (
            protocol_at is not None
            and not in_model
            and event.function not in a.featurise_functions
            and not from_protocol
            and any(u.root_cell.index == protocol_at for u in uses)
        )
        if fixed:
            return FAIL, (
                f"{what} is fitted once, outside the fold loop: {_fitted_on(event, flow)}, and then used by "
                f"the model in every fold ({uses[0].phrase()}). The training part of one split holds the "
                "test materials of the other folds."
            )
        return PASS, ""
    if WHOLE in kinds or {TRAIN, TEST} <= kinds:
        if unsure or rebound:
            return WARN, (
                f"Could not tell whether the {event.klass} is fitted on training data only: "
                f"{(unsure + rebound)[0]}. As far as the analysis can see, {_fitted_on(event, flow)}; a "
                "marker will check."
            )
        if uses:
            return FAIL, (
                f"{what} is fitted on data that include the test rows: {_fitted_on(event, flow)}, "
                f"{_when(event)}, and what it learnt reaches the evaluated model ({uses[0].phrase()})."
            )
        if first_look:
            return PASS, ""
        return WARN, (
            f"{what} is fitted on the whole data set: {_fitted_on(event, flow)}, but the analysis does not "
            "see its result reach the evaluated model. If it does, the test rows leak into training; if it "
            "is only for exploring (a plot), fine."
        )
    if kinds == {TEST}:
        return WARN, (
            f"{what} is fitted on the test data alone: {_fitted_on(event, flow)}. Fit it on the training "
            "part and only `transform` the test part, so that both are transformed alike."
        )
    if FILE in kinds:
        separated = bool(event.data.sources(FILE) & flow.separated)
        if separated and uses and not unsure and not rebound:
            return FAIL, (
                f"{what} is fitted on data that include the test rows: {_fitted_on(event, flow)}, which are "
                "split into training and test parts only later, and what it learnt reaches the evaluated "
                f"model ({uses[0].phrase()})."
            )
        reasons = unsure + rebound
        return WARN, (
            f"Could not tell whether the {event.klass} is fitted on training data only: "
            f"{_fitted_on(event, flow)}"
            + (f" ({reasons[0]})" if reasons else ", which may be a copy of the whole data set")
            + ". A marker will check."
        )
    if (
        protocol_at is not None
        and not in_model
        and not from_protocol
        and any(u.root_cell.index == protocol_at for u in uses)
    ):
        return WARN, (
            f"{what} is fitted outside the fold loop ({_fit_code(event)}) on data the analysis cannot "
            "trace, and then used by the model in every fold. If those data are materials of the data "
            "set, the test folds leak into training."
        )
    return PASS, ""


def _fit_code(event) -> str:
    place = f", in `{event.function}`" if event.function else ""
    return (
        f"`{event.text()}` in cell {event.cell.number}, line {event.node.lineno}{place}"
        if event.chain
        else f"`{event.text()}` in cell {event.cell.number}"
    )


def _fitted_on(event, flow) -> str:
    """`scaler.fit(X)` in cell 7 is fitted on `X`, made from the whole data set (`df = ...`, cell 3)."""
    what = _data_phrase(event, flow)
    if not event.chain:
        data = f"`{event.data_text}`" if event.data_text else "its data"
        return f"{_fit_code(event)} is fitted on {data}" + (f", {what}" if what else "")
    root = event.chain[0]
    called = " from ".join(f"`{frame.key}`" for frame in reversed(event.chain))
    return (
        f"{_fit_code(event)} is fitted on the data {called} is given, and "
        f"`{segment(root.cell, root.node, 100)}` in cell {root.cell.number} gives it "
        + (what.replace("made from", "data made from", 1) if what.startswith("made from") else f"data {what}")
    )


def _data_phrase(event, flow) -> str:
    data = event.data
    whole = flow.origin(data, WHOLE)
    if whole is not None:
        return f"made from the whole data set ({whole.describe()})"
    if TRAIN in data.kinds and TEST in data.kinds:
        return f"which joins training and test parts ({flow.origin(data, TEST).describe()})"
    if data.kinds == {TEST}:
        return f"the test part ({flow.origin(data, TEST).describe()})"
    if FILE in data.kinds:
        return f"read from a file ({flow.origin(data, FILE).describe()})"
    if data.kinds == {TRAIN}:
        return f"a training part ({flow.origin(data, TRAIN).describe()})"
    return ""


def _when(event) -> str:
    if any(loop.kind == "folds" for loop in event.loops):
        return "inside the fold loop but on every row instead of the fold's training part"
    if any(frame.key == "featurise" for frame in event.chain):
        return "before the folds are split (`featurise` runs once on every material)"
    return "before the data are split"


@check("protocol.test_tuning", needs=(ANALYSIS,))
def test_tuning(ctx, spec) -> list[Finding]:
    """Hyper-parameters, model selection and early stopping never use the test data."""
    a = ctx.analysis
    flow = ctx.flow
    hard, soft, evaluation = [], [], []
    has_test_set = a.uses_api or a.protocol_cell_index is not None or bool(flow.outer_splits)
    model_code = a.loop_called_functions | a.featurise_functions
    # (1) early stopping / validation on the test data
    for stop in flow.early_stops:
        text = (
            f"early stopping / validation on the test data: `{segment(stop.cell, stop.node, 100)}` in cell {stop.cell.number} "
            f"passes test rows as `{stop.keyword}`"
        )
        (soft if stop.unsure else hard).append(text)
    # (2) choices made from scores on the test data (best-of, argmin, min, sorted...)
    chosen_scores = set()
    for choice in flow.choices:
        where = f"`{choice.text}` in cell {choice.cell.number}"
        if choice.scores:
            chosen_scores |= choice.scores
            scores = [flow.scores[i] for i in sorted(choice.scores)]
            swept = [(score, loops) for score in scores for loops in [flow.sweep_loops(score)] if loops]
            score, loops = swept[0] if swept else (scores[0], [])
            unsure = choice.unsure | score.unsure
            seen = f"scores on the test data (`{score.text}`, cell {score.cell.number})"
            if loops and not unsure:
                hard.append(f"{where} chooses among the settings of {_loop_phrase(loops[0])} by their {seen}")
            elif loops or unsure:
                soft.append(
                    f"{where} makes a choice from {seen}" + (f"; {sorted(unsure)[0]}" if unsure else "")
                )
            elif choice.kind == "comparison":
                soft.append(
                    f"{where} keeps the best of several runs by their {seen}; if that choice gives the "
                    "model or the score you report, the test data selected it"
                )
            continue
        cvs = [flow.cv_scores[i] for i in sorted(choice.cvscores)]
        swept = [(cv, loops) for cv in cvs for loops in [flow.sweep_loops(cv)] if loops]
        if swept:
            cv, loops = swept[0]
            text = (
                f"{where} chooses among the settings of {_loop_phrase(loops[0])} by a cross-validation on the "
                f"whole data set (`{cv.text}`, cell {cv.cell.number})"
            )
            if has_test_set and not choice.unsure:
                hard.append(text + ", whose folds hold the test data")
            else:
                soft.append(text + ": the same data tune and evaluate the model, so its score is optimistic")
    # (3) test scores of several settings, with no choice in the code (perhaps made by eye)
    for score in flow.scores:
        if score.id in chosen_scores:
            continue
        loops = flow.sweep_loops(score, tuned_only=True)  # several fixed models side by side are a comparison
        if loops:
            soft.append(
                f"`{score.text}` in cell {score.cell.number} scores each setting of "
                f"{_loop_phrase(loops[0])} on the test data; if you chose among them by these scores, the "
                "test data tuned the model"
            )
        else:
            evaluation.append(f"`{score.text}` in cell {score.cell.number}")
    # (4) searches (GridSearchCV...) fitted on data that hold test rows
    for search in flow.searches:
        kinds = search.data.kinds
        where = f"`{segment(search.cell, search.node, 100)}` in cell {search.cell.number}"
        if TEST in kinds and TRAIN not in kinds:
            (soft if search.data.unsure else hard).append(f"{where} fits a {search.klass} with the test data")
        elif not kinds or kinds <= {TRAIN} or search.function in model_code:
            continue
        elif search.used and has_test_set and not search.data.unsure:
            hard.append(
                f"{where} runs a {search.klass} on the whole data set (test rows included) and its best "
                "settings are used"
            )
        else:
            soft.append(
                f"{where} runs a {search.klass} on the whole data set outside the folds; if its result chose "
                "your final settings, the test data took part in tuning"
            )
    for cell, call in flow.unfollowed(
        lambda call: (
            dotted(call.func).rsplit(".", 1)[-1] in METRIC_FUNCTIONS
            or any(k.arg in EARLY_STOPPING_KEYWORDS for k in call.keywords)
        )
    ):
        soft.append(
            f"the analysis could not follow the data to `{segment(cell, call, 100)}` in cell {cell.number} "
            f"({flow.problems[0]})"
        )
        break
    details = {
        "signals": hard,
        "weak_signals": soft,
        "evaluation": evaluation[:10],
        "analysis_problems": flow.problems[:5],
    }
    if hard:
        return [
            spec.finding(
                FAIL,
                "Test data is used to tune or select the model: " + hard[0] + ". A score obtained "
                "on data used for tuning is optimistic and not comparable with the leaderboard.",
                advice=_tuning_advice(a),
                details=details,
            )
        ]
    if soft:
        return [
            spec.finding(
                WARN,
                "Could not rule out tuning on the test data: " + soft[0] + ". A marker will check.",
                advice=_tuning_advice(a),
                details=details,
            )
        ]
    return [
        spec.finding(
            PASS,
            "No sign of tuning, model selection or early stopping on test data"
            + (
                f"; the scores on test data the code computes ({evaluation[0]}"
                + (f" and {len(evaluation) - 1} more" if len(evaluation) > 1 else "")
                + ") evaluate fixed models."
                if evaluation
                else "."
            ),
            details=details,
        )
    ]


def _tuning_advice(a) -> str:
    if _template_protocol(a):
        return (
            "Tune inside `train_model` with an inner split or cross-validation of the training data it receives "
            "(e.g. GridSearchCV(...).fit(features, targets))."
        )
    return (
        "Choose settings on a validation split or by cross-validation of the training part only (e.g. "
        "GridSearchCV(...).fit(X_train, y_train)), and score the chosen model on the test data once."
    )


def _loop_phrase(loop) -> str:
    return f"the loop over `{loop.text}` (cell {loop.cell.number})"
