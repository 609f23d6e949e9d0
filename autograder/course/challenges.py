"""The challenge catalogue: which Matbench v0.1 task each challenge letter stands for, and what
the leaderboard says about it.

The default set is the lecture's (A phonons, B expt_gap, C perovskites, D glass). A course may pick
any other Matbench v0.1 tasks in its `autograder.toml` (`[challenges]` table); the task facts then
come from `MATBENCH_V01_TASKS` and the leaderboard points are given only where we have them.

This module is pure data and must stay cheap to import (the student self-check imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.errors import UserError

# Task facts of Matbench v0.1, as in matbench 0.6's `matbench_v0.1_dataset_metadata.json`
# (input type, task type, target column, unit, number of rows, MAD or fraction True).
# Kept here so that grading never needs to import matbench.
MATBENCH_V01_TASKS: dict[str, dict] = {
    "matbench_dielectric": dict(
        input_type="structure",
        task_type="regression",
        target="n",
        unit="",
        n_samples=4764,
        mad=0.808534704217072,
    ),
    "matbench_expt_gap": dict(
        input_type="composition",
        task_type="regression",
        target="gap expt",
        unit="eV",
        n_samples=4604,
        mad=1.1432002429044061,
    ),
    "matbench_expt_is_metal": dict(
        input_type="composition",
        task_type="classification",
        target="is_metal",
        unit="",
        n_samples=4921,
        frac_true=0.4980694980694981,
    ),
    "matbench_glass": dict(
        input_type="composition",
        task_type="classification",
        target="gfa",
        unit="",
        n_samples=5680,
        frac_true=0.710387323943662,
    ),
    "matbench_jdft2d": dict(
        input_type="structure",
        task_type="regression",
        target="exfoliation_en",
        unit="meV/atom",
        n_samples=636,
        mad=67.20200406491116,
    ),
    "matbench_log_gvrh": dict(
        input_type="structure",
        task_type="regression",
        target="log10(G_VRH)",
        unit="log10(GPa)",
        n_samples=10987,
        mad=0.29313828328604646,
    ),
    "matbench_log_kvrh": dict(
        input_type="structure",
        task_type="regression",
        target="log10(K_VRH)",
        unit="log10(GPa)",
        n_samples=10987,
        mad=0.2896736342937069,
    ),
    "matbench_mp_e_form": dict(
        input_type="structure",
        task_type="regression",
        target="e_form",
        unit="eV/atom",
        n_samples=132752,
        mad=1.0059220443295362,
    ),
    "matbench_mp_gap": dict(
        input_type="structure",
        task_type="regression",
        target="gap pbe",
        unit="eV",
        n_samples=106113,
        mad=1.3271449960162496,
    ),
    "matbench_mp_is_metal": dict(
        input_type="structure",
        task_type="classification",
        target="is_metal",
        unit="",
        n_samples=106113,
        frac_true=0.43492314796490533,
    ),
    "matbench_perovskites": dict(
        input_type="structure",
        task_type="regression",
        target="e_form",
        unit="eV/unit cell",
        n_samples=18928,
        mad=0.5659924184827462,
    ),
    "matbench_phonons": dict(
        input_type="structure",
        task_type="regression",
        target="last phdos peak",
        unit="cm^-1",
        n_samples=1265,
        mad=323.78696979348734,
    ),
    "matbench_steels": dict(
        input_type="composition",
        task_type="regression",
        target="yield strength",
        unit="MPa",
        n_samples=312,
        mad=229.37426857330706,
    ),
}

# The official folds: KFold (regression) / StratifiedKFold (classification) with these settings,
# over the rows in matminer's order (matbench's scripts/mvb01_generate_validation.py).
FOLD_SETTINGS = {"n_splits": 5, "shuffle": True, "random_state": 18012019}

LEADERBOARD_SOURCE = (
    "materialsproject/matbench, docs_src/Leaderboards Per-Task/matbench_v0.1_<task>.md at commit "
    "936176db (2024-01-20 rebuild); mean and population std over the 5 official folds"
)


@dataclass(frozen=True)
class LeaderboardEntry:
    algorithm: str
    mean: float
    std: float | None = None
    note: str = ""


# Per-task leaderboards (ranking metric: MAE for regression, matbench's label-based ROC-AUC for
# classification). Source: LEADERBOARD_SOURCE; transcribed in shared/reference/matbench-and-course.md §2.
LEADERBOARDS: dict[str, list[LeaderboardEntry]] = {
    "matbench_phonons": [
        LeaderboardEntry("MegNet (kgcnn v2.1.0)", 28.7606, 2.5767),
        LeaderboardEntry("coNGN", 28.8874, 3.2840),
        LeaderboardEntry("ALIGNN", 29.5385, 2.1148),
        LeaderboardEntry("coGN", 29.7117, 1.9968),
        LeaderboardEntry("DeeperGATGNN", 33.1211, 1.4530),
        LeaderboardEntry("MODNet (v0.1.12)", 34.2751, 2.0781),
        LeaderboardEntry("DimeNet++ (kgcnn v2.1.0)", 37.4619, 2.19),
        LeaderboardEntry("MODNet (v0.1.10)", 38.7524, 1.77),
        LeaderboardEntry("SchNet (kgcnn v2.1.0)", 38.9636, 1.98),
        LeaderboardEntry("Finder_v1.2 composition-only", 46.5751, 3.74),
        LeaderboardEntry("Finder_v1.2 structure-based", 50.7406, 5.40),
        LeaderboardEntry("CrabNet", 55.1114, 5.7317, "composition only"),
        LeaderboardEntry("AMMExpress v2020", 56.1706, 6.7981),
        LeaderboardEntry("CGCNN v2019", 57.7635, 12.3109),
        LeaderboardEntry("RF-SCM/Magpie", 67.6126, 8.9900),
        LeaderboardEntry("Dummy", 323.9822, 17.7269, "predicts the training mean"),
    ],
    "matbench_expt_gap": [
        LeaderboardEntry("Darwin", 0.2865, 0.0083, "fine-tuned LLM"),
        LeaderboardEntry("Ax/SAASBO CrabNet v1.2.7", 0.3310, 0.0071),
        LeaderboardEntry("MODNet (v0.1.12)", 0.3327, 0.0239),
        LeaderboardEntry("CrabNet", 0.3463, 0.0088),
        LeaderboardEntry("MODNet (v0.1.10)", 0.3470, 0.0222),
        LeaderboardEntry("Ax+CrabNet v1.2.1", 0.3566, 0.025),
        LeaderboardEntry("Ax(10/90)+CrabNet v1.2.7", 0.3632, 0.020),
        LeaderboardEntry("CrabNet v1.2.1", 0.3757, 0.021),
        LeaderboardEntry("AMMExpress v2020", 0.4161, 0.0194),
        LeaderboardEntry("RF-SCM/Magpie", 0.4461, 0.0177),
        LeaderboardEntry("gptchem", 0.4544, 0.0123, "GPT-3 LIFT"),
        LeaderboardEntry("Dummy", 1.1435, 0.0310, "predicts the training mean"),
    ],
    "matbench_perovskites": [
        LeaderboardEntry("coGN", 0.0269, 0.0008),
        LeaderboardEntry("ALIGNN", 0.0288, 0.0009),
        LeaderboardEntry("DeeperGATGNN", 0.0288, 0.0011),
        LeaderboardEntry("coNGN", 0.0290, 0.0011),
        LeaderboardEntry("Finder_v1.2 structure-based", 0.0320, 0.0012),
        LeaderboardEntry("SchNet (kgcnn v2.1.0)", 0.0342, 0.0005),
        LeaderboardEntry("MegNet (kgcnn v2.1.0)", 0.0352, 0.0016),
        LeaderboardEntry("DimeNet++ (kgcnn v2.1.0)", 0.0376, 0.0011),
        LeaderboardEntry("CGCNN v2019", 0.0452, 0.0007),
        LeaderboardEntry("MODNet (v0.1.12)", 0.0908, 0.0028),
        LeaderboardEntry("AMMExpress v2020", 0.2005, 0.0085),
        LeaderboardEntry("RF-SCM/Magpie", 0.2355, 0.0034),
        LeaderboardEntry("CrabNet", 0.4065, 0.0069, "composition only"),
        LeaderboardEntry("Dummy", 0.5660, 0.0048, "predicts the training mean"),
        LeaderboardEntry("Finder_v1.2 composition-only", 0.6450, 0.0167),
    ],
    "matbench_glass": [
        LeaderboardEntry("MODNet (v0.1.12)", 0.9603, 0.0075),
        LeaderboardEntry("AMMExpress v2020", 0.8607, 0.0199),
        LeaderboardEntry("RF-SCM/Magpie", 0.8587, 0.0158),
        LeaderboardEntry("MODNet (v0.1.10)", 0.8107, 0.0212),
        LeaderboardEntry("gptchem", 0.7762, 0.0122),
        LeaderboardEntry("Darwin", 0.7668, 0.0133),
        LeaderboardEntry("Dummy", 0.5005, 0.0178, "stratified random guess"),
    ],
}


class UnknownTaskError(UserError, ValueError):
    """A task name or challenge letter that the catalogue does not know."""


@dataclass(frozen=True)
class Challenge:
    """One challenge of the research challenge: a letter and the Matbench task behind it."""

    letter: str
    task: str  # matbench task name, e.g. "matbench_expt_gap"
    task_type: str  # "regression" | "classification"
    input_type: str  # "composition" | "structure"
    target: str  # target column in the data set
    unit: str
    n_samples: int
    mad: float | None = None  # mean absolute deviation of the target (regression)
    frac_true: float | None = None  # fraction of True labels (classification)
    leaderboard: tuple[LeaderboardEntry, ...] = field(default_factory=tuple)

    @property
    def metric(self) -> str:
        """matbench's score key of the ranking metric."""
        return "rocauc" if self.is_classification else "mae"

    @property
    def metric_label(self) -> str:
        return "ROC-AUC" if self.is_classification else "MAE"

    @property
    def is_classification(self) -> bool:
        return self.task_type == "classification"

    @property
    def higher_is_better(self) -> bool:
        return self.is_classification

    @property
    def short_name(self) -> str:
        return self.task.removeprefix("matbench_")

    @property
    def fold_test_sizes(self) -> list[int]:
        """Test-fold sizes of the official split (scikit-learn gives the first n % 5 folds one
        extra row; `data.verify` confirms these against the real folds)."""
        k = FOLD_SETTINGS["n_splits"]
        return [self.n_samples // k + (1 if i < self.n_samples % k else 0) for i in range(k)]

    @property
    def fold_train_sizes(self) -> list[int]:
        return [self.n_samples - t for t in self.fold_test_sizes]

    def reference(self, algorithm: str) -> LeaderboardEntry | None:
        """A leaderboard entry by exact name (e.g. 'RF-SCM/Magpie', 'Dummy')."""
        return next((e for e in self.leaderboard if e.algorithm == algorithm), None)

    @property
    def best(self) -> LeaderboardEntry | None:
        if not self.leaderboard:
            return None
        pick = max if self.higher_is_better else min
        return pick(self.leaderboard, key=lambda e: e.mean)

    @property
    def reference_points(self) -> list[tuple[str, LeaderboardEntry]]:
        """The points the course compares against: best entry, MODNet, RF-SCM/Magpie, Dummy."""
        points = []
        if self.best:
            points.append(("best", self.best))
        modnet = next((e for e in self.leaderboard if e.algorithm.startswith("MODNet")), None)
        for label, entry in (
            ("MODNet", modnet),
            ("RF-SCM/Magpie", self.reference("RF-SCM/Magpie")),
            ("Dummy", self.reference("Dummy")),
        ):
            if entry and all(entry is not e for _, e in points):
                points.append((label, entry))
        return points

    def rank(self, score: float) -> int:
        """1-based place the score would take on the leaderboard."""
        better = [
            e for e in self.leaderboard if (e.mean > score if self.higher_is_better else e.mean < score)
        ]
        return len(better) + 1


DEFAULT_CHALLENGES: dict[str, str] = {
    "A": "matbench_phonons",
    "B": "matbench_expt_gap",
    "C": "matbench_perovskites",
    "D": "matbench_glass",
}


def task_info(task: str) -> dict:
    if task not in MATBENCH_V01_TASKS:
        valid = ", ".join(sorted(MATBENCH_V01_TASKS))
        raise UnknownTaskError(f"Unknown Matbench v0.1 task '{task}'. Valid tasks: {valid}.")
    return MATBENCH_V01_TASKS[task]


def make_challenge(letter: str, task: str) -> Challenge:
    info = task_info(task)
    return Challenge(
        letter=letter,
        task=task,
        leaderboard=tuple(LEADERBOARDS.get(task, ())),
        task_type=info["task_type"],
        input_type=info["input_type"],
        target=info["target"],
        unit=info["unit"],
        n_samples=info["n_samples"],
        mad=info.get("mad"),
        frac_true=info.get("frac_true"),
    )


class Catalogue:
    """The challenges of one course, by letter."""

    def __init__(self, mapping: dict[str, str] | None = None):
        mapping = mapping or DEFAULT_CHALLENGES
        self.challenges = {
            letter.upper(): make_challenge(letter.upper(), task) for letter, task in mapping.items()
        }

    def __iter__(self):
        return iter(self.challenges.values())

    def __len__(self) -> int:
        return len(self.challenges)

    @property
    def letters(self) -> list[str]:
        return list(self.challenges)

    @property
    def tasks(self) -> list[str]:
        return [c.task for c in self.challenges.values()]

    def get(self, key: str) -> Challenge:
        """A challenge by letter ('B'), task name ('matbench_expt_gap') or short name ('expt_gap')."""
        key_clean = str(key).strip()
        if key_clean.upper() in self.challenges:
            return self.challenges[key_clean.upper()]
        for challenge in self.challenges.values():
            if key_clean in (challenge.task, challenge.short_name):
                return challenge
        valid = ", ".join(f"{c.letter} ({c.task})" for c in self.challenges.values())
        raise UnknownTaskError(f"Unknown challenge '{key}'. This course's challenges are: {valid}.")
