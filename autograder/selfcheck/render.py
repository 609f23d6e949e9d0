"""The Report shown: plain text (a pipe, a file, NO_COLOR), a rich table (a terminal) and HTML (in a
notebook), reached through Report.render_text / print / to_html. rich and jinja2 are imported only by
the renderer that uses them.

The renderers read a report's fields and verdict (selfcheck/report.py) and import nothing of it, so
the dependency goes one way: report.py imports this module, when asked to render."""

from __future__ import annotations

import os
import re
import sys
import time

from autograder.records import COULD_NOT_RUN, FAIL, INFO, NOT_APPLICABLE, PASS, WARN, Finding
from autograder.results.metrics import format_score
from autograder.selfcheck.labels import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNUSABLE,
    STATUS_MARK,
    STATUS_ORDER,
    STATUS_WORD,
    label_of,
    when_graded,
)

# Shown in the score block rather than as checklist rows (unless they fail or warn).
SCORE_ITEMS = ("protocol.scores", "leaderboard.rank")


def _header(report) -> str:
    ch = report.challenge
    text = f"Self-check of {report.notebook.name}"
    if ch is not None:
        text += f": challenge {ch.letter} ({ch.task})"
    return text


def _score_lines(report) -> list[str]:
    s = report.score
    lines = []
    if s is not None:
        unit = f" {s['unit']}" if s.get("unit") else ""
        line = f"Your {s['label']}: {format_score(s['mean'])} ± {format_score(s['std'])}{unit}"
        if s["complete"]:
            line += " over the 5 official folds"
            if s.get("rank"):
                line += f", which would rank {s['rank']} of {(s.get('entries') or 0) + 1} on the leaderboard"
        else:
            line += f" over {s['folds_scored']} of 5 folds only: not comparable with the leaderboard"
        if s.get("mae_over_mad") is not None:
            line += f" (MAE/MAD {s['mae_over_mad']:.2f}; 1 = predicting the mean)"
        lines.append(line + ".")
        if s.get("proba_rocauc"):
            p = s["proba_rocauc"]
            lines.append(
                f"ROC-AUC of your probabilities: {format_score(p['mean'])} ± {format_score(p['std'])} (not the "
                "leaderboard's figure, which matbench computes from True/False labels)."
            )
    if report.references:
        direction = (
            "higher is better"
            if (report.challenge and report.challenge.higher_is_better)
            else "lower is better"
        )
        refs = "; ".join(_reference_text(r) for r in report.references)
        lines.append(f"Leaderboard ({direction}): {refs}.")
    return lines


def _reference_text(r: dict) -> str:
    name = f"best ({r['algorithm']})" if r["label"] == "best" else r["label"]
    return f"{name} {format_score(r['mean'])}" + (
        f" ± {format_score(r['std'])}" if r.get("std") is not None else ""
    )


def _grouped(report):
    """(rows shown in full, passed, not applicable, not checked) for the renderers; not checked is
    {"labels": [...], "reasons": [...]} or None."""
    rows, passed, na, unchecked = [], [], [], []
    for f in sorted(report.items, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        if f.check_id in SCORE_ITEMS and f.status in (PASS, INFO):
            continue
        if f.status == PASS:
            passed.append(f)
        elif f.status == NOT_APPLICABLE:
            na.append(f)
        elif f.status == COULD_NOT_RUN:
            unchecked.append(f)
        else:
            rows.append(f)
    not_checked = None
    if unchecked:
        reasons = []
        for f in unchecked:
            reason = re.sub(r"^Not (checked|compared with the leaderboard):\s*", "", f.message).strip()
            reason = re.sub(r"\s*\(see [\w.]+\)", "", reason)
            reason = reason[:1].upper() + reason[1:]
            if reason not in reasons:
                reasons.append(reason)
        not_checked = {"labels": [label_of(f.check_id) for f in unchecked], "reasons": reasons}
    return rows, passed, na, not_checked


def _found(f: Finding) -> str:
    """An INFO finding as one line: its label, then its message without a repeated label."""
    label = label_of(f.check_id)
    message = f.message
    if message.lower().startswith(label.lower() + ":"):
        message = message[len(label) + 1 :].strip()
        message = message[:1].upper() + message[1:]
    return f"{label}: {message}"


def _notes_and_run(report) -> list[str]:
    lines = []
    if report.execution:
        e = report.execution
        where = (
            "in the bubblewrap sandbox"
            if e.get("sandbox") == "bubblewrap"
            else "UNSANDBOXED: bubblewrap cannot be used here"
        )
        text = f"Ran the notebook as the grader does ({where}): {e.get('status', '?')}"
        if e.get("wall_seconds") is not None:
            text += f" in {e['wall_seconds']:.0f} s"
        failed = e.get("failed_cells") or []
        if e.get("reason"):
            text += f". {e['reason'].rstrip('.')}"
        elif failed:
            first = failed[0]
            text += (
                f". {len(failed)} cell{'s' if len(failed) > 1 else ''} failed in that run, the first "
                f"(cell {first['cell']}) with {first['error'] or first['status']}"
            )
        lines.append(text.rstrip(".") + ".")
        if e.get("executed_copy"):
            lines.append(f"The notebook as that run left it (outputs, errors): {e['executed_copy']}.")
    lines.extend(n.message for n in report.notes)
    return lines


def as_text(report, width: int = 100) -> str:
    import textwrap

    width = max(60, min(width, 120))
    out = [_header(report), "=" * min(width, len(_header(report)))]

    def wrap(text, first, rest):
        return textwrap.fill(
            text, width=width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
        )

    for line in _notes_and_run(report):
        out.append(wrap(line, "» ", "  "))
    rows, passed, na, not_checked = _grouped(report)
    sections = ((FAIL, "Must fix"), (WARN, "Worth a look"), (INFO, "What the checks found (for the marker)"))
    for status, title in sections:
        group = [f for f in rows if f.status == status]
        if not group:
            continue
        out += ["", f"{title}:"]
        for f in group:
            if status == INFO:
                out.append(wrap(_found(f), f"  {STATUS_MARK[status]} ", "    "))
                continue
            out.append(f"  {STATUS_MARK[status]} {label_of(f.check_id)}")
            out.append(wrap(f.message, "    ", "    "))
            if f.advice:
                out.append(wrap("→ " + f.advice, "    ", "      "))
    if not_checked or passed or na:
        out.append("")
    if not_checked:
        out.append(
            wrap(
                f"? Not checked ({len(not_checked['labels'])}): "
                + ", ".join(not_checked["labels"])
                + ". Why: "
                + " ".join(not_checked["reasons"]),
                "",
                "    ",
            )
        )
    if passed:
        out.append(
            wrap(
                f"✓ Passed ({len(passed)}): " + ", ".join(label_of(f.check_id) for f in passed) + ".",
                "",
                "    ",
            )
        )
    if na:
        out.append(
            wrap(
                f"– Not applicable here ({len(na)}): " + ", ".join(label_of(f.check_id) for f in na) + ".",
                "",
                "    ",
            )
        )
    out.append(wrap("… Checked when graded: " + ", ".join(when_graded()) + ".", "", "    "))
    score = _score_lines(report)
    if score:
        out.append("")
        out.extend(wrap(line, "", "  ") for line in score)
    out.append("")
    out.append(wrap(f"Result: {report.summary_line()} (exit status {report.exit_code})", "", "  "))
    return "\n".join(out)


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def print_report(report, file=None, rich: bool | None = None) -> None:
    """A rich table on a terminal (unless NO_COLOR), plain text elsewhere; `rich` forces either."""
    file = file or sys.stdout
    if rich is None:
        rich = hasattr(file, "isatty") and file.isatty() and not os.environ.get("NO_COLOR")
    if rich:
        _print_rich(report, file)
    else:
        file.write(as_text(report, terminal_width()) + "\n")


def _print_rich(report, file) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False)
    console.print(Text(_header(report), style="bold"))
    for line in _notes_and_run(report):
        console.print(Text("» " + line, style="yellow"))
    style = {
        FAIL: "bold red",
        WARN: "yellow",
        COULD_NOT_RUN: "magenta",
        INFO: "cyan",
        PASS: "green",
        NOT_APPLICABLE: "dim",
    }
    table = Table(show_lines=True, expand=True)
    table.add_column("", no_wrap=True)
    table.add_column("Check", width=max(14, min(24, console.width // 6)))
    table.add_column("What we found", ratio=3, overflow="fold")
    table.add_column("What to do", ratio=2, overflow="fold")
    rows, passed, na, not_checked = _grouped(report)
    for f in rows:
        table.add_row(
            Text(f"{STATUS_MARK[f.status]} {STATUS_WORD[f.status]}", style=style[f.status]),
            Text(label_of(f.check_id)),
            Text(_found(f).split(": ", 1)[1] if f.status == INFO else f.message),
            Text(f.advice or ""),
        )
    if not_checked:
        table.add_row(
            Text("? NOT RUN", style=style[COULD_NOT_RUN]),
            Text(", ".join(not_checked["labels"])),
            Text(" ".join(not_checked["reasons"])),
            "",
        )
    if passed:
        table.add_row(
            Text(f"✓ PASS {len(passed)}", style=style[PASS]),
            Text(", ".join(label_of(f.check_id) for f in passed)),
            "",
            "",
        )
    if na:
        table.add_row(
            Text("– N/A", style=style[NOT_APPLICABLE]),
            Text(", ".join(label_of(f.check_id) for f in na)),
            Text(na[0].message if len(na) == 1 else ""),
            "",
        )
    console.print(table)
    console.print(Text("… Checked when graded: " + ", ".join(when_graded()) + ".", style="dim"))
    for line in _score_lines(report):
        console.print(Text(line))
    verdict_style = {EXIT_OK: "bold green", EXIT_FAIL: "bold red", EXIT_UNUSABLE: "bold yellow"}[
        report.exit_code
    ]
    console.print(
        Text(f"Result: {report.summary_line()} (exit status {report.exit_code})", style=verdict_style)
    )


_HTML = """
<div class="autograder-selfcheck" style="font-family: system-ui, sans-serif; max-width: 1100px">
<h3 style="margin: 0.3em 0">{{ header }}</h3>
<p style="margin: 0.2em 0; color: #555">Checked the notebook as last saved{% if saved %} ({{ saved }}){% endif %}:
save it first (Ctrl+S / Cmd+S) to check your latest changes. Same checks as the graders use.</p>
{% for line in notes %}<p style="margin: 0.3em 0; padding: 0.3em 0.6em; background: #fff4d6;
border-left: 4px solid #e0a800">{{ line }}</p>{% endfor %}
{% if score %}<p style="margin: 0.5em 0"><b>Score.</b> {% for line in score %}{{ line }} {% endfor %}</p>{% endif %}
<table style="border-collapse: collapse; width: 100%; margin-top: 0.5em">
<colgroup><col style="width: 10%"><col style="width: 18%"><col style="width: 42%"><col style="width: 30%"></colgroup>
<thead><tr style="text-align: left; border-bottom: 2px solid #999">
<th style="padding: 4px">Status</th><th style="padding: 4px">Check</th>
<th style="padding: 4px">What we found</th><th style="padding: 4px">What to do</th></tr></thead>
<tbody>
{% for row in rows %}<tr style="border-bottom: 1px solid #ddd; vertical-align: top">
<td style="padding: 4px; white-space: nowrap; color: {{ row.color }}; font-weight: bold"
 data-status="{{ row.status }}">{{ row.mark }} {{ row.word }}</td>
<td style="padding: 4px">{{ row.label }}</td><td style="padding: 4px">{{ row.message }}</td>
<td style="padding: 4px">{{ row.advice }}</td></tr>
{% endfor %}</tbody></table>
<p style="margin: 0.4em 0; font-weight: bold; color: {{ verdict_color }}"
 data-exit-code="{{ exit_code }}">{{ verdict }}</p>
</div>
"""

_COLORS = {
    FAIL: "#c0392b",
    WARN: "#b7791f",
    COULD_NOT_RUN: "#8e44ad",
    INFO: "#2c7a7b",
    PASS: "#2f855a",
    NOT_APPLICABLE: "#888",
}


def as_html(report) -> str:
    import jinja2

    rows_f, passed, na, not_checked = _grouped(report)
    rows = [
        {
            "status": f.status,
            "mark": STATUS_MARK[f.status],
            "word": STATUS_WORD[f.status],
            "color": _COLORS[f.status],
            "label": label_of(f.check_id),
            "message": _found(f).split(": ", 1)[1] if f.status == INFO else f.message,
            "advice": f.advice,
        }
        for f in rows_f
    ]
    if not_checked:
        rows.append(
            {
                "status": COULD_NOT_RUN,
                "mark": "?",
                "word": "NOT RUN",
                "color": _COLORS[COULD_NOT_RUN],
                "label": "Not checked",
                "message": ", ".join(not_checked["labels"]) + ".",
                "advice": " ".join(not_checked["reasons"]),
            }
        )
    if passed:
        rows.append(
            {
                "status": PASS,
                "mark": "✓",
                "word": f"PASS ({len(passed)})",
                "color": _COLORS[PASS],
                "label": "Passed",
                "message": ", ".join(label_of(f.check_id) for f in passed) + ".",
                "advice": "",
            }
        )
    if na:
        rows.append(
            {
                "status": NOT_APPLICABLE,
                "mark": "–",
                "word": "N/A",
                "color": _COLORS[NOT_APPLICABLE],
                "label": "Not applicable here",
                "message": ", ".join(label_of(f.check_id) for f in na) + ".",
                "advice": "",
            }
        )
    rows.append(
        {
            "status": "when-graded",
            "mark": "…",
            "word": "LATER",
            "color": "#888",
            "label": "Checked when graded",
            "message": ", ".join(when_graded()) + ".",
            "advice": "",
        }
    )
    saved = None
    if report.notebook_saved_at:
        minutes = (time.time() - report.notebook_saved_at) / 60
        saved = time.strftime("%H:%M", time.localtime(report.notebook_saved_at)) + (
            f", {minutes:.0f} min ago" if minutes >= 1 else ", just now"
        )
    verdict_color = {EXIT_OK: "#2f855a", EXIT_FAIL: "#c0392b", EXIT_UNUSABLE: "#b7791f"}[report.exit_code]
    template = jinja2.Environment(autoescape=True).from_string(_HTML)
    return template.render(
        header=_header(report),
        saved=saved,
        notes=_notes_and_run(report),
        rows=rows,
        score=_score_lines(report),
        verdict="Result: " + report.summary_line(),
        verdict_color=verdict_color,
        exit_code=report.exit_code,
    )
