-- SQLite is the source of truth: documents, passages, their vectors and the keyword index.
-- The FAISS file beside it is a snapshot that can always be rebuilt from these rows.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    lang TEXT,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    pages INTEGER NOT NULL,
    passages INTEGER NOT NULL,
    organisation TEXT, year INTEGER, country TEXT, url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    extra TEXT NOT NULL DEFAULT '{}',
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the FAISS id; never reused, so a stale reader cannot mis-cite
    passage_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    lang TEXT,
    page_start INTEGER, page_end INTEGER,
    paragraph TEXT, section TEXT,
    char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    text_sha TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE INDEX IF NOT EXISTS passages_lang ON passages(lang);
CREATE INDEX IF NOT EXISTS passages_sha ON passages(text_sha);
-- Vectors keyed by text hash: a moved or lightly edited document re-embeds only what changed.
CREATE TABLE IF NOT EXISTS embeddings (text_sha TEXT PRIMARY KEY, vector BLOB NOT NULL);
-- The companion model's vectors of the same texts (kb/derived/companion.py), when the index has one.
CREATE TABLE IF NOT EXISTS companion_embeddings (text_sha TEXT PRIMARY KEY, vector BLOB NOT NULL);
-- Sparse codes of the same texts (kb/derived/sparse.py), when the index keeps them: feature ids
-- (uint16) and their weights (float16), strongest first.
CREATE TABLE IF NOT EXISTS sparse_codes (text_sha TEXT PRIMARY KEY, ids BLOB NOT NULL, vals BLOB NOT NULL);
-- Keyword index over normalised (folded, stemmed) passage text; rowid = passages.id.
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
-- The same for each passage's machine translation into the pivot language (kb/translate/),
-- stemmed in that language; for keyword matching across languages only, never shown.
CREATE VIRTUAL TABLE IF NOT EXISTS pivot_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
-- What each generation changed, so a reader holding older vectors catches up on those rows
-- instead of rebuilding everything. Pruned to the last few thousand generations.
CREATE TABLE IF NOT EXISTS changes (generation INTEGER PRIMARY KEY, removed TEXT NOT NULL, added TEXT NOT NULL);
-- Lesson types of each passage (barrier, good_practice, recommendation, risk, context) with a
-- confidence; written with the passages, recomputed from stored vectors by `kb relabel`.
CREATE TABLE IF NOT EXISTS passage_types (
    passage INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    confidence REAL NOT NULL,
    PRIMARY KEY (passage, type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passage_types_type ON passage_types(type, passage);
-- Translation groups (kb/derived/translations.py): documents that are versions of each other in other
-- languages, and their aligned passages; both directions stored, deleted with their rows.
CREATE TABLE IF NOT EXISTS document_translations (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    other TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    score REAL NOT NULL,
    PRIMARY KEY (doc_id, other)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS passage_translations (
    passage INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    other INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    PRIMARY KEY (passage, other)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS passage_translations_other ON passage_translations(other);
-- What a passage is when it is not content (kb/text/roles.py): links, contents, form, legal,
-- bibliography, staff. Only those rows are stored; a passage without a row is content.
CREATE TABLE IF NOT EXISTS passage_roles (
    passage INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    role TEXT NOT NULL
);
