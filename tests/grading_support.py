"""Test inputs for the rubric/report tests: a small course with graded submissions built from real
data.

* Results files are written by matbench's own API (`MatbenchBenchmark.record` / `to_file`) from the
  official leaderboard predictions in $MATMINER_DATA/leaderboard/ (RF-SCM/Magpie, Dummy, Darwin,
  AMMExpress; see PROVENANCE.md), so scores and plots come from real models, not invented numbers.
* Findings use the real check ids and statuses of autograder.checks (messages in their style).
* Recordings are real MP4/M4A files encoded with PyAV (FFmpeg's libraries in a wheel).
* The assignment is released with nbgrader (autograder.course.release), so the gradebook holds its cells.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import nbformat

from autograder.course.config import Course
from autograder.records import (
    COULD_NOT_RUN,
    FAIL,
    INFO,
    MARKER,
    NOT_APPLICABLE,
    PASS,
    WARN,
    CellRun,
    ExecutionRecord,
    Finding,
)
from autograder.results.score import score_results_file

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "research_challenge"
LEADERBOARD_FILES = {
    "RF-SCM/Magpie": "rf",
    "Dummy": "dummy",
    "Darwin": "darwin",
    "AMMExpress v2020": "automatminer_expressv2020",
}


def data_dir() -> Path:
    return Path(os.environ.get("MATMINER_DATA", REPO.parent / "shared" / "matbench-data"))


def leaderboard_predictions(task: str, algorithm: str) -> dict[int, dict[str, object]]:
    path = data_dir() / "leaderboard" / f"{LEADERBOARD_FILES[algorithm]}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        folds = json.load(handle)["tasks"][task]
    return {int(k.split("_")[1]): v["predictions"] for k, v in folds.items()}


def write_results_file(task: str, algorithm: str, out: Path, real_gzip: bool = False) -> Path:
    """A results file as a student's run writes it: matbench's API records the official leaderboard
    predictions fold by fold and saves them (plain JSON, as matbench 0.6 does, unless real_gzip)."""
    from matbench.bench import MatbenchBenchmark

    predictions = leaderboard_predictions(task, algorithm)
    benchmark = MatbenchBenchmark(autoload=False, subset=[task])
    matbench_task = getattr(benchmark, task)
    matbench_task.load()
    for fold in matbench_task.folds:
        inputs = matbench_task.get_test_data(fold, include_target=False)
        matbench_task.record(fold, [predictions[fold][mbid] for mbid in inputs.index])
    out.parent.mkdir(parents=True, exist_ok=True)
    benchmark.to_file(str(out))
    if real_gzip:
        out.write_bytes(gzip.compress(out.read_bytes()))
    return out


_RESULTS_CACHE: dict[tuple, bytes] = {}


def results_bytes(task: str, algorithm: str, tmp: Path, real_gzip: bool = False) -> bytes:
    key = (task, algorithm, real_gzip)
    if key not in _RESULTS_CACHE:
        path = write_results_file(
            task,
            algorithm,
            tmp / f"{task}-{LEADERBOARD_FILES[algorithm]}-{int(real_gzip)}.json.gz",
            real_gzip,
        )
        _RESULTS_CACHE[key] = path.read_bytes()
    return _RESULTS_CACHE[key]


# --- recordings --------------------------------------------------------------------------------------


def make_recording(path: Path, seconds: float) -> Path:
    """A real recording: MP4 (MPEG-4 video, 1 frame/s) or M4A (ALAC audio), `seconds` long."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".m4a":
        rate = 8000
        with av.open(str(path), "w", format="ipod") as out:
            stream = out.add_stream("alac", rate=rate)
            stream.layout = "mono"
            total, block = int(seconds * rate), 4096
            for start in range(0, total, block):
                n = min(block, total - start)
                frame = av.AudioFrame.from_ndarray(np.zeros((1, n), np.int16), format="s16p", layout="mono")
                frame.sample_rate, frame.pts = rate, start
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    else:
        with av.open(str(path), "w") as out:
            stream = out.add_stream("mpeg4", rate=1)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i in range(int(seconds)):
                image = np.full((48, 64, 3), (i * 7) % 255, np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    return path


# --- the course --------------------------------------------------------------------------------------


def source_notebook() -> nbformat.NotebookNode:
    """A small nbgrader source notebook with the real assignment's graded cells (grade ids, points: the
    manually graded cells carry the rubric's weights, 100 in all; the tests carry none)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}

    def meta(grade_id, grade=False, solution=False, locked=False, task=False, points=None):
        m = {
            "grade": grade,
            "grade_id": grade_id,
            "locked": locked,
            "schema_version": 3,
            "solution": solution,
            "task": task,
        }
        if points is not None:
            m["points"] = points
        return {"nbgrader": m}

    cells = [
        nbformat.v4.new_markdown_cell("# Research challenge", metadata=meta("intro", locked=True)),
        nbformat.v4.new_markdown_cell(
            "**Your data preparation.**\n\n### BEGIN SOLUTION\nMagpie features.\n### END SOLUTION",
            metadata=meta("data_preparation", grade=True, solution=True, points=20),
        ),
        nbformat.v4.new_markdown_cell(
            "**Your model choice.**\n\n### BEGIN SOLUTION\nRandom forest.\n### END SOLUTION",
            metadata=meta("model_choice", grade=True, solution=True, points=20),
        ),
        nbformat.v4.new_code_cell("results_saved = True", metadata=meta("protocol", locked=True)),
        nbformat.v4.new_code_cell(
            "assert results_saved", metadata=meta("test_results_saved", grade=True, locked=True, points=0)
        ),
        nbformat.v4.new_code_cell(
            "assert all_folds", metadata=meta("test_all_folds_recorded", grade=True, locked=True, points=0)
        ),
        nbformat.v4.new_markdown_cell(
            "**Your training and testing.**\n\n### BEGIN SOLUTION\nOfficial folds.\n### END SOLUTION",
            metadata=meta("training_testing", grade=True, solution=True, points=20),
        ),
        nbformat.v4.new_markdown_cell(
            "## Large Language Model (LLM) usage declaration\n\n### BEGIN SOLUTION\nNo.\n### END SOLUTION",
            metadata=meta("llm_declaration", grade=True, solution=True, points=0),
        ),
        nbformat.v4.new_markdown_cell(
            "## Code (10 %)", metadata=meta("code_quality", task=True, locked=True, points=10)
        ),
        nbformat.v4.new_markdown_cell(
            "## Presentation (30 %)", metadata=meta("presentation", task=True, locked=True, points=30)
        ),
        nbformat.v4.new_markdown_cell(
            "## Markers' general feedback",
            metadata=meta("markers_feedback", task=True, locked=True, points=0),
        ),
    ]
    nb.cells = cells
    return nb


_RELEASED_COURSE: list[Path] = []  # the course released once per test process (nbgrader + the wheel: ~10 s)


def make_course(root: Path, release: bool = False) -> Course:
    """The test course at `root`; released, it is a copy of one course released once per test process
    (the release writes nothing that names its folder: nbgrader's gradebook holds names, not paths)."""
    if release:
        if not _RELEASED_COURSE:
            import atexit
            import tempfile

            template = Path(tempfile.mkdtemp(prefix="released-course-")) / "course"
            atexit.register(shutil.rmtree, template.parent, True)
            _make_course(template, release=True)
            _RELEASED_COURSE.append(template)
        shutil.copytree(_RELEASED_COURSE[0], root, dirs_exist_ok=True)
        return Course.open(root)
    return _make_course(root, release=False)


def _make_course(root: Path, release: bool) -> Course:
    root.mkdir(parents=True, exist_ok=True)
    for name in ("autograder.toml", "nbgrader_config.py"):
        shutil.copy(REPO / name, root / name)
    (root / "rubric").mkdir(exist_ok=True)
    shutil.copy(REPO / "rubric" / f"{ASSIGNMENT}.toml", root / "rubric" / f"{ASSIGNMENT}.toml")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), str(source / f"{ASSIGNMENT}.ipynb"))
    course = Course.open(root)
    if release:
        from autograder.course.release import release as do_release

        do_release(course)
    return course


def executed_notebook(course: Course, tests_pass: dict[str, bool], answers: dict[str, str] | None = None):
    """The released notebook as it comes back from a run: test cells with outputs (an error output
    where the test failed), the student's answers in the answer cells."""
    released = course.release_dir() / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(released), as_version=4)
    count = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            if grade_id in tests_pass and not tests_pass[grade_id]:
                cell.outputs = [
                    nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
                ]
        elif answers and grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def f(check_id, criterion, status, message, advice="", visibility="student", details=None) -> Finding:
    return Finding(check_id, criterion, status, message, advice, visibility, details or {})


def good_findings(metric_text: str) -> list[Finding]:
    return [
        f("protocol.api_used", "training_testing", PASS, "The notebook evaluates with the Matbench API."),
        f("protocol.results_file", "training_testing", PASS, "results.json.gz was written and loads."),
        f("protocol.folds_complete", "training_testing", PASS, "All five official folds were recorded."),
        f(
            "protocol.test_ids",
            "training_testing",
            PASS,
            "Each fold predicts exactly the official test materials.",
        ),
        f("protocol.scores", "training_testing", PASS, metric_text),
        f(
            "protocol.plausibility",
            "training_testing",
            PASS,
            "The score is in the plausible range.",
            visibility=MARKER,
        ),
        f(
            "code.lint",
            "code",
            WARN,
            "ruff reports 7 problems in your code (e.g. unused imports).",
            "Remove unused imports and variables; run `ruff check` on your code.",
        ),
        f(
            "code.annotation",
            "code",
            PASS,
            "Your code is well annotated (1 comment or markdown line per 3 code lines).",
        ),
        f("code.organisation", "code", PASS, "The code is organised in functions, with no very long cells."),
        f("code.errors_left", "code", PASS, "The notebook was saved without error outputs."),
        f("declaration.present", "general", PASS, "The LLM usage declaration section is there."),
        f(
            "declaration.complete",
            "general",
            PASS,
            "All four questions of the declaration are answered.",
            details={
                "answers": {
                    "used": "Yes, ChatGPT (GPT-4o).",
                    "tasks": "Debugging a pandas merge and summarising the MODNet paper.",
                    "limitations": "It suggested a deprecated matminer API.",
                    "ethics": "I checked every suggestion and wrote the text myself.",
                },
                "answered": {"used": True, "tasks": True, "limitations": True, "ethics": True},
            },
        ),
        f("practice.baseline", "model_choice", INFO, "A baseline (a Dummy or linear model) is compared."),
        f("protocol.claimed_scores", "training_testing", NOT_APPLICABLE, "No scores are quoted in the text."),
    ]


def faulty_findings() -> list[Finding]:
    return [
        f("protocol.api_used", "training_testing", PASS, "The notebook evaluates with the Matbench API."),
        f("protocol.results_file", "training_testing", PASS, "results.json.gz was written and loads."),
        f(
            "protocol.test_tuning",
            "training_testing",
            FAIL,
            "Hyper-parameters were chosen with GridSearchCV on the test fold of each split.",
            "Tune inside the training data of each fold (e.g. GridSearchCV on the training part only).",
        ),
        f(
            "protocol.preprocessing_leak",
            "data_preparation",
            WARN,
            "A StandardScaler is fitted before the fold loop, on data that includes the test folds.",
            "Fit scalers inside train_model, on the training data of each fold.",
        ),
        f("protocol.plausibility", "training_testing", WARN, "Check this result.", visibility=MARKER),
        f(
            "code.lint",
            "code",
            FAIL,
            "ruff reports 41 problems in your code.",
            "Run `ruff check` and fix them.",
        ),
        f(
            "code.annotation",
            "code",
            WARN,
            "Few comments: 1 comment line per 25 code lines.",
            "Explain each step.",
        ),
        f("code.organisation", "code", WARN, "One cell has 180 lines.", "Split long cells into functions."),
        f(
            "declaration.present",
            "general",
            FAIL,
            "The notebook has no Large Language Model (LLM) usage declaration.",
            "Add the section 'Large Language Model (LLM) usage declaration' and answer its four questions.",
        ),
        f("execution.run", "general", PASS, "Every cell ran to completion."),
        f(
            "practice.feature_importance",
            "training_testing",
            COULD_NOT_RUN,
            "The feature importance could not be checked.",
            visibility=MARKER,
            details={"error": "KeyError: 'model' in /work/grader/secret/checks.py"},
        ),
    ]


def failed_findings() -> list[Finding]:
    return [
        f(
            "execution.run",
            "general",
            FAIL,
            "The notebook stopped: cell 9 raised MemoryError after 412 s.",
            "Reduce the memory your features need (e.g. fewer featurisers) and run the whole notebook again.",
        ),
        f(
            "protocol.results_file",
            "training_testing",
            FAIL,
            "No results.json.gz was written by the run.",
            "Restart the kernel and run the whole notebook from the top.",
        ),
        f("protocol.trace", "training_testing", FAIL, "The protocol trace is missing.", visibility=MARKER),
        f(
            "declaration.complete",
            "general",
            WARN,
            "The declaration does not answer: How did you ensure ethical use?",
            "Answer every question.",
            details={
                "answers": {"used": "No, I did not use an LLM."},
                "answered": {"used": True, "tasks": False, "limitations": False, "ethics": False},
            },
        ),
    ]


def add_submission(
    course: Course,
    student: str,
    letter: str,
    algorithm: str | None,
    findings: list[Finding],
    tmp: Path,
    *,
    status: str = "executed",
    reason: str = "",
    submitted_at: str | None = "2026-03-11T14:02:00",
    recording: tuple[str, float] | None = ("talk.mp4", 270),
    notebook=None,
    real_gzip: bool = False,
    cells_ok: bool = True,
) -> Path:
    catalogue = course.config.catalogue
    challenge = catalogue.get(letter)
    folder = course.autograded_dir(student)
    folder.mkdir(parents=True, exist_ok=True)
    submitted = course.submitted_dir(student)
    submitted.mkdir(parents=True, exist_ok=True)
    results_file = None
    if algorithm:
        (folder / "results.json.gz").write_bytes(results_bytes(challenge.task, algorithm, tmp, real_gzip))
        results_file = "results.json.gz"
    notebook_name = None
    cells = []
    if notebook is not None:
        notebook_name = f"{ASSIGNMENT}.ipynb"
        nbformat.write(notebook, str(folder / notebook_name))
        nbformat.write(notebook, str(submitted / notebook_name))
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                cells.append(
                    CellRun(index, "completed" if cells_ok else "failed", grade_id=grade_id, duration=0.5)
                )
    if recording:
        make_recording(submitted / recording[0], recording[1])
    record = ExecutionRecord(
        student_id=student,
        assignment=ASSIGNMENT,
        status=status,
        reason=reason,
        challenge=letter,
        task=challenge.task,
        submitted_at=submitted_at,
        notebook=notebook_name,
        results_file=results_file,
        sandbox="bubblewrap",
        cells=cells,
        wall_seconds=412.5,
        cpu_seconds=780.2,
        peak_memory_mb=2310.0,
        parameters={"challenge": letter, "seed": 2026},
        findings=findings,
    )
    record.save(course.result_path(student))
    if algorithm:  # what the check stage stores: the one Score of these predictions
        score = score_results_file(challenge, folder / results_file)
        course.save_score(student, ASSIGNMENT, score.to_dict(), score.arrays_to_save())
    with open(course.allocation_path, "a+", encoding="utf-8") as handle:
        handle.seek(0)
        if not handle.read():
            handle.write("student_id,challenge\n")
        handle.write(f"{student},{letter}\n")
    return folder
