"""Tokens and fingerprints: what two pieces of work are compared on.

Code is tokenised by one regular expression (Python's own `tokenize` is ten times slower and Pygments
thirty): the names a student chooses become one token `V`, so renaming variables
or functions hides nothing, while what does not depend on the author's taste stays as written: keywords,
operators, numbers (hyper-parameters), builtins, imported names, attributes (`.fit`, `.from_preset`) and
keyword-argument names (`n_estimators=`). Comments, blank lines and the text of strings are dropped
(`S`), so rewritten comments and messages hide nothing either. Written answers are compared on their
words, lower-cased.

Each token gets a stable 64-bit id; each run of K consecutive tokens within one cell (a k-gram) a
polynomial hash of them, so the same passage gives the same hash in every process and every year.
Winnowing (Schleimer, Wilkerson and Aiken, "Winnowing: local algorithms for document fingerprinting",
SIGMOD 2003, the algorithm of MOSS; copydetect's implementation) keeps the smallest hash of every
window of W k-grams: any passage of at least K + W - 1 tokens shared by two documents leaves at least
one fingerprint in both.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import keyword
import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CODE", "TEXT", "Kind", "Tokens", "code_tokens", "covered", "text_tokens"]


@dataclass(frozen=True)
class Kind:
    """How one kind of material is fingerprinted: k-gram length and winnowing window, in tokens, and
    how much own material a side needs before its share means anything."""

    name: str
    k: int
    window: int
    min_own: int  # tokens of own material below which a side's share is not scored
    unit: str  # what a token is, for the report


CODE = Kind("code", k=12, window=6, min_own=40, unit="tokens")
TEXT = Kind("text", k=5, window=3, min_own=25, unit="words")

_HIGH_BIT_OFF = np.uint64((1 << 63) - 1)
SENTINEL = np.uint64((1 << 64) - 1)  # a k-gram that spans two cells: never a fingerprint
_PRIME = np.uint64(1099511628211)
_ids: dict[str, int] = {}
_BUILTINS = frozenset(dir(builtins))
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def token_id(token: str) -> int:
    """A token's stable id (the same in every process: Python's own hash() of a str is not)."""
    found = _ids.get(token)
    if found is None:
        found = _ids[token] = int.from_bytes(
            hashlib.blake2b(token.encode(), digest_size=8).digest(), "little"
        )
    return found


@dataclass
class Tokens:
    """A document's tokens of one kind, cell after cell: what each is (its id), the cell it comes from
    and where it lies in that cell's text (character offsets, for highlighting)."""

    ids: np.ndarray  # uint64
    cell: np.ndarray  # int32: index into `cells`
    start: np.ndarray  # int32: character offsets in the cell's text
    end: np.ndarray
    cells: list[int] = field(default_factory=list)  # notebook cell index of each unit
    texts: list[str] = field(default_factory=list)  # the text the offsets refer to, per unit

    @classmethod
    def build(cls, units: list[tuple[int, str, list[tuple[str, int, int]]]]) -> Tokens:
        ids, cell, start, end, cells, texts = [], [], [], [], [], []
        known = _ids
        for unit, (notebook_cell, text, tokens) in enumerate(units):
            cells.append(notebook_cell)
            texts.append(text)
            ids.extend(known.get(t) or token_id(t) for t, _, _ in tokens)
            cell.extend([unit] * len(tokens))
            start.extend(a for _, a, _ in tokens)
            end.extend(b for _, _, b in tokens)
        return cls(
            np.array(ids, dtype=np.uint64),
            np.array(cell, dtype=np.int32),
            np.array(start, dtype=np.int32),
            np.array(end, dtype=np.int32),
            cells,
            texts,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def kgram_hashes(self, k: int) -> np.ndarray:
        """The hash of every run of k tokens (SENTINEL where the run crosses from one cell into the next)."""
        n = len(self.ids) - k + 1
        if n <= 0:
            return np.zeros(0, dtype=np.uint64)
        hashes = np.zeros(n, dtype=np.uint64)
        for j in range(k):
            hashes = hashes * _PRIME + self.ids[j : j + n]
        hashes &= _HIGH_BIT_OFF
        hashes[self.cell[:n] != self.cell[k - 1 :]] = SENTINEL
        return hashes

    def fingerprints(self, hashes: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Winnowed fingerprints: (hashes, positions), the positions being each k-gram's first token."""
        if len(hashes) == 0:
            return hashes, np.zeros(0, dtype=np.int64)
        from copydetect.utils import winnow  # half a second of imports, paid only when a cohort is compared

        selected, positions = winnow(hashes, window_size=min(window, len(hashes)), remove_duplicates=False)
        keep = selected != SENTINEL
        return selected[keep], positions[keep]

    def spans(self, mask: np.ndarray) -> dict[int, list[tuple[int, int]]]:
        """Character spans of the marked tokens, per unit (runs of marked tokens of one unit merged)."""
        out: dict[int, list[tuple[int, int]]] = {}
        previous = -2
        for i in np.flatnonzero(mask):
            unit = int(self.cell[i])
            runs = out.setdefault(unit, [])
            if runs and previous == i - 1 and int(self.cell[previous]) == unit:
                runs[-1] = (runs[-1][0], int(self.end[i]))
            else:
                runs.append((int(self.start[i]), int(self.end[i])))
            previous = i
        return out


def covered(positions: np.ndarray, k: int, length: int) -> np.ndarray:
    """Which tokens the k-grams starting at `positions` cover (a running count of k-grams open at
    each token: one pass, however many overlap)."""
    if not len(positions):
        return np.zeros(length, dtype=bool)
    positions = np.asarray(positions, dtype=np.int64)
    steps = np.bincount(positions, minlength=length + k) - np.bincount(positions + k, minlength=length + k)
    return np.cumsum(steps[:length]) > 0


# --- code ---------------------------------------------------------------------------------------------


def imported_names(code: str) -> set[str]:
    """Names an `import` brings in (modules, their parts, imported names and aliases): the library's
    vocabulary, kept as written."""
    names = set()
    for match in re.finditer(r"^\s*(?:from\s+([\w.]+)\s+)?import\s+([^\n#]+)", code, re.MULTILINE):
        if match.group(1):
            names.update(match.group(1).split("."))
        for part in re.split(r"[,()\s]+", match.group(2)):
            if part and part != "as":
                names.update(part.split("."))
    return names


_CODE = re.compile(
    r"""
    (?P<string>(?:[rRbBuUfF]{1,2})?(?:\'\'\'(?:\\.|[^\\])*?\'\'\'|\"\"\"(?:\\.|[^\\])*?\"\"\"
               |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
   |(?P<comment>\#[^\n]*)
   |(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[jJ]?)
   |(?P<name>[^\W\d]\w*)
   |(?P<newline>\n)
   |(?P<continuation>\\\n)
   |(?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%&|^@=<>!]=|[^\s\w])
""",
    re.VERBOSE,
)
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")


def code_tokens(
    code: str, library: set[str]
) -> tuple[list[tuple[str, int, int]], list[tuple[str, str, object]]]:
    """(token, start, end) of one cell's code, normalised as the module docstring says; and the literal
    settings it passes: (callee, keyword, value) of `LGBMRegressor(num_leaves=63)` and ("dict", key,
    value) of `{"learning_rate": 0.05}`. One regular expression reads the code (a tenth of the time
    `tokenize` takes, and unfinished code is read as far as it goes)."""
    raw = [
        (m.lastgroup, m.group(), m.start(), m.end())
        for m in _CODE.finditer(code)
        if m.lastgroup not in ("comment", "continuation")
    ]
    out: list[tuple[str, int, int]] = []
    choices: list[tuple[str, str, object]] = []
    stack: list[tuple[str, str]] = []  # open brackets: (bracket, the name before it)
    n = len(raw)
    for i, (kind, text, a, b) in enumerate(raw):
        if kind == "name":
            before = raw[i - 1][1] if i else ""
            after = raw[i + 1][1] if i + 1 < n else ""
            if (
                (after == "=" and stack)
                or before == "."
                or text in library
                or text in _BUILTINS
                or keyword.iskeyword(text)
                or keyword.issoftkeyword(text)
            ):
                out.append((text, a, b))
                if after == "=" and stack and stack[-1][0] == "(":
                    value = _literal_at(raw, i + 2)
                    if value is not None:
                        choices.append((stack[-1][1], text, value))
            else:
                out.append(("V", a, b))
        elif kind == "string":
            out.append(("S", a, b))
            if stack and stack[-1][0] == "{" and i + 1 < n and raw[i + 1][1] == ":":
                value = _literal_at(raw, i + 2)
                if isinstance(value, (int, float)):
                    key = _literal(text)
                    if isinstance(key, str):
                        choices.append(("dict", key, value))
        elif kind == "newline":
            if not stack and out and out[-1][0] != ";":
                out.append((";", a, b))
        else:
            if text in _OPEN:
                stack.append((text, raw[i - 1][1] if i and raw[i - 1][0] == "name" else "call"))
            elif text in _CLOSE and stack:
                stack.pop()
            out.append((text, a, b))
    return out, choices


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _literal_at(raw: list, i: int):
    """The literal number or string at raw[i] (a minus sign allowed), when a comma or a closing
    bracket follows it."""
    sign = ""
    if i < len(raw) and raw[i][1] == "-":
        sign, i = "-", i + 1
    if i + 1 >= len(raw) or raw[i][0] not in ("number", "string") or raw[i + 1][1] not in (",", ")", "}"):
        return None
    if raw[i][0] == "string" and (sign or raw[i][1][:1] in "fFbB" or len(raw[i][1]) > 42):
        return None
    value = _literal(sign + raw[i][1])
    return value if isinstance(value, (int, float, str)) and value != "" else None


# --- text ---------------------------------------------------------------------------------------------


def text_tokens(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of a written answer, lower-cased."""
    return [(m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]
