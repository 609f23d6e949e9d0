"""declaration.*: the Large Language Model (LLM) usage declaration.

The lecture asks four questions: did you use an LLM (which one)? for which tasks? were any
limitations or biases noted? how did you ensure ethical use? The template's own prompt text names
LLMs ("e.g. GPT-4, Gemini, Co-Pilot") and even says "No, I did not use an LLM" in its
instructions, so keyword search is wrong: we remove every line (or part of a line) that comes from
the released notebook, and judge only what is left, the student's own words.

The section is found however it is written: any heading level, `##**Title**` without a space, a
bold line, a table (| question | answer |), a bullet list, the questions in another order.
"""

from __future__ import annotations

import difflib
import re

from autograder.checks import NOTEBOOK, check
from autograder.checks.notebook import ANSWER_STUB, normalise_text
from autograder.records import FAIL, NOT_APPLICABLE, PASS, WARN, Finding

QUESTIONS = ("used", "tasks", "limitations", "ethics")
QUESTION_LABELS = {
    "used": "Did you use an LLM (which one)?",
    "tasks": "For which tasks?",
    "limitations": "Were any limitations or biases noted?",
    "ethics": "How did you ensure ethical use?",
}
# The prompts of this course's template and of the lecture's slide (used with the released
# notebook's own text, and alone when the released notebook is not available).
BUILTIN_TEMPLATE_LINES = (
    "Large Language Model (LLM) usage declaration",
    "Large Language Model (LLM) Usage Declaration",
    'Answer each question; "No, I did not use an LLM" is a complete declaration.',
    "Did you use an LLM (e.g. GPT-4, Gemini, Co-Pilot)?",
    "Did you use an LLM (e.g. GPT-3, Gemini, Co-Pilot)?",
    "Which tasks (e.g. summarising research, code snippets)?",
    "For which tasks (e.g. summarising research, code snippets)?",
    "Specify tasks (e.g. summarising research)",
    "Were any limitations or biases noted?",
    "Were any limitations/biases noted?",
    "How did you ensure ethical use?",
    ANSWER_STUB,
)

CELL_BREAK = "\x00 cell break \x00"  # marks where one markdown cell of the section ends

_HEADING_WORDS = re.compile(
    r"(large language model|\bllms?\b|\bai\b|artificial intelligence|chatgpt|generative)"
    r".{0,40}(usage|use|declaration|statement|disclosure)|"
    r"(declaration|statement|disclosure).{0,40}(\bllms?\b|\bai\b|large language|chatgpt)", re.IGNORECASE)
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*)$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(.+?)(\*\*|__)\s*:?\s*$")
_QUESTION_KEYS = (
    ("used", re.compile(r"(did you use|do you use|use of|used an?\b|usage of|which llm|llms? used|"
                        r"llm usage|tools? used|which (ai|model|tool)|ai used|have you used)", re.IGNORECASE)),
    ("tasks", re.compile(r"(which tasks|what tasks|for which|specify tasks|\btasks?\b|used (it|them) for|"
                         r"purpose)", re.IGNORECASE)),
    ("limitations", re.compile(r"(limitation|bias|shortcoming|problems? noted|issues? noted)", re.IGNORECASE)),
    ("ethics", re.compile(r"(ethic|responsib|integrity)", re.IGNORECASE)),
)
_NEGATIVE = re.compile(r"(^\s*no\b|\bno[,.]|\bdid not\b|\bdidn'?t\b|\bhave not\b|\bhaven'?t\b|\bnot use|"
                       r"\bnever\b|\bnone\b|\bno llms?\b|\bno ai\b|\bwithout (any )?(llm|ai))", re.IGNORECASE)
_AFFIRMATIVE = re.compile(r"(\byes\b|\bi used\b|\bwe used\b|\bi have used\b|\bi did use\b)", re.IGNORECASE)


def _template_lines(ctx) -> list[str]:
    lines = {normalise_text(x) for x in BUILTIN_TEMPLATE_LINES}
    released = ctx.released
    if released is not None:
        for cell in released.markdown_cells:
            if _find_heading(cell.source.split("\n")) is not None or cell.grade_id == "llm_declaration":
                lines.update(normalise_text(x) for x in cell.source.split("\n") if normalise_text(x))
    lines.discard("")
    return sorted(lines, key=len, reverse=True)


def _find_heading(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        heading = _MD_HEADING.match(line)
        text = heading.group(2) if heading else line
        bold = _BOLD_LINE.match(line)
        short = len(normalise_text(text)) <= 90
        if (heading or bold or short) and _HEADING_WORDS.search(normalise_text(text)):
            return i
    return None


def _heading_level(line: str) -> int:
    match = _MD_HEADING.match(line)
    return len(match.group(1)) if match else 7


def find_section(notebook) -> tuple[list[str], list[int]] | None:
    """The declaration's lines (heading excluded) and the cells they come from, or None."""
    cells = notebook.cells
    start_cell = start_line = None
    for cell in cells:
        if not cell.is_markdown:
            continue
        lines = cell.source.split("\n")
        at = _find_heading(lines)
        if at is not None:
            start_cell, start_line = cell.index, at
            break
    if start_cell is None:
        tagged = notebook.cell_by_grade_id("llm_declaration")
        if tagged is None or not tagged.is_markdown:
            return None
        start_cell, start_line = tagged.index, -1
    first = cells[start_cell].source.split("\n")
    level = _heading_level(first[start_line]) if start_line >= 0 else 7
    section, used = [], [start_cell]
    for line in first[start_line + 1:]:
        heading = _MD_HEADING.match(line)
        if heading and len(heading.group(1)) <= level and not _question_of(heading.group(2)):
            return section, used
        section.append(line)
    for cell in cells[start_cell + 1:]:
        if not cell.is_markdown:
            break
        lines = cell.source.split("\n")
        first_text = next((x for x in lines if x.strip()), "")
        heading = _MD_HEADING.match(first_text)
        if heading and len(heading.group(1)) <= max(level, 2) and not _question_of(heading.group(2)):
            break
        if cell.grade_id in ("code_quality", "final_word"):
            break
        used.append(cell.index)
        section.append(CELL_BREAK)
        section.extend(lines)
    return section, used


def _question_of(label: str) -> str | None:
    text = normalise_text(label)
    if not text:
        return None
    for key, pattern in _QUESTION_KEYS:
        if pattern.search(text):
            return key
    return None


def _prompt_pattern(prompt: str) -> re.Pattern:
    words = re.findall(r"\w+", prompt)
    return re.compile(r"[\W_]*".join(re.escape(w) for w in words), re.IGNORECASE)


def _strip_template_raw(raw: str, template: list[str]) -> str:
    """The student's own words in a line, as written, without the template's prompt text."""
    text = raw
    for prompt in template:
        if len(prompt) >= 12 and prompt in normalise_text(text):
            text = _prompt_pattern(prompt).sub(" ", text)
    text = re.sub(re.escape(ANSWER_STUB), " ", text, flags=re.IGNORECASE)
    text = re.sub(r"^[\s*_#>|:\-–—.;,?]+|[\s*_#>|:\-–—;,]+$", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _is_template(norm: str, template: list[str]) -> bool:
    if not norm or norm in template:
        return True
    return any(len(t) > 20 and difflib.SequenceMatcher(None, norm, t).quick_ratio() >= 0.92
               and difflib.SequenceMatcher(None, norm, t).ratio() >= 0.92 for t in template)


def _split_label(raw: str) -> tuple[str | None, str]:
    """('tasks', 'code snippets') for a line like '**Tasks:** code snippets' or a table row."""
    line = raw.strip()
    if line.startswith("|"):
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(re.fullmatch(r":?-{2,}:?", c) or not c for c in cells):
            return None, ""
        if len(cells) >= 2:
            key = _question_of(cells[0])
            if key:
                return key, " ".join(cells[1:])
            if normalise_text(cells[0]) in ("question", "questions", "item", "") and \
                    normalise_text(" ".join(cells[1:])) in ("answer", "answers", "response", ""):
                return None, ""
        return None, " ".join(cells)
    line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)  # bullets, numbered lists
    for sep in ("?", ":"):
        if sep in line:
            label, rest = line.split(sep, 1)
            if len(normalise_text(label)) <= 90:
                key = _question_of(label)
                if key:
                    return key, rest
    key = _question_of(line) if line.rstrip(" *_").endswith("?") else None
    return (key, "") if key else (None, raw.strip())


def parse_declaration(lines: list[str], template: list[str]) -> dict:
    """Answers per question, in the student's words (template prompt text removed)."""
    answers = {q: [] for q in QUESTIONS}
    loose = []
    current = None
    for raw in lines:
        if raw is CELL_BREAK:
            current = None  # a new cell: its text follows no prompt of the template's
            continue
        norm_full = normalise_text(raw)
        if not norm_full:
            continue
        if _is_template(norm_full, template):
            # a template prompt line on its own: it tells which question follows
            key = _question_of(raw) if norm_full != ANSWER_STUB.lower() else None
            current = key or current
            continue
        key, rest = _split_label(raw)
        own = _strip_template_raw(rest, template)
        if key is None and normalise_text(own) != normalise_text(rest):
            # the line held a template prompt followed by the answer ("**Did you use...?** Yes, ...")
            key = _question_of(raw) or current
        if key is not None:
            current = key
            if _answered(own):
                answers[key].append(own)
            continue
        if not _answered(own):
            continue
        if current is not None:
            answers[current].append(own)
        else:
            loose.append(own)
    # Four numbered answers without the prompts ("1. Yes, ChatGPT" ... "4. ..."): by position.
    numbered = [re.match(r"^\s*\(?([1-4])[.)]\s+(.*)$", text) for text in loose]
    if len(loose) == 4 and all(numbered) and [int(m.group(1)) for m in numbered] == [1, 2, 3, 4]:
        for key, match in zip(QUESTIONS, numbered):
            answers[key].append(match.group(2).strip())
        loose = []
    # Text written without any prompt: sort its sentences by what they talk about.
    for text in loose:
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            if _answered(sentence):
                answers[_classify_sentence(sentence)].append(sentence.strip())
    return {q: " ".join(a for a in answers[q] if a).strip() for q in QUESTIONS}


def _classify_sentence(sentence: str) -> str:
    low = sentence.lower()
    if re.search(r"limitation|bias|wrong|incorrect|hallucinat|outdated|deprecated|error|mistake|inaccura", low):
        return "limitations"
    if re.search(r"ethic|verif|checked|own work|responsib|acknowledg|cite|understood|reviewed|tested", low):
        return "ethics"
    if re.search(r"\bfor\b.*(code|debug|summar|plot|writ|explain|snippet|research|grammar)|tasks?", low):
        return "tasks"
    return "used"


def _answered(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}", text or ""))


@check("declaration.present", needs=(NOTEBOOK,))
def present(ctx, spec) -> list[Finding]:
    """The notebook has an LLM usage declaration section."""
    found = find_section(ctx.notebook)
    if found is None:
        return [spec.finding(FAIL, "The notebook has no Large Language Model (LLM) usage declaration.",
                             advice="Add the section 'Large Language Model (LLM) usage declaration' from the template and "
                                    "answer its four questions (\"No, I did not use an LLM\" is a complete answer).")]
    _, cells = found
    return [spec.finding(PASS, "The LLM usage declaration section is there.",
                         details={"cells": [c + 1 for c in cells]})]


@check("declaration.complete", needs=(NOTEBOOK,))
def complete(ctx, spec) -> list[Finding]:
    """Each of the declaration's four questions is answered in the student's own words."""
    found = find_section(ctx.notebook)
    if found is None:
        return [spec.finding(NOT_APPLICABLE, "There is no declaration to check (see declaration.present).")]
    lines, cells = found
    answers = parse_declaration(lines, _template_lines(ctx))
    answered = {q: _answered(answers[q]) for q in QUESTIONS}
    quotes = {q: answers[q][:400] for q in QUESTIONS if answered[q]}
    details = {"answers": quotes, "answered": answered, "cells": [c + 1 for c in cells],
               "compared_with_released_notebook": ctx.released is not None}
    used_text = answers["used"]
    no_llm = answered["used"] and _NEGATIVE.search(used_text) and not _AFFIRMATIVE.search(used_text)
    if no_llm:
        details["no_llm"] = True
        return [spec.finding(PASS, f"Complete: you declare that you did not use an LLM (\"{used_text[:120]}\").",
                             details=details)]
    if not any(answered.values()):
        return [spec.finding(FAIL, "The declaration holds only the template's questions: none of them is answered.",
                             advice="Answer the four questions in your own words; if you did not use an LLM, write "
                                    "\"No, I did not use an LLM\".", details=details)]
    missing = [q for q in QUESTIONS if not answered[q]]
    if missing:
        return [spec.finding(WARN, "The declaration does not answer: " + "; ".join(QUESTION_LABELS[q] for q in missing),
                             advice="Answer every question (a short sentence each is enough).", details=details)]
    return [spec.finding(PASS, "All four questions of the declaration are answered.", details=details)]
