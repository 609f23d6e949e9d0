"""The course on disk: every folder and file name of a course, and the loaders of each stage's
artefact. No other module spells a file name (a test greps for it).

    autograder.toml  nbgrader_config.py  rubric/<assignment>.toml      what the course is
    allocation.csv   marks.csv | marks/<assignment>.csv   gradebook.db
    source/<assignment>/   release/<assignment>/                       the assignment
    submitted/<student>/<assignment>/   (+ timestamp.txt, submission.json)   intake
    autograded/<student>/<assignment>/
        result.json          execute: the ExecutionRecord (status, cells, the engine's findings)
        <notebook>.ipynb  protocol_trace.jsonl  execution.log       execute: the grader's copy of the run
        student-files/       the notebook's working folder: all it wrote (results.json.gz, figures) and
                             the files handed in with it; the student's, never the grader's
        checks.json          checks: the checks' findings
        score.json score.npz results: the one Score (and the per-material arrays for the figures)
        grade.json           grade: the marks
    feedback/<student>/<assignment>/index.html                         report: the student's page
    feedback/<student>/<assignment>/notebook.html                      report: their executed cells
    reports/<assignment>/summary.html                                  report: the cohort summary
    reports/<assignment>/similarity.json similarity.html               similarity: markers only
    reports/<assignment>/moderation.html moderation_sample.csv         report: markers only
    autograded/.grade-<assignment>.lock                                one batch at a time
    submitted/<student>/<assignment>/submission_secret.txt             nbgrader's exchange: the key
                                                                       of the submission's feedback

nbgrader's exchange (its Exchange.root, `[course] exchange`), whose layout is nbgrader's:

    <root>/<course_id>/outbound/<assignment>/      what students fetch (`autograder release --exchange`)
    <root>/<course_id>/inbound/<student>+<assignment>+<timestamp>+<random>/   what they submit
    <root>/<course_id>/feedback/<hash>.html        a student's page, named by their submission's secret
    autograded/.cache/   figures/<sha256>.png   pages/ gradebook/ plans/<assignment>/<student>.sha256
                         features/<task>/<sha256>.pkl: featurisations computed once for the cohort
                         content-addressed: what a figure, a page or a gradebook entry was drawn
                         from, and the cache key each submitted notebook was sanitised to, so that a
                         re-grade redoes only what changed (delete it to redo all)

Each stage writes its own artefact, so any stage re-runs alone and nothing reaches back.
Kept light (the student self-check imports it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.records import ExecutionRecord, write_json_atomic

DEFAULT_ASSIGNMENT = "research_challenge"

# --- the course's own files ------------------------------------------------------------------------
CONFIG_FILE = "autograder.toml"
NBGRADER_CONFIG_FILE = "nbgrader_config.py"
ALLOCATION_FILE = "allocation.csv"
MARKS_FILE = "marks.csv"
MARKS_DIR = "marks"
# What the last marks import wrote into the gradebook (per assignment), so that the next import can
# tell a mark a marker changed in formgrader since (never overwritten silently) from its own.
MARKS_IMPORT_LOG = ".imported-{assignment}.json"
RUBRIC_DIR = "rubric"
GRADEBOOK_FILE = "gradebook.db"
REQUIREMENTS_FILE = "requirements.txt"
EXAMPLE_ROSTER_FILE = "roster.csv"  # what `autograder init` puts at the course root
# The students' checker, released beside the notebook (`autograder release`): its wheel, and the name
# the released requirements.txt installs it by.
CHECKER_DISTRIBUTION = "mlmat-autograder"
CHECKER_WHEELS = "mlmat_autograder-*.whl"
# `autograder check --execute NB.ipynb` leaves the run it checked beside the notebook, as NB.executed.ipynb
# (never the student's own name).
EXECUTED_COPY_SUFFIX = ".executed.ipynb"

# --- nbgrader's folders, and ours -------------------------------------------------------------------
SOURCE, RELEASE, SUBMITTED, AUTOGRADED, FEEDBACK, REPORTS, EXPORT = (
    "source",
    "release",
    "submitted",
    "autograded",
    "feedback",
    "reports",
    "export",
)

# --- intake ------------------------------------------------------------------------------------------
TIMESTAMP_FILE = "timestamp.txt"  # nbgrader's submission time
# What `nbgrader submit` writes beside the notebook: the secret that names the submission's feedback
# in the exchange (only the student who submitted holds it, in their nbgrader cache)
SUBMISSION_SECRET_FILE = "submission_secret.txt"
SUBMISSION_FILE = "submission.json"
# Presentation recordings (and slides) handed in with a notebook: kept for the marker, never copied
# into the sandbox; their length is checked when grading.
RECORDING_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4a",
        ".m4v",
        ".mov",
        ".mp3",
        ".wav",
        ".webm",
        ".mkv",
        ".ogg",
        ".opus",
        ".flac",
        ".aac",
        ".wma",
        ".wmv",
        ".avi",
        ".pptx",
        ".ppt",
        ".key",
        ".odp",
        ".pdf",
    }
)

# --- the stages' artefacts ---------------------------------------------------------------------------
RESULT_FILE = "result.json"  # execute
RESULTS_FILE = "results.json.gz"  # what MatbenchBenchmark.to_file writes in the notebook's folder
# The notebook runs in this subfolder of its execution folder, so that nothing it writes (an index.html,
# a grade.json) sits beside the grader's artefacts or can be taken for one of them.
NOTEBOOK_FILES_DIR = "student-files"
TRACE_FILE = "protocol_trace.jsonl"
LOG_FILE = "execution.log"
CHECKS_FILE = "checks.json"  # checks
SCORE_FILE = "score.json"  # results
SCORE_ARRAYS_FILE = "score.npz"
GRADE_FILE = "grade.json"  # grade
FEEDBACK_PAGE = "index.html"  # report
SUMMARY_PAGE = "summary.html"
CACHE_DIR = (
    ".cache"  # autograded/.cache: content-addressed figures, and the keys of the pages and gradebook entries
)
FIGURE_CACHE, PAGE_KEYS, GRADEBOOK_KEYS, PLAN_KEYS = "figures", "pages", "gradebook", "plans"
FEATURE_CACHE = (
    "features"  # autograded/.cache/features: the cohort's featurisations (execute/feature_cache.py)
)
KEY_SUFFIX = ".sha256"
SIMILARITY_FILE = "similarity.json"  # similarity: the cohort's pairs (markers only)
SIMILARITY_PAGE = "similarity.html"
NOTEBOOK_PAGE = "notebook.html"  # report: the student's own cells as the grader ran them
MODERATION_PAGE = "moderation.html"  # report: markers only
MODERATION_SAMPLE_FILE = "moderation_sample.csv"  # the list a second marker works from

# --- nbgrader's exchange (Exchange.root) -------------------------------------------------------------
EXCHANGE_OUTBOUND, EXCHANGE_INBOUND, EXCHANGE_FEEDBACK = "outbound", "inbound", "feedback"
EXCHANGE_PAGE_SUFFIX = ".html"  # a released page: <notebook name without .ipynb>.html, as nbgrader's


def exchange_course_dir(root: Path | str, course_id: str) -> Path:
    """<Exchange.root>/<course_id>: the course's folder in nbgrader's exchange."""
    return Path(root) / course_id


def exchange_outbound_dir(root: Path | str, course_id: str, assignment: str) -> Path:
    return exchange_course_dir(root, course_id) / EXCHANGE_OUTBOUND / assignment


def exchange_inbound_dir(root: Path | str, course_id: str) -> Path:
    return exchange_course_dir(root, course_id) / EXCHANGE_INBOUND


def exchange_feedback_dir(root: Path | str, course_id: str) -> Path:
    return exchange_course_dir(root, course_id) / EXCHANGE_FEEDBACK


# The grader's files of an execution folder: never taken from a submission.
ENGINE_FILES = frozenset({RESULT_FILE, LOG_FILE, TRACE_FILE})


def is_recording(path: Path | str) -> bool:
    return Path(path).suffix.lower() in RECORDING_EXTENSIONS


def autograded_dir(root: Path | str, student_id: str, assignment: str) -> Path:
    return Path(root) / AUTOGRADED / student_id / assignment


def submitted_dir(root: Path | str, student_id: str, assignment: str) -> Path:
    return Path(root) / SUBMITTED / student_id / assignment


# A batch executes each notebook in a folder beside the stored execution and swaps it in only when the
# run is complete, so a stopped re-run leaves the previous execution, grade and page as they were.
STAGING_SUFFIX, RETIRED_SUFFIX = ".new", ".old"


def staging_dir(root: Path | str, student_id: str, assignment: str) -> Path:
    """autograded/<student>/.<assignment>.new: where a batch's run of the notebook is under way."""
    return Path(root) / AUTOGRADED / student_id / f".{assignment}{STAGING_SUFFIX}"


@dataclass
class CourseLayout:
    """Where each thing of one course lives. `autograder.course.config.Course` is one."""

    root: Path

    @property
    def assignment(self) -> str:  # Course gives the one its configuration names
        return DEFAULT_ASSIGNMENT

    def _a(self, assignment: str | None) -> str:
        return assignment or self.assignment

    # --- folders ---------------------------------------------------------------------------------
    def source_dir(self, assignment: str | None = None) -> Path:
        return self.root / SOURCE / self._a(assignment)

    def release_dir(self, assignment: str | None = None) -> Path:
        return self.root / RELEASE / self._a(assignment)

    def submitted_dir(self, student_id: str, assignment: str | None = None) -> Path:
        return submitted_dir(self.root, student_id, self._a(assignment))

    def autograded_dir(self, student_id: str, assignment: str | None = None) -> Path:
        return autograded_dir(self.root, student_id, self._a(assignment))

    def feedback_dir(self, student_id: str, assignment: str | None = None) -> Path:
        return self.root / FEEDBACK / student_id / self._a(assignment)

    def reports_dir(self, assignment: str | None = None) -> Path:
        return self.root / REPORTS / self._a(assignment)

    @property
    def export_dir(self) -> Path:
        return self.root / EXPORT

    def export_path(self, fmt: str) -> Path:
        """Where `autograder export --format FMT` writes by default: export/<fmt>.csv."""
        return self.root / EXPORT / f"{fmt}.csv"

    # --- course files ----------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def nbgrader_config_path(self) -> Path:
        return self.root / NBGRADER_CONFIG_FILE

    @property
    def allocation_path(self) -> Path:
        return self.root / ALLOCATION_FILE

    def default_rubric_path(self, assignment: str | None = None) -> Path:
        return self.root / RUBRIC_DIR / f"{self._a(assignment)}.toml"

    def marks_csv_path(self, assignment: str | None = None) -> Path:
        """Where an assignment's marks CSV goes: marks/<assignment>.csv."""
        return self.root / MARKS_DIR / f"{self._a(assignment)}.csv"

    def marks_csv_paths(self, assignment: str | None = None) -> list[Path]:
        """The marks CSVs that exist: marks/<assignment>.csv and, for a one-assignment course,
        marks.csv at the course root."""
        return [p for p in (self.marks_csv_path(assignment), self.root / MARKS_FILE) if p.is_file()]

    def marks_import_log_path(self, assignment: str | None = None) -> Path:
        return self.root / MARKS_DIR / MARKS_IMPORT_LOG.format(assignment=self._a(assignment))

    def load_marks_import_log(self, assignment: str | None = None) -> dict[str, Any]:
        return _load_json(self.marks_import_log_path(assignment)) or {}

    def save_marks_import_log(self, assignment: str | None, data: dict[str, Any]) -> Path:
        path = self.marks_import_log_path(assignment)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, data)
        return path

    @property
    def gradebook_path(self) -> Path:
        return self.root / GRADEBOOK_FILE

    @property
    def cache_dir(self) -> Path:
        return self.root / AUTOGRADED / CACHE_DIR

    @property
    def feature_cache_dir(self) -> Path:
        """The featurisations computed once for the cohort; delete it to compute them again."""
        return self.cache_dir / FEATURE_CACHE

    @property
    def figure_cache_dir(self) -> Path:
        return self.cache_dir / FIGURE_CACHE

    def page_key_path(self, student_id: str, assignment: str | None = None) -> Path:
        """The hash of what the student's feedback page shows, as last written."""
        return self.cache_dir / PAGE_KEYS / self._a(assignment) / f"{student_id}{KEY_SUFFIX}"

    def similarity_page_key_path(self, assignment: str | None = None) -> Path:
        """The hash of what the similarity page shows, as last written."""
        return self.cache_dir / PAGE_KEYS / self._a(assignment) / f".similarity{KEY_SUFFIX}"

    def gradebook_key_path(self, student_id: str, assignment: str | None = None) -> Path:
        """The hash of what was last written to the gradebook for this submission."""
        return self.cache_dir / GRADEBOOK_KEYS / self._a(assignment) / f"{student_id}{KEY_SUFFIX}"

    def plan_key_path(self, student_id: str, assignment: str | None = None) -> Path:
        """What the submitted notebook was (with the reference, parameters and environment) and the
        execution cache key it was sanitised to: a re-grade plans without sanitising again."""
        return self.cache_dir / PLAN_KEYS / self._a(assignment) / f"{student_id}{KEY_SUFFIX}"

    def lock_path(self, assignment: str | None = None) -> Path:
        return self.root / AUTOGRADED / f".grade-{self._a(assignment)}.lock"

    # --- one submission's artefacts -------------------------------------------------------------
    def timestamp_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.submitted_dir(student_id, assignment) / TIMESTAMP_FILE

    def submission_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.submitted_dir(student_id, assignment) / SUBMISSION_FILE

    def submission_secret_path(self, student_id: str, assignment: str | None = None) -> Path:
        """What `nbgrader submit` wrote with the submission (absent when it came another way)."""
        return self.submitted_dir(student_id, assignment) / SUBMISSION_SECRET_FILE

    def exchange_page(self, student_id: str, notebook: str, assignment: str | None = None) -> Path:
        """feedback/<student>/<assignment>/<notebook>.html, where nbgrader's release_feedback takes a
        page from (in a staging course folder: autograder.course.exchange)."""
        return self.feedback_dir(student_id, assignment) / (Path(notebook).stem + EXCHANGE_PAGE_SUFFIX)

    def staging_dir(self, student_id: str, assignment: str | None = None) -> Path:
        return staging_dir(self.root, student_id, self._a(assignment))

    def load_staged_record(self, student_id: str, assignment: str | None = None) -> ExecutionRecord | None:
        """The record of a run under way beside the stored execution (or left by a killed batch)."""
        return load_record(self.staging_dir(student_id, assignment) / RESULT_FILE)

    def install_execution(self, student_id: str, assignment: str | None = None) -> None:
        """Put the staged run in place of the stored execution. What was made from the old one goes with
        it (checks, score, grade) and so does the feedback page drawn from that grade (first: no page
        ever shows a grade that is not stored). Two renames; recover_execution mends a death between."""
        final, staged = self.autograded_dir(student_id, assignment), self.staging_dir(student_id, assignment)
        retired = final.with_name(f".{self._a(assignment)}{RETIRED_SUFFIX}")
        self.feedback_page(student_id, assignment).unlink(missing_ok=True)
        shutil.rmtree(retired, ignore_errors=True)
        if final.exists():
            os.rename(final, retired)
        os.rename(staged, final)
        shutil.rmtree(retired, ignore_errors=True)

    def discard_staging(self, student_id: str, assignment: str | None = None) -> None:
        shutil.rmtree(self.staging_dir(student_id, assignment), ignore_errors=True)

    def recover_execution(self, student_id: str, assignment: str | None = None) -> None:
        """Before a batch plans a submission: a stored execution moved aside by a batch that died in
        install_execution goes back in place, and runs a killed batch left half done are removed."""
        final = self.autograded_dir(student_id, assignment)
        retired = final.with_name(f".{self._a(assignment)}{RETIRED_SUFFIX}")
        if retired.is_dir() and not final.exists():
            os.rename(retired, final)
        shutil.rmtree(retired, ignore_errors=True)
        self.discard_staging(student_id, assignment)

    def result_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / RESULT_FILE

    def checks_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / CHECKS_FILE

    def score_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / SCORE_FILE

    def score_arrays_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / SCORE_ARRAYS_FILE

    def grade_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / GRADE_FILE

    def feedback_page(self, student_id: str, assignment: str | None = None) -> Path:
        return self.feedback_dir(student_id, assignment) / FEEDBACK_PAGE

    def summary_page(self, assignment: str | None = None) -> Path:
        return self.reports_dir(assignment) / SUMMARY_PAGE

    def similarity_path(self, assignment: str | None = None) -> Path:
        return self.reports_dir(assignment) / SIMILARITY_FILE

    def similarity_page(self, assignment: str | None = None) -> Path:
        return self.reports_dir(assignment) / SIMILARITY_PAGE

    def load_similarity(self, assignment: str | None = None) -> dict[str, Any] | None:
        """The similarity stage's pairs (reports/<assignment>/similarity.json), or None."""
        return _load_json(self.similarity_path(assignment))

    def save_similarity(self, assignment: str | None, data: dict[str, Any]) -> Path:
        path = self.similarity_path(assignment)
        write_json_atomic(path, data)
        return path

    def notebook_page(self, student_id: str, assignment: str | None = None) -> Path:
        return self.feedback_dir(student_id, assignment) / NOTEBOOK_PAGE

    def moderation_page(self, assignment: str | None = None) -> Path:
        return self.reports_dir(assignment) / MODERATION_PAGE

    def moderation_sample_path(self, assignment: str | None = None) -> Path:
        return self.reports_dir(assignment) / MODERATION_SAMPLE_FILE

    def log_path(self, student_id: str, assignment: str | None = None) -> Path:
        return self.autograded_dir(student_id, assignment) / LOG_FILE

    def load_submission(self, student_id: str, assignment: str | None = None) -> dict[str, Any] | None:
        """What intake stored about a submission (attempts, notes), or None."""
        return _load_json(self.submission_path(student_id, assignment))

    # --- who is there ----------------------------------------------------------------------------
    def submitted_students(self, assignment: str | None = None) -> list[str]:
        base = self.root / SUBMITTED
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / self._a(assignment)).is_dir())

    def executed_students(self, assignment: str | None = None) -> list[str]:
        """Students with an execution record (result.json) of the assignment."""
        base = self.root / AUTOGRADED
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / self._a(assignment) / RESULT_FILE).is_file())

    # --- loaders ---------------------------------------------------------------------------------
    def load_record(self, student_id: str, assignment: str | None = None) -> ExecutionRecord | None:
        """The execution record, or None when there is none or it cannot be read."""
        return load_record(self.result_path(student_id, assignment))

    def load_checks(self, student_id: str, assignment: str | None = None) -> dict[str, Any] | None:
        return _load_json(self.checks_path(student_id, assignment))

    def load_score(self, student_id: str, assignment: str | None = None) -> dict[str, Any] | None:
        return _load_json(self.score_path(student_id, assignment))

    def load_score_arrays(self, student_id: str, assignment: str | None = None) -> dict[str, Any] | None:
        """y_true, y_pred and seen (numpy arrays) of the stored Score, for the figures."""
        path = self.score_arrays_path(student_id, assignment)
        if not path.is_file():
            return None
        import numpy as np  # only the report draws figures

        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            _warn("unreadable %s: %s", path, error)
            return None

    def load_grade(self, student_id: str, assignment: str | None = None) -> dict[str, Any] | None:
        """grade.json as JSON (as a record: autograder.grade.record.read_grade)."""
        return _load_json(self.grade_path(student_id, assignment))

    def load_grades(self, assignment: str | None = None) -> dict[str, dict[str, Any]]:
        """Every grade.json of the assignment, as JSON: student -> grade (as records:
        autograder.grade.record.read_grades)."""
        base = self.root / AUTOGRADED
        grades = {}
        if base.is_dir():
            for folder in sorted(base.iterdir()):
                grade = _load_json(folder / self._a(assignment) / GRADE_FILE)
                if grade is not None:
                    grades[folder.name] = grade
        return grades

    # --- writers (atomic: a reader or a killed batch never sees half a file) ---------------------
    def save_checks(self, student_id: str, assignment: str | None, data: dict[str, Any]) -> Path:
        path = self.checks_path(student_id, assignment)
        write_json_atomic(path, data)
        return path

    def save_score(
        self,
        student_id: str,
        assignment: str | None,
        data: dict[str, Any] | None,
        arrays: dict[str, Any] | None,
    ) -> None:
        """The Score, or its absence (None removes a stale one)."""
        path, arrays_path = (
            self.score_path(student_id, assignment),
            self.score_arrays_path(student_id, assignment),
        )
        if data is None:
            path.unlink(missing_ok=True)
            arrays_path.unlink(missing_ok=True)
            return
        write_json_atomic(path, data)
        if arrays:
            write_arrays_atomic(arrays_path, arrays)
        else:
            arrays_path.unlink(missing_ok=True)

    def save_grade(self, student_id: str, assignment: str | None, grade: dict[str, Any]) -> Path:
        path = self.grade_path(student_id, assignment)
        write_json_atomic(path, grade)
        return path


def _warn(message: str, *args: object) -> None:
    import logging  # only when a file cannot be read: logging costs the self-check's start-up 8 ms

    logging.getLogger(__name__).warning(message, *args)


def load_record(path: Path) -> ExecutionRecord | None:
    try:
        return ExecutionRecord.load(path)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _load_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        _warn("unreadable %s: %s", path, error)
        return None
    return data


def write_arrays_atomic(path: Path, arrays: dict[str, Any]) -> None:
    import numpy as np  # only the check stage stores arrays; the self-check never does

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind


def read_cache_key(path: Path) -> str | None:
    """A content key kept under autograded/.cache (of a page or a gradebook entry), or None if there is none."""
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a page so that a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
    return path
