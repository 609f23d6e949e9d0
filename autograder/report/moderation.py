"""Moderation for the markers and the module leader (autograder.layout: reports/<assignment>/
moderation.html and moderation_sample.csv; markers only, never on a student's page).

Everything here works on plain rows, so a cohort can be built in a test as easily as read from
the stored grade.json files (`rows_from_grades`, `submissions_from_grades`):

* `MarkRow` (student, challenge, criterion, mark, marker, role): one mark one marker gave, "first"
  (the mark that counts) or "second" (a moderator's re-mark, `second_marks` in grade.json);
* `SubmissionRow`: one submission's overall mark and what makes it worth a second look.

The moderation sample (`moderation_sample`) takes every fail, every mark within `boundary_margin`
of a band boundary, every submission with an attention flag or an overridden cap, the top and the
bottom of each challenge, and a random share of the rest drawn from `seed`: the same cohort and
settings give the same sample. Marker agreement (`marker_agreement`) compares first and second
marks of the same criterion (mean and largest differences, Cohen's kappa on the bands, the pairs
further apart than a band). Fairness (`fairness`) compares the marks per criterion across groups
(the challenges, or the markers) with a one-way analysis of variance: its p-value says whether the
difference between the groups' means is larger than the spread within them would explain.
"""

from __future__ import annotations

import csv
import io
import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any

from autograder.grade.marks import SUGGESTED
from autograder.grade.record import Grade

FIRST, SECOND = "first", "second"
OVERALL = "overall"
# the marks CSV's columns (autograder.grade.marks.CSV_COLUMNS): a filled sample goes into it as it is
SAMPLE_COLUMNS = ("student_id", "criterion", "mark", "comment", "marker", "override", "role")


@dataclass(frozen=True)
class MarkRow:
    student: str
    challenge: str
    criterion: str  # a rubric criterion key, or "overall"
    mark: float
    marker: str = ""  # "" = not known
    role: str = FIRST  # FIRST: the mark that counts; SECOND: a moderator's re-mark
    suggested: bool = False  # the autograder's suggestion, no marker's mark: compared with nothing


@dataclass
class SubmissionRow:
    student: str
    challenge: str
    mark: float | None  # the overall mark (None: not every part is marked yet)
    flags: list[str] = field(default_factory=list)  # attention flags of the submission
    overridden: list[str] = field(default_factory=list)  # criteria whose automatic cap a marker overrode
    status: str = ""


@dataclass
class SampleItem:
    student: str
    challenge: str
    mark: float | None
    reasons: list[str]


# --- reading the stored grades -----------------------------------------------------------------------


def rows_from_grades(grades: dict[str, Grade]) -> list[MarkRow]:
    """Every mark in the stored grades: each criterion's mark that counts (FIRST, with its marker)
    and the second markers' marks (SECOND), plus the overall mark (FIRST, criterion "overall",
    its marker when one marker gave every criterion)."""
    rows = []
    for student, grade in sorted(grades.items()):
        if grade.is_error:
            continue
        challenge = grade.challenge or ""
        markers = set()
        for entry in grade.criteria:
            if entry.mark is not None:
                suggested = entry.source == SUGGESTED
                marker = "" if suggested else str(entry.marker or "")
                markers.add(marker)
                rows.append(
                    MarkRow(student, challenge, entry.key, float(entry.mark), marker, FIRST, suggested)
                )
            for second in entry.second_marks:
                if second.get("mark") is not None:
                    rows.append(
                        MarkRow(
                            student,
                            challenge,
                            entry.key,
                            float(second["mark"]),
                            str(second.get("marker") or ""),
                            SECOND,
                        )
                    )
        overall = grade.overall.mark
        markers.discard("")
        if overall is not None:
            rows.append(
                MarkRow(
                    student,
                    challenge,
                    OVERALL,
                    float(overall),
                    markers.pop() if len(markers) == 1 else "",
                    FIRST,
                )
            )
    return rows


def submissions_from_grades(grades: dict[str, Grade]) -> list[SubmissionRow]:
    out = []
    for student, grade in sorted(grades.items()):
        if grade.is_error:
            continue
        out.append(
            SubmissionRow(
                student,
                grade.challenge or "",
                grade.overall.mark,
                grade.flags,
                [c.key for c in grade.criteria if c.override],
                grade.status,
            )
        )
    return out


# --- bands -------------------------------------------------------------------------------------------


def band_of(mark: float, bands) -> str:
    """The key of the band a mark falls in (bands: objects with key, min, max; looked up on the
    whole mark, as the rubric does)."""
    whole = math.floor(mark + 0.5)
    for band in bands:
        if band.min <= whole <= band.max:
            return band.key
    return ""


def boundaries(bands) -> list[float]:
    """The marks where one band starts (the lowest band's 0 is no boundary)."""
    return sorted(b.min for b in bands if b.min > 0)


def lowest_band(bands) -> str:
    return min(bands, key=lambda b: b.min).key


# --- the sample --------------------------------------------------------------------------------------


def moderation_sample(submissions: list[SubmissionRow], bands, settings) -> list[SampleItem]:
    """The submissions a second marker re-marks, each with why it was chosen (see the module's
    docstring). Submissions without an overall mark are not sampled yet."""
    marked = sorted((s for s in submissions if s.mark is not None), key=lambda s: s.student)
    reasons: dict[str, list[str]] = {s.student: [] for s in marked}
    fail, edges = lowest_band(bands), boundaries(bands)
    for sub in marked:
        if sub.mark is None:  # none in `marked`
            continue
        if band_of(sub.mark, bands) == fail:
            reasons[sub.student].append("fail")
        near = [b for b in edges if abs(sub.mark - b) <= settings.boundary_margin]
        if near:
            reasons[sub.student].append(f"within {settings.boundary_margin:g} of the boundary at {near[0]:g}")
        if sub.flags:
            reasons[sub.student].append("flagged: " + ", ".join(sub.flags))
        if sub.overridden:
            reasons[sub.student].append("cap overridden: " + ", ".join(sub.overridden))
    by_challenge: dict[str, list[SubmissionRow]] = {}
    for sub in marked:
        by_challenge.setdefault(sub.challenge, []).append(sub)
    for letter, members in sorted(by_challenge.items()):
        ordered = sorted(members, key=lambda s: (-(s.mark or 0.0), s.student))  # marked: every mark set
        count = min(settings.top_bottom, len(ordered))
        for sub in ordered[:count]:
            reasons[sub.student].append(f"top of challenge {letter or '?'}")
        for sub in ordered[::-1][:count]:
            if f"top of challenge {letter or '?'}" not in reasons[sub.student]:
                reasons[sub.student].append(f"bottom of challenge {letter or '?'}")
    rest = [s.student for s in marked if not reasons[s.student]]
    drawn = (
        random.Random(settings.seed).sample(rest, math.ceil(settings.random_share * len(rest)))
        if rest
        else []
    )
    for student in drawn:
        reasons[student].append(
            f"random ({100 * settings.random_share:g} % of the rest, seed {settings.seed})"
        )
    return [
        SampleItem(s.student, s.challenge, s.mark, reasons[s.student]) for s in marked if reasons[s.student]
    ]


def sample_csv(sample: list[SampleItem], criteria: list[str]) -> str:
    """The list a second marker works from: one line per sampled submission and criterion, in the
    marks CSV's columns, with the mark and the marker to fill in and role "second". The filled lines
    go into the marks CSV as they are (the role keeps them apart from the marks that count); the
    first marks are not in it (blind second marking), why each was sampled is on the page."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SAMPLE_COLUMNS)
    for item in sample:
        for criterion in criteria:
            writer.writerow([item.student, criterion, "", "", "", "", SECOND])
    return out.getvalue()


# --- marker agreement --------------------------------------------------------------------------------


@dataclass
class Pair:
    student: str
    challenge: str
    criterion: str
    first: float
    second: float
    first_marker: str
    second_marker: str
    first_band: str
    second_band: str

    @property
    def difference(self) -> float:
        return self.second - self.first


def pairs_of(rows: list[MarkRow], bands) -> list[Pair]:
    """A first and a second mark of the same student and criterion, by two different markers (a
    suggestion nobody confirmed is no marker's mark)."""
    firsts = {(r.student, r.criterion): r for r in rows if r.role == FIRST and not r.suggested}
    pairs = []
    for row in rows:
        first = firsts.get((row.student, row.criterion))
        if row.role != SECOND or first is None or (first.marker and first.marker == row.marker):
            continue
        pairs.append(
            Pair(
                row.student,
                row.challenge,
                row.criterion,
                first.mark,
                row.mark,
                first.marker,
                row.marker,
                band_of(first.mark, bands),
                band_of(row.mark, bands),
            )
        )
    return sorted(pairs, key=lambda p: (p.student, p.criterion, p.second_marker))


def marker_agreement(rows: list[MarkRow], bands, large_difference: float = 10.0) -> dict:
    """How far second marks are from first marks: n, mean difference (second - first), mean and
    largest absolute difference, the share of pairs in the same band, Cohen's kappa on the bands
    (None when it is not defined: fewer than two pairs, or every mark in one band), and the pairs
    further apart than `large_difference`."""
    pairs = pairs_of(rows, bands)
    if not pairs:
        return {
            "n": 0,
            "pairs": [],
            "large": [],
            "mean_difference": None,
            "mean_abs_difference": None,
            "max_abs_difference": None,
            "largest": None,
            "band_agreement": None,
            "kappa": None,
        }
    differences = [p.difference for p in pairs]
    firsts, seconds = [p.first_band for p in pairs], [p.second_band for p in pairs]
    kappa = None
    if len(pairs) >= 2 and len(set(firsts) | set(seconds)) > 1:
        from sklearn.metrics import cohen_kappa_score  # its imports only when there is a kappa to compute

        value = cohen_kappa_score(firsts, seconds, labels=[b.key for b in bands])
        kappa = None if math.isnan(value) else float(value)
    largest = max(pairs, key=lambda p: abs(p.difference))
    return {
        "n": len(pairs),
        "pairs": pairs,
        "large": [p for p in pairs if abs(p.difference) > large_difference],
        "mean_difference": statistics.fmean(differences),
        "mean_abs_difference": statistics.fmean(abs(d) for d in differences),
        "max_abs_difference": abs(largest.difference),
        "largest": largest,
        "band_agreement": sum(a == b for a, b in zip(firsts, seconds)) / len(pairs),
        "kappa": kappa,
    }


def marker_distributions(rows: list[MarkRow]) -> list[dict]:
    """Each named marker's marks (criteria, not the overall) against the whole cohort's (the
    markers' marks, not the suggestions)."""
    rows = [r for r in rows if not r.suggested]
    marks = [r.mark for r in rows if r.criterion != OVERALL]
    cohort = _describe(marks)
    out = []
    for marker in sorted({r.marker for r in rows if r.marker}):
        own = _describe([r.mark for r in rows if r.marker == marker and r.criterion != OVERALL])
        own.update(
            marker=marker,
            roles=sorted({r.role for r in rows if r.marker == marker}),
            difference=own["mean"] - cohort["mean"] if own["n"] and cohort["n"] else None,
        )
        out.append(own)
    return [dict(cohort, marker="whole cohort", roles=[], difference=0.0)] + out if out else []


def _describe(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "mean": None, "median": None, "sd": None, "min": None, "max": None}
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "sd": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
    }


# --- fairness ----------------------------------------------------------------------------------------


def fairness(
    rows: list[MarkRow],
    by: str = "challenge",
    alpha: float = 0.05,
    min_group: int = 2,
    criteria: list[str] | None = None,
) -> list[dict]:
    """Per criterion (and overall): the groups' means (by "challenge" or "marker"), the largest
    difference between them, the spread within them, and a one-way ANOVA (scipy's f_oneway): F and
    its p-value. Suggestions nobody confirmed are left out: the question is how markers marked.
    A table tests each criterion and the overall mark, so the p-values are adjusted
    for the number of tests (Benjamini-Hochberg, scipy's false_discovery_control: `p_adjusted`);
    `flagged` when the adjusted p < alpha. Only the marks that count (FIRST) are compared, only groups
    with a name and at least `min_group` marks take part; with fewer than two such groups there is
    no test (p None, with the reason)."""
    counted = [r for r in rows if r.role == FIRST and not r.suggested and getattr(r, by)]
    keys = criteria or list(dict.fromkeys(r.criterion for r in counted if r.criterion != OVERALL))
    out = []
    for criterion in [*keys, OVERALL]:
        groups: dict[str, list[float]] = {}
        for row in counted:
            if row.criterion == criterion:
                groups.setdefault(getattr(row, by), []).append(row.mark)
        table = {name: _describe(values) for name, values in sorted(groups.items())}
        tested = {name: values for name, values in sorted(groups.items()) if len(values) >= min_group}
        entry: dict[str, Any] = {
            "criterion": criterion,
            "by": by,
            "groups": table,
            "tested": sorted(tested),
            "f": None,
            "p": None,
            "p_adjusted": None,
            "flagged": False,
            "gap": None,
            "within_sd": None,
            "lowest": "",
            "highest": "",
            "reason": "",
        }
        if len(tested) < 2:
            entry["reason"] = f"fewer than two {by}s with {min_group} or more marks"
            out.append(entry)
            continue
        means = {name: statistics.fmean(values) for name, values in tested.items()}
        entry["lowest"], entry["highest"] = (
            min(means, key=means.__getitem__),
            max(means, key=means.__getitem__),
        )
        entry["gap"] = means[entry["highest"]] - means[entry["lowest"]]
        within = sum(sum((v - means[n]) ** 2 for v in values) for n, values in tested.items())
        dof = sum(len(v) for v in tested.values()) - len(tested)
        entry["within_sd"] = math.sqrt(within / dof) if dof > 0 else None
        if not within:  # no spread within the groups: F is not defined
            entry["reason"] = "every group's marks are all equal"
            entry["flagged"] = entry["gap"] > 0
            out.append(entry)
            continue
        from scipy.stats import f_oneway  # scipy's stats only when there are groups to compare

        result = f_oneway(*tested.values())
        entry["f"], entry["p"] = float(result.statistic), float(result.pvalue)
        out.append(entry)
    with_p = [e for e in out if e["p"] is not None]
    if with_p:
        from scipy.stats import false_discovery_control

        for entry, adjusted in zip(with_p, false_discovery_control([e["p"] for e in with_p])):
            entry["p_adjusted"] = float(adjusted)
            entry["flagged"] = entry["p_adjusted"] < alpha
    return out


# --- for the page ------------------------------------------------------------------------------------


def build_moderation(grades: dict[str, Grade], rubric: Any, settings: Any) -> dict[str, Any]:
    """What the moderation page shows, from the stored grades."""
    rows = rows_from_grades(grades)
    submissions = submissions_from_grades(grades)
    sample = moderation_sample(submissions, rubric.bands, settings)
    criteria = list(rubric.criteria)
    titles = {key: c.title for key, c in rubric.criteria.items()} | {OVERALL: "Overall"}
    return {
        "settings": settings,
        "sample": sample,
        "titles": titles,
        "not_marked": [s for s in submissions if s.mark is None],
        "sample_csv": sample_csv(sample, criteria),
        "agreement": marker_agreement(rows, rubric.bands, settings.large_difference),
        "markers": marker_distributions(rows),
        "by_challenge": fairness(rows, "challenge", settings.alpha, criteria=criteria),
        "by_marker": fairness(rows, "marker", settings.alpha, criteria=criteria),
        "bands": rubric.bands,
    }
