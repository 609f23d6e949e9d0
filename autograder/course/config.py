"""The course: where things are on disk (nbgrader's layout) and the course configuration.

A course directory is nbgrader's: `nbgrader_config.py` at its root, `source/`, `release/`,
`submitted/{student_id}/{assignment_id}/`, `autograded/`, `feedback/`, `gradebook.db`. Our own
settings live beside it in `autograder.toml` (all keys optional; defaults below), the allocation of
challenges in `allocation.csv`, the rubric in `rubric/<assignment>.toml`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.course.challenges import Catalogue
from autograder.errors import UserError
from autograder.layout import (
    AUTOGRADED,
    CONFIG_FILE,
    DEFAULT_ASSIGNMENT,
    NBGRADER_CONFIG_FILE,
    RELEASE,
    SOURCE,
    SUBMITTED,
    CourseLayout,
)


class ConfigError(UserError, ValueError):
    """A problem in the course configuration, with a message that says what to fix."""


@dataclass
class ExecutionSettings:
    cell_timeout: int = 1200  # seconds one cell may run
    timeout: int = 2700  # seconds the whole notebook may run
    memory_limit: str = "8G"  # per submission (kernel and everything it starts)
    disk_limit: str = "4G"  # per submission: the files it writes (its folder and its home); "0" = no limit
    max_cell_output: str = (
        "1M"  # outputs kept per cell in the executed notebook (the rest is cut, with a note)
    )
    max_notebook_output: str = "5M"  # outputs kept for the whole executed notebook; "0" = no limit
    workers: int = 0  # submissions graded at once; 0 = number of cores
    threads_per_kernel: int = 0  # BLAS/OpenMP/n_jobs threads per kernel; 0 = cores // workers
    seed: int = 2026
    sandbox: str = "auto"  # "auto" (bubblewrap, refuse without it), "bubblewrap", "none"


@dataclass
class IntakeSettings:
    """What `autograder collect --zip` unpacks from a Blackboard download. An attempt past a bound is
    refused (an intake error naming the file), before anything of it is written."""

    max_file_size: str = "200M"  # one file of an attempt, unpacked
    max_attempt_size: str = "500M"  # all files of one attempt, unpacked
    max_compression_ratio: float = 100.0  # unpacked / packed size of a file above a few MB (zip bombs)


@dataclass
class LatePolicy:
    """What happens to a submission after the deadline.

    kind = "none" (record lateness only), "cap" (mark capped at `cap_mark` if at most
    `grace_hours` late, zero after), or "per_day" (`percent_per_day` marks off per started day,
    zero after `zero_after_days`)."""

    kind: str = "cap"
    cap_mark: float = 40.0
    grace_hours: float = 24.0
    percent_per_day: float = 5.0
    zero_after_days: float = 7.0


@dataclass
class PresentationSettings:
    max_minutes: float = 5.0
    tolerance_seconds: float = 30.0


@dataclass
class DeclarationSettings:
    """The LLM usage declaration's earlier templates (autograder.checks.declaration): their prompts
    are removed before the declaration is judged, so that they are not read as the student's answer.

    prompts: prompt lines of earlier versions of the template (markdown marks and case do not matter);
    templates: earlier template notebooks, paths relative to the course root, whose declaration
    sections are read."""

    prompts: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)


@dataclass
class ModerationSettings:
    """The moderation sample and the markers' comparisons (autograder.report.moderation).

    seed: the sample's random part is drawn from it, so the same cohort gives the same sample;
    random_share: share of the submissions no rule picks that are sampled at random;
    boundary_margin: marks within this of a band boundary are sampled;
    top_bottom: how many of the top and of the bottom of each challenge are sampled;
    large_difference: two markers' marks further apart than this (a band's width) are listed;
    alpha: the significance level of the fairness tests."""

    seed: int = 2026
    random_share: float = 0.10
    boundary_margin: float = 2.0
    top_bottom: int = 1
    large_difference: float = 10.0
    alpha: float = 0.05


@dataclass
class FeedbackSettings:
    """What the student's feedback page says beyond the marks: how to query a mark."""

    query: str = (
        "If you think a mark is wrong, write to the module leader within 10 working days of the "
        "feedback's release, naming the criterion and the reason; a second marker then reviews it."
    )


@dataclass
class SimilaritySettings:
    """Cohort similarity (autograder.similarity), for markers only.

    enabled: `autograder grade` compares the cohort at its end (`autograder similarity` always can);
    threshold: pairs whose score (the share of own code or text that matches) reaches it are flagged;
    archive: folders of earlier cohorts' or public notebooks, relative to the course root, that every
    submission is also compared with."""

    enabled: bool = True
    threshold: float = 0.4
    archive: list[str] = field(default_factory=list)


@dataclass
class FeatureSettings:
    """The cohort's featurisation cache (autograder.execute.feature_cache).

    cache: before a batch runs its notebooks, compute once the matminer featurisers that at least
    two of a challenge's notebooks build, and let every sandboxed kernel read them (read-only);
    precompute: featurisers to compute for every challenge of the batch anyway, as
    "ElementProperty.magpie" (a preset) or "Stoichiometry" (the class's defaults)."""

    cache: bool = True
    precompute: list[str] = field(default_factory=list)


@dataclass
class CourseConfig:
    course_id: str = "MATE70026"
    course_name: str = "Machine Learning for Materials"
    assignment: str = DEFAULT_ASSIGNMENT
    challenges: dict[str, str] = field(
        default_factory=lambda: {
            "A": "matbench_phonons",
            "B": "matbench_expt_gap",
            "C": "matbench_perovskites",
            "D": "matbench_glass",
        }
    )
    deadline: datetime | None = None  # naive = local time of the grading machine
    late: LatePolicy = field(default_factory=LatePolicy)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    presentation: PresentationSettings = field(default_factory=PresentationSettings)
    declaration: DeclarationSettings = field(default_factory=DeclarationSettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)
    similarity: SimilaritySettings = field(default_factory=SimilaritySettings)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    rubric: str = ""  # path relative to the course root; default rubric/<assignment>.toml
    # [course] exchange: nbgrader's exchange (its Exchange.root; relative to the course root) that
    # `release`, `collect` and `release-feedback` use; "" = none (autograder.course.exchange)
    exchange: str = ""
    course_id_given: bool = field(default=False, repr=False)  # course_id set in autograder.toml
    case_sensitive_ids: bool = False  # [course]: are AB123 and ab123 two students? (default: one)

    @property
    def catalogue(self) -> Catalogue:
        return Catalogue(self.challenges)


def _fill(target, table: dict, where: str):
    """Copy a TOML table onto a settings dataclass, refusing unknown keys and wrong types."""
    for key, value in table.items():
        if not hasattr(target, key):
            known = ", ".join(k for k in vars(target))
            raise ConfigError(f"{where}: unknown setting '{key}'. Known settings: {known}.")
        expected = type(getattr(target, key))
        if expected is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, expected):
            raise ConfigError(f"{where}.{key}: expected {expected.__name__}, got {value!r}.")
        setattr(target, key, value)


def _check_declaration(settings: DeclarationSettings, course_dir: Path, where: str):
    """Every prompt a non-empty string; every template notebook a file under the course root."""
    for key in ("prompts", "templates"):
        for item in getattr(settings, key):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{where}.{key}: expected a list of non-empty strings, got {item!r}.")
    for name in settings.templates:
        path = Path(course_dir) / name
        if not path.is_file():
            raise ConfigError(
                f"{where}.templates: the template notebook {name} does not exist "
                f"(looked for {path}; paths are relative to the course root)."
            )


def _check_moderation(settings: ModerationSettings, where: str):
    if not 0 <= settings.random_share <= 1:
        raise ConfigError(
            f"{where}.random_share: expected a share between 0 and 1 (0.1 = 10 %), "
            f"got {settings.random_share}."
        )
    if not 0 < settings.alpha < 1:
        raise ConfigError(
            f"{where}.alpha: expected a significance level between 0 and 1 (e.g. 0.05), got {settings.alpha}."
        )
    for key in ("boundary_margin", "large_difference", "top_bottom"):
        if getattr(settings, key) < 0:
            raise ConfigError(
                f"{where}.{key}: expected a number of marks of 0 or more, got {getattr(settings, key)}."
            )


def _check_similarity(settings: SimilaritySettings, course_dir: Path, where: str):
    if not 0 < settings.threshold <= 1:
        raise ConfigError(
            f"{where}.threshold: expected a share above 0 and at most 1 (0.5 = half of a "
            f"side's own code or text matches), got {settings.threshold}."
        )
    for name in settings.archive:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.archive: expected a list of folder names, got {name!r}.")
        if not (Path(course_dir) / name).is_dir():
            raise ConfigError(
                f"{where}.archive: the folder {name} does not exist (looked for "
                f"{Path(course_dir) / name}; paths are relative to the course root)."
            )


def load_config(course_dir: Path) -> CourseConfig:
    """Read `autograder.toml` in the course directory (defaults if it is absent)."""
    config = CourseConfig()
    path = Path(course_dir) / CONFIG_FILE
    if not path.exists():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}. Fix the TOML syntax there.") from error
    course = data.pop("course", {})
    config.course_id_given = "course_id" in course
    for key in ("course_id", "course_name", "assignment", "rubric", "exchange"):
        if key in course:
            setattr(config, key, str(course.pop(key)))
    if "deadline" in course:
        raw = course.pop("deadline")
        try:
            config.deadline = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        except ValueError as error:
            raise ConfigError(
                f"{path}: [course] deadline {raw!r} is not a date-time like 2026-03-11T15:00:00."
            ) from error
    if "case_sensitive_ids" in course:
        value = course.pop("case_sensitive_ids")
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: [course] case_sensitive_ids: expected true or false, got {value!r}.")
        config.case_sensitive_ids = value
    if course:
        raise ConfigError(f"{path}: [course] has unknown keys: {', '.join(course)}.")
    if "challenges" in data:
        config.challenges = {str(k).upper(): str(v) for k, v in data.pop("challenges").items()}
    for section, target in (
        ("execution", config.execution),
        ("intake", config.intake),
        ("late", config.late),
        ("presentation", config.presentation),
        ("declaration", config.declaration),
        ("moderation", config.moderation),
        ("feedback", config.feedback),
        ("similarity", config.similarity),
        ("features", config.features),
    ):
        if section in data:
            _fill(target, data.pop(section), f"{path}: [{section}]")
    _check_declaration(config.declaration, course_dir, f"{path}: [declaration]")
    _check_moderation(config.moderation, f"{path}: [moderation]")
    _check_similarity(config.similarity, course_dir, f"{path}: [similarity]")
    if data:
        raise ConfigError(
            f"{path}: unknown sections: {', '.join(data)}. "
            "Known: course, challenges, execution, intake, late, presentation, declaration, moderation, feedback, "
            "similarity, features."
        )
    _ = config.catalogue  # validates the task names (UnknownTaskError lists the valid ones)
    return config


@dataclass
class Course(CourseLayout):
    """A course directory (its layout: autograder.layout) and its configuration."""

    config: CourseConfig = field(default_factory=CourseConfig)

    @classmethod
    def open(cls, root: Path | str | None = None, *, require_course: bool = False) -> Course:
        """The course at `root` (default: $AUTOGRADER_COURSE, else the current folder). With
        require_course (the instructor's commands), a folder without the course's configuration is an
        error that names the closest course folder, so that nothing is written into a mistyped one."""
        root = Path(root or os.environ.get("AUTOGRADER_COURSE", ".")).resolve()
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "does not exist"
            raise ConfigError(f"Course directory {root} {what}.{_closest_course(root)}")
        if require_course and not is_course_dir(root):
            raise ConfigError(
                f"{root} is not a course directory (it has no {CONFIG_FILE} or "
                f"{NBGRADER_CONFIG_FILE}).{_closest_course(root)} To start a course there, run "
                f"`autograder init {root}`; otherwise pass --course with the course's folder."
            )
        return cls(root=root, config=load_config(root))

    def known_assignments(self) -> list[str]:
        """The assignments this course has: the configured one, and every folder of source/ and
        release/ and of the students' submitted/ and autograded/ folders."""
        names = {self.config.assignment}
        for base in (self.root / SOURCE, self.root / RELEASE):
            if base.is_dir():
                names.update(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        for base in (self.root / SUBMITTED, self.root / AUTOGRADED):
            if base.is_dir():
                for student in base.iterdir():
                    if student.is_dir():
                        names.update(p.name for p in student.iterdir() if p.is_dir())
        return sorted(names)

    def check_assignment(self, assignment: str | None) -> str:
        """The assignment to work on (default: the configured one); an unknown name is an error with
        the closest known one, before anything is written."""
        if assignment is None:
            return self.assignment
        known = self.known_assignments()
        if assignment not in known:
            raise ConfigError(
                f"Unknown assignment '{assignment}' in {self.root}.{closest(assignment, known)} "
                f"The course's assignments: {', '.join(known)} (folders of {SOURCE}/, "
                f"[course] assignment in {CONFIG_FILE})."
            )
        return assignment

    @property
    def assignment(self) -> str:
        return self.config.assignment

    @property
    def rubric_path(self) -> Path:
        return self.root / self.config.rubric if self.config.rubric else self.default_rubric_path()

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook_path}"


def nbgrader_course_settings(root: Path | str) -> dict:
    """What the course's nbgrader_config.py sets under `CourseDirectory` (db_url, course_id...), as
    nbgrader reads it; {} when there is no such file. A file that does not load is an error naming it."""
    config_file = Path(root) / NBGRADER_CONFIG_FILE
    if not config_file.exists():
        return {}
    from traitlets.config.loader import PyFileConfigLoader  # only the commands that talk to nbgrader

    try:
        config = PyFileConfigLoader(config_file.name, path=str(root)).load_config()
    except Exception as error:  # a broken config is nbgrader's error to report; say where
        raise ConfigError(f"{config_file} could not be read ({error}).") from error
    return dict(config.get("CourseDirectory", {}))


def closest(name: str, known, cutoff: float = 0.6) -> str:
    """' Did you mean X?' for the known name closest to a mistyped one ('' when none is close)."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return f" Did you mean '{match[0]}'?" if match else ""


def is_course_dir(root: Path) -> bool:
    """A course directory has our configuration or nbgrader's (what `autograder init` writes)."""
    return (Path(root) / CONFIG_FILE).is_file() or (Path(root) / NBGRADER_CONFIG_FILE).is_file()


def _closest_course(root: Path) -> str:
    """' Did you mean <sibling>?' for a course folder beside a mistyped one."""
    parent = root.parent
    if not parent.is_dir():
        return ""
    try:
        siblings = [p.name for p in parent.iterdir() if p.is_dir() and p != root and is_course_dir(p)]
    except OSError:
        return ""
    match = difflib.get_close_matches(root.name, siblings, n=1, cutoff=0.6)
    return f" Did you mean {parent / match[0]}?" if match else ""
