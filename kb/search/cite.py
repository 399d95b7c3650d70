"""Citing a hit: the citation record of a passage, and the versions named beside it."""

from __future__ import annotations

from kb.models import Citation, Passage, cited


def version_of(passage: Passage, docs: dict) -> dict[str, object]:
    """A translation or duplicate named in a hit: enough to fetch it and to cite it."""
    return {**cited(passage, citation_for(passage, docs.get(passage.doc_id)), text=False), "doc_id": passage.doc_id}


def citation_for(passage: Passage, doc) -> Citation:
    return Citation(
        doc_id=passage.doc_id, title=doc.title if doc else passage.doc_id,
        source=doc.source if doc else "", page_start=passage.page_start, page_end=passage.page_end,
        paragraph=passage.paragraph, section=passage.section,
    )
