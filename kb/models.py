"""Typed records that flow between the stages.

Ingestion: extract -> ``ExtractedDocument`` -> clean -> ``CleanText`` -> chunk ->
``Passage`` -> embed -> store.  Search: query -> ``Hit`` -> ``SearchResult``.
Plain dataclasses (not pydantic) so that the CLI path imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


#: the lesson types a passage can have (kb/lessons labels them); one list for the library,
#: the CLI, the API's schema and the web page
LESSON_TYPES: tuple[str, ...] = ("barrier", "good_practice", "recommendation", "risk", "context")


@dataclass(frozen=True)
class Page:
    """Raw text of one physical page (``number`` is 1-based; None for page-less formats)."""

    number: int | None
    text: str


@dataclass
class ExtractedDocument:
    """What an extractor reads from one file, before any repair."""

    source: str
    format: str
    title: str | None
    pages: list[Page]
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(p.text) for p in self.pages)


@dataclass(frozen=True)
class PageSpan:
    """Where one physical page lies in the cleaned document text (``start``..``end``)."""

    number: int | None
    start: int
    end: int


@dataclass
class CleanText:
    """The repaired text of a whole document and where each page sits in it.

    ``dropped`` counts characters removed on purpose (repeated headers, footers, page
    numbers), so that the invariant "every character is in a passage or was dropped"
    can be checked.
    """

    text: str
    pages: list[PageSpan]
    lang: str | None = None
    repairs: int = 0
    dropped: int = 0

    def page_at(self, offset: int) -> int | None:
        """Physical page holding the character at ``offset``."""
        found = None
        for span in self.pages:
            if span.start <= offset:
                found = span.number
            else:
                break
        return found


@dataclass
class Passage:
    """A citable unit of text: the thing that is embedded, searched and quoted."""

    passage_id: str
    doc_id: str
    ordinal: int
    text: str
    lang: str | None
    page_start: int | None
    page_end: int | None
    paragraph: str | None
    section: str | None
    char_start: int
    char_end: int


@dataclass
class Document:
    """A document as the index knows it."""

    doc_id: str
    source: str
    title: str
    lang: str | None
    format: str
    sha256: str
    pages: int
    passages: int = 0
    organisation: str | None = None
    year: int | None = None
    country: str | None = None
    url: str | None = None
    tags: list[str] = field(default_factory=list)
    ingested_at: str | None = None
    #: ids of this document's versions in other languages (kb/derived/translations.py)
    translations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Citation:
    doc_id: str
    title: str
    source: str
    page_start: int | None
    page_end: int | None
    paragraph: str | None
    section: str | None

    def short(self) -> str:
        """Human citation: "Title, p. 4, para. 8 c)"."""
        parts = [self.title]
        if self.page_start is not None:
            if self.page_end is not None and self.page_end != self.page_start:
                parts.append(f"pp. {self.page_start}-{self.page_end}")
            else:
                parts.append(f"p. {self.page_start}")
        if self.paragraph:
            parts.append(f"para. {self.paragraph}")
        return ", ".join(parts)


def cited(passage: Passage, citation: Citation, text: bool = True) -> dict[str, Any]:
    """The one way a passage is written out with its citation (search hits, the API's
    passages, the versions named beside a hit): id, text, language, citation and its short form."""
    out: dict[str, Any] = {"passage_id": passage.passage_id}
    if text:
        out["text"] = passage.text
    out.update(lang=passage.lang, citation=asdict(citation), cite=citation.short())
    return out


@dataclass
class Hit:
    """One search result: a passage, its score and its citation."""

    rank: int
    score: float
    passage: Passage
    citation: Citation
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rank": self.rank, "score": round(float(self.score), 6),
                               **cited(self.passage, self.citation)}
        out.update(self.extra)
        return out


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    id: Any = None
    query_lang: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # every key always present (null when unknown), so that typed clients need no special case
        return {"id": self.id, "query": self.query, "query_lang": self.query_lang or None,
                "results": [h.to_dict() for h in self.hits]}
