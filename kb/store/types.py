"""Lesson types in SQLite: the ``passage_types`` table beside ``passages``.

``passage_types(passage, type, confidence)``: ``passage`` is ``passages.id`` (the FAISS id)
and rows go away with their passage (ON DELETE CASCADE). Ingestion writes a document's
types in the transaction that writes its passages. The labels' cue-file fingerprint is kept
in ``meta`` under :data:`kb.store.keys.LESSON_CUES`; kb/derived/relabel.py recomputes the
types from stored vectors when it changes.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Mapping, Sequence

import numpy as np

from kb.models import LESSON_TYPES, Passage
from kb.store.keys import LESSON_CUES
from kb.store.rows import PASSAGE_COLUMNS, row_to_passage


def has_table(conn: sqlite3.Connection) -> bool:
    """False for an index made before lesson types (opened read-only, it cannot get the table)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'passage_types'").fetchone()
    return row is not None


def type_clause(types: Sequence[str], column: str = "id",
                conn: sqlite3.Connection | None = None) -> tuple[str, list[object]]:
    """SQL restricting ``column`` (a passage rowid) to passages having any of ``types``.

    Given ``conn``, an index without the table yet (never labelled) matches nothing.
    """
    if not types:
        return "1", []
    if conn is not None and not has_table(conn):
        return "0", []
    marks = ",".join("?" * len(types))
    return f"{column} IN (SELECT passage FROM passage_types WHERE type IN ({marks}))", list(types)


class TypeRows:
    """The lesson-type table of Database (a mixin: it needs ``conn`` and ``ensure_schema``)."""

    conn: sqlite3.Connection

    def write_types(self, rowids: Sequence[int], types: Sequence[Mapping[str, float]]) -> None:
        """Replace the types of these passages; runs inside the caller's transaction."""
        if len(rowids) != len(types):
            raise ValueError(f"{len(rowids)} passages but {len(types)} label sets")
        self.conn.executemany("DELETE FROM passage_types WHERE passage = ?", [(int(r),) for r in rowids])
        self.conn.executemany(
            "INSERT INTO passage_types(passage, type, confidence) VALUES (?, ?, ?)",
            [(int(r), t, float(c)) for r, labels in zip(rowids, types) for t, c in labels.items()
             if t in LESSON_TYPES],
        )

    def replace_types_of(self, doc_id: str, rowids: Sequence[int], types: Sequence[Mapping[str, float]]) -> None:
        """A document's types, replaced in one transaction (relabelling)."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM passage_types WHERE passage IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,))
            self.write_types(rowids, types)

    def passage_types(self, rowids: Iterable[int]) -> dict[int, dict[str, float]]:
        """{passage rowid: {type: confidence}} for these passages (missing rowids: no types)."""
        ids = list(dict.fromkeys(int(r) for r in rowids))
        out: dict[int, dict[str, float]] = {}
        if not ids or not has_table(self.conn):
            return out
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rowid, t, conf in self.conn.execute(
                f"SELECT passage, type, confidence FROM passage_types WHERE passage IN ({marks})", chunk
            ):
                out.setdefault(rowid, {})[t] = round(float(conf), 4)
        return {r: dict(sorted(v.items(), key=lambda kv: -kv[1])) for r, v in out.items()}

    def type_counts(self) -> dict[str, object]:
        """Passages per type and language, untyped passages, and the labels' fingerprint."""
        conn = self.conn
        per_type: dict[str, dict[str, int]] = {t: {} for t in LESSON_TYPES}
        totals = {lang: n for lang, n in conn.execute(
            "SELECT COALESCE(lang, '?'), COUNT(*) FROM passages GROUP BY lang")}
        if not has_table(conn):
            return {"types": per_type, "untyped": dict(totals), "passages": totals, "fingerprint": None}
        for t, lang, n in conn.execute(
            "SELECT pt.type, COALESCE(p.lang, '?'), COUNT(*) FROM passage_types pt "
            "JOIN passages p ON p.id = pt.passage GROUP BY pt.type, p.lang"
        ):
            per_type.setdefault(t, {})[lang] = n
        untyped = {
            lang: n for lang, n in conn.execute(
                "SELECT COALESCE(lang, '?'), COUNT(*) FROM passages "
                "WHERE id NOT IN (SELECT passage FROM passage_types) GROUP BY lang"
            )
        }
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (LESSON_CUES,)).fetchone()
        return {"types": per_type, "untyped": untyped, "passages": totals, "fingerprint": row[0] if row else None}

    def document_rows(self, doc_id: str) -> tuple[list[int], list[Passage], np.ndarray]:
        """A document's passages in order, their rowids and their stored vectors (no embedding)."""
        columns = ", ".join(f"p.{c.strip()}" for c in PASSAGE_COLUMNS.split(","))
        rows = self.conn.execute(
            f"SELECT {columns}, e.vector FROM passages p JOIN embeddings e ON e.text_sha = p.text_sha "
            "WHERE p.doc_id = ? ORDER BY p.ordinal", (doc_id,),
        ).fetchall()
        rowids = [int(r["id"]) for r in rows]
        passages = [row_to_passage(r) for r in rows]
        vectors = (np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
                   if rows else np.zeros((0, 0), dtype=np.float32))
        return rowids, passages, vectors
