"""Tokens and fingerprints: what two pieces of work are compared on.

Code is tokenised with the standard `tokenize` module (three times faster than Pygments on a notebook,
and it knows Python exactly): the names a student chooses become one token `V`, so renaming variables
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

import builtins
import hashlib
import io
import keyword
import re
import tokenize
from dataclasses import dataclass, field

import numpy as np
from copydetect.utils import winnow

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
_KEPT = {tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING, tokenize.NEWLINE}
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_FALLBACK = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|[^\w\s]")


def token_id(token: str) -> int:
    """A token's stable id (the same in every process: Python's own hash() of a str is not)."""
    found = _ids.get(token)
    if found is None:
        found = _ids[token] = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
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
        for unit, (notebook_cell, text, tokens) in enumerate(units):
            cells.append(notebook_cell)
            texts.append(text)
            for token, a, b in tokens:
                ids.append(token_id(token))
                cell.append(unit)
                start.append(a)
                end.append(b)
        return cls(np.array(ids, dtype=np.uint64), np.array(cell, dtype=np.int32),
                   np.array(start, dtype=np.int32), np.array(end, dtype=np.int32), cells, texts)

    def __len__(self) -> int:
        return len(self.ids)

    def kgram_hashes(self, k: int) -> np.ndarray:
        """The hash of every run of k tokens (SENTINEL where the run crosses from one cell into the next)."""
        n = len(self.ids) - k + 1
        if n <= 0:
            return np.zeros(0, dtype=np.uint64)
        hashes = np.zeros(n, dtype=np.uint64)
        for j in range(k):
            hashes = hashes * _PRIME + self.ids[j:j + n]
        hashes &= _HIGH_BIT_OFF
        hashes[self.cell[:n] != self.cell[k - 1:]] = SENTINEL
        return hashes

    def fingerprints(self, hashes: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Winnowed fingerprints: (hashes, positions), the positions being each k-gram's first token."""
        if len(hashes) == 0:
            return hashes, np.zeros(0, dtype=np.int64)
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

def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def imported_names(code: str) -> set[str]:
    """Names an `import` brings in (modules, their parts, imported names and aliases): the library's
    vocabulary, kept as written."""
    names = set()
    for match in re.finditer(r"^\s*(?:from\s+([\w.]+)\s+)?import\s+([^\n#]+)", code, re.M):
        if match.group(1):
            names.update(match.group(1).split("."))
        for part in re.split(r"[,()\s]+", match.group(2)):
            if part and part != "as":
                names.update(part.split("."))
    return names


def code_tokens(code: str, library: set[str]) -> list[tuple[str, int, int]]:
    """(token, start, end) of one cell's code, normalised as the module docstring says."""
    offsets = _line_offsets(code)
    raw: list[tuple[int, str, int, int]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in _KEPT:
                (r0, c0), (r1, c1) = tok.start, tok.end
                raw.append((tok.type, tok.string, offsets[r0 - 1] + c0, offsets[r1 - 1] + c1))
    except (tokenize.TokenError, IndentationError, SyntaxError):  # unfinished code: a plainer reading
        raw = []
        for match in _FALLBACK.finditer(code):
            text = match.group(0)
            kind = (tokenize.NAME if text[0].isalpha() or text[0] == "_" else tokenize.NUMBER if text[0].isdigit()
                    else tokenize.STRING if text[0] in "'\"" else tokenize.OP)
            raw.append((kind, text, match.start(), match.end()))
    out = []
    depth = 0
    for i, (kind, text, a, b) in enumerate(raw):
        if kind == tokenize.NAME:
            before = raw[i - 1][1] if i else ""
            after = raw[i + 1][1] if i + 1 < len(raw) else ""
            if (keyword.iskeyword(text) or keyword.issoftkeyword(text) or text in _BUILTINS or text in library
                    or before == "." or (after == "=" and depth > 0)):
                out.append((text, a, b))
            else:
                out.append(("V", a, b))
        elif kind == tokenize.STRING:
            out.append(("S", a, b))
        elif kind == tokenize.NEWLINE:
            out.append((";", a, b))
        else:
            if text in "([{":
                depth += 1
            elif text in ")]}":
                depth = max(0, depth - 1)
            out.append((text, a, b))
    return out


# --- text ---------------------------------------------------------------------------------------------

def text_tokens(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of a written answer, lower-cased."""
    return [(m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]
