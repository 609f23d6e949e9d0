"""Before a batch runs its notebooks: the featurisers at least two of a challenge's notebooks build (and
those `[features] precompute` names) are computed once on the challenge's official inputs, in trusted
processes of the grader (autograder.execute.feature_cache), and every sandboxed kernel then reads them
read-only. Only notebooks that will run now are counted, so a re-grade with nothing to run computes
nothing."""

from __future__ import annotations

import json
from collections import Counter

from autograder.batch.planning import (
    BatchPlan,
    _current,
    cohort_digest,
    configured_featurisers,
    preparation_digest,
    reference_path,
    remembered_cache_key,
)
from autograder.checks.featurisers import featurisers_in
from autograder.execute.engine import sandbox_parameters
from autograder.execute.environment import course_packages, fingerprint, requirements_path
from autograder.execute.feature_cache import FeaturiserSpec, Precomputed, precompute
from autograder.intake import Submission, inspect_submission
from autograder.records import EXECUTED, FAILED

SHARED_BY = 2  # a featuriser is computed for the cohort when this many of a challenge's notebooks build it


def cache_enabled(plan: BatchPlan) -> bool:
    return plan.options.feature_cache and plan.course.config.features.cache and not plan.options.no_execute


def _will_run(plan: BatchPlan, student: str, letter: str, sub: Submission, shared: str) -> bool:
    """As planning.plan_each decides, without sanitising: the (readable) submission `sub` is new,
    changed or forced."""
    course, assignment = plan.course, plan.assignment
    existing = course.load_record(student, assignment)
    if plan.options.force or existing is None or existing.status not in (EXECUTED, FAILED):
        return True
    assert sub.notebook is not None  # sub.ok: the submission has its notebook
    digest = preparation_digest(shared, sub.folder / sub.notebook, sandbox_parameters(plan.settings, letter))
    key = remembered_cache_key(course, student, assignment, digest)
    return key is None or not _current(existing, key)


def wanted_featurisers(plan: BatchPlan) -> list[tuple[FeaturiserSpec, str]]:
    """(featuriser, task) for every featuriser SHARED_BY notebooks of a challenge build, among the
    notebooks this batch will run, then the configured ones for each task of those notebooks."""
    course, assignment = plan.course, plan.assignment
    catalogue = course.config.catalogue
    source = reference_path(course, assignment)
    shared = cohort_digest(source, fingerprint(tuple(course_packages(requirements_path(course, assignment)))))
    users: Counter = Counter()
    tasks: list[str] = []
    for student in plan.students:
        letter = plan.allocation.get(student)
        if letter is None:
            continue
        sub = inspect_submission(course, student, assignment)  # once: it reads the submission's folder
        if not sub.ok or not _will_run(plan, student, letter, sub, shared):
            continue
        assert sub.notebook is not None  # sub.ok: the submission has its notebook
        try:
            cells = json.loads((sub.folder / sub.notebook).read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue  # the plan reports an unreadable notebook; its featurisers count for nothing
        task = catalogue.get(letter).task
        if task not in tasks:
            tasks.append(task)
        for spec in featurisers_in(cells if isinstance(cells, list) else []):
            users[(spec, task)] += 1
    wanted = sorted(
        (key for key, count in users.items() if count >= SHARED_BY), key=lambda k: (k[1], k[0].label)
    )
    for spec in configured_featurisers(course):
        wanted += [(spec, task) for task in tasks if (spec, task) not in wanted]
    return wanted


def prepare_feature_cache(plan: BatchPlan, console) -> Precomputed | None:
    """Fill the cache for this batch (with a progress bar) and show it to the executions; None when the
    cache is off or nothing is worth computing and nothing is stored."""
    if not cache_enabled(plan):
        return None
    course = plan.course
    wanted = wanted_featurisers(plan)
    if not wanted and not course.feature_cache_dir.is_dir():
        return None
    done = Precomputed()
    if wanted:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("featurising once for the cohort: {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not plan.options.progress,
        ) as progress:
            bar = progress.add_task(f"{wanted[0][0].label} on {wanted[0][1]}", total=len(wanted))

            def advanced(label: str, number: int, total: int) -> None:
                following = wanted[number][0].label + " on " + wanted[number][1] if number < total else label
                progress.update(bar, completed=number, description=following)

            done = precompute(
                course.feature_cache_dir,
                wanted,
                plan.settings.data_dir,
                workers=plan.workers,
                progress=advanced,
            )
        for failure in done.failed:
            console.print(f"[yellow]Not cached[/] (the notebooks compute it as written): {failure}")
    plan.settings.feature_cache = str(course.feature_cache_dir)
    return done
