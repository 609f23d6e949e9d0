"""The LLM usage declaration: found however it is written, each question judged answered or not
by comparing with the released notebook's own prompt text (which names LLMs and even says
"No, I did not use an LLM"), and the answers quoted."""

from __future__ import annotations

import pytest
from checks_support import RELEASED, add_cell, corpus_notebook, source_of, with_cells, without, write_notebook

from autograder.checks import run_checks
from autograder.checks.context import CheckContext

BASE = "compliant_B_expt_gap"
TEMPLATE = source_of(__import__("checks_support").released(), "llm_declaration")


def declaration(tmp_path, nb, released=True):
    path = write_notebook(tmp_path / "nb.ipynb", nb)
    ctx = CheckContext.from_notebook(path, challenge="B", released_path=RELEASED if released else None)
    if not released:
        ctx.released_path = None
    found = {f.check_id: f for f in run_checks(ctx, only=["declaration"])}
    return found["declaration.present"], found["declaration.complete"]


def filled(*answers):
    text = TEMPLATE
    for answer in answers:
        text = text.replace("YOUR ANSWER HERE", answer, 1)
    return text


def test_template_only_is_not_an_answer(tmp_path):
    present, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=TEMPLATE))
    assert present.status == "pass"
    assert complete.status == "fail"
    assert not any(complete.details["answered"].values())


def test_template_only_without_the_released_notebook(tmp_path):
    """The course's prompts are also built in, for a self-check with no released notebook at hand."""
    present, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=TEMPLATE),
                                    released=False)
    assert complete.status == "fail"


def test_answers_are_quoted_as_written(tmp_path):
    text = filled("Yes: ChatGPT (GPT-4o).", "Debugging pandas code.", "It invented a matminer function.",
                  "I checked everything against the documentation.")
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass"
    quotes = complete.details["answers"]
    assert quotes["used"] == "Yes: ChatGPT (GPT-4o)."
    assert quotes["tasks"] == "Debugging pandas code."
    assert quotes["limitations"] == "It invented a matminer function."
    assert quotes["ethics"] == "I checked everything against the documentation."


@pytest.mark.parametrize("answer", ["No, I did not use an LLM.", "No.", "I didn't use any LLM or AI tool.",
                                    "None were used."])
def test_no_llm_is_complete(tmp_path, answer):
    text = TEMPLATE.replace("YOUR ANSWER HERE", answer, 1)
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass", complete.details
    assert complete.details.get("no_llm")


def test_no_llm_in_a_cell_of_its_own_after_the_template(tmp_path):
    nb = with_cells(corpus_notebook(BASE), llm_declaration=TEMPLATE)
    nb = add_cell(nb, "llm_declaration", "I did not use any LLM for this work.", kind="markdown")
    _, complete = declaration(tmp_path, nb)
    assert complete.status == "pass" and complete.details.get("no_llm")


def test_yes_is_not_no(tmp_path):
    text = filled("Yes, but not for the discussion: ChatGPT.")
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "warn"
    assert not complete.details.get("no_llm")
    assert set(k for k, v in complete.details["answered"].items() if not v) == {"tasks", "limitations", "ethics"}


def test_inline_answers_after_the_prompts(tmp_path):
    text = """## Large Language Model (LLM) usage declaration

**Did you use an LLM (e.g. GPT-4, Gemini, Co-Pilot)?** Yes, Claude.

**For which tasks (e.g. summarising research, code snippets)?** Summarising two papers.

**Were any limitations or biases noted?** It overstated one paper's results.

**How did you ensure ethical use?** I read both papers myself."""
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass"
    assert complete.details["answers"]["used"] == "Yes, Claude."
    assert complete.details["answers"]["ethics"] == "I read both papers myself."


@pytest.mark.parametrize("heading", ["##**LLM usage**", "# LLM Usage Declaration", "**LLM declaration**",
                                     "### Declaration of AI use", "#### large language model use"])
def test_headings_however_written(tmp_path, heading):
    body = """
- LLM used: Gemini
- Tasks: explaining an error message
- Limitations/biases: it was confidently wrong once
- Ethical use: I verified every suggestion"""
    nb = without(corpus_notebook(BASE), "llm_declaration")
    nb = add_cell(nb, "leaderboard_comparison", heading + "\n" + body, kind="markdown")
    present, complete = declaration(tmp_path, nb)
    assert present.status == "pass", heading
    assert complete.status == "pass", (heading, complete.details)


def test_table_in_another_order(tmp_path):
    text = """##**LLM usage**

| Question | Answer |
|---|---|
| Ethical use | Checked every line. |
| Tasks | Drafting a plotting function. |
| LLM used? | Yes, Gemini. |
| Limitations or biases | Invented an API. |"""
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass"
    assert complete.details["answers"]["used"] == "Yes, Gemini."
    assert complete.details["answers"]["limitations"] == "Invented an API."


def test_numbered_answers_without_prompts(tmp_path):
    text = """## LLM declaration

1. Yes, GitHub Copilot.
2. Completing boilerplate code.
3. It suggested deprecated arguments.
4. I reviewed and tested all code."""
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass"
    assert complete.details["answers"]["tasks"] == "Completing boilerplate code."


def test_answers_split_over_following_cells_until_the_next_section(tmp_path):
    nb = with_cells(corpus_notebook(BASE), llm_declaration=TEMPLATE)
    nb = add_cell(nb, "llm_declaration", "Yes, ChatGPT, to explain a traceback. It was wrong about pandas "
                                         "once (a limitation). I verified everything myself.", kind="markdown")
    _, complete = declaration(tmp_path, nb)
    answered = complete.details["answered"]
    assert answered["used"] and answered["limitations"] and answered["ethics"]


def test_partial_declaration_names_what_is_missing(tmp_path):
    text = filled("Yes, Copilot.", "Autocompletion.")
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "warn"
    assert "limitations" in complete.message and "ethical" in complete.message


def test_missing_declaration(tmp_path):
    present, complete = declaration(tmp_path, without(corpus_notebook(BASE), "llm_declaration"))
    assert present.status == "fail"
    assert complete.status == "not-applicable"


def test_other_text_mentioning_llms_is_not_a_declaration(tmp_path):
    nb = without(corpus_notebook(BASE), "llm_declaration")
    nb = add_cell(nb, "problem_statement", "Darwin, a fine-tuned LLM, tops the leaderboard for band gaps; "
                                           "large language models are promising here.", kind="markdown")
    present, _ = declaration(tmp_path, nb)
    assert present.status == "fail"
