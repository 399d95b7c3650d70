"""Translation groups: link a document to its versions in other languages, passage by passage.

The GCM objective sheets exist in English, French and Spanish; a reader asking in Spanish
wants the Spanish paragraph, told that the English and French ones exist, not the same
paragraph three times. Two documents are linked when their passages align: each passage's
nearest neighbour in the other document is mutual, stands far above the rest of that
passage's similarities (a z-score, so the rule does not depend on how a model spreads its
cosines), and sits at about the same relative position (translations keep their order).
Documents on the same theme share vocabulary but not order, so they fail the last test.

Links are computed at ingestion from the stored vectors (nothing is embedded again) and
kept in SQLite, both directions, deleted with their passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from kb.store.db import Database

#: stored in the index's meta; a new version relinks every document on the next ingest
LINKS_VERSION = "1"
#: a best match must stand this many standard deviations above the rest of its row
MIN_Z = 2.0
#: and sit near the same relative position: within this share of the document, or within
#: BAND_PASSAGES passages for short documents (chunking shifts a few passages at most)
MAX_SHIFT = 0.05
BAND_PASSAGES = 2.5
#: share of the shorter document's passages that must align for the documents to be linked
MIN_ALIGNED = 0.42
#: chunking differs between language versions, but not by more than this factor
MAX_LENGTH_RATIO = 2.5
#: documents compared per linked document, chosen by closeness of their mean vectors
MAX_CANDIDATES = 50


@dataclass(frozen=True)
class Alignment:
    """How well two documents align, and the passage pairs that do (rowid, rowid, similarity)."""

    score: float
    pairs: list[tuple[int, int, float]]


def align(ids_a: np.ndarray, vecs_a: np.ndarray, ids_b: np.ndarray, vecs_b: np.ndarray) -> Alignment:
    """Passages of two documents (in reading order) that translate each other.

    Each passage's best match in the other document counts when it is a clear winner of its
    row (z-score) and lies near the same relative position. Not requiring the match to be
    mutual lets one passage align with two when the language versions were chunked apart.
    The score is the share of passages, on both sides, whose best match counts.
    """
    n, m = len(ids_a), len(ids_b)
    if n < 2 or m < 2:
        return Alignment(0.0, [])
    sims = _normalise(vecs_a) @ _normalise(vecs_b).T
    pos_a = (np.arange(n) + 0.5) / n
    pos_b = (np.arange(m) + 0.5) / m
    band = max(MAX_SHIFT, BAND_PASSAGES / min(n, m))
    pairs: dict[tuple[int, int], float] = {}
    good = 0
    for matrix, here, there, flip in ((sims, pos_a, pos_b, False), (sims.T, pos_b, pos_a, True)):
        best = matrix.argmax(axis=1)
        top = matrix[np.arange(len(best)), best]
        z = (top - matrix.mean(axis=1)) / (matrix.std(axis=1) + 1e-6)
        ok = (z >= MIN_Z) & (np.abs(here - there[best]) <= band)
        good += int(ok.sum())
        for i in np.flatnonzero(ok):
            a, b = (int(best[i]), int(i)) if flip else (int(i), int(best[i]))
            pairs[(int(ids_a[a]), int(ids_b[b]))] = round(float(sims[a, b]), 4)
    return Alignment(good / (n + m), [(a, b, s) for (a, b), s in sorted(pairs.items())])


def link_documents(db: Database, doc_ids: Iterable[str]) -> int:
    """(Re)compute the translation links of ``doc_ids`` against every other document.

    Returns the number of document pairs linked. One transaction: readers see all the
    new links or none.
    """
    docs = {d.doc_id: d for d in db.documents()}
    targets = [d for d in dict.fromkeys(doc_ids) if d in docs]
    if not targets:
        return 0
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def vectors(doc_id: str) -> tuple[np.ndarray, np.ndarray]:
        if doc_id not in cache:
            ids = db.passage_rowids(doc_id)
            got, vecs = db.vectors_for(ids)
            order = np.argsort(got)  # passage ids follow reading order within a document
            cache[doc_id] = (got[order], vecs[order] if len(got) else vecs)
        return cache[doc_id]

    found: list[tuple[str, str, Alignment]] = []
    done: set[frozenset[str]] = set()
    for doc_id in targets:
        doc = docs[doc_id]
        others = [o for o in docs.values()
                  if o.doc_id != doc_id and o.lang and doc.lang and o.lang != doc.lang
                  and _comparable(doc.passages, o.passages)]
        if not others:
            continue
        ids_a, vecs_a = vectors(doc_id)
        if len(ids_a) < 2:
            continue
        if len(others) > MAX_CANDIDATES:
            centre = _normalise(vecs_a.mean(axis=0, keepdims=True))[0]
            others.sort(key=lambda o: -float(_normalise(vectors(o.doc_id)[1].mean(axis=0, keepdims=True))[0] @ centre))
            others = others[:MAX_CANDIDATES]
        for other in others:
            key = frozenset((doc_id, other.doc_id))
            if key in done:
                continue
            done.add(key)
            ids_b, vecs_b = vectors(other.doc_id)
            result = align(ids_a, vecs_a, ids_b, vecs_b)
            if result.score >= MIN_ALIGNED:
                found.append((doc_id, other.doc_id, result))
    db.replace_translations(targets, found)
    return len(found)


def _comparable(n: int, m: int) -> bool:
    return min(n, m) >= 2 and max(n, m) <= MAX_LENGTH_RATIO * min(n, m)


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    return vecs / (np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12)
