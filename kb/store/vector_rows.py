"""Vectors in SQLite: stored by the hash of the text the model read, in the model's table or the
companion's; every FAISS index can be rebuilt exactly from here."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator, Mapping

import numpy as np

from kb.store.keys import VECTOR_TABLES


class VectorRows:
    """The vector tables of Database (a mixin: it needs ``conn`` and ``_dtypes``)."""

    conn: sqlite3.Connection

    # ``table``: "embeddings" (the index's model) or "companion_embeddings" (VECTOR_TABLES)
    def stored(self, vectors: np.ndarray, table: str = "embeddings") -> np.ndarray:
        """``vectors`` as they read back from ``table`` (float32, rounded to its storage type):
        a document's fresh vectors enter FAISS exactly as a rebuild from SQLite would give them."""
        dtype = self._dtypes[_table(table)]
        return np.asarray(vectors, dtype=dtype).astype(np.float32, copy=False)

    def vector_dtype(self, table: str = "embeddings") -> str:
        """How ``table``'s vectors are stored: "float32" or "float16" (COMPANION_DTYPE)."""
        return self._dtypes[_table(table)].name

    def _decode(self, blob: bytes, table: str) -> np.ndarray:
        return np.frombuffer(blob, dtype=self._dtypes[table]).astype(np.float32, copy=False)

    def store_vectors(self, vectors: Mapping[str, np.ndarray], table: str = "embeddings") -> None:
        """Vectors by text hash (the caller's transaction); a hash already stored keeps its vector."""
        dtype = self._dtypes[_table(table)]
        self.conn.executemany(
            f"INSERT OR IGNORE INTO {table}(text_sha, vector) VALUES (?, ?)",
            [(sha, np.asarray(v, dtype=dtype).tobytes()) for sha, v in vectors.items()],
        )

    def cached_vectors(self, shas: Iterable[str], table: str = "embeddings") -> dict[str, np.ndarray]:
        wanted = list(set(shas))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for sha, blob in self.conn.execute(
                f"SELECT text_sha, vector FROM {_table(table)} WHERE text_sha IN ({marks})", chunk
            ):
                found[sha] = self._decode(blob, table)
        return found

    def missing_vectors(self, table: str) -> list[tuple[str, str]]:
        """(doc_id, text_sha) of live passages with no vector in ``table``, by document."""
        return [(r[0], r[1]) for r in self.conn.execute(
            f"SELECT p.doc_id, p.text_sha FROM passages p LEFT JOIN {_table(table)} e ON e.text_sha = p.text_sha "
            "WHERE e.text_sha IS NULL ORDER BY p.id")]

    def vectors_for(self, ids: Iterable[int], table: str = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the given live passages (missing ids are left out)."""
        wanted = sorted(ids)
        got_ids: list[int] = []
        vecs: list[np.ndarray] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rowid, blob in self.conn.execute(
                f"SELECT p.id, e.vector FROM passages p JOIN {_table(table)} e ON e.text_sha = p.text_sha "
                f"WHERE p.id IN ({marks})", chunk,
            ):
                got_ids.append(rowid)
                vecs.append(self._decode(blob, table))
        if not vecs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return np.asarray(got_ids, dtype=np.int64), np.stack(vecs)

    def language_sample(self, lang: str, stride: int, limit: int) -> np.ndarray:
        """Stored vectors of every ``stride``-th passage (by id) in ``lang``, at most ``limit``."""
        rows = self.conn.execute(
            "SELECT e.vector FROM passages p JOIN embeddings e ON e.text_sha = p.text_sha "
            "WHERE p.lang = ? AND p.id % ? = 0 LIMIT ?", (lang, stride, limit),
        ).fetchall()
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows])

    def iter_vectors(self, batch: int = 20000, table: str = "embeddings") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (ids, vectors) of live passages, in batches, for rebuilding FAISS."""
        cur = self.conn.execute(
            f"SELECT p.id, e.vector FROM passages p JOIN {_table(table)} e ON e.text_sha = p.text_sha "
            "ORDER BY p.id"
        )
        while rows := cur.fetchmany(batch):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.stack([self._decode(r[1], table) for r in rows])
            yield ids, vecs


def _table(name: str) -> str:
    """A vector table's name, checked: it is formatted into SQL."""
    if name not in VECTOR_TABLES:
        raise ValueError(f"no vector table {name!r}")
    return name
