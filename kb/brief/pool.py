"""Candidates for every topic: search each question, then score passages against all topics.

Why score against all topics at once:

- Relevance is the dense cosine to the topic's closest question (comparable across
  questions and languages, unlike RRF scores), plus the passage's best rank in the
  hybrid (dense + keyword) searches, so that exact-term matches (DT4E, EU-Passworld)
  and the keyword side's precision on the corpus's own language count too.
- Some passages (a paper's general introduction) sit close to *every* question. Their
  mean closeness over the pack's topics is partly subtracted (a hubness correction, as
  in CSLS), so each topic gets the passages that are about *it*.
- Topics are filled in order and a passage is quoted once, so an early topic could take
  a passage that a later topic needs far more. A passage clearly closer to another
  topic, and among that topic's likely picks, is held back (``OWNER_PENALTY``) from
  the topics it fits less.
- When a preferred language is set, each question is also searched in that language
  alone, and passages in it get ``LANG_MARGIN``: they win over ones barely more relevant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kb.brief.select import Candidate, quotable
from kb.brief.topics import TopicSpec
from kb.brief.vectors import Vectors
from kb.library import KnowledgeBase
from kb.models import Hit

SEARCH_K = 20
#: weight of the hybrid rank (1 for a search's first hit, falling linearly to 0 after the k-th)
FUSED_WEIGHT = 0.2
#: share of a passage's mean closeness to all topics that is subtracted
HUB_WEIGHT = 0.5
#: a passage this much closer to another topic belongs there ...
OWNER_MARGIN = 0.05
#: ... and pays this much (in relevance) under the others
OWNER_PENALTY = 0.1
#: a passage in the preferred language wins over one up to this much more relevant
LANG_MARGIN = 0.05
#: candidates this far below the topic's best are not worth quoting at all
RELEVANCE_FLOOR = 0.25


@dataclass
class Pool:
    """What the searches of one topic returned: hits by passage id, and each one's best rank score."""

    hits: dict[str, Hit] = field(default_factory=dict)
    fused: dict[str, float] = field(default_factory=dict)


def search_pool(kb: KnowledgeBase, topic: TopicSpec, lang: str | None, k: int = SEARCH_K) -> Pool:
    from kb.brief.lesson_topics import topic_types

    pool = Pool()
    types = topic_types(topic)  # a topic of type "barrier" quotes only passages labelled so
    if lang and not kb.index.db.holds_language([lang]):
        lang = None  # a preference no passage can meet (a French pack of English documents) is no filter
    for question in topic.questions:
        result = kb.search(question, k=k, mode="hybrid", types=types)
        for rank, hit in enumerate(result.hits):
            pid = hit.passage.passage_id
            pool.hits.setdefault(pid, hit)
            pool.fused[pid] = max(pool.fused.get(pid, 0.0), 1.0 - rank / k)
        if lang:  # candidates in the preferred language even when other languages outrank them
            for hit in kb.search(question, k=k, langs=[lang], mode="hybrid", types=types).hits:
                pool.hits.setdefault(hit.passage.passage_id, hit)
    pool.hits = {pid: h for pid, h in pool.hits.items() if quotable(h.passage.text)}
    return pool


def candidates(kb: KnowledgeBase, vectors: Vectors, topics: list[TopicSpec], lang: str | None,
               quotas: list[int], k: int = SEARCH_K) -> list[list[Candidate]]:
    """For each topic, its scored candidates, best first."""
    pools = [search_pool(kb, t, lang, k) for t in topics]
    hits: dict[str, Hit] = {}
    for pool in pools:
        for pid, hit in pool.hits.items():
            hits.setdefault(pid, hit)
    if not hits:
        return [[] for _ in topics]
    ids = list(hits)
    pvecs = vectors.passages([hits[pid].passage for pid in ids])
    # closeness[i, t]: cosine of passage i to topic t's closest question, plus its hybrid rank there
    closeness = np.stack([(pvecs @ vectors.queries(t.questions).T).max(axis=1) for t in topics], axis=1)
    fused = np.array([[pool.fused.get(pid, 0.0) for pool in pools] for pid in ids])
    closeness = closeness + FUSED_WEIGHT * fused
    hub = closeness.mean(axis=1) if len(topics) > 1 else np.zeros(len(ids))
    relevance = closeness - HUB_WEIGHT * hub[:, None]
    likely = _likely_picks(ids, relevance, pools, quotas)
    out: list[list[Candidate]] = []
    for t, pool in enumerate(pools):
        cands = []
        for i, pid in enumerate(ids):
            if pid not in pool.hits:
                continue
            rel = float(relevance[i, t])
            if any(u != t and relevance[i, u] > rel + OWNER_MARGIN for u in likely[pid]):
                rel -= OWNER_PENALTY
            hit = hits[pid]
            cands.append(Candidate(hit.passage, hit.citation, pvecs[i], relevance=rel,
                                   translations=list(hit.extra.get("translations") or [])))
        out.append(_scale(cands, lang))
    return out


def _likely_picks(ids: list[str], relevance: np.ndarray, pools: list[Pool], quotas: list[int]) -> dict[str, set[int]]:
    """The topics in whose top (2 x quota) candidates each passage is: where it is likely quoted."""
    likely: dict[str, set[int]] = {pid: set() for pid in ids}
    for t, pool in enumerate(pools):
        ranked = sorted((i for i, pid in enumerate(ids) if pid in pool.hits), key=lambda i: -relevance[i, t])
        for i in ranked[: 2 * quotas[t]]:
            likely[ids[i]].add(t)
    return likely


def _scale(cands: list[Candidate], lang: str | None) -> list[Candidate]:
    """Keep those near the best; scale relevance to 0..1 (plus the language bonus) for MMR."""
    if not cands:
        return []
    for c in cands:
        c.relevance += LANG_MARGIN if lang and c.passage.lang == lang else 0.0
    best = max(c.relevance for c in cands)
    kept = [c for c in cands if c.relevance >= best - RELEVANCE_FLOOR]
    low = min(c.relevance for c in kept)
    span = (best - low) or 1.0
    for c in kept:
        c.score = (c.relevance - low) / span if best > low else 1.0
    return sorted(kept, key=lambda c: (-c.score, c.passage_id))
