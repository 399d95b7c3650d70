"""Lesson types in the index: the ``passage_types`` table, re-labelling and counts.

``passage_types(passage, type, confidence)`` sits beside ``passages`` in the same SQLite
file; ``passage`` is ``passages.id`` (the FAISS id) and rows go away with their passage
(ON DELETE CASCADE). Ingestion writes a document's types in the transaction that writes
its passages (``write_types`` takes the open connection and does not commit).

The cue file's fingerprint is kept in ``meta`` under ``lesson_cues``; when the file
changes, ``relabel`` recomputes every passage's types from the vectors already stored
in ``embeddings`` — no passage is embedded again.

Only the standard library and numpy are used, on a plain ``sqlite3`` connection, so
that the store, the CLI and the API can all call these functions.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from kb.lessons.cues import TYPES
from kb.models import Passage

if TYPE_CHECKING:
    from kb.index import Index
    from kb.lessons import LessonLabeler

META_KEY = "lesson_cues"

_COLUMNS = (
    "p.id, p.passage_id, p.doc_id, p.ordinal, p.text, p.lang, p.page_start, p.page_end, "
    "p.paragraph, p.section, p.char_start, p.char_end"
)


def has_table(conn: sqlite3.Connection) -> bool:
    """False for an index made before lesson types (opened read-only, it cannot get the table)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'passage_types'").fetchone()
    return row is not None


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the table and its index if missing (idempotent; commits).

    The definition lives once, in ``kb/store/schema.sql``; every statement there is
    ``IF NOT EXISTS``, so re-running it only adds what an older index lacks.
    """
    from importlib import resources

    with conn:
        conn.executescript(resources.files("kb.store").joinpath("schema.sql").read_text())


def write_types(conn: sqlite3.Connection, rowids: Sequence[int], types: Sequence[Mapping[str, float]]) -> None:
    """Replace the types of these passages; runs inside the caller's transaction."""
    if len(rowids) != len(types):
        raise ValueError(f"{len(rowids)} passages but {len(types)} label sets")
    conn.executemany("DELETE FROM passage_types WHERE passage = ?", [(int(r),) for r in rowids])
    conn.executemany(
        "INSERT INTO passage_types(passage, type, confidence) VALUES (?, ?, ?)",
        [(int(r), t, float(c)) for r, labels in zip(rowids, types) for t, c in labels.items() if t in TYPES],
    )


def types_for(conn: sqlite3.Connection, rowids: Iterable[int]) -> dict[int, dict[str, float]]:
    """{passage rowid: {type: confidence}} for these passages (missing rowids: no types)."""
    ids = list(dict.fromkeys(int(r) for r in rowids))
    out: dict[int, dict[str, float]] = {}
    if not ids or not has_table(conn):
        return out
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for rowid, t, conf in conn.execute(
            f"SELECT passage, type, confidence FROM passage_types WHERE passage IN ({marks})", chunk
        ):
            out.setdefault(rowid, {})[t] = round(float(conf), 4)
    return {r: dict(sorted(v.items(), key=lambda kv: -kv[1])) for r, v in out.items()}


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


def counts(conn: sqlite3.Connection) -> dict[str, object]:
    """Passages per type and language, untyped passages, and the labels' fingerprint."""
    per_type: dict[str, dict[str, int]] = {t: {} for t in TYPES}
    totals = {lang: n for lang, n in conn.execute("SELECT COALESCE(lang, '?'), COUNT(*) FROM passages GROUP BY lang")}
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
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return {"types": per_type, "untyped": untyped, "passages": totals, "fingerprint": row[0] if row else None}


# -- reading a document back with its stored vectors -------------------------------------
def document_rows(conn: sqlite3.Connection, doc_id: str) -> tuple[list[int], list[Passage], np.ndarray]:
    """A document's passages in order, their rowids and their stored vectors (no embedding)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS}, e.vector FROM passages p JOIN embeddings e ON e.text_sha = p.text_sha "
        "WHERE p.doc_id = ? ORDER BY p.ordinal",
        (doc_id,),
    ).fetchall()
    rowids = [int(r[0]) for r in rows]
    passages = [
        Passage(passage_id=r[1], doc_id=r[2], ordinal=r[3], text=r[4], lang=r[5], page_start=r[6],
                page_end=r[7], paragraph=r[8], section=r[9], char_start=r[10], char_end=r[11])
        for r in rows
    ]
    vectors = (np.stack([np.frombuffer(r[12], dtype=np.float32) for r in rows])
               if rows else np.zeros((0, 0), dtype=np.float32))
    return rowids, passages, vectors


def _doc_ids(conn: sqlite3.Connection) -> Iterator[str]:
    for (doc_id,) in conn.execute("SELECT doc_id FROM documents ORDER BY doc_id").fetchall():
        yield doc_id


@dataclass
class RelabelReport:
    documents: int = 0
    passages: int = 0
    fingerprint: str = ""
    previous: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"documents": self.documents, "passages": self.passages, "fingerprint": self.fingerprint,
                "previous": self.previous, "types": self.counts}


def needs_relabel(conn: sqlite3.Connection, labeler: "LessonLabeler") -> bool:
    """True when the stored labels come from another cue file (or there are none yet)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return (row[0] if row else None) != labeler.fingerprint


def relabel(conn: sqlite3.Connection, labeler: "LessonLabeler", doc_ids: Sequence[str] | None = None,
            on_document: Callable[[str, int], None] | None = None) -> RelabelReport:
    """Recompute lesson types from stored vectors, one transaction per document.

    With ``doc_ids`` None every document is relabelled and the fingerprint is recorded
    at the end (an interrupted run leaves the old fingerprint, so it is simply redone).
    """
    ensure_schema(conn)
    previous = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    report = RelabelReport(fingerprint=labeler.fingerprint, previous=previous[0] if previous else None)
    report.counts = {t: 0 for t in TYPES}
    for doc_id in list(doc_ids) if doc_ids is not None else list(_doc_ids(conn)):
        rowids, passages, vectors = document_rows(conn, doc_id)
        labels = labeler.label(passages, vectors if rowids else None)
        with conn:
            conn.execute(
                "DELETE FROM passage_types WHERE passage IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,)
            )
            write_types(conn, rowids, labels)
        report.documents += 1
        report.passages += len(rowids)
        for found in labels:
            for t in found:
                report.counts[t] += 1
        if on_document:
            on_document(doc_id, len(rowids))
    if doc_ids is None:
        with conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (META_KEY, labeler.fingerprint),
            )
    return report


def ensure_current(index: "Index", labeler: "LessonLabeler") -> RelabelReport | None:
    """Relabel the whole index if its labels come from another cue file; else nothing."""
    conn = index.db.conn
    ensure_schema(conn)
    if not needs_relabel(conn, labeler):
        return None
    return relabel(conn, labeler)
