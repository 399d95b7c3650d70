"""Which other languages hold a passage: the index's translation links (kb/derived/translations.py).

Search hits carry ``extra["translations"]`` already; passages reached another way (a
swapped-in translation, a pooled candidate) are looked up in the same links. One
transitive step is taken, because chunking differs between language versions: when the
French passage is linked to an English one, the French one's own links count too.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.library import KnowledgeBase
from kb.models import Passage


@dataclass(frozen=True)
class Translation:
    lang: str
    passage_id: str
    doc_id: str
    similarity: float | None = None  # None when the index said so (Hit.extra)


class TranslationFinder:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def find(self, passage: Passage, extra: list[dict] | None = None) -> list[Translation]:
        """Translations of ``passage``, at most one per language, best first."""
        found: dict[str, Translation] = {}
        for item in extra or []:
            lang, pid = item.get("lang"), item.get("passage_id")
            if lang and pid and lang != passage.lang and lang not in found:
                found[lang] = Translation(lang, pid, item.get("doc_id") or pid.split(":")[0])
        direct = self._linked(passage)
        for t in direct:
            found.setdefault(t.lang, t)
        for t in direct:
            other = self.kb.passage(t.passage_id)
            if other is None:
                continue
            for t2 in self._linked(other):
                if t2.lang != passage.lang and t2.doc_id != passage.doc_id:
                    found.setdefault(t2.lang, t2)
        return sorted(found.values(), key=lambda t: (-(t.similarity or 1.0), t.lang))

    def _linked(self, passage: Passage) -> list[Translation]:
        db = self.kb.index.db
        rowid = db.rowid_of(passage.passage_id)
        if rowid is None:
            return []
        links = db.translations_of([rowid]).get(rowid, [])
        rows = db.passages_by_rowids([r for r, _ in links])
        out: list[Translation] = []
        for rowid, score in links:
            other = rows.get(rowid)
            if other is not None and other.lang and other.lang != passage.lang:
                out.append(Translation(other.lang, other.passage_id, other.doc_id, round(float(score), 3)))
        return out
