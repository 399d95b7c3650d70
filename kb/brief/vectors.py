"""Passage and question vectors for selection, taken from the index where it has them.

MMR and translation detection need the similarity between candidate passages, not
only their rank. The index already stores one vector per passage text (keyed by the
same hash ingestion uses), so reading it back is exact and costs no model call;
only a text the store does not hold (never, in a consistent index) is re-encoded.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kb.library import KnowledgeBase


class Vectors:
    """Unit vectors for passage texts and questions, in the index's own embedding space."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._cache: dict[str, np.ndarray] = {}

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        from kb.ingest import text_sha

        shas = [text_sha(t) for t in texts]
        wanted = [s for s in dict.fromkeys(shas) if s not in self._cache]
        if wanted:
            stored = self.kb.index.db.cached_vectors(wanted)
            for sha, vec in stored.items():
                self._cache[sha] = _unit(vec)
            missing = [(s, t) for s, t in zip(shas, texts) if s not in self._cache]
            missing = list(dict(missing).items())
            if missing:
                fresh = self.kb.index.embedder.encode_passages([t for _, t in missing])
                for (sha, _), vec in zip(missing, fresh):
                    self._cache[sha] = _unit(vec)
        dim = self.kb.index.dim or self.kb.index.embedder.dim
        if not shas:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._cache[s] for s in shas])

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.kb.index.embedder.encode_queries(list(texts))

    def excerpts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for parts of passages (not stored in the index, so encoded here)."""
        return self.kb.index.embedder.encode_passages(list(texts))


def _unit(vec: np.ndarray) -> np.ndarray:
    vec = np.asarray(vec, dtype=np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec
