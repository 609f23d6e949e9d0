"""Notebooks for the similarity benchmark and tests, built on the released template.

* `independent()`: the reference solution and the eight works of works.py, each written into the
  released notebook as a student hands it in (with the outputs of a run: each work prints its own
  fold scores);
* `altered(notebook, changes, seed)`: a copy altered the way students alter copies: identifiers
  renamed, comments rewritten, prints and blank lines added, cells reordered and merged, the text
  paraphrased lightly, one function rewritten;
* `template_only(name)`: the template with only the student's details filled in;
* `mixture(seed)`: a notebook put together from pieces of different works, renamed (the speed runs'
  cohorts and archives: each a different combination).
"""

from __future__ import annotations

import ast
import copy
import io
import json
import random
import re
import tokenize
from pathlib import Path

from tests.similarity.works import WORKS

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "source" / "research_challenge" / "research_challenge.ipynb"
PACKAGED = REPO / "autograder" / "checks" / "released" / "research_challenge.ipynb"
RELEASED = REPO / "release" / "research_challenge" / "research_challenge.ipynb"
NOTEBOOK = "research_challenge.ipynb"
SOLUTION_CELLS = ("explore_data", "featurise", "model", "analysis")
ANSWERS = (
    "problem_statement",
    "data_preparation",
    "model_choice",
    "training_testing",
    "leaderboard_comparison",
)
STUB = "YOUR ANSWER HERE"
CHANGES = ("rename", "comments", "prints", "reorder", "paraphrase", "rewrite")


def released_path() -> Path:
    return RELEASED if RELEASED.is_file() else PACKAGED


def released() -> dict:
    return json.loads(released_path().read_text(encoding="utf-8"))


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _by_id(nb) -> dict:
    return {
        c["metadata"].get("nbgrader", {}).get("grade_id"): c
        for c in nb["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id")
    }


def _details(nb, name: str) -> None:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and _source(cell).startswith("# Your details"):
            cell["source"] = (
                f'# Your details (used only to identify your submission)\nname = "{name}"\nstudent_id = "{name}"'
            )


def _output(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def fold_output(name: str) -> str:
    """What the work's run printed: five fold scores of its own (identical in a copy of the executed
    notebook, different in independent work)."""
    rng = random.Random(name)
    scores = [round(rng.uniform(0.2, 0.6), 4) for _ in range(5)]
    return f"scores per fold: {scores}\nmean {sum(scores) / 5:.4f}\n"


def write_work(name: str) -> dict:
    """One of the works of works.py in the released notebook."""
    work = WORKS[name]
    nb = released()
    cells = _by_id(nb)
    template_explore = _source(cells["explore_data"]).replace("# YOUR CODE HERE", "").rstrip()
    cells["explore_data"]["source"] = template_explore + "\n" + work["explore_data"]
    for key in ("featurise", "model", "analysis"):
        cells[key]["source"] = work[key]
    cells["analysis"]["outputs"] = [_output(fold_output(name))]
    for key in ANSWERS:
        cells[key]["source"] = _source(cells[key]).replace(STUB, work[key])
    declaration = _source(cells["llm_declaration"])
    for answer in work["declaration"]:
        declaration = declaration.replace(STUB, answer, 1)
    cells["llm_declaration"]["source"] = declaration
    for cell in nb["cells"]:
        if "parameters" in cell["metadata"].get("tags", []):
            cell["source"] = _source(cell).replace('challenge = ""', f'challenge = "{work["challenge"]}"')
    _details(nb, name)
    return nb


def reference() -> dict:
    """The reference solution as a student would hand it in (autograder.course.release.solved_copy)."""
    import nbformat

    from autograder.course.release import solved_copy

    nb = json.loads(nbformat.writes(solved_copy(released_path(), SOURCE)))
    _details(nb, "reference")
    _by_id(nb)["analysis"]["outputs"] = [_output(fold_output("reference"))]
    return nb


def independent() -> dict[str, dict]:
    out = {"reference": reference()}
    out.update({name: write_work(name) for name in WORKS})
    return out


def template_only(name: str) -> dict:
    nb = released()
    _details(nb, name)
    return nb


# --- the alterations --------------------------------------------------------------------------------

KEEP_NAMES = {
    "featurise",
    "train_model",
    "predict",
    "task",
    "seed",
    "n_jobs",
    "target_column",
    "input_column",
    "is_classification",
    "task_name",
    "all_features",
    "self",
    "np",
    "pd",
    "plt",
    "results_path",
}
SYNONYMS = {
    "because": "since",
    "use": "apply",
    "used": "applied",
    "uses": "applies",
    "chose": "picked",
    "choose": "pick",
    "model": "approach",
    "models": "approaches",
    "features": "descriptors",
    "feature": "descriptor",
    "materials": "compounds",
    "material": "compound",
    "predict": "estimate",
    "large": "big",
    "small": "little",
    "fast": "quick",
    "quickly": "rapidly",
    "simple": "basic",
    "clearly": "obviously",
    "much": "far",
    "many": "numerous",
    "shows": "reveals",
    "show": "reveal",
    "important": "significant",
    "difficult": "tricky",
    "hard": "difficult",
    "error": "mistake",
    "errors": "mistakes",
    "better": "superior",
    "worse": "inferior",
    "which": "that",
    "data": "dataset",
    "checked": "verified",
    "picked": "selected",
    "good": "fine",
    "get": "obtain",
    "gives": "yields",
    "method": "technique",
    "methods": "techniques",
    "also": "too",
    "each": "every",
    "help": "assist",
}
COMMENT_WORDS = ["note:", "here we", "step:", "this part", "now", "next,", "below:"]


def _rename(code: str, mapping: dict[str, str]) -> str:
    out, previous = [], None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string in mapping and previous != ".":
            tok = tok._replace(string=mapping[tok.string])
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.string
    return tokenize.untokenize(out)


def _defined(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names - KEEP_NAMES


def _new_name(name: str, rng: random.Random) -> str:
    style = rng.choice(["prefix", "short", "camel", "suffix"])
    if style == "prefix":
        return rng.choice(["my_", "the_", "cur_", "tmp_"]) + name.lower()
    if style == "short":
        return "".join(part[:3] for part in name.split("_") if part) + "_v"
    if style == "camel":
        parts = [p for p in name.split("_") if p]
        return (parts[0].lower() + "".join(p.title() for p in parts[1:]) + "X") if parts else name + "X"
    return name.lower() + rng.choice(["_1", "_new", "_mine", "2"])


def _code_cells(nb) -> list[dict]:
    return [
        c
        for c in nb["cells"]
        if c["cell_type"] == "code"
        and not c["metadata"].get("nbgrader", {}).get("locked")
        and "parameters" not in c["metadata"].get("tags", [])
    ]


def rename(nb, rng) -> None:
    names = set()
    for cell in _code_cells(nb):
        names |= _defined(_source(cell))
    mapping = {n: _new_name(n, rng) for n in sorted(names)}
    for cell in _code_cells(nb):
        cell["source"] = _rename(_source(cell), mapping)


def comments(nb, rng) -> None:
    for cell in _code_cells(nb):
        lines = []
        for line in _source(cell).split("\n"):
            stripped = line.lstrip()
            if stripped.startswith("#") and not stripped.startswith("# Your details"):
                if rng.random() < 0.3:
                    continue  # comment deleted
                indent = line[: len(line) - len(stripped)]
                line = f"{indent}# {rng.choice(COMMENT_WORDS)} " + " ".join(
                    reversed(stripped[1:].split()[:6])
                )
            elif "#" in line and not stripped.startswith(("'", '"')) and rng.random() < 0.5:
                line = line.split("  #")[0]
            lines.append(line)
        if rng.random() < 0.6:
            lines.insert(
                0, f"# {rng.choice(['my own code', 'part of my solution', 'written for this part'])}"
            )
        cell["source"] = "\n".join(lines)


def prints(nb, rng) -> None:
    for cell in _code_cells(nb):
        code = _source(cell)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        lines = code.split("\n")
        for node in reversed(tree.body):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and rng.random() < 0.6:
                lines.insert(node.end_lineno, f'print("{node.targets[0].id}:", type({node.targets[0].id}))')
            if rng.random() < 0.5:
                lines.insert(node.end_lineno, "")
        cell["source"] = "\n".join(lines)


def reorder(nb, rng) -> None:
    """Split the longest own cell in two and put its halves in the other order (functions defined
    before the constants they read at call time); merge the exploration into the next cell."""
    cells = _code_cells(nb)
    best = max(cells, key=lambda c: len(_source(c)))
    code = _source(best)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if len(tree.body) >= 3 and defs:
        lines = code.split("\n")
        cut = defs[0].lineno - 1 - len(defs[0].decorator_list)
        head, tail = "\n".join(lines[:cut]).rstrip(), "\n".join(lines[cut:]).strip()
        if head and tail:
            imports = "\n".join(line for line in head.split("\n") if line.startswith(("import ", "from ")))
            rest = "\n".join(line for line in head.split("\n") if not line.startswith(("import ", "from ")))
            best["source"] = imports + "\n\n" + tail
            extra = copy.deepcopy(best)
            extra["metadata"] = {}
            extra["id"] = f"{best.get('id', 'cell')}-2"
            extra["outputs"] = []
            extra["source"] = rest.strip()
            nb["cells"].insert(nb["cells"].index(best) + 1, extra)
    by_id = _by_id(nb)
    explore, featurise = by_id.get("explore_data"), by_id.get("featurise")
    if explore is not None and featurise is not None:
        template = _source(_by_id(released())["explore_data"]).replace("# YOUR CODE HERE", "").rstrip()
        own = _source(explore).replace(template, "").strip()
        featurise["source"] = own + "\n\n\n" + _source(featurise)
        explore["source"] = template + "\n# (exploration below, with the features)"


def paraphrase(nb, rng) -> None:
    def swap(match):
        word = match.group(0)
        replacement = SYNONYMS.get(word.lower())
        if replacement is None or rng.random() > 0.8:
            return word
        return replacement.capitalize() if word[0].isupper() else replacement

    template = {
        line
        for cell in released()["cells"]
        if cell["cell_type"] == "markdown"
        for line in _source(cell).split("\n")
    }
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or cell["metadata"].get("nbgrader", {}).get("locked"):
            continue
        kept = []
        for line in _source(cell).split("\n"):
            if line in template or line.strip() in ("", STUB):
                kept.append(line)
                continue
            kept.append(re.sub(r"[A-Za-z]+", swap, line))
        cell["source"] = "\n".join(kept)


def rewrite(nb, work: str | None) -> None:
    if work not in WORKS:
        return
    name, new = WORKS[work]["rewritten"]
    for cell in _code_cells(nb):
        code = _source(cell)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                lines = code.split("\n")
                cell["source"] = "\n".join(
                    lines[: node.lineno - 1] + new.split("\n") + lines[node.end_lineno :]
                )
                return


def altered(
    nb: dict, changes: tuple[str, ...], seed: int, work: str | None = None, name: str = "copy"
) -> dict:
    """A copy of `nb` with the given changes (in a fixed order: the rewrite first, renaming last but one)."""
    rng = random.Random(seed)
    nb = copy.deepcopy(nb)
    _details(nb, name)
    if "rewrite" in changes:
        rewrite(nb, work)
    if "reorder" in changes:
        reorder(nb, rng)
    if "comments" in changes:
        comments(nb, rng)
    if "prints" in changes:
        prints(nb, rng)
    if "rename" in changes:
        rename(nb, rng)
    if "paraphrase" in changes:
        paraphrase(nb, rng)
    return nb


def mixture(seed: int, pieces: dict[str, dict] | None = None) -> dict:
    """A notebook of pieces of different works (each cell and each answer from a work drawn at random),
    with renamed identifiers and its own numbers: one of many different combinations."""
    rng = random.Random(seed)
    pieces = pieces or independent()
    names = sorted(pieces)
    nb = copy.deepcopy(pieces[rng.choice(names)])
    cells = _by_id(nb)
    for key in SOLUTION_CELLS + ANSWERS + ("llm_declaration",):
        donor = _by_id(pieces[rng.choice(names)])
        if key in donor and key in cells:
            cells[key]["source"] = _source(donor[key])
    for cell in _code_cells(nb):
        cell["source"] = re.sub(
            r"\b(\d{2,4})\b", lambda m: str(int(m.group(1)) + rng.randint(1, 9)), _source(cell)
        )
    rename(nb, rng)
    _details(nb, f"mix{seed}")
    return nb


def save(nb: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


# --- many different notebooks, for the speed runs ---------------------------------------------------


def pools(pieces: dict[str, dict] | None = None) -> dict[str, list[str]]:
    """The statements of every work's solution cells (by cell) and the sentences of its answers (by
    answer): what `synthetic` draws from."""
    pieces = pieces or independent()
    out: dict[str, list[str]] = {}
    for nb in pieces.values():
        cells = _by_id(nb)
        for key in SOLUTION_CELLS:
            code = _source(cells[key])
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.stmt) and not isinstance(
                    node, (ast.FunctionDef, ast.ClassDef, ast.For, ast.If, ast.With, ast.While, ast.Try)
                ):
                    segment = ast.get_source_segment(code, node)
                    if segment:
                        kind = "return" if isinstance(node, ast.Return) else key
                        out.setdefault(kind, []).append(segment)
        for key in ANSWERS:
            text = _source(cells[key]).split("\n\n", 1)[-1]
            out.setdefault(key, []).extend(
                s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3
            )
    return out


def synthetic(seed: int, pool: dict[str, list[str]]) -> dict:
    """A notebook unlike any other: each solution cell a few functions and statements drawn at random
    from all the works' statements, with numbers of its own; each answer a few sentences drawn at random."""
    rng = random.Random(seed)
    nb = released()
    cells = _by_id(nb)

    def numbers(text: str) -> str:
        return re.sub(
            r"\b\d+(\.\d+)?\b", lambda m: str(round(rng.uniform(1, 500), rng.choice([0, 2, 3]))), text
        )

    for key in SOLUTION_CELLS:
        parts = []
        for n in range(rng.randint(1, 3)):
            body = [numbers(s) for s in rng.sample(pool[key], min(len(pool[key]), rng.randint(4, 9)))]
            body.append(rng.choice(pool["return"]))
            parts.append(
                f"def step_{n}(data, options):\n"
                + "\n".join("\n".join("    " + line for line in statement.split("\n")) for statement in body)
            )
        parts += [numbers(s) for s in rng.sample(pool[key], min(len(pool[key]), rng.randint(2, 6)))]
        cells[key]["source"] = "\n\n\n".join(parts)
    vocabulary = sorted({w for key in ANSWERS for sentence in pool[key] for w in sentence.split()})
    for key in ANSWERS:
        sentences = rng.sample(pool[key], min(len(pool[key]), rng.randint(3, 5)))
        # every third word or so the student's own: sentences alike in content, not in wording
        words = [w if rng.random() > 0.35 else rng.choice(vocabulary) for w in " ".join(sentences).split()]
        cells[key]["source"] = _source(cells[key]).replace(STUB, " ".join(words))
    _details(nb, f"student{seed}")
    return nb
