"""Optional second stage: a sentence-transformers CrossEncoder reorders the fused candidates.

A cross-encoder reads the question and the passage together, which ranks better than two
separate embeddings but costs one model call per candidate, so it only sees the top
``depth`` fused candidates. Off unless a model is named (``kb search --rerank MODEL``,
``KB_RERANKER``); it needs the ``st`` extra (torch), imported only then.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Sequence

from kb.errors import UsageError

#: fused candidates the cross-encoder scores
DEPTH = 30


class Reranker:
    def __init__(self, model: str) -> None:
        from kb.hub import check_loadable

        check_loadable(model, "cross-encoder")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as err:
            raise UsageError("reranking needs sentence-transformers: pip install 'kb[st]' "
                             "(and torch==2.13.0 for the CPU build)") from err
        self.name = model
        try:
            self._model = CrossEncoder(model, device="cpu")
        except Exception as err:  # noqa: BLE001 - hub/network/path errors vary by version
            hint = " (HF_HUB_OFFLINE=1: use a local path)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
            raise UsageError(f"cannot load cross-encoder {model!r}{hint}: {err}") from err

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text (higher is better)."""
        if not texts:
            return []
        raw = self._model.predict([(query, t) for t in texts], batch_size=16, show_progress_bar=False)
        return [float(x) for x in (raw.reshape(len(texts), -1)[:, -1] if raw.ndim > 1 else raw)]


@lru_cache(maxsize=2)
def get_reranker(model: str) -> Reranker:
    """Loaded once per process and model: the API keeps it between requests."""
    return Reranker(model)


def rerank(db, text: str, fused: list, model: str, k: int) -> list:
    """The top fused candidates in the cross-encoder's order, scored by it."""
    top = fused[: max(DEPTH, 2 * k)]
    passages = db.passages_by_rowids([c.rowid for c in top])
    top = [c for c in top if c.rowid in passages]
    for cand, score in zip(top, get_reranker(model).scores(text, [passages[c.rowid].text for c in top])):
        cand.rerank = cand.score = score
    return sorted(top, key=lambda c: (-c.score, c.rowid))
