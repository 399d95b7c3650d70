"""The built pack: plain typed records that every renderer reads and tests check.

Selection and rendering are separate so that Markdown, HTML and DOCX cannot
disagree about which passages were chosen, and so that a test can check the pack
itself (verbatim quotes, resolvable citations, no repeats) independently of a format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kb.models import Citation

ELLIPSIS = "…"


@dataclass
class Quote:
    """One quoted passage (or a verbatim, sentence-bounded excerpt of it)."""

    passage_id: str
    doc_id: str
    #: verbatim text of the passage, or a substring of it when ``trimmed_start``/``trimmed_end``
    text: str
    citation: Citation
    lang: str | None
    #: languages in which a translation of this passage exists in the index
    other_languages: list[str] = field(default_factory=list)
    #: number of the document in the pack's source list (1-based)
    source_number: int = 0
    score: float = 0.0
    trimmed_start: bool = False
    trimmed_end: bool = False
    #: headings of the other topics that quote the same passage
    also_under: list[str] = field(default_factory=list)
    #: number of the whole passage in the pack's "whole passages" section when this is an excerpt (else 0)
    whole: int = 0

    @property
    def display_text(self) -> str:
        """The text as printed: "…" marks where an excerpt was cut from its passage."""
        head = ELLIPSIS + " " if self.trimmed_start else ""
        tail = " " + ELLIPSIS if self.trimmed_end else ""
        return f"{head}{self.text}{tail}"

    def cite(self) -> str:
        return self.citation.short()

    def cite_parts(self) -> tuple[str, str]:
        """(title, the rest: ", p. 4, para. 8 c)") so that renderers can set the title in italics."""
        full, title = self.cite(), self.citation.title
        return (title, full[len(title):]) if full.startswith(title) else (full, "")


@dataclass
class PackTopic:
    heading: str
    questions: list[str]
    quotes: list[Quote]
    intro: str | None = None
    type: str | None = None


@dataclass
class Whole:
    """A passage quoted in part, printed whole at the end of the pack (quotes are word for word)."""

    number: int
    passage_id: str
    text: str
    citation: Citation
    source_number: int

    def cite(self) -> str:
        return self.citation.short()


@dataclass
class Source:
    """A document cited somewhere in the pack."""

    number: int
    doc_id: str
    title: str
    organisation: str | None
    year: int | None
    source: str
    url: str | None
    lang: str | None

    @property
    def location(self) -> str:
        """Where a reader finds it: the URL when known, else the file."""
        return self.url or self.source

    def details(self) -> str:
        """"Organisation, 2023" (whichever of the two is known)."""
        return ", ".join(str(x) for x in (self.organisation, self.year) if x)


@dataclass
class Generated:
    """How and when the pack was made (printed as its last line)."""

    tool: str
    version: str
    at: str  # ISO 8601, UTC
    index: str
    model: str
    documents: int
    passages: int


@dataclass
class Pack:
    title: str
    topics: list[PackTopic]
    sources: list[Source]
    generated: Generated
    intro: str | None = None
    lang: str | None = None
    #: the passages quoted in part, whole (``Quote.whole`` numbers them)
    wholes: list[Whole] = field(default_factory=list)

    def quotes(self) -> list[Quote]:
        return [q for t in self.topics for q in t.quotes]

    def source(self, number: int) -> Source:
        return self.sources[number - 1]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for topic, raw in zip(self.topics, out["topics"]):
            for quote, q in zip(topic.quotes, raw["quotes"]):
                q["cite"] = quote.cite()
                q["display_text"] = quote.display_text
        return out
