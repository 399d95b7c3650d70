"""How a serving process holds an index it only reads: a connection per thread, mapped vectors.

``kb serve --workers N`` runs N processes over one index (kb/serving.py). Each process
gives every thread that reads its own read-only SQLite connection, so no connection is
ever used by two threads; and it maps the writer's FAISS snapshot file instead of reading
it into its own memory, so the N processes share one copy of the vectors in the page cache.

A mapped index cannot be changed. When another process's ingest moves the database to a
generation whose snapshot is not written yet, the reader brings a private copy up to it
(kb/store/live.py, as any reader does) and maps the writer's file again as soon as the
writer has saved that generation: the private copy lives only while an ingest runs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from kb.store.db import Database
from kb.store.live import LiveVectors
from kb.store.vectors import VectorIndex

#: bytes of the database file each reader connection maps: its pages are then read from the
#: page cache every process shares, not copied into each connection's own cache
MMAP_BYTES = 1 << 30


class ThreadDatabase(Database):
    """A read-only ``Database`` whose ``conn`` is the calling thread's own connection."""

    def __init__(self, index_dir: Path, readonly: bool = True) -> None:
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        super().__init__(index_dir, readonly=True)  # never writes, whatever it is asked

    @property  # type: ignore[override]
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect_readonly()
            self.conn = conn
        return conn

    @conn.setter
    def conn(self, value: sqlite3.Connection) -> None:
        value.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        self._local.conn = value
        with self._opened_lock:
            self._opened.append(value)

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # another thread's: SQLite closes it with the process
                pass
        self._local = threading.local()


class MappedLiveVectors(LiveVectors):
    """``LiveVectors`` that map the snapshot of the current generation whenever there is one."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stamp_seen: tuple[int, int] | None = None

    def current(self) -> VectorIndex:
        with self._lock:
            vectors = super().current()
            if not vectors.mapped and self._stamp_changed():
                mapped = VectorIndex.load(self.folder, self._dim(), self._generation, name=self.name, mmap=True)
                if mapped is not None:  # the writer saved this generation: share its file again
                    self._vectors = vectors = mapped
            return vectors

    def _stamp_changed(self) -> bool:
        """Whether the snapshot's stamp was rewritten since last asked (one stat, no reading)."""
        try:
            stat = os.stat(self.folder / f"{self.name}.json")
        except OSError:
            return False
        seen = (stat.st_mtime_ns, stat.st_ino)
        changed, self._stamp_seen = seen != self._stamp_seen, seen
        return changed

    def _load(self, generation: int) -> VectorIndex:
        mapped = VectorIndex.load(self.folder, self._dim(), generation, name=self.name, mmap=True)
        if mapped is not None:
            return mapped
        if self._vectors is not None and self._vectors.mapped:
            self._vectors = None  # a mapped index cannot be caught up: start a private copy
        return super()._load(generation)
