"""The demo course (`make demo`): a term of the research challenge in a few minutes.

It builds a course directory from scratch, then runs the real commands an instructor would:
release the assignment, allocate challenges to an example roster, collect a Blackboard bulk download of
example submissions (good work and typical faults, with presentation recordings), grade the cohort end to
end, add the markers' presentation marks and re-grade without re-running anything, and export the marks.

The example students are fictional; their notebooks are the released notebook with the reference
solution written in, and then broken in the ways real submissions are (see PROFILES).
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import wave
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import nbformat

from autograder.course.allocation import read_allocation
from autograder.course.config import Course
from autograder.course.release import solved_copy
from autograder.layout import CONFIG_FILE, MARKS_FILE, NBGRADER_CONFIG_FILE

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "research_challenge"
NOTEBOOK = "research_challenge.ipynb"
COURSE_FILES = (NBGRADER_CONFIG_FILE, CONFIG_FILE)
COURSE_DIRS = ("source", "rubric")


@dataclass(frozen=True)
class Profile:
    """One example student's work: what they did and what the grader should make of it."""

    name: str
    description: str
    minutes_late: int = 0
    recording_seconds: int | None = 270  # None: no recording handed in


PROFILES = [
    Profile("reference", "good work: the reference solution, declaration filled in"),
    Profile("reference-late", "good work, submitted 3 hours after the deadline", minutes_late=180),
    Profile(
        "template-declaration",
        "declaration left as the template's prompts; a `!pip install` cell; a 6-minute recording",
        recording_seconds=370,
    ),
    Profile("own-split", "evaluates with its own train_test_split and claims that score"),
    Profile("leaky-scaler", "fits a scaler on all the data before the folds"),
    Profile(
        "crashes",
        "train_model has a bug: the protocol cell fails; no recording handed in",
        recording_seconds=None,
    ),
    Profile("no-llm", "good work with a complete 'No, I did not use an LLM' declaration"),
    Profile("reference", "good work: the reference solution"),
]

ROSTER = [
    (f"demo{n:02d}", name)
    for n, name in enumerate(
        [
            "Ada Byron",
            "Ben Okafor",
            "Chen Wei",
            "Dara Singh",
            "Eli Novak",
            "Fatima Haddad",
            "Gus Moreau",
            "Hana Sato",
        ],
        start=1,
    )
]


# The example students keep the reference featurisation but train a quick scikit-learn model and do a
# short analysis, so that the whole demo cohort grades in a few minutes on a laptop.
QUICK_MODEL = '''# A gradient-boosting model with scikit-learn's defaults: quick, no scaling needed.
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor


def train_model(features: pd.DataFrame, targets: pd.Series):
    """Fit a model on one fold's training data and return it."""
    if is_classification:  # the classes are 71 % / 29 %: weight them equally
        return HistGradientBoostingClassifier(class_weight="balanced", random_state=seed).fit(features, targets)
    return HistGradientBoostingRegressor(random_state=seed).fit(features, targets)


def predict(model, features: pd.DataFrame):
    """One prediction per row (True/False for glass)."""
    return model.predict(features)'''

QUICK_ANALYSIS = """# How the score varies over the five folds, and the largest errors.
metric = "rocauc" if is_classification else "mae"
fold_scores = [task.results[f"fold_{fold}"].scores[metric] for fold in task.folds]
print(f"{metric} per fold: {np.round(fold_scores, 4)}; mean {np.mean(fold_scores):.4f} ± {np.std(fold_scores):.4f}")"""


# Two students who share work (`autograder similarity` finds them): demo07 wrote this error analysis and
# its discussion; demo08 hands in a copy with the names changed, the comments rewritten, a print added
# and the text lightly reworded.
SHARED_ANALYSIS = {
    "demo07": """# Where the model goes wrong: every fold's recorded test predictions against the true values.
recorded = pd.concat([pd.Series(dict(task.results[f"fold_{fold}"].data)) for fold in task.folds])
truth = task.df.loc[recorded.index, target_column]
if is_classification:
    hits = recorded.astype(bool) == truth.astype(bool)
    print(f"correct on {hits.mean():.1%} of the test materials")
    print(pd.crosstab(truth.astype(bool), recorded.astype(bool), rownames=["true"], colnames=["predicted"]))
else:
    residuals = (recorded.astype(float) - truth.astype(float)).abs()
    print("eight largest errors:", residuals.sort_values(ascending=False).head(8).round(3).to_dict())
    quartile = pd.qcut(truth.astype(float).rank(method="first"), 4, labels=["lowest", "low", "high", "highest"])
    print(residuals.groupby(quartile, observed=True).mean().round(3).to_string())
spread = [task.results[f"fold_{fold}"].scores["rocauc" if is_classification else "mae"] for fold in task.folds]
print(f"fold-to-fold spread: {np.std(spread):.4f} (min {np.min(spread):.4f}, max {np.max(spread):.4f})")""",
    "demo08": """# Error analysis: predictions of all the folds next to the targets
preds = pd.concat([pd.Series(dict(task.results[f"fold_{k}"].data)) for k in task.folds])
actual = task.df.loc[preds.index, target_column]
print("number of test predictions:", len(preds))
if is_classification:
    ok = preds.astype(bool) == actual.astype(bool)
    print(f"correct on {ok.mean():.1%} of the test materials")
    print(pd.crosstab(actual.astype(bool), preds.astype(bool), rownames=["true"], colnames=["predicted"]))
else:
    err = (preds.astype(float) - actual.astype(float)).abs()
    print("eight largest errors:", err.sort_values(ascending=False).head(8).round(3).to_dict())
    bins = pd.qcut(actual.astype(float).rank(method="first"), 4, labels=["lowest", "low", "high", "highest"])
    print(err.groupby(bins, observed=True).mean().round(3).to_string())
fold_values = [task.results[f"fold_{k}"].scores["rocauc" if is_classification else "mae"] for k in task.folds]
print(f"fold-to-fold spread: {np.std(fold_values):.4f} (min {np.min(fold_values):.4f}, max {np.max(fold_values):.4f})")""",
}
SHARED_DISCUSSION = {
    "demo07": (
        "I did not tune the gradient boosting model: its defaults were kept so that every fold is trained the same "
        "way, and the protocol cell alone touches the test folds. The error analysis below splits the test "
        "materials into quartiles of the true target and shows that the largest errors sit in the highest quartile, "
        "where the training data are sparse; the spread between folds is small compared with the mean, so the "
        "mean is a fair summary of the model."
    ),
    "demo08": (
        "I did not tune the gradient boosting model: its defaults were kept so that each fold is trained the same "
        "way, and only the protocol cell touches the test folds. The error analysis below divides the test "
        "materials into quartiles of the true target and shows that the biggest errors sit in the highest quartile, "
        "where the training data are sparse; the spread between folds is small next to the mean, so the "
        "mean is a fair summary of the model."
    ),
}


def _cells_by_id(nb) -> dict:
    return {
        c.metadata.get("nbgrader", {}).get("grade_id"): c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }


def make_notebook(profile: Profile, student: str, full_name: str, course: Course):
    """The example submission of one student: a solved copy of the release, then the profile's faults."""
    nb = solved_copy(course.release_dir() / NOTEBOOK, course.source_dir() / NOTEBOOK)
    cells = _cells_by_id(nb)
    cells["model"].source, cells["analysis"].source = QUICK_MODEL, QUICK_ANALYSIS
    if student in SHARED_ANALYSIS:  # the pair of students who share work
        cells["analysis"].source = SHARED_ANALYSIS[student]
        cells["training_testing"].source = (
            cells["training_testing"].source.split("\n\n")[0] + "\n\n" + SHARED_DISCUSSION[student]
        )
    details = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Your details"))
    details.source = f'# Your details\nname = "{full_name}"\nstudent_id = "{student}"'
    released = _cells_by_id(nbformat.read(course.release_dir() / NOTEBOOK, as_version=4))
    if profile.name == "template-declaration":
        cells["llm_declaration"].source = released["llm_declaration"].source  # only the prompts
        cells["explore_data"].source = "!pip install xgboost\n" + cells["explore_data"].source
    elif profile.name == "own-split":
        nb.cells.insert(
            nb.cells.index(cells["analysis"]) + 1,
            nbformat.v4.new_code_cell(
                "# My own evaluation on a quick 80/20 split\n"
                "from sklearn.model_selection import train_test_split\n"
                "X_tr, X_te, y_tr, y_te = train_test_split(all_features, task.df[target_column], "
                "test_size=0.2, random_state=42)\n"
                "my_model = train_model(X_tr, y_tr)\n"
                "my_score = np.mean(np.abs(np.asarray(predict(my_model, X_te), dtype=float) - "
                "y_te.to_numpy(dtype=float)))\n"
                "print(f'My model: MAE = {my_score:.4f}')"
            ),
        )
    elif profile.name == "leaky-scaler":
        # the scaler learns from every material, the test ones included, and the model uses it
        cells["model"].source = (
            "from sklearn.preprocessing import StandardScaler\n\n"
            "# Scale every feature once, on the whole data set\n"
            "scaler = StandardScaler().fit(featurise(task.df[input_column]).fillna(0))\n\n"
            + QUICK_MODEL.replace(
                ".fit(features, targets)", ".fit(scaler.transform(features.fillna(0)), targets)"
            ).replace(
                "return model.predict(features)", "return model.predict(scaler.transform(features.fillna(0)))"
            )
        )
    elif profile.name == "crashes":
        # a half-finished "improved" model left in the notebook: it replaces the working one
        nb.cells.insert(
            nb.cells.index(cells["model"]) + 1,
            nbformat.v4.new_code_cell(
                "# My improved model (work in progress)\n"
                "def train_model(features, targets):\n"
                "    model = build_my_network(n_inputs=features.shape[1])\n"
                "    return model.fit(features, targets)"
            ),
        )
    elif profile.name == "no-llm":
        cells["llm_declaration"].source = (
            "## LLM usage declaration\n\n**Did you use an LLM?** No, I did not use an LLM for any part of "
            "this work.\n\n**Tasks:** none.\n\n**Limitations or biases:** not applicable.\n\n"
            "**Ethical use:** all code and text are my own."
        )
    return nb


def silent_recording(seconds: int) -> bytes:
    """A real (silent, low-rate) WAV file of the given length, standing in for a presentation."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(1)
        recording.setframerate(800)
        recording.writeframes(struct.pack("B", 128) * (800 * seconds))
    return buffer.getvalue()


def blackboard_zip(course: Course, submissions: dict[str, tuple[Profile, str]], path: Path) -> Path:
    """A Blackboard Grade Centre bulk download: `<assignment>_<user>_attempt_<time>_<file>` plus receipts."""
    deadline = course.config.deadline or datetime(2026, 3, 11, 15, 0)
    with zipfile.ZipFile(path, "w") as archive:
        for n, (student, (profile, full_name)) in enumerate(sorted(submissions.items())):
            # on time: staggered in the two hours before the deadline; late: that long after it
            when = (
                deadline + timedelta(minutes=profile.minutes_late)
                if profile.minutes_late
                else deadline - timedelta(hours=2, minutes=7 * n)
            )
            stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
            prefix = f"{ASSIGNMENT}_{student}_attempt_{stamp}"
            notebook = make_notebook(profile, student, full_name, course)
            archive.writestr(f"{prefix}_{student}_challenge.ipynb", nbformat.writes(notebook))
            if profile.recording_seconds:
                archive.writestr(f"{prefix}_presentation.wav", silent_recording(profile.recording_seconds))
            archive.writestr(
                f"{prefix}.txt",
                (
                    f"Name: {full_name} ({student})\nAssignment: Research challenge\n"
                    f"Date Submitted: {when.strftime('%A, %d %B %Y %H:%M:%S')} o'clock GMT\n"
                    "Current Mark: Needs Marking\n\nSubmission Field:\nThere is no student submission text data "
                    "for this assignment.\n\nComments:\nThere are no student comments for this assignment.\n\n"
                    f"Files:\n\tOriginal filename: {student}_challenge.ipynb\n"
                ),
            )
            # an earlier, superseded attempt: collect must keep only the latest
            if n == 0:
                early = (when - timedelta(days=1)).strftime("%Y-%m-%d-%H-%M-%S")
                archive.writestr(
                    f"{ASSIGNMENT}_{student}_attempt_{early}_draft.ipynb",
                    nbformat.writes(nbformat.read(course.release_dir() / NOTEBOOK, as_version=4)),
                )
    return path


# The markers' marks per profile (data preparation, model choice, presentation): what a marker judging the
# notebook and watching the recording might give. Training and testing and Code keep the autograder's
# suggestion, confirmed with "accept".
MARKER_MARKS = {
    "reference": (72, 70, 71),
    "reference-late": (68, 66, 64),
    "template-declaration": (58, 55, 52),
    "own-split": (60, 57, 62),
    "leaky-scaler": (46, 58, 60),
    "crashes": (45, 48, None),
    "no-llm": (66, 68, 70),
}


def markers_marks(submissions: dict[str, tuple[Profile, str]]) -> str:
    """marks.csv as markers fill it in; one presentation is not marked yet, so that student's mark
    stays incomplete (the crashing notebook's student handed in no recording)."""
    lines = ["student_id,criterion,mark,comment"]
    for student, (profile, _) in sorted(submissions.items()):
        data_mark, model_mark, presentation = MARKER_MARKS[profile.name]
        lines.append(f"{student},data_preparation,{data_mark},Featurisation explained; see the comments.")
        lines.append(f"{student},model_choice,{model_mark},Choice justified against the data size.")
        lines.append(f"{student},training_testing,accept,")
        lines.append(f"{student},code,accept,")
        if presentation is not None:
            lines.append(f"{student},presentation,{presentation},Clear and within time.")
    return "\n".join(lines) + "\n"


def run(*args: str, course: Path) -> None:
    command = [sys.executable, "-m", "autograder", *args, "--course", str(course)]
    print(f"\n$ autograder {' '.join(args)}", flush=True)
    done = subprocess.run(command)
    if done.returncode != 0:
        raise SystemExit(f"demo stopped: `autograder {' '.join(args)}` exited with {done.returncode}")


def build_course(root: Path) -> Course:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in COURSE_FILES:
        shutil.copy2(REPO / name, root / name)
    for name in COURSE_DIRS:
        shutil.copytree(REPO / name, root / name)
    return Course.open(root)


def main(root: Path, workers: int = 0) -> None:
    root = root.resolve()
    print(f"Building the demo course in {root}")
    course = build_course(root)
    run("release", course=root)
    roster = root / "roster.csv"
    roster.write_text("student_id,name\n" + "".join(f"{s},{n}\n" for s, n in ROSTER))
    run("assign", str(roster), course=root)
    allocation = read_allocation(course.allocation_path, course.config.catalogue)
    submissions = {student: (PROFILES[i % len(PROFILES)], name) for i, (student, name) in enumerate(ROSTER)}
    # glass has no MAE to misreport; the own-split example needs a regression task
    if allocation[ROSTER[3][0]] == "D":
        submissions[ROSTER[3][0]] = (PROFILES[0], ROSTER[3][1])
    archive = blackboard_zip(course, submissions, root / "blackboard_download.zip")
    for student, (profile, _) in sorted(submissions.items()):
        print(f"  {student} (challenge {allocation[student]}): {profile.description}")
    run("collect", "--zip", str(archive), course=root)
    grade = ["grade", ASSIGNMENT] + (["--workers", str(workers)] if workers else [])
    if shutil.which("bwrap") is None:
        print(
            "Note: bubblewrap is not installed (sudo apt-get install bubblewrap), so the demo grades its "
            "fictional students without a sandbox. Real cohorts should be graded sandboxed."
        )
        grade.append("--allow-unsandboxed")
    run(*grade, course=root)
    course = Course.open(root)
    (root / MARKS_FILE).write_text(markers_marks(submissions))
    run(
        "grade", ASSIGNMENT, "--no-execute", *grade[2:], course=root
    )  # reads the marks CSV at the course root
    blackboard, plain = course.export_path("blackboard"), course.export_path("plain")
    run("export", ASSIGNMENT, "--output", str(blackboard), "--format", "blackboard", course=root)
    run("export", ASSIGNMENT, "--output", str(plain), "--format", "plain", course=root)
    print(f"""
Demo course ready in {root}:
  feedback pages   {course.feedback_page("<student>")}
  cohort summary   {course.summary_page()}
  similarity       {course.similarity_page()} (markers only: {" and ".join(SHARED_ANALYSIS)} share work)
  executions       {course.autograded_dir("<student>")}/ (execution record, executed notebook, trace, grade)
  VLE export       {blackboard} (Blackboard) and {plain}
  gradebook        {course.gradebook_path} (nbgrader formgrader shows it)""")
