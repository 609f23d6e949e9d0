"""The batch's plan (BatchPlan: the students, the allocation, the rubric, the settings and the data
sets, each read and checked once, before the lock), and what each submission needs in it: an intake
error, an execution, only the checks, or nothing (its stored stages are current). Decided from each
stage's own artefact (autograder.layout)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.batch.options import BatchError, GradeOptions, engine_settings
from autograder.course.allocation import Allocation, read_allocation
from autograder.course.config import Course, closest
from autograder.course.data import dataset_file, missing_message
from autograder.execute.engine import EngineSettings, key_parameters, prepare_job, sandbox_parameters
from autograder.execute.environment import course_packages, fingerprint, requirements_path
from autograder.execute.feature_cache import FeaturiserSpec, parse_precompute
from autograder.execute.sanitise import load_reference
from autograder.grade.marks import read_marks_csv
from autograder.grade.marks_store import known_students
from autograder.grade.record import read_grade
from autograder.grade.rubric import Rubric, load_rubric
from autograder.intake import (
    Submission,
    inspect_submission,
    no_submissions,
    record_intake_error,
    released_notebook_name,
)
from autograder.layout import ALLOCATION_FILE, CONFIG_FILE, SUBMITTED, read_cache_key, write_text_atomic
from autograder.records import CHECKED, EXECUTED, FAILED, GRADED, RUNNING, ExecutionRecord


def reference_path(course, assignment: str) -> Path | None:
    path = course.source_dir(assignment) / released_notebook_name(course, assignment)
    if not path.is_file():
        notebooks = sorted(course.source_dir(assignment).glob("*.ipynb"))
        path = notebooks[0] if len(notebooks) == 1 else None
    return path


@functools.lru_cache(maxsize=1)
def _preparing_code() -> bytes:
    """The code that turns a submitted notebook into its cache key: a change to it plans everything anew."""
    from autograder.execute import cell_identity, engine, sanitise

    return b"".join(Path(str(module.__file__)).read_bytes() for module in (cell_identity, engine, sanitise))


def cohort_digest(reference: Path | None, environment: dict):
    """What every submission's cache key is computed from but its own notebook and parameters: the
    preparing code, the reference notebook and the environment, hashed once for the cohort."""
    digest = hashlib.sha256(_preparing_code())
    digest.update(b"\0" + (reference.read_bytes() if reference is not None else b""))
    digest.update(json.dumps(environment, sort_keys=True, default=str).encode())
    return digest


def preparation_digest(cohort, notebook: Path, parameters: dict) -> str:
    """What prepare_job's cache key is computed from, hashed without parsing or sanitising anything."""
    digest = cohort.copy()
    digest.update(b"\0" + notebook.read_bytes())
    digest.update(json.dumps(key_parameters(parameters), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _current(existing: ExecutionRecord | None, cache_key: str | None) -> bool:
    """The stored execution is of this notebook (as sanitised) and was not stopped by the engine."""
    return (
        existing is not None
        and existing.cache_key == cache_key
        and not existing.environment.get("engine_error")
    )


def remembered_cache_key(course, student: str, assignment: str, digest: str) -> str | None:
    """The cache key the same submitted notebook was sanitised to last time (None: not the same)."""
    stored = (read_cache_key(course.plan_key_path(student, assignment)) or "").split()
    return stored[1] if len(stored) == 2 and stored[0] == digest else None


def check_data(settings: EngineSettings, tasks: set[str]) -> None:
    for task in sorted(tasks):
        if not (Path(settings.data_dir) / dataset_file(task)).is_file():
            raise BatchError(missing_message(task))


def checked_execution(course, student: str, assignment: str) -> str | None:
    """The cache key of the execution the stored checks were made on (None: not checked)."""
    stored = course.load_checks(student, assignment)
    return stored.get("execution") if stored else None


def stage_status(course, student: str, assignment: str, record: ExecutionRecord | None = None) -> str:
    """How far one submission has come: the execution record's status (intake-error, running,
    failed, interrupted...), then checked, then graded, each only for the current execution; "running"
    while a run is under way beside the stored execution (or was, when a batch was killed)."""
    if record is None:
        staged = course.load_staged_record(student, assignment)
        if staged is not None and staged.status == RUNNING:
            return RUNNING
    record = record or course.load_record(student, assignment)
    if record is None:
        return "pending"
    if record.status != EXECUTED or checked_execution(course, student, assignment) != record.cache_key:
        return (
            record.status
        )  # intake-error, running, failed (checked or not), or executed but not yet checked
    grade = read_grade(course, student, assignment)
    if grade is not None and grade.execution == record.cache_key and not grade.is_error:
        return GRADED
    return CHECKED


@dataclass
class BatchPlan:
    """What one `autograder grade` works from, each read and checked once, before the batch's lock is
    taken (a typo or a missing file leaves no lock and no folder): the runner, the checks and the
    grading take it instead of reading the course's files again."""

    course: Course
    options: GradeOptions
    assignment: str
    students: list[str]  # with a submission (those asked for), spelled as their submission folders
    allocation: Allocation  # ids compare as the course's case_sensitive_ids says
    rubric: Rubric | None  # None: the batch does not grade (options.run_grading false)
    settings: EngineSettings
    workers: int
    warnings: list[str] = field(default_factory=list)  # shown once, when the batch starts
    datasets: set[str] = field(
        default_factory=set
    )  # the tasks the executions need, present in settings.data_dir


def configured_featurisers(course) -> list[FeaturiserSpec]:
    """`[features] precompute` of autograder.toml, each name checked (prepare_batch calls this before the lock)."""
    specs = []
    for name in course.config.features.precompute:
        try:
            specs.append(parse_precompute(str(name)))
        except ValueError as error:
            raise BatchError(f"{course.root / CONFIG_FILE} [features] precompute: {error}.") from None
    return specs


def prepare_batch(course, options: GradeOptions) -> BatchPlan:
    """The batch's plan, every name typed and every file read checked in the order the instructor
    typed them: the assignment, the students, the rubric and the markers' marks, the sandbox and
    the limits, then the data sets."""
    assignment = course.check_assignment(options.assignment)
    case_sensitive = course.config.case_sensitive_ids
    students = batch_students(course, assignment, options.students, options.no_execute)
    allocation = read_allocation(course.allocation_path, course.config.catalogue, case_sensitive)
    rubric = None
    if options.run_grading:  # a broken rubric or marks file stops here, before hours of executions
        rubric = load_rubric(course.rubric_path)
        known = known_students(course, assignment, allocation)
        for path in course.marks_csv_paths(assignment):
            read_marks_csv(path, rubric, known)
    settings, workers, warnings = engine_settings(course, options)
    configured_featurisers(course)  # a mistyped [features] precompute name, before any featurising
    datasets = set()
    if not options.no_execute:  # a missing data set is the instructor's to fetch, before any execution
        datasets = {course.config.catalogue.get(allocation[s]).task for s in students if s in allocation}
        check_data(settings, datasets)
    return BatchPlan(
        course, options, assignment, students, allocation, rubric, settings, workers, warnings, datasets
    )


def batch_students(course, assignment: str, asked: list[str] | None, no_execute: bool = False) -> list[str]:
    """The students with a submission of the assignment (those asked for, spelled as their submission
    folders: ids compare as the course's `case_sensitive_ids` says). An unknown id, or nothing to
    grade at all, is an error naming the closest id."""
    known = course.submitted_students(assignment)
    if not known and not (no_execute and course.executed_students(assignment)):
        raise no_submissions(course, assignment)
    if not asked:
        return known
    folders = Allocation(dict.fromkeys(known), course.config.case_sensitive_ids)
    for name in asked:
        if folders.spelling(name) is None:
            raise BatchError(
                f"No submission of {assignment} for '{name}' (looked in {course.root / SUBMITTED})."
                f"{closest(name, known)} {len(known)} student(s) have one"
                + (f": {', '.join(known[:8])}{' ...' if len(known) > 8 else ''}." if known else ".")
            )
    spelled = {folders.spelling(name) for name in asked}
    return [student for student in known if student in spelled]


def plan_each(plan: BatchPlan):
    """What each student of the plan needs (intake error, execute, check only, done, stale), one
    student at a time: yields (student, kind, item), so that a batch can start the first executions
    while the later notebooks are still being read and sanitised. Pure of side effects except
    intake-error records and the remembered cache keys."""
    course, options, settings, assignment = plan.course, plan.options, plan.settings, plan.assignment
    catalogue = course.config.catalogue
    reference_source = reference_path(course, assignment)
    reference = load_reference(reference_source) if reference_source else None
    declared = course_packages(requirements_path(course, assignment))
    environment = fingerprint(tuple(declared))
    shared = cohort_digest(reference_source, environment)
    for student in plan.students:
        course.recover_execution(student, assignment)  # what a batch killed mid-run or mid-swap left
        sub = inspect_submission(course, student, assignment)
        if not sub.ok:
            yield student, "intake", record_intake_error(course, sub)
            continue
        letter = plan.allocation.get(student)
        if letter is None:
            record = ExecutionRecord(
                student_id=student,
                assignment=assignment,
                status=FAILED,
                submitted_at=sub.submitted_at,
                reason=f"{student} has no challenge in {ALLOCATION_FILE}; run `autograder assign "
                f"roster.csv` (or add a line to {ALLOCATION_FILE}) and grade again.",
            )
            record.environment["engine_error"] = True
            record.save(course.result_path(student, assignment))
            yield student, "unallocated", record
            continue
        task = catalogue.get(letter).task
        existing = course.load_record(student, assignment)
        ran = existing is not None and existing.status in (EXECUTED, FAILED)
        assert sub.notebook is not None  # sub.ok: the submission has its notebook
        digest = preparation_digest(shared, sub.folder / sub.notebook, sandbox_parameters(settings, letter))
        key = remembered_cache_key(course, student, assignment, digest)

        job = None
        if (
            key is None
            or not options.no_execute
            and (options.force or not ran or not _current(existing, key))
        ):
            try:  # the notebook changed, or is to be run: read and sanitise it
                job = prepare_job(
                    course, student, assignment, settings, letter, task, reference, environment, declared, sub
                )
            except Exception as error:  # noqa: BLE001 - an unreadable notebook is this student's problem
                bad = Submission(
                    student,
                    assignment,
                    sub.folder,
                    submitted_at=sub.submitted_at,
                    problem=f"the notebook could not be prepared for running "
                    f"({type(error).__name__}: {str(error)[:200]})",
                )
                yield student, "intake", record_intake_error(course, bad)
                continue
            key = job.cache_key
            write_text_atomic(course.plan_key_path(student, assignment), f"{digest} {key}\n")
        same = _current(existing, key)
        if options.no_execute:
            if same and ran:
                yield student, "check", existing
            elif ran:
                yield student, "stale", existing
            else:
                yield student, "missing", existing
        elif options.force or not same or not ran:
            yield student, "execute", job
        elif existing is not None and checked_execution(course, student, assignment) != existing.cache_key:
            yield student, "check", existing
        else:
            yield student, "done", existing
