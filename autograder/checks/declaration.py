"""declaration.*: the Large Language Model (LLM) usage declaration.

The lecture asks four questions: did you use an LLM (which one)? for which tasks? were any
limitations or biases noted? how did you ensure ethical use? The template's own prompt text names
LLMs ("e.g. GPT-4, Gemini, Co-Pilot") and even says "No, I did not use an LLM" in its
instructions, so keyword search is wrong: we remove every line (or part of a line) that comes from
a template, and judge only what is left, the student's own words.

How the template's prompts are recognised (`_template_lines`), all of them together:

* `BUILTIN_TEMPLATE_LINES` below, read from `checks/released/templates.toml`: this course's prompts
  and those of the earlier, public editions of the template (the lecture notebook `Lecture9.ipynb`:
  2024 "You should acknowledge any use of a generative model during your assignment. Points to
  consider:", "State which LLM (e.g. GPT-3, Gemini, Co-Pilot)"; 2025 "Acknowledge use of ..."), so a
  course without any setting still reads earlier years right;
* the declaration section of the released notebook (`ctx.released`, found with `find_section`);
* the course's `autograder.toml`, for any other earlier version (students of earlier years,
  resubmissions). The instructor adds, in a `[declaration]` section::

      [declaration]
      prompts = ["Acknowledge use of a generative model during your assignment. Points to consider:"]
      templates = ["templates/Lecture9-2025.ipynb"]   # relative to the course root

  `prompts` are prompt lines as the template has them (markdown marks and case do not matter);
  `templates` are earlier template notebooks, whose declaration section is read with `find_section`
  (every line of it becomes a prompt). A template path that does not exist is refused when the
  configuration is loaded (ConfigError); one that cannot be read when the check runs is reported in
  the finding's details (`template_notes`, for the marker), never a crash.

A line that is a prompt on its own tells which question follows it; a line that holds a prompt and
the student's answer ("State which LLM (e.g. GPT-4, Gemini, Co-Pilot): ChatGPT", "Specify tasks
(e.g. ...) - debugging plots") answers that prompt's question with what is left once the prompt is
cut out. A prompt that introduces the whole declaration ("... Points to consider:", "Answer each
question; ...": several sentences, or such wording) answers no question, so the student's prose
after it is sorted sentence by sentence (a sentence may answer several questions).

The section is found however it is written: any heading level, `##**Title**` without a space, a
bold line, a table (| question | answer |), a bullet list, the questions in another order, a heading
with the answers in the next markdown cell (code cells holding only comments, the template's
"# Spare cell", are passed over).
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path

from autograder.checks import NOTEBOOK, check
from autograder.checks.notebook import ANSWER_STUB, Notebook, NotebookError, normalise_text, template_editions
from autograder.layout import CONFIG_FILE
from autograder.records import FAIL, NOT_APPLICABLE, PASS, WARN, Finding

QUESTIONS = ("used", "tasks", "limitations", "ethics")
QUESTION_LABELS = {
    "used": "Did you use an LLM (which one)?",
    "tasks": "For which tasks?",
    "limitations": "Were any limitations or biases noted?",
    "ethics": "How did you ensure ethical use?",
}
# The prompts of this course's template and of its earlier editions (templates.toml), used with the
# released notebook's own text and the course's [declaration] setting, and alone when neither is
# available (the student self-check).
BUILTIN_TEMPLATE_LINES = tuple(
    dict.fromkeys(
        [line for edition in template_editions().values() for line in edition.get("declaration", ())]
        + [ANSWER_STUB]
    )
)

CELL_BREAK = "\x00 cell break \x00"  # marks where one markdown cell of the section ends

_HEADING_WORDS = re.compile(
    r"(large language model|\bllms?\b|\bai\b|artificial intelligence|chatgpt|generative)"
    r".{0,40}(usage|use|declaration|statement|disclosure)|"
    r"(declaration|statement|disclosure).{0,40}(\bllms?\b|\bai\b|large language|chatgpt)",
    re.IGNORECASE,
)
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*)$")
_BOLD_LINE = re.compile(r"^\s*(\*\*|__)(.+?)(\*\*|__)\s*:?\s*$")
_QUESTION_KEYS = (
    (
        "used",
        re.compile(
            r"(did you use|do you use|use of|used an?\b|usage of|which llm|llms? used|"
            r"llm usage|tools? used|which (ai|model|tool)|ai used|have you used)",
            re.IGNORECASE,
        ),
    ),
    (
        "tasks",
        re.compile(
            r"(which tasks|what tasks|for which|specify tasks|\btasks?\b|used (it|them) for|"
            r"purpose)",
            re.IGNORECASE,
        ),
    ),
    (
        "limitations",
        re.compile(r"(limitation|bias|shortcoming|problems? noted|issues? noted)", re.IGNORECASE),
    ),
    ("ethics", re.compile(r"(ethic|responsib|integrity)", re.IGNORECASE)),
)
_NEGATIVE = re.compile(
    r"(^\s*no\b|\bno[,.]|\bdid not\b|\bdidn'?t\b|\bhave not\b|\bhaven'?t\b|\bnot use|"
    r"\bnever\b|\bnone\b|\bno llms?\b|\bno ai\b|\bwithout (any )?(llm|ai))",
    re.IGNORECASE,
)
_AFFIRMATIVE = re.compile(r"(\byes\b|\bi used\b|\bwe used\b|\bi have used\b|\bi did use\b)", re.IGNORECASE)


def _template_lines(ctx, notes: list[str] | None = None) -> list[str]:
    """Every prompt line known for this context, normalised, longest first: the built-in ones, the
    released notebook's declaration section, and the course's [declaration] prompts and template
    notebooks. A template notebook that cannot be read is named in `notes` (for the marker)."""
    lines = {normalise_text(x) for x in BUILTIN_TEMPLATE_LINES}
    released = ctx.released
    if released is not None:
        lines.update(_section_prompts(released))
    settings = getattr(getattr(getattr(ctx, "course", None), "config", None), "declaration", None)
    if settings is not None:
        lines.update(normalise_text(x) for x in settings.prompts if isinstance(x, str))
        for name in settings.templates:
            path = Path(ctx.course.root) / name
            try:
                found = _template_notebook_prompts(path.resolve(), path.stat().st_mtime_ns)
            except (OSError, NotebookError) as error:
                found = None
                problem = f"could not be read ({type(error).__name__}: {error})"
            else:
                problem = "has no LLM usage declaration section"
            if found:
                lines.update(found)
            elif notes is not None:
                notes.append(
                    f"[declaration] template {name} {problem}; its prompts are not known to "
                    f"the check (see {CONFIG_FILE})."
                )
    lines.discard("")
    return sorted(lines, key=len, reverse=True)


def _section_prompts(notebook) -> set[str]:
    """The prompt lines of a template notebook: its declaration section, heading included."""
    lines = set()
    for cell in notebook.markdown_cells:
        if _find_heading(cell.source.split("\n")) is not None or cell.grade_id == "llm_declaration":
            lines.update(normalise_text(x) for x in cell.source.split("\n"))
    found = find_section(notebook)
    if found is not None:
        lines.update(normalise_text(x) for x in found[0] if x is not CELL_BREAK)
    lines.discard("")
    return lines


@functools.lru_cache(maxsize=32)
def _template_notebook_prompts(path: Path, mtime_ns: int) -> frozenset[str]:
    return frozenset(_section_prompts(Notebook.read(path)))


_INTRO_WORDS = re.compile(
    r"(points to consider|answer (each|every|all|the following)|acknowledge|"
    r"complete declaration|following questions|declare (any|your))",
    re.IGNORECASE,
)


def _is_intro(norm: str) -> bool:
    """A prompt that introduces the whole declaration, not one of its questions (several sentences,
    "Points to consider:", "Answer each question; ...")."""
    if _INTRO_WORDS.search(norm):
        return True
    if norm.rstrip(" *_").endswith("?"):
        return False  # a question, however many sentences ("Did you use an LLM? Which one?")
    plain = re.sub(r"\([^)]*\)|\b(e\.g|i\.e|etc)\.", " ", norm)
    return bool(re.search(r"[.!?;]\s+\S", plain.strip()))


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
    for line in first[start_line + 1 :]:
        heading = _MD_HEADING.match(line)
        if heading and len(heading.group(1)) <= level and not _question_of(heading.group(2)):
            return section, used
        section.append(line)
    for cell in cells[start_cell + 1 :]:
        if cell.is_code and _no_code(cell.source):
            continue  # the template's "# Spare cell" between the prompts and the answers
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


def _no_code(source: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in source.split("\n"))


def _question_of(label: str) -> str | None:
    text = normalise_text(label)
    if not text:
        return None
    for key, pattern in _QUESTION_KEYS:
        if pattern.search(text):
            return key
    return None


def _prompt_pattern(prompt: str) -> re.Pattern:
    """The prompt however its punctuation and markdown are written, with its closing marks
    ("...Co-Pilot)?", "...snippets)") so that they do not stay in front of the answer."""
    words = re.findall(r"\w+", prompt)
    tail = re.search(r"[^\w\s]*$", prompt).group()
    closing = "".join(rf"(?:[\s*_]*{re.escape(c)})?" for c in tail)
    return re.compile(r"[\W_]*".join(re.escape(w) for w in words) + closing, re.IGNORECASE)


def _strip_template_raw(raw: str, template: list[str]) -> tuple[str, list[str]]:
    """The student's own words in a line, as written, without the template's prompt text; and the
    prompts that were cut out of it."""
    text, cut = raw, []
    for prompt in template:
        if len(prompt) >= 12 and prompt in normalise_text(text):
            text = _prompt_pattern(prompt).sub(" ", text)
            cut.append(prompt)
    text = re.sub(re.escape(ANSWER_STUB), " ", text, flags=re.IGNORECASE)
    text = re.sub(r"^[\s*_#>|:\-–—.;,?]+|[\s*_#>|:\-–—;,]+$", "", text)
    return re.sub(r"\s+", " ", text).strip(), cut


def _is_template(norm: str, template: list[str]) -> bool:
    if not norm or norm in template:
        return True
    if any(len(t) >= 12 and t in norm and _answered(norm.replace(t, " ")) for t in template):
        return False  # a prompt and, on the same line, the student's words ("...Co-Pilot) ChatGPT")
    return any(
        len(t) > 20
        and difflib.SequenceMatcher(None, norm, t).quick_ratio() >= 0.92
        and difflib.SequenceMatcher(None, norm, t).ratio() >= 0.92
        for t in template
    )


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
            if normalise_text(cells[0]) in ("question", "questions", "item", "") and normalise_text(
                " ".join(cells[1:])
            ) in ("answer", "answers", "response", ""):
                return None, ""
        return None, " ".join(cells)
    line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)  # bullets, numbered lists
    for sep in ("?", ":"):
        if sep in line:
            label, rest = line.split(sep, 1)
            if len(normalise_text(label)) <= 90 and not _is_intro(normalise_text(label)):
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
            # a template prompt line on its own: it tells which question follows (an introduction
            # to the whole declaration tells none)
            if norm_full == ANSWER_STUB.lower():
                continue
            current = None if _is_intro(norm_full) else (_question_of(raw) or current)
            continue
        key, rest = _split_label(raw)
        own, cut = _strip_template_raw(rest, template)
        if key is None and cut:
            # the line held a template prompt followed by the answer ("**Did you use...?** Yes, ...",
            # "State which LLM (e.g. GPT-4, Gemini, Co-Pilot): ChatGPT")
            asked = [p for p in cut if not _is_intro(p)]
            if asked:
                key = next((q for q in map(_question_of, asked) if q), None) or _question_of(raw) or current
            else:
                current = None
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
            loose.append((own, _LIST_ITEM.match(raw)))
    # Four numbered answers without the prompts ("1. Yes, ChatGPT" ... "4. ..."), or four bullets in
    # place of the template's four: by position.
    numbered = [re.match(r"^\s*\(?([1-4])[.)]\s+(.*)$", text) for text, _ in loose]
    if len(loose) == 4 and all(numbered) and [int(m.group(1)) for m in numbered] == [1, 2, 3, 4]:
        for key, match in zip(QUESTIONS, numbered):
            answers[key].append(match.group(2).strip())
        loose = []
    elif len(loose) == 4 and all(item and item.group(1) in "-*+" for _, item in loose):
        for key, (text, _) in zip(QUESTIONS, loose):
            answers[key].append(text)
        loose = []
    # Text written without any prompt: sort its sentences by what they talk about.
    for text, _ in loose:
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            if _answered(sentence):
                for key in _classify_sentence(sentence):
                    answers[key].append(sentence.strip())
    # "I did not use any LLM." written under another question (after the last prompt) says which.
    if not answers["used"]:
        said = next((a for q in QUESTIONS for a in answers[q] if _NO_LLM.search(a)), None)
        if said:
            answers["used"].append(said)
    return {q: " ".join(a for a in answers[q] if a).strip() for q in QUESTIONS}


_LIST_ITEM = re.compile(r"^\s*([-*+]|\(?\d+[.)])\s+")
_TASK_START = re.compile(
    r"^\W*(summar|debug|writ|explain|fix|generat|draft|proofread|plot|cod|understand|"
    r"brainstorm|rephras|format|complet|autocomplet|translat|learn|research)"
)
_LIMITS = re.compile(
    r"limitation|bias|wrong|incorrect|hallucinat|outdated|deprecated|error(?!s? messages?)|"
    r"mistake|inaccura|invent|made[- ]up|fabricat|not exist|n'?t exist|did not work|"
    r"didn'?t work|unreliable|misleading"
)
_ETHICS = re.compile(
    r"ethic|verif|checked|own work|responsib|acknowledg|cite|understood|reviewed|tested|"
    r"my own|myself|double[- ]check|cross[- ]check|plagiar|transparen|critical|rewr[io]te"
)
_LLM_NAMES = re.compile(
    r"\b(chat ?gpt|gpt[- ]?[345]\w*|gpt|claude|gemini|co-?pilot|llama|bard|"
    r"perplexity|deepseek|mistral|grok|openai|bing chat|phind|cursor)\b"
)
_USAGE = re.compile(r"\b(used|use|using|asked|prompted|helped|relied|help)\b")
_TASK_WORDS = re.compile(
    r"\b(for|to|with|in)\b.{0,80}?\b(cod(e|es|ing)|debug\w*|summar\w*|plot\w*|writ\w*|explain\w*|"
    r"snippets?|research|grammar|proofread\w*|literature|papers?|error messages?|tracebacks?|syntax|"
    r"functions?|hyperparameters?|featuri[sz]\w*|draft\w*|rephras\w*|brainstorm\w*|visuali[sz]\w*|"
    r"comment\w*|implement\w*|boilerplate|pandas|matplotlib|scikit-learn|sklearn)|\btasks?\b"
)
_NO_LLM = re.compile(
    r"(\b(did not|didn'?t|do not|don'?t|have not|haven'?t|never)\s+(use|used|make use of)\b"
    r".{0,30}\b(llms?|ai|chat ?gpt|generative|language models?|gpt)\b|"
    r"\bno (llms?|ai|generative \w+|large language models?)\b.{0,30}\b(was|were)\s+used)",
    re.IGNORECASE,
)


def _classify_sentence(sentence: str) -> list[str]:
    """The questions one sentence of prose answers ("I used ChatGPT to debug my plots": which LLM
    and which tasks); a sentence that matches none says which LLM."""
    low = sentence.lower()
    keys = [key for key, pattern in (("limitations", _LIMITS), ("ethics", _ETHICS)) if pattern.search(low)]
    named = bool(_LLM_NAMES.search(low) or _AFFIRMATIVE.search(low) or _NO_LLM.search(low))
    if (_TASK_WORDS.search(low) and (named or _USAGE.search(low) or not keys)) or (
        not keys and not named and _TASK_START.search(low)
    ):
        keys.append("tasks")
    if named or not keys:
        keys.append("used")
    return keys


def _answered(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}", text or ""))


@check("declaration.present", needs=(NOTEBOOK,))
def present(ctx, spec) -> list[Finding]:
    """The notebook has an LLM usage declaration section."""
    found = find_section(ctx.notebook)
    if found is None:
        return [
            spec.finding(
                FAIL,
                "The notebook has no Large Language Model (LLM) usage declaration.",
                advice="Add the section 'Large Language Model (LLM) usage declaration' from the template and "
                'answer its four questions ("No, I did not use an LLM" is a complete answer).',
            )
        ]
    _, cells = found
    return [
        spec.finding(
            PASS, "The LLM usage declaration section is there.", details={"cells": [c + 1 for c in cells]}
        )
    ]


@check("declaration.complete", needs=(NOTEBOOK,))
def complete(ctx, spec) -> list[Finding]:
    """Each of the declaration's four questions is answered in the student's own words."""
    found = find_section(ctx.notebook)
    if found is None:
        return [spec.finding(NOT_APPLICABLE, "There is no declaration to check (see declaration.present).")]
    lines, cells = found
    notes: list[str] = []
    answers = parse_declaration(lines, _template_lines(ctx, notes))
    answered = {q: _answered(answers[q]) for q in QUESTIONS}
    quotes = {q: answers[q][:400] for q in QUESTIONS if answered[q]}
    details = {
        "answers": quotes,
        "answered": answered,
        "cells": [c + 1 for c in cells],
        "compared_with_released_notebook": ctx.released is not None,
    }
    if notes:
        details["template_notes"] = notes  # for the marker: a [declaration] template that could not be read
    used_text = answers["used"]
    no_llm = answered["used"] and _NEGATIVE.search(used_text) and not _AFFIRMATIVE.search(used_text)
    if no_llm:
        details["no_llm"] = True
        return [
            spec.finding(
                PASS,
                f'Complete: you declare that you did not use an LLM ("{used_text[:120]}").',
                details=details,
            )
        ]
    if not any(answered.values()):
        return [
            spec.finding(
                FAIL,
                "The declaration holds only the template's questions: none of them is answered.",
                advice="Answer the four questions in your own words; if you did not use an LLM, write "
                '"No, I did not use an LLM".',
                details=details,
            )
        ]
    missing = [q for q in QUESTIONS if not answered[q]]
    if missing:
        return [
            spec.finding(
                WARN,
                "The declaration does not answer: " + "; ".join(QUESTION_LABELS[q] for q in missing),
                advice="Answer every question (a short sentence each is enough).",
                details=details,
            )
        ]
    return [spec.finding(PASS, "All four questions of the declaration are answered.", details=details)]
