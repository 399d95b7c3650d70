"""The SQLite half of an index: documents, passages, vectors and keyword index.

Every change to a document happens in one transaction that also bumps ``generation``;
readers compare generations to know when their in-memory FAISS copy is stale.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from kb.errors import IndexReadOnlyError
from kb.models import Document, Passage
from kb.store.keyword_rows import KeywordRows
from kb.store.keys import COMPANION_DTYPE, COMPANION_TABLE, GENERATION
from kb.store.links import LinkRows
from kb.store.passage_rows import PassageRows
from kb.store.rows import shown_source
from kb.store.role_rows import RoleRows
from kb.store.pivot_rows import PivotRows
from kb.store.sparse_rows import SparseRows
from kb.store.types import TypeRows
from kb.store.vector_rows import VectorRows

DB_NAME = "kb.sqlite"
FORMAT_VERSION = 1
CHANGE_LOG_KEEP = 5000

@dataclass
class DocumentRecord:
    """Everything stored about a document, including what decides re-ingestion."""

    document: Document
    path: str
    size: int
    mtime: float
    extra: dict[str, Any]


def _refused(err: BaseException) -> bool:
    """Whether opening for writing failed because this user may not write there."""
    if isinstance(err, OSError):
        return err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST)
    message = str(err).lower()
    return "readonly" in message or "read-only" in message or "unable to open" in message


def _row_to_document(row: sqlite3.Row) -> Document:
    return Document(
        doc_id=row["doc_id"], source=shown_source(row["source"]), title=row["title"], lang=row["lang"],
        format=row["format"], sha256=row["sha256"], pages=row["pages"],
        passages=row["passages"], organisation=row["organisation"], year=row["year"],
        country=row["country"], url=row["url"], tags=json.loads(row["tags"] or "[]"),
        ingested_at=row["ingested_at"],
    )


class Database(PassageRows, VectorRows, KeywordRows, PivotRows, SparseRows, TypeRows, RoleRows, LinkRows):
    """One index's SQLite file; its reads and writes by kind live in the mixins (kb/store/*_rows.py)."""

    def __init__(self, index_dir: Path, readonly: bool = False) -> None:
        """Open (creating when writable and missing) the index's SQLite file.

        An existing index that this user may not write (another user's, a read-only mount) is
        opened read-only instead, so that searching it still works; ``writable`` says which,
        and writing commands refuse early with ``IndexReadOnlyError``.
        """
        self.path = index_dir / DB_NAME
        #: per-generation caches of filter id sets and term document frequencies
        self._filter_cache: dict[tuple, np.ndarray] = {}
        self._df_cache: dict[str, int] = {}
        self._df_generation = -1
        self._other_df: dict[tuple[int, str], dict[str, int]] = {}
        self._word_lang_cache: dict[tuple[str, int], dict[str, float]] = {}
        self.writable = False
        if readonly:
            self.conn = self._connect_readonly()
        else:
            conn = None
            try:
                index_dir.mkdir(parents=True, exist_ok=True)
                self.conn = conn = sqlite3.connect(self.path, check_same_thread=False)
                self._prepare_for_writing()
                self.writable = True
            except (OSError, sqlite3.OperationalError) as err:
                if conn is not None:
                    conn.close()
                if not _refused(err):  # "database is locked" and the like are not about permission
                    raise
                if not self.path.exists():
                    raise IndexReadOnlyError(
                        f"cannot create an index at {index_dir}: {getattr(err, 'strerror', None) or err}") from None
                self.conn = self._connect_readonly()
        self._dtypes = {"embeddings": np.dtype(np.float32),
                        COMPANION_TABLE: np.dtype(self.get_meta(COMPANION_DTYPE) or "float32")}

    def _connect_readonly(self) -> sqlite3.Connection:
        """Read-only; in a folder this user cannot write, SQLite cannot make the WAL's shared-memory
        file, so the file is then read as immutable (no locks: another writer's changes in
        progress are not seen, which a user who cannot write here cannot be racing anyway)."""
        last: sqlite3.Error | None = None
        for params in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(f"file:{self.path}?{params}", uri=True, check_same_thread=False)
            try:
                conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
            except sqlite3.Error as err:
                conn.close()
                last = err
                continue
            self._configure(conn)
            return conn
        raise IndexReadOnlyError(f"cannot read the index at {self.path.parent}: {last}")

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 30000")

    def _prepare_for_writing(self) -> None:
        self._configure(self.conn)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        schema = resources.files("kb.store").joinpath("schema.sql").read_text()
        with self.conn:
            fresh = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None
            self.conn.executescript(schema)
            if fresh:
                self.set_meta(COMPANION_DTYPE, "float16")

    def require_writable(self, action: str) -> None:
        if not self.writable:
            raise IndexReadOnlyError(
                f"cannot {action}: the index at {self.path.parent} is read-only for this user "
                f"(it can still be searched); ask its owner, or build your own with --index")

    def close(self) -> None:
        self.conn.close()

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def generation(self) -> int:
        return int(self.get_meta(GENERATION) or 0)

    def _bump_generation(self, removed: Sequence[int] = (), added: Sequence[int] = ()) -> int:
        """Next generation, logging which passage ids it removed and added (same transaction)."""
        gen = self.generation() + 1
        self.set_meta(GENERATION, gen)
        self.conn.execute(
            "INSERT OR REPLACE INTO changes(generation, removed, added) VALUES (?, ?, ?)",
            (gen, json.dumps(list(removed)), json.dumps(list(added))),
        )
        self.conn.execute("DELETE FROM changes WHERE generation <= ?", (gen - CHANGE_LOG_KEEP,))
        return gen

    def changes_since(self, generation: int) -> tuple[set[int], set[int]] | None:
        """(removed, added) passage ids after ``generation``; None if the log no longer reaches back."""
        current = self.generation()
        rows = self.conn.execute(
            "SELECT generation, removed, added FROM changes WHERE generation > ? ORDER BY generation",
            (generation,),
        ).fetchall()
        if len(rows) != current - generation:
            return None
        removed: set[int] = set()
        added: set[int] = set()
        for _gen, gone, new in rows:
            removed.update(json.loads(gone))
            added.update(json.loads(new))
        return removed, added

    # -- documents ----------------------------------------------------------------------
    def document_by_path(self, path: str) -> DocumentRecord | None:
        row = self.conn.execute("SELECT * FROM documents WHERE path = ?", (path,)).fetchone()
        return self._record(row) if row else None

    def document(self, doc_id: str) -> Document | None:
        row = self.conn.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        doc = _row_to_document(row)
        doc.translations = [other for other, _ in self.document_translations(doc_id)]
        return doc

    def _record(self, row: sqlite3.Row) -> DocumentRecord:
        return DocumentRecord(
            document=_row_to_document(row), path=row["path"], size=row["size"],
            mtime=row["mtime"], extra=json.loads(row["extra"] or "{}"),
        )

    def source_of(self, doc_id: str) -> str | None:
        """The path a document's citations show, as stored."""
        row = self.conn.execute("SELECT source FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def path_of(self, doc_id: str) -> str | None:
        """The file's absolute path on this machine (for this machine's terminal only)."""
        row = self.conn.execute("SELECT path FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def set_source(self, doc_id: str, source: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE documents SET source = ? WHERE doc_id = ?", (source, doc_id))

    def doc_id_taken(self, doc_id: str, path: str) -> bool:
        row = self.conn.execute(
            "SELECT path FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return bool(row) and row[0] != path

    def documents(self, limit: int | None = None, offset: int = 0) -> list[Document]:
        sql = "SELECT * FROM documents ORDER BY doc_id"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = (limit, offset)
        docs = [_row_to_document(r) for r in self.conn.execute(sql, params)]
        links: dict[str, list[str]] = {}
        for doc_id, other in self.conn.execute(
                "SELECT doc_id, other FROM document_translations ORDER BY doc_id, score DESC"):
            links.setdefault(doc_id, []).append(other)
        for doc in docs:
            doc.translations = links.get(doc.doc_id, [])
        return docs

    def documents_by_ids(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        ids = list(set(doc_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT * FROM documents WHERE doc_id IN ({marks})", ids)
        return {r["doc_id"]: _row_to_document(r) for r in rows}

    def counts(self) -> dict[str, int]:
        docs = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(pages), 0) FROM documents").fetchone()
        passages = self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return {"documents": docs[0], "pages": docs[1], "passages": passages}

    def languages(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT COALESCE(lang, '?'), COUNT(*) FROM passages GROUP BY lang ORDER BY 2 DESC"
        )
        return {r[0]: r[1] for r in rows}

    def holds_language(self, langs: Sequence[str]) -> bool:
        """Whether any passage is in one of ``langs`` (one index probe, not a count)."""
        marks = ",".join("?" * len(langs))
        return self.conn.execute(f"SELECT 1 FROM passages WHERE lang IN ({marks}) LIMIT 1", list(langs)).fetchone() is not None

    def document_languages(self) -> dict[str, int]:
        """Passages per document language: languages() read off the small documents table
        (40 ms at 1M passages against 300; a mixed document's passages count as its language)."""
        rows = self.conn.execute("SELECT lang, SUM(passages) FROM documents WHERE lang IS NOT NULL GROUP BY lang")
        return {r[0]: int(r[1]) for r in rows if r[1]}

    # -- writing ------------------------------------------------------------------------
    def replace_document(
        self,
        record: DocumentRecord,
        passages: Sequence[Passage],
        text_shas: Sequence[str],
        new_vectors: dict[str, np.ndarray],
        bodies: Sequence[str],
        types: Sequence[Mapping[str, float]] | None = None,
        companion_vectors: dict[str, np.ndarray] | None = None,
        roles: Sequence[str] | None = None,
        pivot_bodies: Sequence[str | None] | None = None,
    ) -> tuple[list[int], list[int]]:
        """Swap a document's rows in one transaction; returns (removed ids, added ids).

        ``types`` are the passages' lesson types ({type: confidence}), row for row;
        ``companion_vectors`` the companion model's new vectors by text hash, stored with them;
        ``pivot_bodies`` their keyword text in the pivot language, row for row (None: none).
        """
        doc = record.document
        with self.conn:
            removed = self._delete_document_rows(doc.doc_id, record.path)
            self.store_vectors(new_vectors)
            if companion_vectors:
                self.store_vectors(companion_vectors, COMPANION_TABLE)
            self.conn.execute(
                "INSERT INTO documents(doc_id, source, path, title, lang, format, sha256, size, "
                "mtime, pages, passages, organisation, year, country, url, tags, extra, "
                "ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc.doc_id, doc.source, record.path, doc.title, doc.lang, doc.format,
                    doc.sha256, record.size, record.mtime, doc.pages, len(passages),
                    doc.organisation, doc.year, doc.country, doc.url, json.dumps(doc.tags),
                    json.dumps(record.extra), datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )
            added: list[int] = []
            for passage, sha, body in zip(passages, text_shas, bodies):
                cur = self.conn.execute(
                    "INSERT INTO passages(passage_id, doc_id, ordinal, text, lang, page_start, "
                    "page_end, paragraph, section, char_start, char_end, text_sha) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        passage.passage_id, passage.doc_id, passage.ordinal, passage.text,
                        passage.lang, passage.page_start, passage.page_end, passage.paragraph,
                        passage.section, passage.char_start, passage.char_end, sha,
                    ),
                )
                rowid = int(cur.lastrowid or 0)
                self.conn.execute("INSERT INTO passages_fts(rowid, body) VALUES (?, ?)", (rowid, body))
                added.append(rowid)
            if types is not None:
                self.write_types(added, types)
            if roles is not None:
                self.write_roles(added, roles)
            if pivot_bodies is not None:
                self.write_pivot((r, b) for r, b in zip(added, pivot_bodies) if b is not None)
            self._bump_generation(removed, added)
        return removed, added

    def remove_document(self, doc_id: str) -> list[int]:
        with self.conn:
            removed = self._delete_document_rows(doc_id, None)
            self._bump_generation(removed, ())
        return removed

    def _delete_document_rows(self, doc_id: str, path: str | None) -> list[int]:
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT p.id FROM passages p JOIN documents d ON p.doc_id = d.doc_id "
                "WHERE d.doc_id = ? OR d.path = ?",
                (doc_id, path),
            )
        ]
        self.conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
        self.delete_pivot(ids)
        self.conn.execute("DELETE FROM documents WHERE doc_id = ? OR path = ?", (doc_id, path))
        return ids

    # -- vectors ------------------------------------------------------------------------
