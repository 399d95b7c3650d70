"""Fusion: one ranked list of candidates from the dense, keyword and companion lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class Candidate:
    rowid: int
    score: float = 0.0
    dense: float | None = None
    keyword: float | None = None
    companion: float | None = None
    #: bm25 of the passage's pivot-language text against the translated question
    pivot: float | None = None
    #: dot product of the passage's sparse code with the question's (kb/search/sparse.py)
    sparse: float | None = None
    rerank: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)


def in_sorted(sorted_ids: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Which of ``ids`` are in ``sorted_ids`` (a filter's rowids, Database.rowids_where): a boolean
    mask, without building a Python set of a 400k-passage filter."""
    wanted = np.asarray(ids, dtype=np.int64)
    if len(sorted_ids) == 0 or len(wanted) == 0:
        return np.zeros(len(wanted), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, wanted), len(sorted_ids) - 1)
    return sorted_ids[pos] == wanted


def fuse(lists: dict[str, list[tuple[int, float]]], weights: dict[str, float], rrf_k: int,
         item_weights: dict[str, dict[int, float]] | None = None) -> list[Candidate]:
    """Weighted reciprocal rank fusion; a single list keeps its own order.

    ``item_weights[list][rowid]`` scales one item's share (cross-lingual keyword matches).
    """
    cands: dict[int, Candidate] = {}
    for name, ranked in lists.items():
        scale = (item_weights or {}).get(name, {})
        for rank, (rowid, raw) in enumerate(ranked, start=1):
            cand = cands.setdefault(rowid, Candidate(rowid))
            cand.ranks[name] = rank
            setattr(cand, name, raw)
            cand.score += weights.get(name, 1.0) * scale.get(rowid, 1.0) / (rrf_k + rank)
    if len(lists) == 1:
        (name,) = lists
        for cand in cands.values():
            cand.score = getattr(cand, name)
    return sorted(cands.values(), key=lambda c: (-c.score, c.rowid))


#: how deep each list is read for the top of a ranking (a search for ten hits reads this deep)
HEAD_DEPTH = 50


def fuse_head_first(lists: dict[str, list[tuple[int, float]]],
                    fuse_lists: Callable[[dict[str, list[tuple[int, float]]]], list[Candidate]],
                    head: int = HEAD_DEPTH) -> list[Candidate]:
    """``fuse_lists`` over each list's first ``head`` entries, then over the whole lists for
    the candidates after those. Fusion and the language shares read every rank of every list,
    so fusing deeper lists reorders the top: a search for 50 hits showed other first five than
    a search for 10. Here a deeper search only lengthens the tail."""
    if len(lists) < 2 or all(len(found) <= head for found in lists.values()):
        return fuse_lists(lists)
    top = fuse_lists({name: found[:head] for name, found in lists.items()})
    seen = {c.rowid for c in top}
    tail = [c for c in fuse_lists(lists) if c.rowid not in seen]
    floor = top[-1].score if top else 0.0
    for cand in tail:  # scores keep following the order shown
        cand.score = floor = min(cand.score, floor)
    return top + tail


def head_first(ranked: list[tuple[int, float]], head_ids: set[int], head: int = HEAD_DEPTH) -> list[tuple[int, float]]:
    """``ranked`` with its first ``head`` entries drawn from ``head_ids`` only (the candidates a
    search of the head's depth starts from), then the rest in order. A list re-scored after a
    search (language centering, demotion, the bridge) otherwise changes its top with the depth
    searched: a wider pool lets in passages the first search would not have found, and more
    of them is not better (fully centered scoring over a wide pool ranked worse on the dev half)."""
    top = [item for item in ranked if item[0] in head_ids][:head]
    taken = {rowid for rowid, _ in top}
    return top + [item for item in ranked if item[0] not in taken]


def keep_language_shares(fused: list[Candidate], dense: list[tuple[int, float]], langs: dict[int, str | None],
                         query_lang: str, rrf_k: int) -> list[Candidate]:
    """Fused candidates placed so that each rank holds a passage of the language dense put there.

    Keyword matching only sees the question's language, so in an index that mixes languages
    its bonus lifts same-language passages that merely share words above a better answer in
    another language (XQuAD with each paragraph in one of en/es/ar: English questions whose
    answer was Spanish or Arabic fell from Recall@1 0.43 dense to 0.03 hybrid). Here dense
    (corrected for language bias) decides which ranks go to the question's language and
    which to others; fusion orders the passages within each of the two groups. In an index
    of one language every rank is the question's and this is plain fusion.
    """
    same = [c for c in fused if langs.get(c.rowid) == query_lang]
    other = [c for c in fused if langs.get(c.rowid) != query_lang]
    if not same or not other:
        return fused
    groups = (iter(same), iter(other))
    placed: list[Candidate] = []
    for rowid, _ in dense:
        nxt = next(groups[0 if langs.get(rowid) == query_lang else 1], None)
        if nxt is not None:
            placed.append(nxt)
    seen = {c.rowid for c in placed}
    placed += [c for c in fused if c.rowid not in seen]  # found by keywords only, after dense ran out
    for rank, cand in enumerate(placed, start=1):  # scores follow the order shown
        cand.score = 1.0 / (rrf_k + rank)
    return placed
