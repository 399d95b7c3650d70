"""Any sentence-transformers model, by hub name or local path (the ``st`` extra).

torch is imported here and only here, so the core install and the CLI stay light.
e5-family models get their ``query: `` / ``passage: `` prefixes automatically.
"""

from __future__ import annotations

import os

import numpy as np

from kb.embed.base import Embedder
from kb.errors import UsageError


def _prefixes(model_name: str) -> tuple[str, str]:
    lowered = model_name.lower()
    if "e5" in lowered.replace("-", "").split("/")[-1] or "/e5" in lowered or "-e5-" in lowered:
        return "query: ", "passage: "
    return "", ""


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str) -> None:
        from kb.hub import check_loadable

        check_loadable(model, "sentence-transformers model")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise UsageError(
                "sentence-transformers is not installed: pip install 'kb[st]' "
                "(and torch==2.13.0 for the CPU build)"
            ) from err
        self.name = "st:" + model
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as err:  # noqa: BLE001 - hub/network/path errors vary by version
            hint = "" if os.environ.get("HF_HUB_OFFLINE") != "1" else " (HF_HUB_OFFLINE=1: use a local path)"
            raise UsageError(f"cannot load sentence-transformers model {model!r}{hint}: {err}") from err
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._query_prefix, self._passage_prefix = _prefixes(model)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self._query_prefix if is_query else self._passage_prefix
        return self._model.encode(
            [prefix + t for t in texts], batch_size=32, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
