"""Lesson types recomputed from stored vectors when the cue file changes (nothing is embedded).

The cue file's fingerprint is kept in ``meta`` (kb/store/keys.py ``LESSON_CUES``); when it
differs from the labeler's, every document is relabelled, one transaction per document, and
the fingerprint is recorded at the end: an interrupted run leaves the old one and is redone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from kb.models import LESSON_TYPES
from kb.store.keys import LESSON_CUES

if TYPE_CHECKING:
    from kb.lessons import LessonLabeler
    from kb.store.db import Database


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


def needs_relabel(db: "Database", labeler: "LessonLabeler") -> bool:
    """True when the stored labels come from another cue file (or there are none yet)."""
    return db.get_meta(LESSON_CUES) != labeler.fingerprint


def relabel(db: "Database", labeler: "LessonLabeler", doc_ids: Sequence[str] | None = None,
            on_document: Callable[[str, int], None] | None = None) -> RelabelReport:
    """Recompute lesson types from stored vectors, one transaction per document.

    With ``doc_ids`` None every document is relabelled and the fingerprint is recorded at the end.
    """
    report = RelabelReport(fingerprint=labeler.fingerprint, previous=db.get_meta(LESSON_CUES))
    report.counts = {t: 0 for t in LESSON_TYPES}
    for doc_id in list(doc_ids) if doc_ids is not None else [d.doc_id for d in db.documents()]:
        rowids, passages, vectors = db.document_rows(doc_id)
        labels = labeler.label(passages, vectors if rowids else None)
        db.replace_types_of(doc_id, rowids, labels)
        report.documents += 1
        report.passages += len(rowids)
        for found in labels:
            for t in found:
                report.counts[t] += 1
        if on_document:
            on_document(doc_id, len(rowids))
    if doc_ids is None:
        with db.conn:
            db.set_meta(LESSON_CUES, labeler.fingerprint)
    return report


def ensure_current(db: "Database", labeler: "LessonLabeler") -> RelabelReport | None:
    """Relabel the whole index if its labels come from another cue file; else nothing."""
    if not needs_relabel(db, labeler):
        return None
    return relabel(db, labeler)
