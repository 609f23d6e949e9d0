"""The LLM usage declaration: found however it is written, each question judged answered or not
by comparing with the released notebook's own prompt text (which names LLMs and even says
"No, I did not use an LLM"), and the answers quoted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from checks_support import RELEASED, add_cell, corpus_notebook, source_of, with_cells, without, write_notebook

from autograder.checks import run_checks
from autograder.checks.context import CheckContext
from autograder.course.config import ConfigError, Course

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
    present, complete = declaration(
        tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=TEMPLATE), released=False
    )
    assert complete.status == "fail"


def test_answers_are_quoted_as_written(tmp_path):
    text = filled(
        "Yes: ChatGPT (GPT-4o).",
        "Debugging pandas code.",
        "It invented a matminer function.",
        "I checked everything against the documentation.",
    )
    _, complete = declaration(tmp_path, with_cells(corpus_notebook(BASE), llm_declaration=text))
    assert complete.status == "pass"
    quotes = complete.details["answers"]
    assert quotes["used"] == "Yes: ChatGPT (GPT-4o)."
    assert quotes["tasks"] == "Debugging pandas code."
    assert quotes["limitations"] == "It invented a matminer function."
    assert quotes["ethics"] == "I checked everything against the documentation."


@pytest.mark.parametrize(
    "answer", ["No, I did not use an LLM.", "No.", "I didn't use any LLM or AI tool.", "None were used."]
)
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
    assert set(k for k, v in complete.details["answered"].items() if not v) == {
        "tasks",
        "limitations",
        "ethics",
    }


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


@pytest.mark.parametrize(
    "heading",
    [
        "##**LLM usage**",
        "# LLM Usage Declaration",
        "**LLM declaration**",
        "### Declaration of AI use",
        "#### large language model use",
    ],
)
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
    nb = add_cell(
        nb,
        "llm_declaration",
        "Yes, ChatGPT, to explain a traceback. It was wrong about pandas "
        "once (a limitation). I verified everything myself.",
        kind="markdown",
    )
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
    nb = add_cell(
        nb,
        "problem_statement",
        "Darwin, a fine-tuned LLM, tops the leaderboard for band gaps; "
        "large language models are promising here.",
        kind="markdown",
    )
    present, _ = declaration(tmp_path, nb)
    assert present.status == "fail"


def test_heading_alone_in_its_cell_with_the_answers_in_the_next(tmp_path):
    nb = with_cells(corpus_notebook(BASE), llm_declaration="## LLM usage declaration\n")
    nb = add_cell(
        nb,
        "llm_declaration",
        "- LLM used: Claude\n- Tasks: explaining a traceback\n"
        "- Limitations: it was wrong about pandas once\n- Ethics: I checked "
        "everything myself",
        kind="markdown",
    )
    present, complete = declaration(tmp_path, nb)
    assert present.status == "pass" and present.details["cells"] == [24, 25]
    assert complete.status == "pass", complete.details


# --- Declarations written on the earlier template (Lecture9.ipynb of 2024/2025) ------------------

EARLIER = Path(__file__).resolve().parents[1] / "declarations" / "lecture9_2025.ipynb"
EARLIER_PROMPTS = """## Large Language Model (LLM) usage declaration

Acknowledge use of a generative model during your assignment. Points to consider:

* State which LLM (e.g. GPT-4, Gemini, Co-Pilot)

* Specify tasks (e.g. summarising research or code snippets)

* Were any limitations/biases noted?

* How did you ensure ethical use?"""


def earlier(declaration_text=None, after_declaration=(), after_spare=()) -> dict:
    """A submission on the earlier template: its declaration cell replaced, markdown cells added
    below it (before its "# Spare cell") or below the spare cell."""
    nb = json.loads(EARLIER.read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if "usage declaration" in "".join(c["source"]))
    if declaration_text is not None:
        nb["cells"][at]["source"] = declaration_text
    added = [{"cell_type": "markdown", "metadata": {}, "source": t} for t in after_declaration]
    nb["cells"][at + 1 : at + 1] = added
    spare = at + 1 + len(added)
    nb["cells"][spare + 1 : spare + 1] = [
        {"cell_type": "markdown", "metadata": {}, "source": t} for t in after_spare
    ]
    return nb


def earlier_declaration(tmp_path, nb, course=None, released=True):
    path = write_notebook(tmp_path / "submission" / "nb.ipynb", nb)
    ctx = CheckContext.from_notebook(
        path, challenge="B", released_path=RELEASED if released else None, course=course
    )
    if not released:
        ctx.released_path = None
    found = {f.check_id: f for f in run_checks(ctx, only=["declaration"])}
    return found["declaration.present"], found["declaration.complete"]


def missing(complete) -> set[str]:
    return {k for k, v in complete.details["answered"].items() if not v}


def test_the_earlier_template_file_holds_the_earlier_prompts():
    assert "".join(earlier()["cells"][11]["source"]) == EARLIER_PROMPTS


@pytest.mark.parametrize("edition", ["GPT-4", "GPT-3"])
@pytest.mark.parametrize("released", [True, False], ids=["with-released", "built-in-only"])
def test_earlier_template_untouched_fails(tmp_path, edition, released):
    nb = earlier(EARLIER_PROMPTS.replace("GPT-4", edition))
    present, complete = earlier_declaration(tmp_path, nb, released=released)
    assert present.status == "pass"
    assert complete.status == "fail", complete.details
    assert "holds only the template's questions" in complete.message
    assert complete.details["answers"] == {}


def test_earlier_template_answers_after_the_bullets_on_the_same_line(tmp_path):
    text = (
        EARLIER_PROMPTS.replace("Co-Pilot)", "Co-Pilot): ChatGPT")
        .replace("code snippets)", "code snippets) - debugging plots")
        .replace("noted?", "noted? It invented a matminer featuriser.")
        .replace("ethical use?", "ethical use? I checked every suggestion against the documentation.")
    )
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "pass", complete.details
    assert complete.details["answers"] == {
        "used": "ChatGPT",
        "tasks": "debugging plots",
        "limitations": "It invented a matminer featuriser.",
        "ethics": "I checked every suggestion against the documentation.",
    }


def test_earlier_template_answers_below_each_bullet(tmp_path):
    text = (
        EARLIER_PROMPTS.replace("Co-Pilot)", "Co-Pilot)\n    * ChatGPT 3.5")
        .replace("code snippets)", "code snippets)\n    * code snippets for the parity plot")
        .replace("noted?", "noted?\n    * it hallucinated references")
        .replace("ethical use?", "ethical use?\n    * I tested all code it wrote")
    )
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "pass", complete.details
    assert complete.details["answers"]["used"] == "ChatGPT 3.5"
    assert complete.details["answers"]["tasks"] == "code snippets for the parity plot"


INTRO = (
    "## Large Language Model (LLM) usage declaration\n\n"
    "Acknowledge use of a generative model during your assignment. Points to consider:\n\n"
)


@pytest.mark.parametrize(
    "own",
    [
        "I used ChatGPT (GPT-4o) to debug my plotting code. It sometimes suggested functions that do not exist, "
        "so I checked everything against the documentation. All the analysis and the writing are my own.",
        "* ChatGPT-4o\n\n* Summarising two papers and fixing code\n\n* It was sometimes confidently wrong\n\n"
        "* I checked everything and the work is my own",
        "* **LLM:** Gemini\n* **Tasks:** explaining error messages\n* **Limitations/biases:** outdated APIs\n"
        "* **Ethics:** every line reviewed by me",
    ],
    ids=["prose", "own-bullets", "own-labels"],
)
def test_earlier_template_bullets_replaced_by_own_text(tmp_path, own):
    _, complete = earlier_declaration(tmp_path, earlier(INTRO + own))
    assert complete.status == "pass", complete.details
    assert "Acknowledge" not in " ".join(complete.details["answers"].values())


@pytest.mark.parametrize(
    "answers",
    [
        "1. ChatGPT-4o\n2. Debugging code and summarising research\n3. It invented an API\n4. I tested everything",
        "I used GitHub Copilot to complete boilerplate code. It suggested deprecated arguments. "
        "I reviewed and tested all the code myself.",
    ],
    ids=["numbered", "prose"],
)
@pytest.mark.parametrize("where", ["below-the-declaration", "below-the-spare-cell"])
def test_earlier_template_answers_in_a_following_cell(tmp_path, answers, where):
    nb = (
        earlier(after_declaration=[answers])
        if where == "below-the-declaration"
        else earlier(after_spare=[answers])
    )
    present, complete = earlier_declaration(tmp_path, nb)
    assert len(present.details["cells"]) == 2
    assert complete.status == "pass", complete.details
    assert "Points to consider" not in " ".join(complete.details["answers"].values())


def test_earlier_template_partly_filled_warns_naming_the_unanswered_questions(tmp_path):
    text = EARLIER_PROMPTS.replace("Co-Pilot)", "Co-Pilot): ChatGPT").replace(
        "code snippets)", "code snippets): debugging"
    )
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "warn"
    assert missing(complete) == {"limitations", "ethics"}
    assert complete.message == (
        "The declaration does not answer: Were any limitations or biases noted?; "
        "How did you ensure ethical use?"
    )
    assert complete.details["answers"] == {"used": "ChatGPT", "tasks": "debugging"}


@pytest.mark.parametrize(
    "text",
    [
        EARLIER_PROMPTS + "\n\nI did not use any LLM.",
        INTRO + "I did not use any LLM.",
        EARLIER_PROMPTS.replace("Co-Pilot)", "Co-Pilot): No, I did not use an LLM."),
        "## Large Language Model (LLM) usage declaration\n\nNo, I did not use an LLM.",
    ],
    ids=["after-the-bullets", "bullets-replaced", "first-bullet", "prompts-removed"],
)
def test_earlier_template_no_llm_is_complete(tmp_path, text):
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "pass", complete.details
    assert complete.details.get("no_llm")


def test_earlier_template_no_llm_in_the_next_cell(tmp_path):
    _, complete = earlier_declaration(tmp_path, earlier(after_declaration=["I did not use any LLM."]))
    assert complete.status == "pass" and complete.details.get("no_llm")


# --- [declaration] in autograder.toml ------------------------------------------------------------

INVENTED = "Tell the markers which chatbot you consulted while working, and why it was worth it:"


def course_with(tmp_path, toml: str) -> Course:
    root = tmp_path / "course"
    root.mkdir(exist_ok=True)
    (root / "autograder.toml").write_text(toml, encoding="utf-8")
    return Course.open(root)


def test_a_prompt_given_in_the_course_config_is_stripped(tmp_path):
    text = "## LLM usage declaration\n\n" + INVENTED + "\n\n**Were any limitations or biases noted?**\n"
    _, unknown = earlier_declaration(tmp_path, earlier(text))
    assert unknown.status != "fail"  # the invented prompt is read as the student's answer...
    course = course_with(tmp_path, f"[declaration]\nprompts = [{json.dumps(INVENTED)}]\n")
    assert course.config.declaration.prompts == [INVENTED]
    _, complete = earlier_declaration(tmp_path, earlier(text), course=course)
    assert complete.status == "fail", complete.details  # ...unless the course names it
    filled = text.replace(INVENTED, INVENTED + " Claude, for a regex.")
    _, complete = earlier_declaration(tmp_path, earlier(filled), course=course)
    assert complete.details["answers"] == {"used": "Claude, for a regex."}


def test_a_template_notebook_given_in_the_course_config_is_read(tmp_path):
    template = earlier(
        "## AI use statement\n\n" + INVENTED + "\n\n- What did you ask it to do?\n"
        "- Did anything it said turn out false?\n- What did you do to stay honest?"
    )
    write_notebook(tmp_path / "course" / "templates" / "earlier.ipynb", template)
    course = course_with(tmp_path, '[declaration]\ntemplates = ["templates/earlier.ipynb"]\n')
    _, complete = earlier_declaration(tmp_path, template, course=course)
    assert complete.status == "fail", complete.details
    assert "template_notes" not in complete.details
    _, without_it = earlier_declaration(tmp_path, template)
    assert without_it.status != "fail"


def test_a_missing_template_notebook_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"templates/Lecture9-2024\.ipynb does not exist") as error:
        course_with(tmp_path, '[declaration]\ntemplates = ["templates/Lecture9-2024.ipynb"]\n')
    assert "relative to the course root" in str(error.value)


def test_a_template_notebook_gone_since_is_a_note_for_the_marker(tmp_path):
    course = course_with(tmp_path, "")
    course.config.declaration.templates = ["templates/gone.ipynb"]
    _, complete = earlier_declaration(tmp_path, earlier(), course=course)
    assert complete.status == "fail"  # the built-in prompts still know the earlier template
    assert "templates/gone.ipynb" in complete.details["template_notes"][0]


@pytest.mark.parametrize(
    "toml, problem",
    [
        ('[declaration]\nprompt = ["x"]\n', "unknown setting 'prompt'"),
        ('[declaration]\nprompts = "Points to consider:"\n', "prompts: expected list"),
        ("[declaration]\nprompts = [3]\n", "prompts: expected a list of non-empty strings"),
        ('[declaration]\ntemplates = [""]\n', "templates: expected a list of non-empty strings"),
    ],
)
def test_declaration_settings_are_checked(tmp_path, toml, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        course_with(tmp_path, toml)


# --- Every edition's untouched prompts get the same verdict (templates.toml) ----------------------

DECLARATION_2024 = """## Large Language Model (LLM) usage declaration

You should acknowledge any use of a generative model during your assignment. Points to consider:

* State which LLM (e.g. GPT-3, Gemini, Co-Pilot)

* Specify tasks (e.g. summarising research or code snippets)

* Were any limitations/biases noted?

* How did you ensure ethical use?"""
EDITIONS = {"2024": DECLARATION_2024, "2025": EARLIER_PROMPTS}


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("released", [True, False], ids=["with-released", "built-in-only"])
def test_each_edition_untouched_fails(tmp_path, edition, released):
    _, complete = earlier_declaration(tmp_path, earlier(EDITIONS[edition]), released=released)
    assert complete.status == "fail", complete.details
    assert "holds only the template's questions" in complete.message


@pytest.mark.parametrize("edition", EDITIONS)
def test_each_edition_filled_passes(tmp_path, edition):
    text = (
        EDITIONS[edition]
        .replace("Co-Pilot)", "Co-Pilot): ChatGPT")
        .replace("code snippets)", "code snippets): debugging plots")
        .replace("noted?", "noted? It invented a matminer featuriser.")
        .replace("ethical use?", "ethical use? I checked every suggestion against the documentation.")
    )
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "pass", complete.details
    assert complete.details["answers"]["used"] == "ChatGPT"


@pytest.mark.parametrize("edition", EDITIONS)
def test_each_edition_partly_filled_warns_naming_the_unanswered(tmp_path, edition):
    text = EDITIONS[edition].replace("Co-Pilot)", "Co-Pilot): ChatGPT")
    _, complete = earlier_declaration(tmp_path, earlier(text))
    assert complete.status == "warn", complete.details
    assert missing(complete) == {"tasks", "limitations", "ethics"}
    assert "For which tasks?" in complete.message and "Did you use" not in complete.message
