"""Translation links in SQLite (tables in schema.sql; computed by kb/derived/translations.py)."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Protocol, Sequence


class Aligned(Protocol):
    """What a link between two documents carries: its score and its passage pairs."""

    score: float
    pairs: list[tuple[int, int, float]]


class LinkRows:
    """The translation-link tables of Database (a mixin: it needs ``conn``)."""

    conn: sqlite3.Connection

    def replace_translations(self, doc_ids: Sequence[str], found: Iterable[tuple[str, str, Aligned]]) -> None:
        """Drop every link touching ``doc_ids``, then store ``found``; one transaction."""
        conn = self.conn
        with conn:
            for doc_id in doc_ids:
                conn.execute("DELETE FROM document_translations WHERE doc_id = ? OR other = ?", (doc_id, doc_id))
                conn.execute(
                    "DELETE FROM passage_translations WHERE passage IN (SELECT id FROM passages WHERE doc_id = ?) "
                    "OR other IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id, doc_id))
            for a, b, alignment in found:
                conn.executemany("INSERT OR REPLACE INTO document_translations(doc_id, other, score) VALUES (?, ?, ?)",
                                 [(a, b, alignment.score), (b, a, alignment.score)])
                conn.executemany("INSERT OR REPLACE INTO passage_translations(passage, other, score) VALUES (?, ?, ?)",
                                 [row for x, y, s in alignment.pairs for row in ((x, y, s), (y, x, s))])

    def translations_of(self, rowids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
        """{rowid: [(translated passage rowid, similarity), ...]} for these passages."""
        ids = list(dict.fromkeys(rowids))
        out: dict[int, list[tuple[int, float]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for passage, other, score in self.conn.execute(
                f"SELECT passage, other, score FROM passage_translations WHERE passage IN ({marks}) "
                "ORDER BY passage, score DESC", chunk,
            ):
                out.setdefault(passage, []).append((other, score))
        return out

    def passage_pairs(self, a: str, b: str) -> list[tuple[int, int, float]]:
        """[(passage of a, passage of b, similarity)] stored for documents ``a`` and ``b``."""
        return [(r[0], r[1], r[2]) for r in self.conn.execute(
            "SELECT t.passage, t.other, t.score FROM passage_translations t JOIN passages p ON p.id = t.passage "
            "JOIN passages q ON q.id = t.other WHERE p.doc_id = ? AND q.doc_id = ?", (a, b))]

    def document_translations(self, doc_id: str) -> list[tuple[str, float]]:
        """[(other doc_id, alignment score)] for the versions of ``doc_id`` in other languages."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT other, score FROM document_translations WHERE doc_id = ? ORDER BY score DESC", (doc_id,))]
