"""An index opened to be served by one of several processes (``kb serve --workers N``).

Read-only, with a SQLite connection per thread and the FAISS snapshot memory-mapped
(kb/store/readers.py). It follows other processes' ingests like any open index does: each
request compares the database's generation with the one its vectors are at.
"""

from __future__ import annotations

from kb.index import Index
from kb.settings import Settings
from kb.store.readers import MappedLiveVectors, ThreadDatabase


class ServingIndex(Index):
    database_class = ThreadDatabase
    live_vectors_class = MappedLiveVectors

    @classmethod
    def open(cls, settings: Settings, create: bool = False, readonly: bool = True) -> "Index":
        """Always read-only: a serving process never writes the index."""
        return super().open(settings, create=False, readonly=True)
