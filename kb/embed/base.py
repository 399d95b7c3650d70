"""The embedder interface.

Queries and passages are encoded by separate methods because asymmetric models
(e5 and friends) need different prefixes for each; symmetric models just share one path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np


class Embedder(ABC):
    """Turns text into L2-normalised float32 vectors; inner product is cosine."""

    #: recorded in the index; an index refuses any other embedder
    name: str
    dim: int
    #: the model's sparse head, if it has one (kb/derived/sparse.py): recorded beside the model
    sparse_head: str | None = None

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Raw vectors for ``texts`` (shape (n, dim))."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._finish(self._encode(list(texts), True), len(texts))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._finish(self._encode(list(texts), False), len(texts))

    def encode_sparse(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's sparse code: (feature ids, weights), the strongest features only; one
        recipe for questions and passages, scored by dot product."""
        raise NotImplementedError(f"{self.name} has no sparse head")

    def _finish(self, vectors: np.ndarray, n: int) -> np.ndarray:
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(n, self.dim))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
