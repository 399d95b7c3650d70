"""Which other languages hold a passage: honest, conservative translation detection.

The index has no translation links yet. When search hits carry
``extra["translations"]`` (a list of ``{lang, passage_id, doc_id}``), those are used
as they are. Otherwise a passage P of document A counts as translated by passage T of
document B only when all of these hold: B is another document in another language,
the two vectors are very close (a multilingual model puts a paragraph and its
translation far closer than two different paragraphs on the same theme), T is P's
nearest neighbour in B *and* P is T's nearest neighbour in A (mutual best match), and
their lengths are comparable. Measured on the GCM objective sheets (en/fr/es), aligned
paragraphs score 0.80-0.86 and different paragraphs in another language at most
about 0.65, so the threshold below leaves a margin on both sides. Misaligned chunks
(one passage covering two of the other's) are missed: a missing note is better than
a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.brief.vectors import Vectors
from kb.library import KnowledgeBase
from kb.models import Passage

TRANSLATION_SIM = 0.75
NEIGHBOURS = 12
LENGTH_RATIO = 2.5


@dataclass(frozen=True)
class Translation:
    lang: str
    passage_id: str
    doc_id: str
    similarity: float | None = None  # None when the index said so (Hit.extra)


class TranslationFinder:
    def __init__(self, kb: KnowledgeBase, vectors: Vectors) -> None:
        self.kb = kb
        self.vectors = vectors
        self._langs = [lang for lang in kb.index.db.languages() if lang]
        self._doc_vectors: dict[str, tuple[list[str], np.ndarray]] = {}
        self._allowed: dict[str | None, np.ndarray] = {}

    def find(self, passage: Passage, vector: np.ndarray, extra: list[dict] | None = None) -> list[Translation]:
        """Translations of ``passage``, at most one per language, best first.

        One transitive step is taken: when the French passage is found for an English one,
        the French one's own translations count too (chunking differs between language
        versions, so the English-Spanish pair may not match directly when both match French).
        """
        found: dict[str, Translation] = {}
        for item in extra or []:
            lang, pid = item.get("lang"), item.get("passage_id")
            if lang and pid and lang != passage.lang and lang not in found:
                found[lang] = Translation(lang, pid, item.get("doc_id") or pid.split(":")[0])
        direct = self._by_vectors(passage, vector)
        for t in direct:
            found.setdefault(t.lang, t)
        for t in direct:
            other = self.kb.passage(t.passage_id)
            if other is None:
                continue
            for t2 in self._by_vectors(other, self.vectors.passages([other.text])[0]):
                if t2.lang != passage.lang and t2.doc_id != passage.doc_id:
                    found.setdefault(t2.lang, t2)
        return sorted(found.values(), key=lambda t: (-(t.similarity or 1.0), t.lang))

    def _by_vectors(self, passage: Passage, vector: np.ndarray) -> list[Translation]:
        others = [lang for lang in self._langs if lang != passage.lang]
        if not others:
            return []
        if passage.lang not in self._allowed:
            self._allowed[passage.lang] = self.kb.index.db.rowids_where(langs=others)
        allowed = self._allowed[passage.lang]
        if not len(allowed):
            return []
        neighbours = self.kb.index.vectors.search(np.asarray(vector, dtype=np.float32), NEIGHBOURS, allowed)
        close = [(rowid, score) for rowid, score in neighbours if score >= TRANSLATION_SIM]
        if not close:
            return []
        rows = self.kb.index.db.passages_by_rowids([r for r, _ in close])
        out: list[Translation] = []
        seen_docs: set[str] = set()
        for rowid, score in close:  # nearest first: the first hit per document is its best match
            other = rows.get(rowid)
            if other is None or other.doc_id == passage.doc_id or other.doc_id in seen_docs or not other.lang:
                continue
            seen_docs.add(other.doc_id)
            if self._comparable(passage, other) and self._mutual(passage, other):
                out.append(Translation(other.lang, other.passage_id, other.doc_id, round(float(score), 3)))
        return out

    @staticmethod
    def _comparable(a: Passage, b: Passage) -> bool:
        la, lb = max(len(a.text), 1), max(len(b.text), 1)
        return max(la, lb) / min(la, lb) <= LENGTH_RATIO

    def _mutual(self, passage: Passage, other: Passage) -> bool:
        """Is ``passage`` the closest passage of its own document to ``other``?"""
        ids, vecs = self._doc(passage.doc_id)
        if not ids:
            return False
        back = vecs @ self.vectors.passages([other.text])[0]
        return ids[int(np.argmax(back))] == passage.passage_id

    def _doc(self, doc_id: str) -> tuple[list[str], np.ndarray]:
        if doc_id not in self._doc_vectors:
            passages = self.kb.index.db.passages_of(doc_id)
            self._doc_vectors[doc_id] = ([p.passage_id for p in passages],
                                         self.vectors.passages([p.text for p in passages]))
        return self._doc_vectors[doc_id]
