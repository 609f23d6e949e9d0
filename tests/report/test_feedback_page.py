"""The student's feedback page (autograder.report.feedback): the three things that would raise the
mark most, the submission and the late-penalty arithmetic, how a suggested mark was reached, the
student's own executed cells, how to query a mark; and a page a screen reader and a phone can use,
checked in headless Chromium at 1280 and 375 px (axe-core in the page, headings in order, alt
text on every figure, tables inside the screen). Screenshots: test-artifacts/feedback-*-{1280,375}.png."""

import json

import pytest
from pages_support import ARTIFACTS, QUERY, browser, cohort, external, watch  # noqa: F401 (fixtures)

from autograder.grade.record import Grade, read_grade
from autograder.grade.rubric import load_rubric
from autograder.report.feedback import top_improvements

RUBRIC = load_rubric(__import__("pages_support").REPO / "rubric" / "research_challenge.toml")


def finding(check_id, criterion, status, message, advice="", visibility="student"):
    return {
        "check_id": check_id,
        "criterion": criterion,
        "status": status,
        "message": message,
        "advice": advice,
        "visibility": visibility,
        "details": {},
    }


def entry(key, weight, mark, evidence=(), caps=(), uncapped=None):
    return {
        "key": key,
        "title": RUBRIC.criteria[key].title,
        "weight": weight,
        "mark": mark,
        "uncapped": uncapped,
        "caps": [{"check_id": c, "cap": mark} for c in caps],
        "evidence": [
            {"check_id": c, "status": "warn", "effect": "suggest", "marks": 55, "rule": 1} for c in evidence
        ],
    }


KNOWN = {
    "criteria": [
        entry("data_preparation", 20, 58, evidence=["protocol.preprocessing_leak"]),  # 2 below 60
        entry("model_choice", 20, 45, evidence=["practice.baseline"]),  # 5 below 50
        entry("training_testing", 20, 39, caps=["protocol.test_tuning", "protocol.test_ids"], uncapped=62),
        entry("code", 10, 50, evidence=["code.lint", "code.annotation"]),  # 10 below 60
        entry("presentation", 30, 68),  # no finding: nothing to do there from the checks
    ],
    "findings": [
        finding(
            "protocol.preprocessing_leak",
            "data_preparation",
            "warn",
            "A scaler is fitted on all the data.",
            "Fit the scaler inside each training fold.",
        ),
        finding(
            "practice.baseline",
            "model_choice",
            "warn",
            "No baseline is compared.",
            "Compare with a Dummy model.",
        ),
        finding(
            "protocol.test_tuning",
            "training_testing",
            "fail",
            "Tuned on the test fold.",
            "Tune inside the training data of each fold.",
        ),
        finding(
            "protocol.test_ids",
            "training_testing",
            "fail",
            "Fold 3 predicts other materials.",
            "Predict exactly the official test materials.",
        ),
        finding("code.lint", "code", "fail", "41 problems.", "Run `ruff check`."),
        finding("code.annotation", "code", "warn", "Few comments.", "Explain each step."),
        finding("declaration.present", "general", "fail", "No declaration.", "Add the declaration."),
        finding(
            "protocol.plausibility", "training_testing", "warn", "Check this result.", visibility="marker"
        ),
        finding("protocol.api_used", "training_testing", "pass", "The Matbench API is used."),
    ],
}


def test_the_three_top_improvements_of_a_known_set_of_findings():
    top = top_improvements(Grade.from_json(KNOWN), RUBRIC.bands)
    # priority = weight x severity (fail 2, warn 1) / (1 + marks to the next band; 0 for a cap):
    #   test_tuning 20*2/1 = 40 (and test_ids 40, same criterion: one per criterion first)
    #   preprocessing_leak 20*1/3 = 6.7; baseline 20*1/6 = 3.3; code.lint 10*2/11 = 1.8; declaration 0
    # (the tie of test_ids and test_tuning is broken by the check id, so the choice is stable)
    assert [t["check_id"] for t in top] == [
        "protocol.test_ids",
        "protocol.preprocessing_leak",
        "practice.baseline",
    ]
    assert [t["advice"] for t in top] == [
        "Predict exactly the official test materials.",
        "Fit the scaler inside each training fold.",
        "Compare with a Dummy model.",
    ]
    assert "capped at 39" in top[0]["why"] and "without the cap it would be 62" in top[0]["why"]
    assert (
        top[1]["why"]
        == "Data preparation (20 % of the mark) is at 58, 2 marks below Upper second (2:1) (60)."
    )
    # fewer to choose from: the next best, a second one of a criterion, then the unweighted
    few = dict(
        KNOWN, findings=[f for f in KNOWN["findings"] if f["criterion"] in ("training_testing", "general")]
    )
    assert [t["check_id"] for t in top_improvements(Grade.from_json(few), RUBRIC.bands)] == [
        "protocol.test_ids",
        "protocol.test_tuning",
        "declaration.present",
    ]
    # a marker's override of the cap: the cap no longer holds the mark down
    overridden = json.loads(json.dumps(KNOWN))
    overridden["criteria"][2].update(mark=62, uncapped=None, override="the tuning was inside the folds")
    # the two training findings now 20*2/(1 + 8 to a First) = 4.4, below the leak's 6.7
    assert [t["check_id"] for t in top_improvements(Grade.from_json(overridden), RUBRIC.bands)] == [
        "protocol.preprocessing_leak",
        "protocol.test_ids",
        "practice.baseline",
    ]
    assert (
        top_improvements(
            Grade.from_json({"criteria": KNOWN["criteria"], "findings": KNOWN["findings"][-1:]}), RUBRIC.bands
        )
        == []
    )


def test_the_page_shows_them_first(cohort):  # noqa: F811
    course, _, _ = cohort
    grade = read_grade(course, "cd5678")
    page = course.feedback_page("cd5678").read_text(encoding="utf-8")
    expected = [t["check_id"] for t in top_improvements(grade, RUBRIC.bands)]
    # every criterion is marked: only the cap on the marker's Training and testing (39) and the finding of no
    # criterion are left to do
    assert expected == ["protocol.test_tuning", "declaration.present"]
    improve = page[page.index('id="improve"') : page.index('id="submission"')]
    assert [chunk.split('"')[0] for chunk in improve.split('<li data-check="')[1:]] == expected
    sections = [chunk.split('"')[0] for chunk in page.split('<section class="card" id="')[1:]]
    assert sections[:3] == ["overall", "improve", "submission"]


def test_the_submission_and_the_late_penalty_arithmetic(cohort):  # noqa: F811
    course, _, _ = cohort
    grade = course.load_grade("cd5678")
    page = course.feedback_page("cd5678").read_text(encoding="utf-8")
    overall = grade["overall"]
    assert overall["late_penalty"] == "late by 3.5 h (1 started day): 5 marks off"  # 5 per started day
    steps = page[page.index('id="late-steps"') :].split("</ol>")[0]
    assert f"Weighted mark of the criteria: {overall['before_late']:.1f}" in steps
    assert "Late penalty: late by 3.5 h (1 started day): 5 marks off" in steps
    assert f"After the penalty: {overall['before_late'] - 5:.1f}, rounded to {overall['mark']}" in steps
    assert "11 March 2026, 18:30" in page and "11 March 2026, 15:00" in page  # submitted, deadline
    assert "the submission collected from nbgrader" in page
    on_time = course.feedback_page("ab1234").read_text(encoding="utf-8")
    assert 'id="late-steps"' not in on_time and "<dt>On time</dt>" in on_time


def test_how_a_suggested_mark_was_reached(cohort):  # noqa: F811
    course, _, _ = cohort
    grade = course.load_grade("ef9012")
    code = next(c for c in grade["criteria"] if c["key"] == "code")
    assert code["source"] == "suggested" and code["evidence"]
    page = course.feedback_page("ef9012").read_text(encoding="utf-8")
    row = page[page.index('data-criterion="code"') :].split("</tr>")[0]
    assert f"How the suggested {code['suggested']:g} was reached" in row
    for item in code["evidence"]:
        if item["effect"] == "suggest":
            message = next(f["message"] for f in grade["findings"] if f["check_id"] == item["check_id"])
            assert message.split("(")[0].strip() in row and f"rule {item['rule']}: {item['marks']:g}" in row


def test_a_limit_on_the_suggestion_is_explained(cohort):  # noqa: F811
    """A rubric limit (a model no better than the Dummy) is said where the suggestion is explained, in the
    rule's words; a limit that comes from a finding only markers see does not show its note."""
    from autograder.report.feedback import render_feedback, suggestion_steps

    course, _, _ = cohort
    grade = read_grade(course, "ef9012")
    code = next(c for c in grade.criteria if c.key == "code")
    code.evidence.append(
        {
            "check_id": "code.annotation",
            "status": "fail",
            "effect": "limit",
            "rule": 10,
            "limit": 49,
            "note": "Nothing in the notebook explains your 40 lines of code.",
        }
    )
    code.evidence.append(
        {
            "check_id": "protocol.plausibility",
            "status": "fail",
            "effect": "limit",
            "rule": 11,
            "limit": 45,
            "note": "Marker-only reason.",
        }
    )
    limits = suggestion_steps(grade)["code"]["limits"]
    assert [(x["limit"], x["note"]) for x in limits] == [
        (45, "A check your marker reviews."),
        (49, "Nothing in the notebook explains your 40 lines of code."),
    ]
    page = render_feedback(
        course, "research_challenge", "ef9012", grade, course.config.catalogue.get("B"), None
    )
    row = page[page.index('data-criterion="code"') :].split("</tr>")[0]
    assert "The rubric limits this suggestion to 45 (rule 11): A check your marker reviews." in row
    assert "Marker-only reason" not in page


def test_the_student_s_own_executed_cells(cohort):  # noqa: F811
    course, _, _ = cohort
    page = course.feedback_page("cd5678").read_text(encoding="utf-8")
    assert 'href="notebook.html"' in page
    notebook = course.notebook_page("cd5678").read_text(encoding="utf-8")
    assert "Magpie features of the composition" in notebook  # their answer, as they wrote it
    assert "results_saved = True" not in notebook and "assert all_folds" not in notebook  # no instructor cell
    assert "<script" not in notebook and "Content-Security-Policy" in notebook  # the student's script removed
    assert str(course.root) not in notebook and "/tmp/" not in notebook
    assert not course.notebook_page("gh3456").exists()  # the failed run kept no notebook: no link
    assert "notebook.html" not in course.feedback_page("gh3456").read_text(encoding="utf-8")


def test_query_text_and_nothing_of_moderation_or_other_students(cohort):  # noqa: F811
    course, result, _ = cohort
    pages = {s: course.feedback_page(s).read_text(encoding="utf-8") for s in result.graded}
    for student, page in pages.items():
        assert QUERY in page
        for word in (
            "Dr Bo",
            "Dr Ada",
            "second mark",
            "moderation",
            "Moderation",
            "similarity",
            "Similarity",
        ):
            assert word not in page, (student, word)
        assert all(other not in page for other in pages if other != student)
    for student in ("ab1234", "cd5678", "ef9012"):
        notebook = course.notebook_page(student).read_text(encoding="utf-8")
        assert all(other not in notebook for other in pages if other != student)


HEADINGS = """() => Array.from(document.querySelectorAll('h1,h2,h3,h4,h5,h6')).map(h => +h.tagName[1])"""
IMAGES = """() => Array.from(document.images).map(i => ({alt: (i.getAttribute('alt') || '').trim(),
    right: i.getBoundingClientRect().right, ok: i.complete && i.naturalWidth > 0}))"""
TABLES = """() => Array.from(document.querySelectorAll('table')).map(t => t.getBoundingClientRect().right)"""


@pytest.mark.parametrize("width", [1280, 375])
def test_a_screen_reader_and_a_phone_can_use_it(cohort, browser, width):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    course, _, _ = cohort
    ARTIFACTS.mkdir(exist_ok=True)
    for student in ("cd5678", "ab1234", "gh3456"):
        path = course.feedback_page(student)
        page = browser.new_page(viewport={"width": width, "height": 900})
        seen = watch(page)
        page.goto(path.as_uri(), wait_until="load")
        if student == "cd5678":
            page.screenshot(
                path=str(ARTIFACTS / f"feedback-{student}-{width}.png")
            )  # what a student sees first
            page.screenshot(path=str(ARTIFACTS / f"feedback-{student}-{width}-full.png"), full_page=True)
        levels = page.evaluate(HEADINGS)
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels  # no level skipped
        images = page.evaluate(IMAGES)
        assert all(i["alt"] and i["ok"] for i in images), images
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        assert all(right <= width for right in page.evaluate(TABLES))
        assert all(i["right"] <= width for i in images)
        results = Axe().run(page)  # axe-core, bundled with the package, run inside the page
        serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in serious]
        assert seen["errors"] == [] and external(seen["requests"]) == []
        if width == 375 and student == "cd5678":
            first_screen = page.evaluate("""() => Array.from(document.querySelectorAll('h2'))
                .filter(h => h.getBoundingClientRect().top < 900).map(h => h.textContent.trim())""")
            assert first_screen[0] == "Overall mark"
        page.close()


def test_the_notebook_page_opens_offline(cohort, browser):  # noqa: F811
    course, _, _ = cohort
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = watch(page)
    page.goto(course.feedback_page("cd5678").as_uri())
    page.click("#notebook-link")
    page.wait_for_load_state("load")
    assert page.url == course.notebook_page("cd5678").as_uri()
    assert "Your notebook as the grader ran it" in page.inner_text("h1")
    assert page.title() == "Your notebook as the grader ran it (cd5678)"  # no script of the notebook ran
    assert seen["errors"] == [] and external(seen["requests"]) == []
    page.screenshot(path=str(ARTIFACTS / "feedback-notebook-cd5678.png"))
    page.close()
