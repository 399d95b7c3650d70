"""Embedding many passages: length-sorted batches, so padding is not wasted."""

from __future__ import annotations

from typing import Callable

import numpy as np

#: passages per call to the model
EMBED_BATCH = 32


def embed_batched(embedder, texts_by_sha: dict[str, str],
                  progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Embed in length-sorted batches so padding is not wasted; ``progress(n)`` after each batch
    (n embedded so far), so that a long document does not leave a progress display standing still."""
    if not texts_by_sha:
        return {}
    items = sorted(texts_by_sha.items(), key=lambda kv: len(kv[1]))
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(items), EMBED_BATCH):
        batch = items[start : start + EMBED_BATCH]
        vecs = embedder.encode_passages([t for _, t in batch])
        out.update((sha, vec) for (sha, _), vec in zip(batch, vecs))
        if progress is not None:
            progress(len(out))
    return out
