"""The sparse list of hybrid search: passages by the dot product of their code with the question's
(kb/derived/sparse.py).

Codes are read from SQLite into an inverted index (for each feature, the passages that
have it and their weights), rebuilt when passages or codes change. A question's code has
at most 256 features and a feature is held by about 1/64 of the passages, so scoring
touches a few passages per passage stored, not every code.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

import numpy as np

from kb.search.fusion import in_sorted

if TYPE_CHECKING:
    from kb.index import Index
    from kb.settings import Settings

Code = tuple[np.ndarray, np.ndarray]


class Postings:
    """Every passage's code, grouped by feature: the passages holding feature ``f`` are
    ``rows[starts[f]:starts[f + 1]]`` with their weights beside them (6 bytes a posting, about
    1.5 KB a passage: 150 MB at 100k passages)."""

    def __init__(self, rowids: np.ndarray, features: np.ndarray, weights: np.ndarray, row_of: np.ndarray) -> None:
        order = np.argsort(features, kind="stable")
        self.rowids = rowids
        self.rows = row_of[order]
        self.weights = weights[order].astype(np.float16)
        ordered = features[order]
        self.starts = np.searchsorted(ordered, np.arange((int(ordered[-1]) if len(ordered) else -1) + 2))

    @classmethod
    def read(cls, db) -> "Postings":
        rowids, features, weights, rows = [], [], [], []
        for n, (rowid, ids, vals) in enumerate(db.iter_codes()):
            rowids.append(rowid)
            features.append(ids.astype(np.int32))
            weights.append(vals)
            rows.append(np.full(len(ids), n, dtype=np.int32))
        if not rowids:
            empty = np.zeros(0, np.int32)
            return cls(np.zeros(0, np.int64), empty, np.zeros(0, np.float16), empty)
        return cls(np.asarray(rowids, np.int64), np.concatenate(features), np.concatenate(weights), np.concatenate(rows))

    @property
    def nbytes(self) -> int:
        return self.rowids.nbytes + self.rows.nbytes + self.weights.nbytes + self.starts.nbytes

    def scores(self, code: Code) -> np.ndarray:
        """Each passage's dot product with ``code`` (row order of ``rowids``)."""
        ids = np.asarray(code[0], np.int64)
        known = (ids >= 0) & (ids < len(self.starts) - 1)  # a feature no passage has holds nothing
        ids, vals = ids[known], np.asarray(code[1], np.float32)[known]
        starts, lengths = self.starts[ids], self.starts[ids + 1] - self.starts[ids]
        if not lengths.any():
            return np.zeros(len(self.rowids), dtype=np.float32)
        # the positions of every posting of the question's features, and each one's query weight
        at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        query = np.repeat(vals, lengths)
        return np.bincount(self.rows[at], weights=self.weights[at] * query, minlength=len(self.rowids)).astype(np.float32)


class SparseSearch:
    """One index's sparse side: whether it applies, the question's code, the nearest passages."""

    CACHE_SIZE = 1024
    #: at most this share of a busy reader's time goes to rebuilding postings: 1 / REBUILD_FACTOR
    REBUILD_FACTOR = 10

    def __init__(self, index: "Index", settings: "Settings") -> None:
        self.index = index
        self.settings = settings
        self._postings: tuple[tuple[int, int], Postings] | None = None
        self._built_at = self._build_seconds = 0.0
        self._codes: OrderedDict[str, Code] = OrderedDict()

    def applies(self, mode: str) -> bool:
        """Hybrid search of an index that keeps codes, with a weight for them."""
        from kb.derived.sparse import head_of

        return mode == "hybrid" and self.settings.sparse_weight > 0 and head_of(self.index) is not None

    def start(self, text: str, submit: Callable) -> Callable[[], Code]:
        """Start coding ``text`` (``submit``: an executor's, so it runs beside the dense embedding)."""
        code = self._codes.get(text)
        if code is not None:
            return lambda: code
        future = submit(self.index.embedder.encode_sparse, [text])

        def result() -> Code:
            found = future.result()[0]
            self._codes[text] = found
            while len(self._codes) > self.CACHE_SIZE:
                self._codes.popitem(last=False)
            return found

        return result

    def nearest(self, code: Code, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The ``depth`` passages with the highest positive dot product, within ``allowed``."""
        postings = self._current()
        if not len(postings.rowids):
            return []
        scores = postings.scores(code)
        if allowed is not None:
            scores[~in_sorted(allowed, postings.rowids)] = 0.0
        hit = np.flatnonzero(scores > 0)
        top = hit[np.argsort(-scores[hit], kind="stable")[:depth]]
        return [(int(postings.rowids[i]), float(scores[i])) for i in top]

    def _current(self) -> Postings:
        """The postings, rebuilt when passages or codes changed, but not more often than
        every ``REBUILD_FACTOR`` times the last build took: while an ingest commits document
        after document, a server would otherwise rebuild them for nearly every search. Stale
        postings still answer: passages removed since are dropped at citation, and new ones
        are found by the other lists until the next build."""
        db = self.index.db
        version = (db.generation(), db.codes_version())
        if self._postings is None or (self._postings[0] != version and
                                      time.monotonic() - self._built_at >= self.REBUILD_FACTOR * self._build_seconds):
            started = time.monotonic()
            self._postings = (version, Postings.read(db))
            self._built_at = time.monotonic()
            self._build_seconds = self._built_at - started
        return self._postings[1]
