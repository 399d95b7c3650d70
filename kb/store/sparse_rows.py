"""Sparse codes in SQLite (kb/derived/sparse.py): by text hash like the vectors, so a moved or
re-ingested document keeps its codes, and the search's matrix is rebuilt from here."""

from __future__ import annotations

import sqlite3
from typing import Iterator, Mapping

import numpy as np

from kb.store.keys import SPARSE_TABLE

#: a code as stored: feature ids and their weights
Code = tuple[np.ndarray, np.ndarray]


class SparseRows:
    """The sparse-code rows of Database (a mixin: it needs ``conn``)."""

    conn: sqlite3.Connection

    def has_sparse_table(self) -> bool:
        """False for an index made before sparse codes, opened read-only (nothing created)."""
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (SPARSE_TABLE,)).fetchone() is not None

    def store_codes(self, codes: Mapping[str, Code]) -> None:
        """Codes by text hash (the caller's transaction); a hash already stored keeps its code."""
        self.conn.executemany(
            f"INSERT OR IGNORE INTO {SPARSE_TABLE}(text_sha, ids, vals) VALUES (?, ?, ?)",
            [(sha, np.asarray(ids, np.uint16).tobytes(), np.asarray(vals, np.float16).tobytes())
             for sha, (ids, vals) in codes.items()])

    def missing_codes(self) -> list[tuple[str, str]]:
        """(doc_id, text_sha) of live passages without a code, by document."""
        if not self.has_sparse_table():
            return [(r[0], r[1]) for r in self.conn.execute("SELECT doc_id, text_sha FROM passages ORDER BY id")]
        return [(r[0], r[1]) for r in self.conn.execute(
            f"SELECT p.doc_id, p.text_sha FROM passages p LEFT JOIN {SPARSE_TABLE} s ON s.text_sha = p.text_sha "
            "WHERE s.text_sha IS NULL ORDER BY p.id")]

    def coded_passages(self) -> int:
        """Live passages that have a code."""
        if not self.has_sparse_table():
            return 0
        return int(self.conn.execute(
            f"SELECT COUNT(*) FROM passages p JOIN {SPARSE_TABLE} s ON s.text_sha = p.text_sha").fetchone()[0])

    def codes_version(self) -> int:
        """Grows with every code stored: with the generation, when a reader's matrix is stale
        (a backfill adds codes without changing any passage)."""
        if not self.has_sparse_table():
            return 0
        return int(self.conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {SPARSE_TABLE}").fetchone()[0])

    def iter_codes(self, batch: int = 20000) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(passage id, feature ids, weights) of every live passage with a code, by id."""
        if not self.has_sparse_table():
            return
        cur = self.conn.execute(
            f"SELECT p.id, s.ids, s.vals FROM passages p JOIN {SPARSE_TABLE} s ON s.text_sha = p.text_sha ORDER BY p.id")
        while rows := cur.fetchmany(batch):
            for rowid, ids, vals in rows:
                yield rowid, np.frombuffer(ids, np.uint16), np.frombuffer(vals, np.float16)
