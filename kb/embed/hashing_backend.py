"""A deterministic, model-free embedder for tests of plumbing, not of ranking.

Tests that check citations, filters, exit codes or the API's shape need vectors, not good
ones; loading e5 and embedding with it made the suite spend most of its time there. This
backend hashes words and character trigrams into a fixed number of buckets, so the same
text always gives the same vector on any machine, texts that share words are near each
other, and encoding costs microseconds. It is never a default and never offered by
`kb models`: an index built with it says so, and answers to no other model.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

from kb.embed.base import Embedder

_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


def _folded(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if not unicodedata.combining(c))


class HashingEmbedder(Embedder):
    name = "test-hash"
    dim = 256
    #: words hashed into 4,096 features, weighted by count: a sparse head for plumbing tests
    sparse_head = "test-hash-words"
    SPARSE_DIM = 4096

    def encode_sparse(self, texts):
        out = []
        for text in texts:
            counts: dict[int, float] = {}
            for word in _WORD.findall(_folded(text)):
                if len(word) > 3:
                    col = _bucket("s:" + word, self.SPARSE_DIM)[0]
                    counts[col] = counts.get(col, 0.0) + 1.0
            ids = np.array(sorted(counts, key=lambda c: (-counts[c], c)), dtype=np.int32)
            out.append((ids, np.array([counts[c] for c in ids], dtype=np.float32)))
        return out

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(_folded(text)):
                col, sign = _bucket("w:" + word, self.dim)
                out[row, col] += 2.0 * sign
                padded = f"#{word}#"
                for i in range(len(padded) - 2):
                    col, sign = _bucket("t:" + padded[i:i + 3], self.dim)
                    out[row, col] += sign
        return out
