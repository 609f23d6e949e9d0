"""The comparison: every submission with every other and with every archive notebook, on code and on
text separately.

1. Boilerplate. Every k-gram of the released notebook (code and text) is template; so is every
   fingerprint that most of the cohort (or most of the archive) has in common, such as the standard
   matminer calls: those are reported as common material, never as shared between two people. A
   document's *own* material is what is left: its share is measured against that.
2. Candidates. The remaining fingerprints of all documents form one sparse documents x fingerprints
   matrix; one product gives, for every submission, how many fingerprints it shares with every other
   document. Exact (no pair that shares a passage is missed, unlike MinHash-LSH, which estimates the
   Jaccard similarity of whole documents and misses one copied function in a long notebook), and it
   takes a fraction of a second for 200 x 2,200 documents.
3. Pairs. For each candidate, the tokens of each side covered by shared fingerprints: the share of its
   own material that matches, and the passages, cell against cell, for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autograder.similarity.extract import Document
from autograder.similarity.fingerprint import CODE, TEXT, Kind, Tokens, covered

KINDS = (CODE, TEXT)
COMMON_SHARE = 0.5  # a fingerprint in more than this share of the cohort (or of the archive) is common
COMMON_MIN = 3  # ... and in at least this many documents
MIN_SHARED = 2  # fingerprints two documents must share to be compared at all
PASSAGES_PER_KIND = 6


@dataclass
class Prepared:
    """One document's material of one kind, with its boilerplate known."""

    tokens: Tokens
    hashes: np.ndarray  # every k-gram
    fp: np.ndarray  # winnowed fingerprints, boilerplate removed
    fp_pos: np.ndarray  # their positions
    own: np.ndarray  # bool per token: neither template nor common
    n_own: int = 0
    n_common: int = 0


@dataclass
class Side:
    share: float
    matched: int
    own: int


@dataclass
class PairScore:
    a: int
    b: int
    score: float
    sides: dict[str, tuple[Side, Side]] = field(default_factory=dict)  # kind -> (a, b)
    shared: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> shared fingerprint hashes


def _rare_limit(n: int) -> int:
    return max(2, math.ceil(0.05 * n))


class Cohort:
    """The documents of one comparison (submissions first, then the archive) and their index."""

    def __init__(self, documents: list[Document], template: Document):
        self.documents = [d for d in documents if d.origin == "cohort"] + [
            d for d in documents if d.origin == "archive"
        ]
        self.template = template
        self.cohort = [i for i, d in enumerate(documents) if d.origin == "cohort"]
        self.archive = [i for i, d in enumerate(documents) if d.origin == "archive"]
        self.prepared: dict[str, list[Prepared]] = {}
        self.common: dict[str, set[int]] = {}
        for kind in KINDS:
            self._prepare(kind)
        self._choices_frequency()

    # --- boilerplate ----------------------------------------------------------------------------------
    def _prepare(self, kind: Kind) -> None:
        template_tokens = self.template.tokens(kind.name)
        template = set(template_tokens.kgram_hashes(kind.k).tolist())
        raw = []
        for doc in self.documents:
            tokens = doc.tokens(kind.name)
            hashes = tokens.kgram_hashes(kind.k)
            fp, pos = tokens.fingerprints(hashes, kind.window)
            raw.append((tokens, hashes, fp, pos))
        frequency: dict[str, dict[int, int]] = {"cohort": {}, "archive": {}}
        for (_, _, fp, _), doc in zip(raw, self.documents):
            counts = frequency[doc.origin]
            for h in set(fp.tolist()):
                counts[h] = counts.get(h, 0) + 1
        common = set()
        for origin, members in (("cohort", self.cohort), ("archive", self.archive)):
            limit = max(COMMON_MIN, COMMON_SHARE * len(members))
            common.update(h for h, n in frequency[origin].items() if n >= limit and n > 1)
        common -= template
        self.common[kind.name] = common
        boiler = np.fromiter(template | common, dtype=np.uint64, count=len(template | common))
        template_array = np.fromiter(template, dtype=np.uint64, count=len(template))
        common_array = np.fromiter(common, dtype=np.uint64, count=len(common))
        prepared = []
        for tokens, hashes, fp, pos in raw:
            n = len(tokens)
            in_template = covered(np.flatnonzero(np.isin(hashes, template_array)), kind.k, n)
            in_common = covered(np.flatnonzero(np.isin(hashes, common_array)), kind.k, n) & ~in_template
            keep = ~np.isin(fp, boiler)
            own = ~(in_template | in_common)
            prepared.append(
                Prepared(tokens, hashes, fp[keep], pos[keep], own, int(own.sum()), int(in_common.sum()))
            )
        self.prepared[kind.name] = prepared

    def _choices_frequency(self) -> None:
        self.choice_counts: dict[str, int] = {}
        self.result_counts: dict[str, int] = {}
        for doc in self.documents:
            for choice in doc.choices - self.template.choices:
                self.choice_counts[choice] = self.choice_counts.get(choice, 0) + 1
            for result in doc.results:
                self.result_counts[result] = self.result_counts.get(result, 0) + 1

    # --- candidates -----------------------------------------------------------------------------------
    def candidates(self) -> dict[tuple[int, int], float]:
        """Every (submission, other document) pair sharing at least MIN_SHARED fingerprints of one kind
        (submission pairs once each, archive notebooks never with each other), with an estimate of its
        score from the fingerprint counts alone: the mean over the two sides of the share of each
        side's fingerprints that the other has (the larger of code and text)."""
        from scipy import sparse  # only the comparison needs it

        found: dict[tuple[int, int], float] = {}
        if not self.cohort:
            return found
        first_archive = len(self.documents) - len(self.archive)
        cohort = np.array(self.cohort)
        for kind in KINDS:
            sets = [np.unique(p.fp) for p in self.prepared[kind.name]]
            sizes = np.array([max(1, len(s)) for s in sets], dtype=float)
            if not any(len(s) for s in sets):
                continue
            vocabulary, columns = np.unique(np.concatenate(sets), return_inverse=True)
            rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
            matrix = sparse.csr_matrix(
                (np.ones(len(rows), dtype=np.int32), (rows, columns)), shape=(len(sets), len(vocabulary))
            )
            counts = (matrix[cohort] @ matrix.T).tocoo()
            a, b, shared = cohort[counts.row], counts.col, counts.data
            # a submission with a later submission, or with any archive notebook
            keep = (shared >= MIN_SHARED) & ((b > a) | (b >= first_archive))
            a, b, shared = a[keep], b[keep], shared[keep]
            estimate = (shared / sizes[a] + shared / sizes[b]) / 2
            for pair, value in zip(zip(a.tolist(), b.tolist()), estimate.tolist()):
                if value > found.get(pair, -1.0):
                    found[pair] = value
        return found

    # --- pairs ----------------------------------------------------------------------------------------
    def score(self, a: int, b: int) -> PairScore:
        """The share of each side's own code and own text that the other side has too. The pair's score
        is the larger of its code score and its text score, each the mean of the two sides' shares
        (a kind counts only when both sides have enough own material of it)."""
        pair = PairScore(a, b, 0.0)
        for kind in KINDS:
            pa, pb = self.prepared[kind.name][a], self.prepared[kind.name][b]
            shared = np.intersect1d(pa.fp, pb.fp)
            pair.shared[kind.name] = shared
            sides = []
            for p in (pa, pb):
                positions = p.fp_pos[np.isin(p.fp, shared)]
                matched = int((covered(positions, kind.k, len(p.tokens)) & p.own).sum())
                sides.append(Side(matched / p.n_own if p.n_own else 0.0, matched, p.n_own))
            pair.sides[kind.name] = (sides[0], sides[1])
            if len(shared) >= MIN_SHARED and min(pa.n_own, pb.n_own) >= kind.min_own:
                pair.score = max(pair.score, (sides[0].share + sides[1].share) / 2)
        return pair

    def all_pairs(self, pairs=None) -> list[PairScore]:
        """Scores of the given pairs (default: every pair of documents a submission is in), highest first."""
        if pairs is None:
            n = len(self.documents)
            pairs = [(a, b) for a in self.cohort for b in range(a + 1, n)]
        return sorted((self.score(a, b) for a, b in pairs), key=lambda p: -p.score)

    # --- evidence for the report ----------------------------------------------------------------------
    def passages(self, pair: PairScore, kind: Kind) -> list[dict]:
        """Matched passages, cell against cell: each side's cell text and the spans to highlight."""
        pa, pb = self.prepared[kind.name][pair.a], self.prepared[kind.name][pair.b]
        shared = pair.shared[kind.name]
        if not len(shared):
            return []
        groups: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        pos_b: dict[int, list[int]] = {}
        for h, p in zip(pb.fp.tolist(), pb.fp_pos.tolist()):
            pos_b.setdefault(h, []).append(p)
        wanted = set(shared.tolist())
        for h, p in zip(pa.fp.tolist(), pa.fp_pos.tolist()):
            if h not in wanted:
                continue
            for q in pos_b.get(h, []):
                group = groups.setdefault((int(pa.tokens.cell[p]), int(pb.tokens.cell[q])), ([], []))
                group[0].append(p)
                group[1].append(q)
        out = []
        for (unit_a, unit_b), (positions_a, positions_b) in groups.items():
            mask_a = (
                covered(np.array(positions_a), kind.k, len(pa.tokens)) & (pa.tokens.cell == unit_a) & pa.own
            )
            mask_b = (
                covered(np.array(positions_b), kind.k, len(pb.tokens)) & (pb.tokens.cell == unit_b) & pb.own
            )
            if not mask_a.any() or not mask_b.any():
                continue
            doc_a, doc_b = self.documents[pair.a], self.documents[pair.b]
            cell_a, cell_b = pa.tokens.cells[unit_a], pb.tokens.cells[unit_b]
            out.append(
                {
                    "kind": kind.name,
                    "tokens": int(min(mask_a.sum(), mask_b.sum())),
                    "a": {
                        "cell": cell_a,
                        "label": doc_a.labels.get(cell_a, f"cell {cell_a + 1}"),
                        "text": pa.tokens.texts[unit_a],
                        "spans": pa.tokens.spans(mask_a).get(unit_a, []),
                    },
                    "b": {
                        "cell": cell_b,
                        "label": doc_b.labels.get(cell_b, f"cell {cell_b + 1}"),
                        "text": pb.tokens.texts[unit_b],
                        "spans": pb.tokens.spans(mask_b).get(unit_b, []),
                    },
                }
            )
        out.sort(key=lambda g: -g["tokens"])
        return out[:PASSAGES_PER_KIND]

    def shared_choices(self, pair: PairScore) -> dict[str, list[str]]:
        """Settings and printed results both sides have and (almost) nobody else has."""
        limit = _rare_limit(len(self.documents))
        a, b = self.documents[pair.a], self.documents[pair.b]
        choices = sorted(
            c
            for c in (a.choices & b.choices) - self.template.choices
            if self.choice_counts.get(c, 0) <= limit
        )
        results = sorted(r for r in a.results & b.results if self.result_counts.get(r, 0) <= limit)
        return {"choices": choices, "results": results}

    def common_passages(self, kind: Kind, limit: int = 8) -> list[dict]:
        """What most of the cohort has in common (discounted): a few passages, each with how many
        submissions have it."""
        common = self.common[kind.name]
        if not common or not self.cohort:
            return []
        counts = {}
        for i in self.cohort:
            for h in set(self.prepared[kind.name][i].hashes.tolist()) & common:
                counts[h] = counts.get(h, 0) + 1
        best = max(self.cohort, key=lambda i: self.prepared[kind.name][i].n_common)
        prepared = self.prepared[kind.name][best]
        in_common = np.isin(prepared.hashes, np.fromiter(common, dtype=np.uint64, count=len(common)))
        mask = covered(np.flatnonzero(in_common), kind.k, len(prepared.tokens)) & ~prepared.own
        out = []
        for unit, spans in prepared.tokens.spans(mask).items():
            text = prepared.tokens.texts[unit]
            for start, end in spans:
                inside = [
                    counts.get(int(h), 0)
                    for h, s in zip(prepared.hashes, prepared.tokens.start)
                    if start <= s < end and int(h) in counts
                ]
                out.append(
                    {
                        "text": text[start:end],
                        "documents": max(inside) if inside else 0,
                        "length": end - start,
                    }
                )
        out.sort(key=lambda c: -c["length"])
        return out[:limit]
