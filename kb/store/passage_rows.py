"""Passages in SQLite: read back by id, by document, and as filter id sets for FAISS."""

from __future__ import annotations

import sqlite3
from typing import Sequence

import numpy as np

from kb.models import Passage
from kb.store.rows import PASSAGE_COLUMNS, row_to_passage
from kb.store.types import type_clause


class PassageRows:
    """The passage reads of Database (a mixin: it needs ``conn``, ``generation`` and ``_filter_cache``)."""

    conn: sqlite3.Connection


    # -- passages -----------------------------------------------------------------------
    def passages_by_rowids(self, ids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", chunk
            ):
                out[row["id"]] = row_to_passage(row)
        return out

    def passage(self, passage_id: str) -> Passage | None:
        row = self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE passage_id = ?", (passage_id,)
        ).fetchone()
        return row_to_passage(row) if row else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self.conn.execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)
        )
        return [row_to_passage(r) for r in rows]

    def rowids_where(self, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
                     types: Sequence[str] = ()) -> np.ndarray:
        """Passage ids allowed by the filters (used as a FAISS id selector)."""
        clauses: list[str] = []
        params: list[object] = []
        if langs:
            clauses.append(f"lang IN ({','.join('?' * len(langs))})")
            params.extend(langs)
        if doc_ids:
            clauses.append(f"doc_id IN ({','.join('?' * len(doc_ids))})")
            params.extend(doc_ids)
        if types:
            clause, extra = type_clause(types, "id", self.conn)
            clauses.append(clause)
            params.extend(extra)
        where = " AND ".join(clauses) or "1"
        key = (self.generation(), where, tuple(params))
        hit = self._filter_cache.get(key)
        if hit is not None:
            return hit
        # One string instead of one row per id: a language filter at 1M passages admits
        # ~400k ids, which row by row took ~0.4 s. Sorted, so callers can test membership
        # with searchsorted instead of building a Python set; cached for the generation
        # (an API process sees the same few filters again and again). Read-only.
        text = self.conn.execute(f"SELECT group_concat(id) FROM passages WHERE {where}", params).fetchone()[0]
        ids = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            ids = np.unique(ids)
        ids.flags.writeable = False
        if len(self._filter_cache) >= 32 or any(k[0] != key[0] for k in self._filter_cache):
            self._filter_cache = {}
        self._filter_cache[key] = ids
        return ids

    def langs_of(self, rowids: Sequence[int]) -> dict[int, str | None]:
        ids = list(rowids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r[0]: r[1] for r in self.conn.execute(f"SELECT id, lang FROM passages WHERE id IN ({marks})", ids)}

    def rowid_of(self, passage_id: str) -> int | None:
        row = self.conn.execute("SELECT id FROM passages WHERE passage_id = ?", (passage_id,)).fetchone()
        return int(row[0]) if row else None

    def passage_rowids(self, doc_id: str) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM passages WHERE doc_id = ? ORDER BY id", (doc_id,))]
