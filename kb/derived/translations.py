"""Translation groups: link a document to its versions in other languages, passage by passage.

The GCM objective sheets exist in English, French and Spanish; a reader asking in Spanish
wants the Spanish paragraph, told that the English and French ones exist, not the same
paragraph three times. Two documents are linked when enough of their passages align: a
passage's nearest neighbour in the other document stands far above the rest of that
passage's similarities (a z-score, so the rule does not depend on how a model spreads its
cosines) and sits at about the same relative position (translations keep their order).
Documents on the same theme share vocabulary but not order, so they fail the last test.
Links are closed over one step (a-b and b-c give a-c) for versions chunked too differently
to align directly. On ../shared/corpus: 25 document pairs, all true, none missed that we know of.

Links are computed at ingestion from the stored vectors (nothing is embedded again) and
kept in SQLite, both directions, deleted with their passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from kb.store.db import Database

#: stored in the index's meta; a new version relinks every document on the next ingest
LINKS_VERSION = "3"
#: a best match must stand this many standard deviations above the rest of its row
MIN_Z = 2.0
#: or this many, when the two passages are each other's best match: the lettered actions of a
#: GCM sheet are all about one theme, so "l." in Spanish stands less than 2 deviations above the
#: other actions of the English sheet, yet it is "l." there that is nearest, and vice versa.
#: Such pairs link passages of documents linked by the clear winners; they do not count
#: towards linking two documents.
MIN_Z_MUTUAL = 1.0
#: and sit near the same relative position: within this share of the document, or within
#: BAND_PASSAGES passages for short documents (chunking shifts a few passages at most)
MAX_SHIFT = 0.05
BAND_PASSAGES = 2.5
#: share of the shorter document's passages that must align for the documents to be linked
MIN_ALIGNED = 0.35
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
    The score is the share of passages, on both sides, whose best match counts; mutual best
    matches of a lower z-score (MIN_Z_MUTUAL) are paired too, without counting in the score.
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
    best_of = (sims.argmax(axis=1), sims.argmax(axis=0))
    for side, (matrix, here, there, flip) in enumerate(((sims, pos_a, pos_b, False), (sims.T, pos_b, pos_a, True))):
        best = best_of[side]
        mutual = best_of[1 - side][best] == np.arange(len(best))
        top = matrix[np.arange(len(best)), best]
        z = (top - matrix.mean(axis=1)) / (matrix.std(axis=1) + 1e-6)
        near = np.abs(here - there[best]) <= band
        ok = (z >= MIN_Z) & near
        good += int(ok.sum())
        for i in np.flatnonzero(ok | (near & mutual & (z >= MIN_Z_MUTUAL))):
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

    found: dict[frozenset[str], tuple[str, str, Alignment]] = {}
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
                found[key] = (doc_id, other.doc_id, result)
    _close(db, docs, found, set(targets))
    db.replace_translations(targets, list(found.values()))
    return len(found)


def _close(db: Database, docs: dict, found: dict[frozenset[str], tuple[str, str, Alignment]],
           targets: set[str]) -> None:
    """Link a to c when both are linked to b: versions chunked apart may not align directly.

    GCM objective 18 in Spanish and French align poorly with each other (their chunks cut
    the lists differently) but both align with the English one. A passage pair of a and c
    is composed through b, scored by the weaker of its two links. Links stored by earlier
    runs count as well as this run's.
    """
    links: dict[frozenset[str], tuple[str, str, Alignment]] = dict(found)
    for a, b, _ in list(found.values()):
        for doc in (a, b):
            for other, score in db.document_translations(doc):
                key = frozenset((doc, other))
                if key not in links and other in docs and not {doc, other} & targets:  # targets: just recomputed
                    links[key] = (doc, other, Alignment(score, db.passage_pairs(doc, other)))
    neighbours: dict[str, set[str]] = {}
    for a, b, _ in links.values():
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    for b, around in neighbours.items():
        for a in around:
            for c in around:
                key = frozenset((a, c))
                if a >= c or key in links or not docs[a].lang or docs[a].lang == docs[c].lang:
                    continue
                ab, bc = _oriented(links[frozenset((a, b))], a), _oriented(links[frozenset((b, c))], b)
                via: dict[int, list[tuple[int, float]]] = {}
                for y, z, s in bc:
                    via.setdefault(y, []).append((z, s))
                pairs = {(x, z): min(s1, s2) for x, y, s1 in ab for z, s2 in via.get(y, [])}
                if pairs:
                    score = min(links[frozenset((a, b))][2].score, links[frozenset((b, c))][2].score)
                    found[key] = links[key] = (a, c, Alignment(score, [(x, z, s) for (x, z), s in sorted(pairs.items())]))


def _oriented(entry: tuple[str, str, Alignment], first: str) -> list[tuple[int, int, float]]:
    """The entry's passage pairs as (passage of ``first``, passage of the other, similarity)."""
    a, _, alignment = entry
    return alignment.pairs if a == first else [(y, x, s) for x, y, s in alignment.pairs]


def _comparable(n: int, m: int) -> bool:
    return min(n, m) >= 2 and max(n, m) <= MAX_LENGTH_RATIO * min(n, m)


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    return vecs / (np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12)
