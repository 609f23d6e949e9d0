"""Builders for the engine tests: a course with quick, real submissions made from the released
notebook (challenge B, matbench_expt_gap: composition strings, so a trivial model runs in seconds).

Each `kind` below is a real notebook that exercises one behaviour of the engine: a good one, an
infinite loop, unbounded memory, a kernel that kills itself, network use, writes outside its folder,
a tampered locked cell, a duplicated locked cell, and so on.
"""

from __future__ import annotations

import copy
import shutil
import textwrap
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RELEASED = REPO / "release" / "research_challenge" / "research_challenge.ipynb"
ASSIGNMENT = "research_challenge"

FEATURISE = textwrap.dedent('''\
    def featurise(inputs: pd.Series) -> pd.DataFrame:
        """Two cheap features of the composition string."""
        text = inputs.astype(str)
        return pd.DataFrame({"length": text.str.len().astype(float),
                             "digits": text.str.count(r"[0-9]").astype(float)}, index=inputs.index)
''')
MODEL = textwrap.dedent('''\
    from sklearn.dummy import DummyClassifier, DummyRegressor


    def train_model(features: pd.DataFrame, targets: pd.Series):
        """The mean (or most frequent class) of the training fold: a baseline."""
        model = DummyClassifier(strategy="most_frequent") if is_classification else DummyRegressor()
        return model.fit(features, targets)


    def predict(model, features: pd.DataFrame):
        return model.predict(features)
''')

EXTRA = {
    # a cell that never ends but can be interrupted: the per-cell budget stops it, the rest still runs
    "loop": "import time\nwhile True:\n    time.sleep(0.01)\n",
    # a cell that ignores interrupts: only the whole-notebook budget stops it
    "stubborn": textwrap.dedent("""\
        import time
        while True:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass
        """),
    "memory": "import numpy as np\nhog = []\nwhile True:\n    hog.append(np.ones(20_000_000))\n",
    "exit": "import os\nos._exit(3)\n",
    "segfault": "import ctypes\nctypes.string_at(0)\n",
    "network": textwrap.dedent("""\
        !pip install umap-learn --quiet
        import urllib.request
        urllib.request.urlopen("http://example.com", timeout=5).read()
        """),
    "import_missing": "import umap  # not in the course environment\n",
}


def released(path: Path | None = None) -> nbformat.NotebookNode:
    return nbformat.read(path or RELEASED, as_version=4)


def _cell(nb, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def quick_notebook(
    kind: str = "good", marker: str = "", released_path: Path | None = None
) -> nbformat.NotebookNode:
    """The released notebook, answered with a trivial model, plus whatever `kind` adds."""
    nb = released(released_path)
    settings = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    settings.source = settings.source.replace('challenge = ""', 'challenge = "B"', 1)  # as a student would
    nb.cells[_cell(nb, "featurise")].source = FEATURISE + (f"# {marker}\n" if marker else "")
    nb.cells[_cell(nb, "model")].source = MODEL
    nb.cells[_cell(nb, "explore_data")].source = "print(task.df.describe())"
    nb.cells[_cell(nb, "analysis")].source = "print(task.scores)"
    nb.cells[_cell(nb, "llm_declaration")].source = (
        "## Large Language Model (LLM) usage declaration\n\n**Did you use an LLM (e.g. GPT-4, Gemini, Co-Pilot)?**"
        "\n\nNo, I did not use an LLM.\n"
    )
    after_model = _cell(nb, "model") + 1
    if kind in EXTRA:
        nb.cells.insert(after_model, nbformat.v4.new_code_cell(EXTRA[kind]))
    elif kind == "tampered":
        protocol = nb.cells[_cell(nb, "protocol")]
        protocol.source = protocol.source.replace("include_target=False", "include_target=True")
        protocol.source += "\nprint('tampered')\n"
    elif kind == "duplicated":
        setup = copy.deepcopy(nb.cells[_cell(nb, "setup")])
        nb.cells.insert(after_model, setup)  # a copy of a locked cell, same grade id (nbgrader #1083)
    elif kind != "good":
        raise ValueError(kind)
    return nb


def escape_notebook(course: Path, victim: str) -> nbformat.NotebookNode:
    """Tries to write outside its folder and to read another student's submission (host paths)."""
    nb = quick_notebook("good")
    at = _cell(nb, "model") + 1
    victim_nb = course / "submitted" / victim / ASSIGNMENT / "research_challenge.ipynb"
    cells = [
        f"print(open({str(victim_nb)!r}).read()[:100])",
        f"open({str(course / 'autograded' / victim / ASSIGNMENT / 'hacked.txt')!r}, 'w').write('x')",
        f"open({str(course / 'autograder.toml')!r}, 'a').write('# hacked')",
        "import sys, os\nopen(os.path.join(sys.prefix, 'hacked.txt'), 'w').write('x')",
        "open('/tmp/scratch.txt', 'w').write('private tmp is fine')\nprint(open('/tmp/scratch.txt').read())",
        "import os\nprint(sorted(k for k in os.environ if 'AUTOGRADER_COURSE' in k or 'SSH' in k))",
    ]
    for offset, source in enumerate(cells):
        nb.cells.insert(at + offset, nbformat.v4.new_code_cell(source))
    return nb


def make_course(
    course: Path,
    submissions: dict[str, nbformat.NotebookNode],
    letters: dict[str, str] | None = None,
    execution: dict | None = None,
) -> Path:
    """Submissions into submitted/{student}/research_challenge/, allocation.csv, quick budgets."""
    letters = letters or {}
    rows = ["student_id,challenge"]
    for student, nb in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / "research_challenge.ipynb")
        (folder / "timestamp.txt").write_text("2026-03-10 12:00:00.000000 UTC")
        rows.append(f"{student},{letters.get(student, 'B')}")
    (course / "allocation.csv").write_text("\n".join(rows) + "\n")
    settings = {"cell_timeout": 20, "timeout": 120, "memory_limit": '"1G"', "workers": 2}
    settings.update(execution or {})
    config = (course / "autograder.toml").read_text()
    head, _, tail = config.partition("[execution]")
    rest = tail.split("\n[", 1)
    block = "[execution]\n" + "\n".join(f"{k} = {v}" for k, v in settings.items()) + "\nseed = 2026\n"
    (course / "autograder.toml").write_text(head + block + ("\n[" + rest[1] if len(rest) > 1 else ""))
    return course


def snapshot(root: Path, exclude: list[Path]) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under root outside `exclude`: to prove nothing else changed."""
    result = {}
    for path in root.rglob("*"):
        if any(path == e or e in path.parents for e in exclude) or not path.is_file():
            continue
        stat = path.stat()
        result[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return result


def copy_course(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def stored_submission(course_root: Path, student: str):
    """One submission as the stages left it: its execution record with the checks' findings added
    (they are stored apart, checks.json), and how far it came (batch.stage_status)."""
    from autograder.batch import stage_status
    from autograder.checks import load_check_findings
    from autograder.course.config import Course

    course = Course.open(course_root)
    record = course.load_record(student, ASSIGNMENT)
    if record is None:  # none stored yet; "running" while its first run is under way beside (a staged run)
        return None, ("running" if stage_status(course, student, ASSIGNMENT) == "running" else "-")
    status = stage_status(course, student, ASSIGNMENT, record)
    record.findings = record.findings + load_check_findings(course, student, ASSIGNMENT)
    return record, status
