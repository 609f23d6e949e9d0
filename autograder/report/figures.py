"""Figures for the feedback page and the cohort summary, as self-contained `data:` URIs (PNG), so a
page opens offline with no external assets. matplotlib's object API is used (no pyplot), so no
GUI backend and no global state is involved.

Margins are set in inches from the text each figure holds (`_margins`), not found by
`bbox_inches="tight"`, which lays the whole figure out a second time: the feedback pages are
written while the cohort's notebooks run, and that second pass was a quarter of their drawing time.

Every chart is content-addressed: its key is a hash of exactly what it is drawn from (its arguments,
numpy arrays by their bytes) and of the drawing code (this file, matplotlib's version). Inside
`deferred(folder)` a chart is not drawn when called: it stands as a placeholder naming its key, so a
page can be hashed before anything is drawn; `Drawings.resolve` then replaces each placeholder with
the PNG kept in `folder` under that key, drawing only the charts not kept yet. Outside `deferred` a
chart is drawn as it is called (the cohort summary, the tests)."""

from __future__ import annotations

import base64
import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.course.challenges import Challenge
from autograder.grade.record import FINAL, PROVISIONAL

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
ACCENT = "#c2410c"  # the student's model
SEEN = "#2563eb"
UNSEEN = "#d97706"
REFERENCE = "#52606d"
DPI = 144


def _figure(width: float, height: float) -> Figure:
    # matplotlib (about 0.5 s of imports) only when a chart is drawn: a re-grade that finds every chart
    # kept draws none
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    return figure


def _style(ax):
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(MUTED)
    ax.tick_params(colors=INK, labelsize=8)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


@functools.lru_cache(maxsize=1024)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in inches of one line of text in matplotlib's default font (from the font's metrics,
    no drawing)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = TextToPath().get_text_width_height_descent(text, font, ismath=False)
    return width / 72


def _margins(figure: Figure, left: float, bottom: float, right: float = 0.15, top: float = 0.1) -> None:
    """Place the axes with these margins, in inches (room for tick labels, axis labels and title)."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )


# Room, in inches, for one row of 8 pt tick labels plus an 8.5 pt axis label below the axes, for a
# 10 pt title above them, and for numeric y tick labels plus the y axis label on the left.
BELOW = 0.52
TITLE = 0.34
NUMBERS_LEFT = 0.78


PNG_URI = "data:image/png;base64,"
PLACEHOLDER = "data:image/png;autograder-figure="  # a chart not drawn yet, by its key (see deferred)


def to_data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return PNG_URI + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- content addressing ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """What else a chart depends on: this file's drawing code and matplotlib's version."""
    from importlib.metadata import version  # the installed version, without importing matplotlib

    return hashlib.sha256(Path(__file__).read_bytes() + version("matplotlib").encode()).hexdigest()


def _canonical(value):
    """A JSON-able form of a chart's argument that changes whenever what it draws would."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {
            "array": str(array.dtype),
            "shape": list(array.shape),
            "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
        }
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            return _canonical_frozen(value)
        except TypeError:  # not hashable: not frozen, so read each time
            return {type(value).__name__: _canonical(dataclasses.asdict(value))}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "__dict__"):  # a plain object (a rubric band): by its attributes
        return {type(value).__name__: _canonical(vars(value))}
    return repr(value)


@functools.lru_cache(maxsize=64)
def _canonical_frozen(value) -> dict:
    """A frozen dataclass (a Challenge with its leaderboard), read once: every chart of a cohort has one."""
    return {type(value).__name__: _canonical(dataclasses.asdict(value))}


def figure_key(name: str, args: tuple, kwargs: dict) -> str:
    blob = json.dumps([name, code_version(), _canonical(list(args)), _canonical(kwargs)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class Drawings:
    """The charts asked for inside `deferred(folder)`: key -> how to draw it; PNGs kept in `folder`."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None
        self.pending: dict[str, Callable[[], str]] = {}
        self.drawn: list[str] = []  # keys drawn by resolve (the others came from the folder)

    def placeholder(self, key: str, draw: Callable[[], str]) -> str:
        self.pending[key] = draw
        return PLACEHOLDER + key

    def uri(self, key: str) -> str:
        path = self.folder / f"{key}.png" if self.folder is not None else None
        if path is not None:
            try:
                return PNG_URI + base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError:
                pass  # not kept yet (or unreadable): drawn again
        uri = self.pending[key]()
        self.drawn.append(key)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
            tmp.write_bytes(base64.b64decode(uri[len(PNG_URI) :]))
            os.replace(tmp, path)
        return uri

    def resolve(self, value):
        """`value` with each placeholder replaced by its chart (kept, or drawn now)."""
        if isinstance(value, str):
            return self.uri(value[len(PLACEHOLDER) :]) if value.startswith(PLACEHOLDER) else value
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        return value


_DEFERRED: contextvars.ContextVar[Drawings | None] = contextvars.ContextVar("deferred_figures", default=None)


@contextlib.contextmanager
def deferred(folder: Path | None = None):
    """Charts called inside stand as placeholders (their keys); resolve them with the Drawings."""
    drawings = Drawings(folder)
    token = _DEFERRED.set(drawings)
    try:
        yield drawings
    finally:
        _DEFERRED.reset(token)


def content_addressed(function):
    """A chart function that, inside `deferred`, returns its placeholder instead of drawing."""

    @functools.wraps(function)
    def chart(*args, **kwargs):
        drawings = _DEFERRED.get()
        if drawings is None:
            return function(*args, **kwargs)
        return drawings.placeholder(
            figure_key(function.__name__, args, kwargs), functools.partial(function, *args, **kwargs)
        )

    return chart


def _use_log(values: list[float]) -> bool:
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > 6


@content_addressed
def leaderboard_chart(challenge: Challenge, models: list[dict], title: str = "") -> str:
    """The leaderboard entries (mean ± std) with the given models placed among them.
    models: [{"label", "mean", "std", "folds": [fold scores] (optional), "highlight": bool}]."""
    entries: list[dict[str, Any]] = [
        {
            "label": e.algorithm,
            "mean": e.mean,
            "std": e.std or 0.0,
            "kind": "dummy" if e.algorithm == "Dummy" else "entry",
        }
        for e in challenge.leaderboard
    ]
    for model in models:
        if model.get("mean") is not None:
            entries.append(
                {
                    "label": model["label"],
                    "mean": model["mean"],
                    "std": model.get("std") or 0.0,
                    "kind": "model",
                    "folds": model.get("folds") or [],
                    "highlight": model.get("highlight", True),
                }
            )
    entries.sort(key=lambda e: e["mean"], reverse=challenge.higher_is_better)  # best first, drawn at the top
    height = 0.9 + 0.22 * len(entries)
    figure = _figure(8.0, height)
    labels_width = max(text_width(e["label"], 8, bold=e["kind"] == "model") for e in entries)
    _margins(figure, left=labels_width + 0.2, bottom=BELOW, right=0.25, top=TITLE if title else 0.1)
    ax = figure.add_subplot()
    _style(ax)
    ax.grid(True, axis="x", color=GRID)
    ax.grid(False, axis="y")
    ys = np.arange(len(entries))[::-1]
    # one errorbar call per kind of entry, not per entry: far fewer artists to lay out and draw
    for kind, color in (("entry", REFERENCE), ("dummy", MUTED)):
        rows = [(y, e) for y, e in zip(ys, entries) if e["kind"] == kind]
        if rows:
            ax.errorbar(
                [e["mean"] for _, e in rows],
                [y for y, _ in rows],
                xerr=[e["std"] for _, e in rows],
                fmt="o",
                color=color,
                markersize=4.5,
                capsize=2,
                linewidth=1,
                zorder=2,
            )
    for y, entry in zip(ys, entries):
        if entry["kind"] == "model":
            color = ACCENT if entry.get("highlight", True) else "#f59e0b"
            ax.errorbar(
                entry["mean"],
                y,
                xerr=entry["std"],
                fmt="D",
                color=color,
                markersize=7,
                capsize=3,
                linewidth=1.5,
                zorder=4,
            )
            folds = [f for f in entry.get("folds", []) if f is not None]
            if folds:
                jitter = np.linspace(-0.18, 0.18, len(folds))
                ax.scatter(folds, y + jitter, s=10, color=color, alpha=0.55, zorder=3, linewidths=0)
    ax.set_yticks(ys)
    labels = ax.set_yticklabels([e["label"] for e in entries], fontsize=8)
    for label, entry in zip(labels, entries):
        if entry["kind"] == "model":
            label.set_color(ACCENT)
            label.set_fontweight("bold")
    arrow = "higher is better" if challenge.higher_is_better else "lower is better"
    unit = f" ({challenge.unit})" if challenge.unit and not challenge.is_classification else ""
    ax.set_xlabel(
        f"{challenge.metric_label}{unit}, mean ± std over 5 folds — {arrow}", fontsize=8.5, color=INK
    )
    if not challenge.higher_is_better and _use_log([e["mean"] for e in entries]):
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(ax.get_xlabel() + " (log scale)", fontsize=8.5, color=INK)
    if title:
        ax.set_title(title, fontsize=10, color=INK, loc="left")
    ax.set_ylim(-0.7, len(entries) - 0.3)
    return to_data_uri(figure)


@content_addressed
def parity_plot(challenge: Challenge, y_true: np.ndarray, y_pred: np.ndarray, seen: np.ndarray) -> str:
    figure = _figure(4.6, 4.4)
    _margins(figure, left=NUMBERS_LEFT, bottom=BELOW, top=TITLE)
    ax = figure.add_subplot()
    _style(ax)
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    pad = 0.03 * (high - low or 1.0)
    ax.plot(
        [low - pad, high + pad], [low - pad, high + pad], color=MUTED, linewidth=1, linestyle="--", zorder=1
    )
    size = 6 if len(y_true) > 3000 else 9
    ax.scatter(
        y_true[seen],
        y_pred[seen],
        s=size,
        alpha=0.45,
        color=SEEN,
        linewidths=0,
        label=f"chemical system seen in training ({int(seen.sum())})",
        zorder=2,
    )
    ax.scatter(
        y_true[~seen],
        y_pred[~seen],
        s=size,
        alpha=0.45,
        color=UNSEEN,
        linewidths=0,
        label=f"unseen system ({int((~seen).sum())})",
        zorder=3,
    )
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_aspect("equal")
    unit = f" ({challenge.unit})" if challenge.unit else ""
    ax.set_xlabel(f"true {challenge.target}{unit}", fontsize=8.5, color=INK)
    ax.set_ylabel(f"predicted{unit}", fontsize=8.5, color=INK)
    ax.legend(fontsize=7, frameon=False, loc="upper left", markerscale=2)
    ax.set_title("Parity plot, all five test folds", fontsize=10, color=INK, loc="left")
    return to_data_uri(figure)


@content_addressed
def roc_curve_plot(y_true: np.ndarray, y_pred: np.ndarray, is_probability: bool) -> str:
    from sklearn.metrics import auc, roc_curve

    figure = _figure(4.4, 4.2)
    _margins(figure, left=NUMBERS_LEFT, bottom=BELOW, top=TITLE)
    ax = figure.add_subplot()
    _style(ax)
    truth = y_true.astype(bool)
    ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1, label="random guess (0.50)")
    labels = y_pred >= 0.5
    fpr, tpr, _ = roc_curve(truth, labels.astype(float))
    ax.plot(
        fpr,
        tpr,
        color=ACCENT,
        linewidth=2,
        marker="o",
        markersize=4,
        label=f"labels at 0.5 (leaderboard metric): {auc(fpr, tpr):.3f}",
    )
    if is_probability:
        fpr_p, tpr_p, _ = roc_curve(truth, y_pred)
        ax.plot(fpr_p, tpr_p, color=SEEN, linewidth=1.6, label=f"probabilities: {auc(fpr_p, tpr_p):.3f}")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate", fontsize=8.5, color=INK)
    ax.set_ylabel("true positive rate", fontsize=8.5, color=INK)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title("ROC curve, all five test folds", fontsize=10, color=INK, loc="left")
    return to_data_uri(figure)


@content_addressed
def confusion_matrix_plot(
    y_true: np.ndarray, y_pred: np.ndarray, positive: str = "True", negative: str = "False"
) -> str:
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true.astype(bool), y_pred >= 0.5, labels=[False, True])
    figure = _figure(3.8, 3.4)
    _margins(
        figure,
        left=max(text_width(f"true {name}", 8) for name in (negative, positive)) + 0.2,
        bottom=0.32,
        top=TITLE,
    )
    ax = figure.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    total = matrix.sum() or 1
    for (i, j), value in np.ndenumerate(matrix):
        dark = value > matrix.max() * 0.55
        ax.text(
            j,
            i,
            f"{value}\n{100 * value / total:.1f} %",
            ha="center",
            va="center",
            fontsize=9,
            color="white" if dark else INK,
        )
    ax.set_xticks([0, 1], [f"predicted {negative}", f"predicted {positive}"], fontsize=8)
    ax.set_yticks([0, 1], [f"true {negative}", f"true {positive}"], fontsize=8)
    ax.set_title("Confusion matrix (threshold 0.5)", fontsize=10, color=INK, loc="left")
    for spine in ax.spines.values():
        spine.set_visible(False)
    return to_data_uri(figure)


@content_addressed
def seen_unseen_chart(challenge: Challenge, seen_unseen: dict) -> str:
    """The task's own metric (the leaderboard's: MAE, or ROC-AUC of the labels) on test materials of
    seen and of unseen chemical systems; the axis says which metric, its unit and which way is better."""
    names = [n for n in ("seen", "unseen") if (seen_unseen.get(n) or {}).get("value") is not None]
    values = [seen_unseen[n]["value"] for n in names]
    labels = [f"{n} chemical system" for n in names]
    notes = [f"  {value:.3g}  (n = {seen_unseen[name]['n']})" for value, name in zip(values, names)]
    figure = _figure(4.0, 2.2)
    # the value notes sit at the end of each bar; the right margin holds the longest one
    _margins(
        figure,
        left=max([text_width(label, 8) for label in labels] or [0.5]) + 0.2,
        bottom=BELOW,
        right=max([text_width(note, 8) for note in notes] or [0.1]) + 0.1,
    )
    ax = figure.add_subplot()
    _style(ax)
    ax.grid(False, axis="y")
    colors = [SEEN if n == "seen" else UNSEEN for n in names]
    ys = np.arange(len(names))[::-1]
    ax.barh(ys, values, color=colors, height=0.55)
    for y, value, note in zip(ys, values, notes):
        ax.text(value, y, note, va="center", fontsize=8, color=INK)
    ax.set_yticks(ys, labels, fontsize=8)
    if challenge.is_classification:  # ROC-AUC: the whole scale, with a random guess's 0.5 marked
        ax.set_xlim(0, 1)
        ax.axvline(0.5, color=MUTED, linewidth=1, linestyle="--", zorder=1)
    else:
        ax.set_xlim(0, max(values or [1]) * 1.02)
    unit = f" ({challenge.unit})" if challenge.unit and not challenge.is_classification else ""
    arrow = "higher is better" if challenge.higher_is_better else "lower is better"
    ax.set_xlabel(f"{challenge.metric_label}{unit} — {arrow}", fontsize=8.5, color=INK)
    return to_data_uri(figure)


@content_addressed
def histogram(values_by_kind: dict[str, list[float]], bands: list, title: str, xlabel: str) -> str:
    """Marks histogram with band boundaries (cohort summary)."""
    figure = _figure(4.6, 2.4)
    _margins(figure, left=0.55, bottom=BELOW, top=TITLE)
    ax = figure.add_subplot()
    _style(ax)
    bins = list(range(0, 105, 5))
    colors = {FINAL: "#2563eb", PROVISIONAL: "#93c5fd"}
    stacked = [values_by_kind.get(k, []) for k in colors]
    ax.hist(
        stacked, bins=bins, stacked=True, color=list(colors.values()), label=list(colors), edgecolor="white"
    )
    for band in bands:
        if band.min > 0:
            ax.axvline(band.min - 0.5, color=MUTED, linewidth=0.8, linestyle=":")
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel, fontsize=8.5, color=INK)
    ax.set_ylabel("students", fontsize=8.5, color=INK)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10, color=INK, loc="left")
    return to_data_uri(figure)


@content_addressed
def criterion_marks_chart(rows: list[tuple[str, list[float]]]) -> str:
    """One box per criterion (cohort summary)."""
    figure = _figure(4.6, 0.6 + 0.36 * max(1, len(rows)))
    labels = [f"{name} (n = {len(values)})" for name, values in rows]
    _margins(figure, left=max(text_width(label, 8) for label in labels or [""]) + 0.2, bottom=BELOW)
    ax = figure.add_subplot()
    _style(ax)
    ax.grid(False, axis="y")
    data = [values if values else [np.nan] for _, values in rows]
    ys = np.arange(len(rows))[::-1] + 1
    ax.boxplot(
        data,
        positions=ys,
        vert=False,
        widths=0.5,
        patch_artist=True,
        boxprops={"facecolor": "#dbeafe", "color": SEEN},
        medianprops={"color": ACCENT},
        whiskerprops={"color": SEEN},
        capprops={"color": SEEN},
        flierprops={"markersize": 3},
    )
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("mark", fontsize=8.5, color=INK)
    return to_data_uri(figure)
