"""The arithmetic that turns findings and manual marks into a criterion-by-criterion and overall mark.

The rules (see `combine`): the marker's mark replaces the suggestion; a criterion with no manual
mark shows the rubric's suggestion as provisional; a criterion with neither is missing, and then
no overall mark is computed (status "incomplete", with the missing parts listed). The late penalty
follows the course's [late] policy, the deadline (plus any nbgrader extension) and the submission time.

Caps are advice with evidence, and the marker has the last word on the record: a suggestion is capped;
a marker's mark above a cap stands when the marker overrides the cap with a reason (the summary's
attention list and the export's audit columns show it); without an override the cap counts for now,
the criterion stays provisional and the submission is on the attention list until the marker lowers
the mark or overrides.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from autograder.grade.lateness import Lateness, duration_text
from autograder.grade.marks import CONFIRMED, SUGGESTED, ManualMark
from autograder.grade.record import (
    ABOVE_CAP,
    CAP_OVERRIDDEN,
    FINAL,
    INCOMPLETE,
    LATE_SUBMISSION,
    NOTHING_TO_ACCEPT,
    PROVISIONAL,
    SUBMISSION_TIME_UNKNOWN,
    AttentionFlag,
    CriterionMark,
    Grade,
    Overall,
)
from autograder.grade.rubric import Rubric, round_half_up
from autograder.records import COULD_NOT_RUN, FAIL, WARN, Finding

if TYPE_CHECKING:
    from autograder.course.config import LatePolicy

# findings of the run itself (the engine's), never a consequence of the run's failure
ENGINE_PREFIXES = ("execution.", "environment.", "sanitise.")


def suggest(rubric: Rubric, findings: list[Finding]) -> dict[str, tuple[float | None, list[dict[str, Any]]]]:
    """criterion -> (suggested mark or None, the findings that informed it)."""
    totals: dict[str, list[float]] = {c: [0.0, 0.0] for c in rubric.criteria}
    evidence: dict[str, list[dict[str, Any]]] = {c: [] for c in rubric.criteria}
    for rule in rubric.rules:
        for finding in findings:
            if not rule.matches(finding):
                continue
            criterion = rule.criterion_of(finding)
            if criterion not in rubric.criteria:
                continue
            item: dict[str, Any] = {
                "check_id": finding.check_id,
                "status": finding.status,
                "effect": rule.effect,
                "rule": rule.index + 1,
            }
            if rule.effect == "suggest" and finding.status in rule.marks:
                totals[criterion][0] += rule.marks[finding.status] * rule.weight
                totals[criterion][1] += rule.weight
                item["marks"] = rule.marks[finding.status]
            elif rule.effect == "cap":
                item["cap"] = rule.cap
            elif rule.effect == "limit":
                item.update(limit=rule.limit, note=rule.note or finding.message)
            evidence[criterion].append(item)
    suggestions: dict[str, tuple[float | None, list[dict[str, Any]]]] = {}
    for c, (weighted, weights) in totals.items():
        mark = round(weighted / weights, 1) if weights else None
        limits = [e["limit"] for e in evidence[c] if e["effect"] == "limit"]
        # a limit bounds only what the autograder suggests: a weak result cannot be suggested a good
        # mark by the checks that pass around it, while a marker's own mark is theirs to give
        if mark is not None and limits and mark > min(limits):
            mark = min(limits)
        suggestions[c] = (mark, evidence[c])
    return suggestions


def caps_for(rubric: Rubric, findings: list[Finding]) -> dict[str, list[dict[str, Any]]]:
    caps: dict[str, list[dict[str, Any]]] = {}
    for rule in rubric.rules:
        if rule.effect != "cap":
            continue
        for finding in findings:
            if rule.matches(finding) and rule.criterion in rubric.criteria:
                caps.setdefault(rule.criterion, []).append(
                    {
                        "cap": rule.cap,
                        "rule": rule.index + 1,
                        "check_id": finding.check_id,
                        "note": rule.note or finding.message,
                    }
                )
    return caps


def attention_flags(rubric: Rubric, findings: list[Finding]) -> list[AttentionFlag]:
    """The instructor's "needs attention" items from rules with a flag (one per flag and check).

    When the run failed, a check that could not run for want of what the run would have written (a
    results file, an executed notebook) is that failure's consequence: it raises no flag of its own, so
    the failed run is said once. A check that broke (an error in its details) still raises one."""
    run_failed = any(f.check_id.startswith("execution.") and f.status == FAIL for f in findings)

    def consequence(finding: Finding) -> bool:
        return (
            run_failed
            and finding.status == COULD_NOT_RUN
            and not finding.check_id.startswith(ENGINE_PREFIXES)
            and "error" not in (finding.details or {})
        )

    flags: list[AttentionFlag] = []
    seen: set[tuple[str, str]] = set()
    for rule in rubric.rules:
        if not rule.flag:
            continue
        for finding in findings:
            if consequence(finding):
                continue
            if rule.matches(finding) and (rule.flag, finding.check_id) not in seen:
                seen.add((rule.flag, finding.check_id))
                flags.append(AttentionFlag(rule.flag, finding.check_id, finding.status, finding.message))
    return flags


def combine(
    rubric: Rubric,
    findings: list[Finding],
    marks: dict[str, ManualMark],
    lateness: Lateness,
    late_policy: LatePolicy,
) -> Grade:
    """The whole mark of one submission (autograder.grade.grading adds the rest and writes it)."""
    suggestions = suggest(rubric, findings)
    caps = caps_for(rubric, findings)
    flags = attention_flags(rubric, findings)
    criteria: list[CriterionMark] = []
    missing: list[str] = []
    for criterion in rubric.criteria.values():
        suggested, evidence = suggestions[criterion.key]
        entry = CriterionMark(
            criterion.key, criterion.title, criterion.weight, suggested=suggested, evidence=evidence
        )
        given = marks.get(criterion.key)
        chosen = given if given is not None and (given.mark is not None or given.accept_suggestion) else None
        if given is not None:
            entry.comment = given.comment
            entry.second_marks = [asdict(m) for m in given.second_marks]
        if chosen is not None and chosen.accept_suggestion:
            if suggested is None:
                flags.append(
                    AttentionFlag(
                        NOTHING_TO_ACCEPT,
                        "",
                        WARN,
                        f"{criterion.title}: 'accept' in {chosen.where}, but there is no "
                        "suggested mark to accept.",
                    )
                )
            else:
                entry.mark, entry.manual, entry.source, entry.provisional = (
                    suggested,
                    suggested,
                    CONFIRMED,
                    False,
                )
                entry.marker = chosen.marker
        elif chosen is not None:
            entry.mark, entry.manual, entry.source, entry.provisional = (
                chosen.mark,
                chosen.mark,
                chosen.source,
                False,
            )
            entry.marker = chosen.marker
        if entry.mark is None and suggested is not None:
            entry.mark, entry.source, entry.provisional = suggested, SUGGESTED, True
        if entry.mark is None:
            missing.append(f"{criterion.title}: no mark yet (awaiting the marker)")
        elif criterion.key in caps:
            lowest = min(caps[criterion.key], key=lambda c: c["cap"])
            entry.caps = caps[criterion.key]
            marker_mark = entry.source not in (SUGGESTED, CONFIRMED)
            if entry.mark > lowest["cap"] and marker_mark and chosen is not None and chosen.override:
                entry.override = chosen.override
                flags.append(
                    AttentionFlag(
                        CAP_OVERRIDDEN,
                        lowest["check_id"],
                        WARN,
                        f"{criterion.title}: the marker's {entry.mark:g} stands above the automatic "
                        f"cap of {lowest['cap']:g} ({lowest['check_id']}). Reason given: "
                        f"{chosen.override}",
                    )
                )
            elif entry.mark > lowest["cap"]:
                entry.uncapped = entry.mark
                entry.mark = lowest["cap"]
                if marker_mark:
                    entry.provisional = True
                    flags.append(
                        AttentionFlag(
                            ABOVE_CAP,
                            lowest["check_id"],
                            WARN,
                            f"{criterion.title}: the marker gave {entry.uncapped:g}, above the cap of "
                            f"{lowest['cap']:g} ({lowest['note']}). The cap counts for now; lower the mark, "
                            "or keep it by writing 'override: <reason>' in the formgrader comment (or the "
                            "override column of the marks CSV).",
                        )
                    )
        band = rubric.band_for(entry.mark)
        if band:
            entry.band, entry.band_label = band.key, band.label
            entry.descriptor = criterion.descriptors.get(band.key, "")
        criteria.append(entry)

    provisional_parts = [
        f"{c.title}: the marker's mark is above an automatic cap; awaiting the marker's decision"
        if c.source not in (SUGGESTED, CONFIRMED)
        else f"{c.title}: suggested by the autograder, not yet confirmed by a marker"
        for c in criteria
        if c.mark is not None and c.provisional
    ]
    if lateness.state == "unknown":
        flags.append(AttentionFlag(SUBMISSION_TIME_UNKNOWN, "", WARN, lateness.rule))
        provisional_parts.append("Lateness: the submission time is unknown")
    elif lateness.state == "late":
        flags.append(
            AttentionFlag(
                LATE_SUBMISSION,
                "",
                WARN,
                f"Submitted {duration_text(lateness.hours_late)} after the deadline.",
            )
        )

    marked = [c for c in criteria if c.mark is not None]
    marked_weight = sum(c.weight for c in marked)
    partial = (
        (sum(c.weight * c.mark for c in marked if c.mark is not None) / marked_weight)
        if marked_weight
        else None
    )
    overall = Overall(
        partial=round(partial, 2) if partial is not None else None,
        marked_weight=marked_weight,
        total_weight=rubric.total_weight,
    )
    if missing:
        status = INCOMPLETE
    else:
        # every criterion has its mark here (none missing)
        exact = sum(c.weight * c.mark for c in criteria if c.mark is not None) / rubric.total_weight
        after, penalty = lateness.apply(exact, late_policy)
        mark = round_half_up(after)
        overall_band = rubric.band_for(mark)
        overall.mark, overall.exact, overall.before_late = mark, round(after, 4), round(exact, 4)
        overall.late_penalty = penalty
        overall.band = overall_band.key if overall_band else ""
        overall.band_label = overall_band.label if overall_band else ""
        status = PROVISIONAL if provisional_parts else FINAL
    return Grade(
        status=status,
        overall=overall,
        criteria=criteria,
        missing=missing,
        provisional_parts=provisional_parts,
        lateness=replace(lateness),
        attention=flags,
    )
