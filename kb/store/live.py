"""One model's vectors in memory, kept at the SQLite generation.

An index searches the vectors of its model and, when it has one, of its companion model
(kb/derived/companion.py); both follow the same rules, kept here once: load the snapshot written
for this generation, else catch an older snapshot up from the change log, else rebuild
from SQLite, which holds every vector exactly.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from kb.store.db import Database
from kb.store.vectors import VectorIndex


class LiveVectors:
    """The FAISS index of one vector table (``Database.VECTOR_TABLES``), at the current generation."""

    def __init__(self, db: Database, folder: Path, dim: Callable[[], int], table: str = "embeddings",
                 name: str = "vectors") -> None:
        self.db = db
        self.folder = folder
        self._dim = dim  # a callable: the index's model may not be loaded (or known) yet
        self.table = table
        self.name = name
        self._vectors: VectorIndex | None = None
        self._generation = -1
        self._lock = threading.RLock()

    def current(self) -> VectorIndex:
        """The vectors matching the SQLite generation, caught up or rebuilt when it moved on
        (another process ingested, or a crash left the snapshot behind)."""
        with self._lock:
            generation = self.db.generation()
            if self._vectors is None or generation != self._generation:
                self._vectors = self._load(generation)
                self._generation = generation
            return self._vectors

    def _batches(self):
        return self.db.iter_vectors(table=self.table)

    def _rebuild(self, dim: int) -> VectorIndex:
        return VectorIndex.from_batches(dim, self._batches, self.db.counts()["passages"])

    def _load(self, generation: int) -> VectorIndex:
        dim = self._dim()
        if self._vectors is not None and self._catch_up(self._vectors, self._generation):
            return self._vectors
        exact = VectorIndex.load(self.folder, dim, generation, name=self.name)
        if exact is not None:
            return exact
        stamp = VectorIndex.read_stamp(self.folder, self.name) or {}
        older = stamp.get("generation")
        if isinstance(older, int) and older < generation:
            stale = VectorIndex.load(self.folder, dim, older, name=self.name)
            if stale is not None and self._catch_up(stale, older):
                return stale
        return self._rebuild(dim)

    def _catch_up(self, vectors: VectorIndex, since: int) -> bool:
        """Apply the logged changes after generation ``since``; False if the log is too short."""
        changes = self.db.changes_since(since)
        if changes is None:
            return False
        removed, added = changes
        vectors.remove(removed | added)
        ids, vecs = self.db.vectors_for(added - removed, table=self.table)
        vectors.add(ids, vecs)
        return True

    def apply_change(self, removed: list[int], added: list[int], vectors: np.ndarray, generation: int) -> None:
        """Bring the in-memory index along with a committed transaction."""
        with self._lock:
            current = self._vectors
            if current is None or self._generation != generation - 1:
                self._vectors = None  # someone else wrote too: reload from SQLite on next use
                return
            current.remove(removed)
            current.add(np.asarray(added, dtype=np.int64), vectors)
            self._generation = generation

    def save(self) -> None:
        """Snapshot at the current generation (atomically).

        An ivf index whose lists no longer fit (grown 4x since training, or new topics
        crowding a few lists) is rebuilt from SQLite first: a writer pays for it, once,
        instead of every query paying for long or lopsided lists.
        """
        with self._lock:
            generation = self.db.generation()
            vectors = self.current()
            if vectors.retrain_advised:
                vectors = self._rebuild(vectors.dim)
                self._vectors, self._generation = vectors, generation
            vectors.save(self.folder, generation, self.name)
