"""The SQLite half of an index: documents, passages, vectors and keyword index.

Every change to a document happens in one transaction that also bumps ``generation``;
readers compare generations to know when their in-memory FAISS copy is stale.
"""

from __future__ import annotations

import errno
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from kb.errors import IndexReadOnlyError
from kb.models import Document, Passage

DB_NAME = "kb.sqlite"
FORMAT_VERSION = 1
CHANGE_LOG_KEEP = 5000

#: what FTS5's unicode61 tokenizer keeps as one token
_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

#: the tables holding vectors by text hash: the index's model, and its companion (kb/companion.py)
COMPANION_TABLE = "companion_embeddings"
VECTOR_TABLES = ("embeddings", COMPANION_TABLE)
#: meta key: the element type of the companion's stored vectors, fixed when the index is created.
#: float16 halves a 512-d row to 1 KB, three to a 4 KB SQLite page instead of one 2 KB row a page
#: (the synthetic 100k index: 960 -> 700 MB on disk); retrieval figures unchanged to the third
#: decimal (README). Indexes made before it have no key and keep float32.
COMPANION_DTYPE_KEY = "companion_dtype"

_PASSAGE_COLUMNS = (
    "id, passage_id, doc_id, ordinal, text, lang, page_start, page_end, paragraph, section, "
    "char_start, char_end"
)


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


def _table(name: str) -> str:
    """A vector table's name, checked: it is formatted into SQL."""
    if name not in VECTOR_TABLES:
        raise ValueError(f"no vector table {name!r}")
    return name


def _row_to_passage(row: sqlite3.Row) -> Passage:
    return Passage(
        passage_id=row["passage_id"], doc_id=row["doc_id"], ordinal=row["ordinal"],
        text=row["text"], lang=row["lang"], page_start=row["page_start"],
        page_end=row["page_end"], paragraph=row["paragraph"], section=row["section"],
        char_start=row["char_start"], char_end=row["char_end"],
    )


def _row_to_document(row: sqlite3.Row) -> Document:
    return Document(
        doc_id=row["doc_id"], source=row["source"], title=row["title"], lang=row["lang"],
        format=row["format"], sha256=row["sha256"], pages=row["pages"],
        passages=row["passages"], organisation=row["organisation"], year=row["year"],
        country=row["country"], url=row["url"], tags=json.loads(row["tags"] or "[]"),
        ingested_at=row["ingested_at"],
    )


class Database:
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
                        COMPANION_TABLE: np.dtype(self.get_meta(COMPANION_DTYPE_KEY) or "float32")}

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
                self.set_meta(COMPANION_DTYPE_KEY, "float16")

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
        return int(self.get_meta("generation") or 0)

    def _bump_generation(self, removed: Sequence[int] = (), added: Sequence[int] = ()) -> int:
        """Next generation, logging which passage ids it removed and added (same transaction)."""
        gen = self.generation() + 1
        self.set_meta("generation", gen)
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
    ) -> tuple[list[int], list[int]]:
        """Swap a document's rows in one transaction; returns (removed ids, added ids).

        ``types`` are the passages' lesson types ({type: confidence}), row for row;
        ``companion_vectors`` the companion model's new vectors by text hash, stored with them.
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
                from kb.lessons.store import write_types

                write_types(self.conn, added, types)
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
        self.conn.execute("DELETE FROM documents WHERE doc_id = ? OR path = ?", (doc_id, path))
        return ids

    # -- vectors ------------------------------------------------------------------------
    # ``table``: "embeddings" (the index's model) or "companion_embeddings" (VECTOR_TABLES)
    def stored(self, vectors: np.ndarray, table: str = "embeddings") -> np.ndarray:
        """``vectors`` as they read back from ``table`` (float32, rounded to its storage type):
        a document's fresh vectors enter FAISS exactly as a rebuild from SQLite would give them."""
        dtype = self._dtypes[_table(table)]
        return np.asarray(vectors, dtype=dtype).astype(np.float32, copy=False)

    def vector_dtype(self, table: str = "embeddings") -> str:
        """How ``table``'s vectors are stored: "float32" or "float16" (COMPANION_DTYPE_KEY)."""
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

    # -- passages -----------------------------------------------------------------------
    def passages_by_rowids(self, ids: Sequence[int]) -> dict[int, Passage]:
        out: dict[int, Passage] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", chunk
            ):
                out[row["id"]] = _row_to_passage(row)
        return out

    def passage(self, passage_id: str) -> Passage | None:
        row = self.conn.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE passage_id = ?", (passage_id,)
        ).fetchone()
        return _row_to_passage(row) if row else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self.conn.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)
        )
        return [_row_to_passage(r) for r in rows]

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
            from kb.lessons.store import type_clause

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

    def term_doc_freq(self, terms: Iterable[str]) -> dict[str, int]:
        """How many passages contain each (folded) term, from the FTS5 vocabulary.

        Cached per generation: a warm process looks each term up once. A term FTS5 splits
        into several tokens (``skills-based``) counts the sum of its parts: what a query
        with it has to read. If the vocabulary cannot be read, every count is 0 (callers
        then keep every term, as before).
        """
        terms = list(terms)
        generation = self.generation()
        if generation != self._df_generation:
            self._df_cache, self._df_generation = {}, generation
            self._word_lang_cache = {}
        out: dict[str, int] = {}
        try:
            for term in terms:
                if term not in self._df_cache:
                    self._df_cache[term] = sum(self._term_docs(part) for part in _FTS_TOKEN.findall(term))
                out[term] = self._df_cache[term]
        except sqlite3.OperationalError:
            return {term: 0 for term in terms}
        return out

    def word_languages(self, word: str, sample: int = 300) -> dict[str, float]:
        """About how many passages of each language contain ``word`` (one folded FTS token):
        the languages of the first ``sample`` passages that hold it, scaled up to all of them.
        Cached per generation, like term_doc_freq, whose cache it shares the life of."""
        total = self.term_doc_freq([word]).get(word, 0)  # also resets the caches on a new generation
        key = (word, sample)
        if key not in self._word_lang_cache:
            counts: dict[str, float] = {}
            if total:
                rows = self.conn.execute(
                    "SELECT lang, COUNT(*) FROM passages WHERE id IN "
                    "(SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? LIMIT ?) "
                    "AND lang IS NOT NULL GROUP BY lang",
                    ('"' + word.replace('"', '""') + '"', sample),
                ).fetchall()
                counts = {lang: n * total / min(total, sample) for lang, n in rows}
            self._word_lang_cache[key] = counts
        return self._word_lang_cache[key]

    def _term_docs(self, token: str) -> int:
        for attempt in (1, 2):
            try:
                row = self.conn.execute("SELECT doc FROM passages_vocab WHERE term = ?", (token,)).fetchone()
                return int(row[0]) if row else 0
            except sqlite3.OperationalError:
                if attempt == 2:
                    raise
                # a per-connection view of the FTS5 vocabulary (works on read-only databases;
                # recreated if a rollback took it away)
                self.conn.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.passages_vocab USING fts5vocab(main, passages_fts, row)"
                )
        return 0

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

    # -- translation links (kb/translations.py) -------------------------------------------
    def replace_translations(self, doc_ids: Sequence[str], found) -> None:
        from kb.store.links import replace_links

        replace_links(self.conn, doc_ids, found)

    def translations_of(self, rowids: Iterable[int]) -> dict[int, list[tuple[int, float]]]:
        from kb.store.links import passage_links

        return passage_links(self.conn, rowids)

    def passage_pairs(self, a: str, b: str) -> list[tuple[int, int, float]]:
        from kb.store.links import pair_links

        return pair_links(self.conn, a, b)

    def document_translations(self, doc_id: str) -> list[tuple[str, float]]:
        from kb.store.links import document_links

        return document_links(self.conn, doc_id)

    def passage_types(self, rowids: Iterable[int]) -> dict[int, dict[str, float]]:
        """{rowid: {lesson type: confidence}} for these passages."""
        from kb.lessons.store import types_for

        return types_for(self.conn, rowids)

    def keyword_search(self, match: str, limit: int,
                       ranges: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, float]]:
        """FTS5 bm25 over the folded passage bodies; higher score is better.

        ``ranges``: only rowids within these (first, last) runs. A document's passages are
        stored with consecutive ids, so a document filter is a few runs, and FTS5 skips
        the rest of each doclist: 17 ms instead of 124 ms for one document at 100k.
        """
        sql = ("SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? {} "
               "ORDER BY bm25(passages_fts) LIMIT ?")
        try:
            if ranges is None:
                rows = self.conn.execute(sql.format(""), (match, limit)).fetchall()
            else:
                rows = []
                for first, last in ranges:
                    rows += self.conn.execute(sql.format("AND rowid BETWEEN ? AND ?"),
                                              (match, int(first), int(last), limit)).fetchall()
                rows.sort(key=lambda r: -r[1])  # bm25 uses table-wide statistics: comparable
                rows = rows[:limit]
        except sqlite3.OperationalError:
            return []
        return [(int(r[0]), float(r[1])) for r in rows]
