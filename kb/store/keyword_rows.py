"""The keyword index in SQLite (FTS5): bm25 matches, term document frequencies, and which
languages a word occurs in.

Two FTS5 tables share these reads: ``passages_fts`` (each passage's own words) and
``pivot_fts`` (its machine translation into the pivot language, kb/translate/; same rowids).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Iterable, Sequence


#: the FTS5 tables a keyword read may name (never a string from outside)
KEYWORD_TABLE, PIVOT_TABLE = "passages_fts", "pivot_fts"
_VOCAB = {KEYWORD_TABLE: "passages_vocab", PIVOT_TABLE: "pivot_vocab"}


class KeywordRows:
    """The FTS5 reads of Database (a mixin: it needs ``conn``, ``generation`` and the term caches)."""

    conn: sqlite3.Connection
    #: (generation, table) -> term counts, for tables other than passages_fts
    _other_df: dict[tuple[int, str], dict[str, int]]

    def term_doc_freq(self, terms: Iterable[str], table: str = KEYWORD_TABLE) -> dict[str, int]:
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
            self._word_lang_cache, self._other_df = {}, {}
        out: dict[str, int] = {}
        cache = self._df_cache if table == KEYWORD_TABLE else self._other_df.setdefault((generation, table), {})
        try:
            for term in terms:
                if term not in cache:
                    cache[term] = sum(self._term_docs(part, table) for part in _FTS_TOKEN.findall(term))
                out[term] = cache[term]
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

    def _term_docs(self, token: str, table: str = KEYWORD_TABLE) -> int:
        vocab = _VOCAB[table]
        for attempt in (1, 2):
            try:
                row = self.conn.execute(f"SELECT doc FROM {vocab} WHERE term = ?", (token,)).fetchone()
                return int(row[0]) if row else 0
            except sqlite3.OperationalError:
                if attempt == 2:
                    raise
                # a per-connection view of the FTS5 vocabulary (works on read-only databases;
                # recreated if a rollback took it away)
                self.conn.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{vocab} USING fts5vocab(main, {table}, row)"
                )
        return 0

    def keyword_search(self, match: str, limit: int, ranges: Sequence[tuple[int, int]] | None = None,
                       table: str = KEYWORD_TABLE) -> list[tuple[int, float]]:
        """FTS5 bm25 over the folded passage bodies (``table``: PIVOT_TABLE for their translations);
        higher score is better. An index without the table (made before it) matches nothing.

        ``ranges``: only rowids within these (first, last) runs. A document's passages are
        stored with consecutive ids, so a document filter is a few runs, and FTS5 skips
        the rest of each doclist: 17 ms instead of 124 ms for one document at 100k.
        """
        assert table in _VOCAB
        sql = (f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ? {{}} "
               f"ORDER BY bm25({table}) LIMIT ?")
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


#: what FTS5's unicode61 tokenizer keeps as one token
_FTS_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
