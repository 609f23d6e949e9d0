"""The cohort summary and the moderation page (markers only), opened in headless Chromium: the table
of submissions sorts, filters and downloads its CSV in the page; per-check pass rates leave a failed
run out and count it once; the attention list is grouped by student; each submission's notebook
and log are linked; the moderation page shows the sample and the second marks taken in through the
marks CSV (agreement equal to a hand computation). Screenshots: test-artifacts/summary*.png,
moderation.png."""

import csv
import io
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from pages_support import ARTIFACTS, SECOND_MARKS, browser, cohort, external, watch  # noqa: F401 (fixtures)

VISIBLE = """() => Array.from(document.querySelectorAll('#submissions tbody tr'))
    .filter(r => !r.hidden).map(r => r.dataset.student)"""


@pytest.fixture(scope="module")
def summary(cohort, browser):  # noqa: F811
    course, _, reports = cohort
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    seen = watch(page)
    page.goto(reports.summary_path.as_uri(), wait_until="load")
    yield course, page, seen
    page.close()


def test_the_table_sorts_filters_and_downloads_its_csv(summary, tmp_path):
    course, page, seen = summary
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)
    assert page.evaluate(VISIBLE) == ["ab1234", "cd5678", "ef9012", "gh3456"]
    overall = page.locator("#submissions thead button", has_text="Overall")
    overall.click()  # ascending; submissions without an overall mark last
    assert page.evaluate(VISIBLE) == ["cd5678", "ab1234", "ef9012", "gh3456"]
    assert page.get_attribute("#submissions thead th:has(button:text('Overall'))", "aria-sort") == "ascending"
    overall.click()
    assert page.evaluate(VISIBLE) == ["ab1234", "cd5678", "ef9012", "gh3456"]
    page.locator("#submissions thead button", has_text="Student").click()
    page.locator("#submissions thead button", has_text="Student").click()  # descending
    assert page.evaluate(VISIBLE) == ["gh3456", "ef9012", "cd5678", "ab1234"]
    page.fill("#filter", "late")
    assert page.evaluate(VISIBLE) == ["cd5678"]  # the only late one
    page.fill("#filter", "")
    page.select_option("#filter-challenge", "B")
    assert page.evaluate(VISIBLE) == ["gh3456", "ef9012", "ab1234"]
    page.select_option("#filter-status", "incomplete")
    assert page.evaluate(VISIBLE) == ["gh3456", "ef9012"] and page.inner_text("#shown") == "2 of 4 shown"
    page.screenshot(path=str(ARTIFACTS / "summary-filtered.png"))
    with page.expect_download() as info:
        page.click("#download-csv")
    target = tmp_path / "summary.csv"
    info.value.save_as(target)
    assert info.value.suggested_filename == "research_challenge-summary.csv"
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["Student"] for r in rows] == ["gh3456", "ef9012"]  # the rows shown, in the order shown
    grade = course.load_grade("ef9012")
    marks = {c["title"]: c["mark"] for c in grade["criteria"]}
    ef = rows[1]
    assert ef["Ch."] == "B" and ef["Status"] == "incomplete" and ef["Overall"] == ""
    for title, mark in marks.items():
        assert ef[title] == ("" if mark is None else f"{mark:g}" if mark != int(mark) else str(mark))
    assert float(ef["Score"]) == pytest.approx(grade["results"]["mean"])
    page.select_option("#filter-challenge", "")
    page.select_option("#filter-status", "")
    assert seen["errors"] == [] and external(seen["requests"]) == []


def test_pass_rates_leave_a_failed_run_out_and_count_it_once(summary):
    course, page, _ = summary
    grades = {s: course.load_grade(s) for s in ("ab1234", "cd5678", "ef9012", "gh3456")}
    ran = [s for s, g in grades.items() if g["run"]["status"] != "failed"]
    assert ran == ["ab1234", "cd5678", "ef9012"]
    for check in ("code.lint", "protocol.results_file"):
        statuses = [f["status"] for s in ran for f in grades[s]["findings"] if f["check_id"] == check]
        row = page.locator(f"#check-rates tr[data-check='{check}'] td").all_inner_texts()
        passed, warned, failed = statuses.count("pass"), statuses.count("warn"), statuses.count("fail")
        assert row[3:6] == [str(passed), str(warned), str(failed)], (check, row)
        assert row[2] == f"{round(100 * passed / (passed + warned + failed))} %"
    assert "fail" in [
        f["status"] for f in grades["gh3456"]["findings"] if f["check_id"] == "protocol.results_file"
    ]
    assert "the 1 whose run failed (gh3456) are counted once" in page.inner_text("#checks")
    # the attention list: one group per student; the failed run is one item, its checks folded into it
    groups = page.eval_on_selector_all(
        "#attention tbody.attention-student",
        """gs => gs.map(g => ({
        student: g.dataset.student, flags: Array.from(g.querySelectorAll('tr')).map(r => r.dataset.flag)}))""",
    )
    students = [g["student"] for g in groups]
    assert students == sorted(set(students)) and {"cd5678", "gh3456"} <= set(students)
    failed = next(g for g in groups if g["student"] == "gh3456")
    assert failed["flags"] == ["Failed run"]
    own = {a["flag"] for a in grades["gh3456"]["attention"]} - {"Failed run"}
    assert own and all(
        flag in page.inner_text("tbody[data-student='gh3456']") for flag in own
    )  # named, not counted
    counts = page.inner_text("#attention p.small")
    assert "Failed run: 1" in counts and "Protocol failure: 1" in counts  # cd5678's only


def test_each_submission_links_its_notebook_and_log(summary):
    course, page, _ = summary
    links = page.eval_on_selector_all(
        "#submissions tbody tr",
        """rs => rs.map(r => ({student: r.dataset.student,
        hrefs: Array.from(r.querySelectorAll('a')).map(a => [a.textContent.trim(), a.href])}))""",
    )
    by_student = {row["student"]: dict(row["hrefs"]) for row in links}
    for student, hrefs in by_student.items():
        for text, href in hrefs.items():
            assert Path(unquote(urlparse(href).path)).is_file(), (student, text, href)
    assert set(by_student["ab1234"]) == {"ab1234", "notebook", "as HTML", "log"}
    assert Path(unquote(urlparse(by_student["ab1234"]["log"]).path)) == course.log_path("ab1234")
    assert by_student["ab1234"]["notebook"].endswith(
        "autograded/ab1234/research_challenge/research_challenge.ipynb"
    )
    assert set(by_student["gh3456"]) == {"gh3456", "log"}  # the failed run kept no notebook


def test_the_moderation_page(cohort, browser):  # noqa: F811
    course, _, reports = cohort
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = watch(page)
    page.goto(reports.summary_path.as_uri())
    page.click("text=Moderation")
    page.wait_for_load_state("load")
    assert page.url == course.moderation_page().as_uri()
    page.screenshot(path=str(ARTIFACTS / "moderation.png"), full_page=True)
    sample = page.eval_on_selector_all("#sample-table tbody tr", "rs => rs.map(r => r.innerText)")
    assert [s.split("\t")[0] for s in sample] == ["ab1234", "cd5678"]
    assert "within 2 of the boundary at 70" in sample[0] and "flagged: " in sample[1]
    # Dr Ada's first marks and Dr Bo's second marks (the sample filled in and taken in through the
    # marks CSV): 10 pairs; by hand, 3 of 10 in the same band, chance agreement 21/100 from the margins
    agreement = page.inner_text("#agreement")
    assert "Criteria marked twice\t10" in agreement or "Criteria marked twice\n10" in agreement
    firsts = [m["mark"] for s in SECOND_MARKS for m in course.load_grade(s)["criteria"]]
    seconds = [mark for s in SECOND_MARKS for mark in SECOND_MARKS[s]]
    mean_difference = sum(b - a for a, b in zip(firsts, seconds)) / 10
    assert f"{mean_difference:.2f}" in agreement and f"{(0.3 - 0.21) / (1 - 0.21):.3f}" in agreement
    assert "Dr Ada" in page.inner_text("#marker-distributions") and "Dr Bo" in page.inner_text(
        "#marker-distributions"
    )
    assert page.locator("#fairness-challenge-table tr[data-criterion='overall']").count() == 1
    href = page.get_attribute("a[download]", "href")
    assert (course.moderation_page().parent / href).resolve() == course.moderation_sample_path()
    assert seen["errors"] == [] and external(seen["requests"]) == []
    page.close()
