"""The course: where things are on disk (nbgrader's layout) and the course configuration.

A course directory is nbgrader's: `nbgrader_config.py` at its root, `source/`, `release/`,
`submitted/{student_id}/{assignment_id}/`, `autograded/`, `feedback/`, `gradebook.db`. Our own
settings live beside it in `autograder.toml` (all keys optional; defaults below), the allocation of
challenges in `allocation.csv`, the rubric in `rubric/<assignment>.toml`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.course.challenges import Catalogue
from autograder.errors import UserError
from autograder.layout import CONFIG_FILE, DEFAULT_ASSIGNMENT, CourseLayout


class ConfigError(UserError, ValueError):
    """A problem in the course configuration, with a message that says what to fix."""


@dataclass
class ExecutionSettings:
    cell_timeout: int = 1200  # seconds one cell may run
    timeout: int = 2700  # seconds the whole notebook may run
    memory_limit: str = "8G"  # per submission (kernel and everything it starts)
    disk_limit: str = "4G"  # per submission: the files it writes (its folder and its home); "0" = no limit
    workers: int = 0  # submissions graded at once; 0 = number of cores
    threads_per_kernel: int = 0  # BLAS/OpenMP/n_jobs threads per kernel; 0 = cores // workers
    seed: int = 2026
    sandbox: str = "auto"  # "auto" (bubblewrap, refuse without it), "bubblewrap", "none"


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
class CourseConfig:
    course_id: str = "MATE70026"
    course_name: str = "Machine Learning for Materials"
    assignment: str = DEFAULT_ASSIGNMENT
    challenges: dict[str, str] = field(default_factory=lambda: {
        "A": "matbench_phonons", "B": "matbench_expt_gap",
        "C": "matbench_perovskites", "D": "matbench_glass"})
    deadline: datetime | None = None  # naive = local time of the grading machine
    late: LatePolicy = field(default_factory=LatePolicy)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    presentation: PresentationSettings = field(default_factory=PresentationSettings)
    declaration: DeclarationSettings = field(default_factory=DeclarationSettings)
    rubric: str = ""  # path relative to the course root; default rubric/<assignment>.toml

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
            raise ConfigError(f"{where}.templates: the template notebook {name} does not exist "
                              f"(looked for {path}; paths are relative to the course root).")


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
    for key in ("course_id", "course_name", "assignment", "rubric"):
        if key in course:
            setattr(config, key, str(course.pop(key)))
    if "deadline" in course:
        raw = course.pop("deadline")
        try:
            config.deadline = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        except ValueError as error:
            raise ConfigError(f"{path}: [course] deadline {raw!r} is not a date-time "
                              "like 2026-03-11T15:00:00.") from error
    if course:
        raise ConfigError(f"{path}: [course] has unknown keys: {', '.join(course)}.")
    if "challenges" in data:
        config.challenges = {str(k).upper(): str(v) for k, v in data.pop("challenges").items()}
    for section, target in (("execution", config.execution), ("late", config.late),
                            ("presentation", config.presentation), ("declaration", config.declaration)):
        if section in data:
            _fill(target, data.pop(section), f"{path}: [{section}]")
    _check_declaration(config.declaration, course_dir, f"{path}: [declaration]")
    if data:
        raise ConfigError(f"{path}: unknown sections: {', '.join(data)}. "
                          "Known: course, challenges, execution, late, presentation, declaration.")
    config.catalogue  # validates the task names (UnknownTaskError lists the valid ones)
    return config


@dataclass
class Course(CourseLayout):
    """A course directory (its layout: autograder.layout) and its configuration."""

    config: CourseConfig = field(default_factory=CourseConfig)

    @classmethod
    def open(cls, root: Path | str | None = None) -> "Course":
        root = Path(root or os.environ.get("AUTOGRADER_COURSE", ".")).resolve()
        if not root.is_dir():
            raise ConfigError(f"Course directory {root} does not exist.")
        return cls(root=root, config=load_config(root))

    @property
    def assignment(self) -> str:
        return self.config.assignment

    @property
    def rubric_path(self) -> Path:
        return self.root / self.config.rubric if self.config.rubric else self.default_rubric_path()

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook_path}"
