"""Choosing a topic's quotes from its scored candidates: MMR with a document penalty.

Why: the raw ranking of a corpus dominated by one long paper quotes that paper four
times with near-identical paragraphs. A facilitator needs the best *different*
points, from several sources where the corpus has them, so each pick trades
relevance against similarity to what the topic already quotes, and each passage
already taken from the same document costs extra.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from kb.search.group import text_key
from kb.models import Citation, Passage
from kb.text.urls import without_urls as strip_urls

#: weight of relevance against redundancy in MMR
LAMBDA = 0.7
#: cost of each passage already chosen from the same document (relevance is scaled to 0..1)
DOC_PENALTY = 0.15
MIN_LETTERS = 100
#: a passage quoted under another topic is quoted again under a topic short of quotes when the
#: topic ranks it this high (candidates are scaled 0..1 per topic, kb/brief/pool.py)
REPEAT_MIN = 0.75
_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"'”»)]|$)")


@dataclass
class Candidate:
    passage: Passage
    citation: Citation
    vector: np.ndarray
    relevance: float = 0.0  # see kb.brief.pool: cosine to the closest question, corrected
    score: float = 0.0  # relevance scaled to 0..1 over the topic's candidates, with the language bonus
    translations: list[dict[str, Any]] = field(default_factory=list)  # from Hit.extra

    @property
    def passage_id(self) -> str:
        return self.passage.passage_id

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id


def quotable(text: str) -> bool:
    """A passage worth printing: real prose, not a bare heading, link list or page furniture."""
    without_urls = strip_urls(text)
    letters = sum(ch.isalpha() for ch in without_urls)
    # a heading has no full stop; a list item may end with ";" or ":"
    prose = bool(_SENTENCE_END.search(without_urls)) or without_urls.rstrip()[-1:] in (";", ":")
    return prose and letters >= MIN_LETTERS and letters >= 0.5 * len(text.strip())


class Picker:
    """MMR, one pick at a time, so that each quote's translations are excluded before the next pick.

    A candidate is skipped outright when its id is in ``used_ids`` (already quoted, or a
    translation of something quoted) or its text is in ``used_keys`` (the same text in
    another file; kb.search.group.text_key). Vectors cannot tell: e5 puts a list's items, which
    share their embedded header, above any fixed threshold. Among the rest, each pick
    trades relevance against similarity to this topic's quotes, and each quote already
    taken from the same document costs ``DOC_PENALTY``.
    """

    def __init__(self, cands: Sequence[Candidate]) -> None:
        self.pool = list(cands)
        self.vectors: list[np.ndarray] = []
        self.per_doc: Counter[str] = Counter()

    def pick(self, used_ids: set[str], used_keys: set[str]) -> Candidate | None:
        self.pool = [c for c in self.pool
                     if c.passage_id not in used_ids and text_key(c.passage.text) not in used_keys]
        if not self.pool:
            return None
        best = max(self.pool, key=lambda c: (self._value(c), c.score, c.passage_id))
        self.pool.remove(best)
        return best

    def record(self, doc_id: str, vector: np.ndarray) -> None:
        """What was actually quoted (after a swap to the preferred language)."""
        self.per_doc[doc_id] += 1
        self.vectors.append(vector)

    def _value(self, c: Candidate) -> float:
        sim = max((float(c.vector @ v) for v in self.vectors), default=0.0)
        return LAMBDA * c.score - (1 - LAMBDA) * sim - DOC_PENALTY * self.per_doc[c.doc_id]

