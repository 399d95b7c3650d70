"""Citing a hit: the citation record of a passage, and the versions named beside it."""

from __future__ import annotations

from dataclasses import asdict

from kb.models import Citation, Passage


def version_of(passage: Passage, docs: dict) -> dict[str, object]:
    """A translation or duplicate named in a hit: enough to fetch it and to cite it."""
    citation = citation_for(passage, docs.get(passage.doc_id))
    return {"lang": passage.lang, "passage_id": passage.passage_id, "doc_id": passage.doc_id,
            "citation": asdict(citation), "cite": citation.short()}


def citation_for(passage: Passage, doc) -> Citation:
    return Citation(
        doc_id=passage.doc_id, title=doc.title if doc else passage.doc_id,
        source=doc.source if doc else "", page_start=passage.page_start, page_end=passage.page_end,
        paragraph=passage.paragraph, section=passage.section,
    )
