"""Passage selection for one topic: pool the hits of its questions, then pick by MMR.

Why MMR with a document penalty: the raw ranking of a corpus dominated by one long
paper quotes that paper four times with near-identical paragraphs. A facilitator
needs the best *different* points, from several sources where the corpus has them,
so each pick trades relevance against similarity to what is already chosen, and a
second passage from the same document costs extra. Why a relevance blend: dense
cosine to the closest question is comparable across questions and languages (RRF
scores are not), while the fused hybrid rank keeps exact-term matches (DT4E,
EU-Passworld) from being lost.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from kb.brief.topics import TopicSpec
from kb.brief.vectors import Vectors
from kb.library import KnowledgeBase
from kb.models import Citation, Hit, Passage

SEARCH_K = 20
#: weight of relevance against redundancy in MMR
LAMBDA = 0.7
#: cost of each passage already chosen from the same document (relevance is scaled to 0..1)
DOC_PENALTY = 0.35
#: weight of the normalised hybrid (RRF) score next to the dense cosine
FUSED_WEIGHT = 0.05
#: a passage in the preferred language wins over one up to this much more relevant
LANG_MARGIN = 0.05
#: candidates this far below the best (in cosine) are not worth quoting at all
RELEVANCE_FLOOR = 0.2
#: two passages this similar say the same thing (a copy of the same text, a translation)
DUPLICATE_SIM = 0.9
MIN_LETTERS = 100
_URL = re.compile(r"https?://\S+|www\.\S+")


@dataclass
class Candidate:
    passage: Passage
    citation: Citation
    vector: np.ndarray
    relevance: float = 0.0  # cosine to the closest question (+ hybrid bonus)
    score: float = 0.0  # relevance scaled to 0..1 over the pool, with the language bonus
    translations: list[dict[str, Any]] = field(default_factory=list)  # from Hit.extra

    @property
    def passage_id(self) -> str:
        return self.passage.passage_id

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id


def quotable(text: str) -> bool:
    """A passage worth printing: real prose, not a bare heading, link list or page furniture."""
    without_urls = _URL.sub(" ", text)
    letters = sum(ch.isalpha() for ch in without_urls)
    return letters >= MIN_LETTERS and letters >= 0.5 * len(text.strip())


def gather(kb: KnowledgeBase, vectors: Vectors, topic: TopicSpec, lang: str | None,
           k: int = SEARCH_K) -> list[Candidate]:
    """All quotable hits of the topic's questions, scored against the closest question."""
    hits: dict[str, Hit] = {}
    fused: Counter[str] = Counter()
    for question in topic.questions:
        result = kb.search(question, k=k, mode="hybrid")
        top = result.hits[0].score if result.hits else 1.0
        for hit in result.hits:
            pid = hit.passage.passage_id
            hits.setdefault(pid, hit)
            fused[pid] = max(fused[pid], hit.score / top if top else 0.0)
        if lang:  # the preferred language gets its own candidates even when others outrank it
            for hit in kb.search(question, k=k, langs=[lang], mode="hybrid").hits:
                hits.setdefault(hit.passage.passage_id, hit)
    chosen = [h for h in hits.values() if quotable(h.passage.text)]
    if not chosen:
        return []
    pvecs = vectors.passages([h.passage.text for h in chosen])
    qvecs = vectors.queries(topic.questions)
    cosine = (pvecs @ qvecs.T).max(axis=1)
    cands = [
        Candidate(h.passage, h.citation, pvecs[i],
                  relevance=float(cosine[i]) + FUSED_WEIGHT * fused[h.passage.passage_id],
                  translations=list(h.extra.get("translations") or []))
        for i, h in enumerate(chosen)
    ]
    return _scale(cands, lang)


def _scale(cands: list[Candidate], lang: str | None) -> list[Candidate]:
    best = max(c.relevance for c in cands)
    kept = [c for c in cands if c.relevance >= best - RELEVANCE_FLOOR]
    low = min(c.relevance for c in kept)
    span = (best - low) or 1.0
    for c in kept:
        bonus = LANG_MARGIN if lang and c.passage.lang == lang else 0.0
        c.score = (c.relevance - low + bonus) / span
    return sorted(kept, key=lambda c: (-c.score, c.passage_id))


def mmr(cands: Sequence[Candidate], quota: int, used: Iterable[np.ndarray] = (),
        used_ids: set[str] | frozenset[str] = frozenset(), used_docs: Counter[str] | None = None) -> list[Candidate]:
    """Pick up to ``quota`` candidates: relevant, unlike each other and unlike earlier topics' quotes.

    ``used`` holds the vectors of passages already in the pack: a candidate that is a
    near-duplicate of one of them (the same text in another file, a translation) is
    skipped outright, as is any passage id in ``used_ids``. ``used_docs`` counts earlier
    topics' quotes per document, so that a document already quoted elsewhere pays half.
    """
    earlier = list(used)
    pool = [c for c in cands if c.passage_id not in used_ids and not _near(c.vector, earlier)]
    chosen: list[Candidate] = []
    per_doc: Counter[str] = Counter()
    before = used_docs or Counter()
    while pool and len(chosen) < quota:
        def value(c: Candidate) -> float:
            sim = max((float(c.vector @ s.vector) for s in chosen), default=0.0)
            penalty = DOC_PENALTY * (per_doc[c.doc_id] + 0.5 * min(before[c.doc_id], 1))
            return LAMBDA * c.score - (1 - LAMBDA) * sim - penalty

        best = max(pool, key=lambda c: (value(c), c.score, c.passage_id))
        chosen.append(best)
        per_doc[best.doc_id] += 1
        pool = [c for c in pool if c is not best and float(c.vector @ best.vector) < DUPLICATE_SIM]
    return chosen


def _near(vector: np.ndarray, others: list[np.ndarray]) -> bool:
    return any(float(vector @ o) >= DUPLICATE_SIM for o in others)
