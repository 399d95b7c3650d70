"""Passage and question vectors for selection, taken from the index where it has them.

MMR needs the similarity between candidate passages, not only their rank. The index
already stores each passage's vector, so reading it back is exact and costs no model
call; only a passage removed meanwhile is re-encoded.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kb.library import KnowledgeBase
from kb.models import Passage


class Vectors:
    """Unit vectors for passage texts and questions, in the index's own embedding space."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._cache: dict[str, np.ndarray] = {}

    def passages(self, passages: Sequence[Passage]) -> np.ndarray:
        """The stored vector of each passage (what ingestion embedded for it, context included)."""
        db = self.kb.index.db
        wanted = [p for p in dict.fromkeys(p.passage_id for p in passages) if p not in self._cache]
        if wanted:
            rowids = {pid: db.rowid_of(pid) for pid in wanted}
            ids, vecs = db.vectors_for([r for r in rowids.values() if r is not None])
            by_rowid = {int(r): v for r, v in zip(ids, vecs)}
            missing = []
            for pid, rowid in rowids.items():
                if rowid in by_rowid:
                    self._cache[pid] = _unit(by_rowid[rowid])
                else:
                    missing.append(pid)
            if missing:  # removed since it was found: encode its text
                texts = {p.passage_id: p.text for p in passages}
                for pid, vec in zip(missing, self.kb.index.embedder.encode_passages([texts[m] for m in missing])):
                    self._cache[pid] = _unit(vec)
        dim = self.kb.index.dim or self.kb.index.embedder.dim
        if not passages:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._cache[p.passage_id] for p in passages])

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.kb.index.embedder.encode_queries(list(texts))

    def excerpts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for parts of passages (not stored in the index, so encoded here)."""
        return self.kb.index.embedder.encode_passages(list(texts))


def _unit(vec: np.ndarray) -> np.ndarray:
    vec = np.asarray(vec, dtype=np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec
