"""Cohort similarity (autograder.similarity, report/similarity.py, `autograder similarity`) on real
notebooks written on the released template (tests/similarity/): a copied pair is flagged with its
passages, a template-only pair is not, an archive copy is found, the course setting is checked, and the
report is linked from the summary only: no feedback page and no self-check ever mentions it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from grading_support import ASSIGNMENT, add_submission, good_findings, make_course
from typer.testing import CliRunner

from autograder.cli import app
from autograder.course.config import ConfigError, Course
from autograder.similarity import compare, read_material
from tests.similarity import build

COPY_CHANGES = build.CHANGES  # renamed, comments rewritten, prints added, reordered, paraphrased, rewritten


def _course(root: Path, notebooks: dict[str, dict], toml: str = "") -> Course:
    """A course with the released notebook and these students' submitted notebooks."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "autograder.toml").write_text(toml, encoding="utf-8")
    course = Course.open(root)
    course.release_dir().mkdir(parents=True)
    shutil.copy(build.released_path(), course.release_dir() / build.NOTEBOOK)
    for student, nb in notebooks.items():
        build.save(nb, course.submitted_dir(student) / build.NOTEBOOK)
    return course


def _similarity(course: Course, *extra: str):
    result = CliRunner().invoke(app, ["similarity", "--course", str(course.root), *extra])
    assert result.exit_code == 0, result.output
    return result, course.load_similarity()


def _pair(data: dict, a: str, b: str) -> dict | None:
    return next((p for p in data["pairs"] if {p["a"]["key"], p["b"]["key"]} == {a, b}), None)


@pytest.fixture(scope="module")
def works():
    return build.independent()


def test_a_copied_pair_is_flagged_with_its_passages(tmp_path, works):
    copy = build.altered(works["glass_logistic"], COPY_CHANGES, seed=7, work="glass_logistic", name="st02")
    course = _course(
        tmp_path / "course",
        {
            "st01": works["glass_logistic"],
            "st02": copy,
            "st03": works["lasso_masses"],
            "st04": works["knn_orbitals"],
        },
    )
    result, data = _similarity(course)
    assert data["cohort"] == 4 and data["template"] is True and data["notes"] == []
    assert [(p["a"]["key"], p["b"]["key"]) for p in data["pairs"] if p["flagged"]] == [("st01", "st02")]
    pair = _pair(data, "st01", "st02")
    assert (
        pair["score"] >= data["threshold"] and pair["code"]["share_a"] > 0.5 and pair["text"]["share_a"] > 0.5
    )
    # the passages, cell against cell, with what to highlight
    kinds = {p["kind"] for p in pair["passages"]}
    assert kinds == {"code", "text"}
    model = next(p for p in pair["passages"] if p["kind"] == "code" and "model" in p["a"]["label"])
    highlighted_a = "".join(model["a"]["text"][s:e] for s, e in model["a"]["spans"])
    assert "QuantileTransformer" in highlighted_a and "LogisticRegression" in highlighted_a
    renamed = "".join(model["b"]["text"][s:e] for s, e in model["b"]["spans"])
    assert "QuantileTransformer" in renamed and "classifier" not in model["b"]["text"]  # renamed in the copy
    # the unusual choices both made: the same settings and the same printed fold scores
    assert "LogisticRegression(C=0.7)" in pair["choices"]
    assert set(pair["results"]) >= set(re.findall(r"0\.\d{4}", build.fold_output("glass_logistic")))
    # independent work is not flagged, and shares nothing of that kind
    for other in ("st03", "st04"):
        for pair_other in (_pair(data, "st01", other), _pair(data, "st03", "st04")):
            assert pair_other is None or (not pair_other["flagged"] and pair_other["score"] < 0.3)
    # the page: both sides highlighted, the cells named, for markers only; the command says where it is
    page = course.similarity_page().read_text(encoding="utf-8")
    assert str(course.similarity_page()) in result.output and "st01 · st02: score" in result.output
    assert "for markers only" in page and "<mark>" in page and "cell 13 (model)" in page
    assert (
        "LogisticRegression(C=0.7)" in page and "cheat" not in page.lower() and "plagiar" not in page.lower()
    )


def test_a_pair_that_shares_only_the_template_is_not_flagged(tmp_path, works):
    course = _course(
        tmp_path / "course",
        {
            "tp01": build.template_only("tp01"),
            "tp02": build.template_only("tp02"),
            "st01": works["magpie_forest"],
        },
    )
    result, data = _similarity(course, "--json")
    assert data["flagged"] == 0 and data["candidates"] == 0 and data["pairs"] == []
    assert json.loads(result.output)["flagged"] == [] and json.loads(result.output)["cohort"] == 3
    assert "No two notebooks share any passage" in course.similarity_page().read_text(encoding="utf-8")
    # without the released notebook nothing is discounted, and the artefact says so
    paths = {k: course.submitted_dir(k) / build.NOTEBOOK for k in ("tp01", "tp02")}
    data = compare(read_material(paths, {}, None), 0.4)
    assert data["template"] is False and "no released notebook was found" in data["notes"][0]
    assert _pair(data, "tp01", "tp02")["flagged"]  # the whole template then matches


def test_what_most_of_the_cohort_shares_is_common_not_copied(tmp_path, works):
    """The same featuriser in most submissions is reported as common material, not as copying."""
    featurise = build._source(build._by_id(works["magpie_forest"])["featurise"])
    cohort = {}
    for n, name in enumerate(
        ("pymatgen_ridge", "knn_orbitals", "oxidation_trees", "fraction_mlp", "glass_logistic")
    ):
        nb = json.loads(json.dumps(works[name]))
        build._by_id(nb)["featurise"]["source"] = featurise
        cohort[f"st{n}"] = nb
    material = read_material(
        {k: build.save(nb, tmp_path / k / build.NOTEBOOK) for k, nb in cohort.items()},
        {},
        build.released_path(),
    )
    data = compare(material, 0.4)
    assert data["flagged"] == 0
    assert any(
        "ElementProperty.from_preset" in c["text"] and c["documents"] == 5 for c in data["common"]["code"]
    )


def test_a_copy_of_an_archive_notebook_is_found(tmp_path, works):
    pool = build.pools(works)
    archive = tmp_path / "course" / "archive" / "2025"  # an earlier year's notebooks, some public
    build.save(works["structure_boosting"], archive / "public" / "gh_user.ipynb")
    for n in range(30):
        build.save(build.synthetic(n, pool), archive / f"student{n}.ipynb")
    (archive / "broken.ipynb").write_text("not a notebook", encoding="utf-8")
    course = _course(
        tmp_path / "course",
        {
            "st01": build.altered(
                works["structure_boosting"], COPY_CHANGES, seed=3, work="structure_boosting", name="st01"
            ),
            "st02": works["pymatgen_ridge"],
        },
        toml='[similarity]\narchive = ["archive/2025"]\nthreshold = 0.4\n',
    )
    _, data = _similarity(course)
    assert data["cohort"] == 2 and data["archive"] == 31 and data["archive_folders"] == ["archive/2025"]
    assert [(p["a"]["key"], p["b"]["key"]) for p in data["pairs"] if p["flagged"]] == [
        ("st01", "archive/2025/public/gh_user.ipynb")
    ]
    assert any("broken.ipynb: left out" in note for note in data["notes"])
    assert "archive: archive/2025/public/gh_user.ipynb" in course.similarity_page().read_text(
        encoding="utf-8"
    )


def test_the_similarity_setting_is_checked(tmp_path):
    (tmp_path / "autograder.toml").write_text('[similarity]\narchive = ["old"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[similarity\]\.archive: the folder old does not exist"):
        Course.open(tmp_path)
    (tmp_path / "autograder.toml").write_text("[similarity]\nthreshold = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"threshold: expected a share above 0 and at most 1"):
        Course.open(tmp_path)
    (tmp_path / "autograder.toml").write_text('[similarity]\nenabled = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"enabled: expected bool"):
        Course.open(tmp_path)


def test_the_report_is_linked_from_the_summary_only(tmp_path, works):
    """Graded cohort with a copied pair: the summary lists the pair and links to the evidence; no
    feedback page, and no self-check of the copied notebook, mentions similarity or the other student."""
    from autograder.grade.grading import grade_cohort
    from autograder.report.cohort import write_cohort_reports
    from autograder.report.similarity import similarity_report

    course = make_course(tmp_path / "course")
    course.release_dir().mkdir(parents=True)
    shutil.copy(build.released_path(), course.release_dir() / build.NOTEBOOK)
    copy = build.altered(works["magpie_forest"], COPY_CHANGES, seed=11, work="magpie_forest", name="cd5678")
    notebooks = {"ab1234": works["magpie_forest"], "cd5678": copy, "ef9012": works["oxidation_trees"]}
    for student, nb in notebooks.items():
        add_submission(
            course,
            student,
            "B",
            "RF-SCM/Magpie",
            good_findings("Recomputed MAE: 0.4461 eV."),
            tmp_path,
            notebook=nbformat.from_dict(nb),
        )
    assert grade_cohort(course, ASSIGNMENT).errors == {}
    outcome = similarity_report(course, ASSIGNMENT)
    assert [(p["a"]["key"], p["b"]["key"]) for p in outcome.flagged] == [("ab1234", "cd5678")]
    reports = write_cohort_reports(course, ASSIGNMENT)
    assert reports.errors == {}
    summary = course.summary_page(ASSIGNMENT).read_text(encoding="utf-8")
    assert 'href="similarity.html#pair-1"' in summary and "Similar work" in summary
    assert "shares work with cd5678" in summary and "shares work with ab1234" in summary
    for student in notebooks:
        for page in sorted(course.feedback_dir(student, ASSIGNMENT).rglob("*.html")):
            text = page.read_text(encoding="utf-8")
            assert not re.search(r"similar|shares work", text, re.IGNORECASE), page
            assert not any(other in text for other in notebooks if other != student), page
    checked = CliRunner().invoke(
        app, ["check", str(course.submitted_dir("cd5678") / build.NOTEBOOK), "--json"]
    )
    assert checked.exit_code in (0, 1), checked.output
    assert not re.search(r"similar|ab1234", checked.output, re.IGNORECASE)


def test_nothing_to_compare_is_a_clear_error(tmp_path):
    course = _course(tmp_path / "course", {})
    result = CliRunner().invoke(app, ["similarity", "--course", str(course.root)])
    assert result.exit_code != 0 and "collect the submissions first" in str(result.exception)
    assert not course.similarity_path().exists()
    result = CliRunner().invoke(app, ["similarity", "homework", "--course", str(course.root)])
    assert "Unknown assignment 'homework'" in str(result.exception)


def test_an_unchanged_cohort_is_not_compared_again(tmp_path, works):
    """A re-grade after a marks change runs the similarity step again: nothing it reads changed, so the
    stored comparison stands; a changed notebook or threshold compares again."""
    course = _course(tmp_path / "course", {"st01": works["glass_logistic"], "st03": works["lasso_masses"]})
    _, first = _similarity(course)
    drawn = course.similarity_page().stat().st_mtime_ns
    _, again = _similarity(course)
    assert again == first  # the same comparison, generated at the same moment: not redone
    assert course.similarity_page().stat().st_mtime_ns == drawn  # nor its page drawn again
    build.save(works["knn_orbitals"], course.submitted_dir("st03") / build.NOTEBOOK)
    _, changed = _similarity(course)
    assert changed["inputs_key"] != first["inputs_key"]
    assert course.similarity_page().stat().st_mtime_ns != drawn
    _, other_threshold = _similarity(course, "--threshold", "0.5")
    assert other_threshold["inputs_key"] != changed["inputs_key"] and other_threshold["threshold"] == 0.5
