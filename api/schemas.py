"""Typed request and response models: what ``/openapi.json`` publishes, field by field.

Requests are strict (``extra="forbid"``, no type coercion) so that a typo such as
``{"filters": {"colour": [...]}}`` or ``{"k": "5"}`` is answered with a 422 that names the
field, instead of being silently ignored or reinterpreted. Responses mirror the records
of ``kb.models`` exactly (the contract's result object is ``SearchResult.to_dict()``), and
allow extra keys so that a field the library adds later passes through unharmed.

The query-length and ``k`` limits are ``Settings``' defaults, which is what the schema
advertises; the library re-checks them against the running ``Settings`` (see ``ApiService``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

import annotated_types

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from kb.brief import FORMATS
from kb.brief.chosen import MAX_PASSAGES
from kb.brief.topics import MAX_HEADING_CHARS, MAX_INTRO_CHARS, MAX_PER_TOPIC, MAX_QUESTIONS, MAX_TOPICS
from kb.models import LESSON_TYPES
from kb.search.query import MODES, NO_TEXT, has_text, is_blank, is_blank_char, is_text_char, not_a_language
from kb.settings import Settings

_DEFAULTS = Settings()
MAX_QUERY_CHARS: int = _DEFAULTS.max_query_chars
K_MAX: int = _DEFAULTS.k_max
K_DEFAULT: int = _DEFAULTS.k
MAX_FILTER_VALUES = 200
PAGE_MAX = 500
OFFSET_MAX = 1_000_000_000  # far past any index, and well inside SQLite's 64-bit integers


def _encodable(value: str) -> str:
    """Reject lone surrogates (legal in JSON escapes, not in UTF-8): SQLite could not store them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text contains an invalid Unicode character (a lone surrogate)") from None
    return value


@lru_cache(maxsize=1)
def not_blank_pattern() -> str:
    """``kb.search.is_blank``'s rule as a JSON Schema (ECMA-262) pattern: a string holding a
    character that is not blank. Built from the rule itself, over the Basic Multilingual Plane
    (16 ms, once, when the schema is built)."""
    runs: list[list[int]] = []
    for cp in range(0x10000):
        if not is_blank_char(chr(cp)):
            continue
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    body = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in runs)
    return f"[^{body}]"


@lru_cache(maxsize=1)
def text_pattern() -> str:
    """``kb.search.query.has_text``'s rule as a JSON Schema pattern: a string holding a letter
    or a digit (built from the rule, over the Basic Multilingual Plane, once)."""
    runs: list[list[int]] = []
    for cp in range(0x10000):
        if is_text_char(chr(cp)):
            continue
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    body = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in runs)
    return f"[^{body}]"


def _query_text(value: str) -> str:
    if is_blank(value):
        raise ValueError("the query is empty")
    if not has_text(value):
        raise ValueError(NO_TEXT)
    return _encodable(value)


def _integral(value: object) -> object:
    """Accept 5.0 as 5: JSON Schema counts it as an integer, so strict pydantic alone would not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_LANG_CODE = r"^\s*[A-Za-z]{2,3}\s*$"


def _lang_code(value: str) -> str:
    """The pattern the schema publishes, enforced here so that the answer uses the CLI's words
    ("use ISO 639-1 codes such as 'fr'") rather than the regular expression."""
    if not re.match(_LANG_CODE, value):
        raise ValueError(not_a_language(value))
    return _encodable(value.strip().lower())


QueryText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        # Documents the "a letter or a digit somewhere" rule (kb.search.query.has_text, which
        # also refuses blanks); the validator below enforces it.
        json_schema_extra={"pattern": text_pattern()},
        description=(f"The question or keywords, in any language (1 to {MAX_QUERY_CHARS} characters, "
                     "with at least one letter or digit)."),
        examples=["obstacles à la reconnaissance des compétences des migrants"],
    ),
    AfterValidator(_query_text),
]
#: an ISO 639 code, any case, spaces around allowed (kb.text.lang.iso_code applies the same rule)
LangCode = Annotated[str, StringConstraints(min_length=1, max_length=16), Field(json_schema_extra={"pattern": _LANG_CODE}),
                     AfterValidator(_lang_code)]
DocId = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_encodable)]
RequestId = Annotated[str, StringConstraints(max_length=500), AfterValidator(_encodable)]
Integral = Annotated[int, BeforeValidator(_integral)]
LessonType = Literal[LESSON_TYPES]  # type: ignore[valid-type]  # the library's list (kb/models.py)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Filters(_Strict):
    """Restrict a search; the lists are OR-ed within a field and AND-ed across fields."""

    lang: list[LangCode] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES,
        description="Only passages in these languages (ISO 639-1 codes, e.g. \"fr\").",
    )
    doc_id: list[DocId] = Field(
        default_factory=list, max_length=MAX_FILTER_VALUES,
        description="Only passages of these documents (ids from GET /documents).",
    )
    type: list[LessonType] = Field(
        default_factory=list, max_length=len(LESSON_TYPES),
        description="Only passages of these lesson types (see GET /types).",
    )


class SearchRequest(_Strict):
    query: QueryText
    k: Integral = Field(K_DEFAULT, ge=1, le=K_MAX, description=f"How many passages to return (1 to {K_MAX}).")
    filters: Filters | None = None
    id: RequestId | Integral | None = Field(None, description="Echoed back as the result's `id` (for batch callers).")
    mode: Literal[MODES] | None = Field(  # type: ignore[valid-type]
        None, description="Retrieval mode (default: the server's, normally hybrid: dense and keyword, fused).",
    )

    def library_args(self) -> dict[str, object]:
        """The keyword arguments of ``KnowledgeBase.query`` for this request."""
        filters = self.filters or Filters()
        return {"text": self.query, "k": self.k, "langs": filters.lang, "doc_ids": filters.doc_id,
                "mode": self.mode, "id": self.id, "types": filters.type}


# -- responses -----------------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Citation(_Open):
    doc_id: str
    title: str
    source: str = Field(description="The source file as ingested.")
    page_start: int | None = Field(description="1-based physical page (null for formats without pages).")
    page_end: int | None
    paragraph: str | None = Field(description="The document's own paragraph number (e.g. \"8 c)\"), if it has one.")
    section: str | None


class Scores(_Open):
    dense: float | None = None
    keyword: float | None = None
    companion: float | None = Field(None, description="Cosine by the index's companion model (hybrid search; `kb stats`).")
    sparse: float | None = Field(None, description="Dot product of the passage's sparse code with the question's, in an index "
                                 "that keeps codes (kb ingest --sparse; `kb stats`).")
    rerank: float | None = Field(None, description="The cross-encoder's score, when the server reranks (KB_RERANKER).")


class Version(_Open):
    """Another version of a hit's passage: a translation or a duplicate in another file."""

    lang: str | None
    passage_id: str
    doc_id: str
    citation: Citation
    cite: str


class Result(_Open):
    rank: int = Field(ge=1)
    score: float
    passage_id: str
    text: str = Field(description="The passage as a person should read it (repaired text).")
    lang: str | None = Field(description="The passage's language (ISO 639-1).")
    citation: Citation
    cite: str = Field(description="Human citation: \"Title, p. 4, para. 8 c)\".")
    scores: Scores | None = Field(None, description="The raw score from each retriever that found the passage.")
    types: dict[LessonType, float] = Field(
        default_factory=dict,
        description="The passage's lesson types and their confidence (0..1), e.g. {\"barrier\": 0.83}.",
    )
    translations: list[Version] | None = Field(
        None, description="The same passage in other languages (one per language), when the document has "
                          "linked translations; the hit itself is shown in the query's language when it can be.")
    duplicates: list[Version] | None = Field(
        None, description="Passages with the same text in other files, folded into this hit.")


class SearchResponse(_Open):
    """The contract's result object (the same shape as `kb search --json`)."""

    id: str | int | None = None
    query: str
    query_lang: str | None = None
    results: list[Result]


class TypeCounts(BaseModel):
    """``GET /types``: passages per lesson type and language (the same object as `kb types --json`)."""

    types: dict[LessonType, dict[str, int]] = Field(description="Per type: passages per language.")
    untyped: dict[str, int] = Field(description="Passages with no lesson type, per language.")
    passages: dict[str, int] = Field(description="All passages, per language.")
    fingerprint: str | None = Field(description="The cue file the labels come from (a short hash).")
    current: bool = Field(description="False when the cue file changed since: `kb relabel` brings labels up to date.")
    cues: str = Field(description="The cue file in use.")


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    passages: int
    model: str
    generation: int = Field(description="Bumped by every committed change to the index.")


class DocumentOut(_Open):
    doc_id: str
    source: str
    title: str
    lang: str | None
    format: str
    sha256: str
    pages: int
    passages: int
    organisation: str | None = None
    year: int | None = None
    country: str | None = None
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    ingested_at: str | None = None
    translations: list[str] = Field(
        default_factory=list, description="Ids of this document's versions in other languages.")


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int = Field(description="Documents in the index (all pages).")
    limit: int
    offset: int


class PassageOut(_Open):
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
    citation: Citation
    cite: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every 4xx: a sentence, or (request validation) one item per offending field."""

    detail: str | list[ErrorItem]


# -- briefing packs ------------------------------------------------------------------------
def _not_blank(value: str) -> str:
    if is_blank(value):  # the topics file's rule (kb/brief/topics.py): invisible characters only are blank
        raise ValueError("must not be blank")
    return _encodable(value)


def _text(max_length: int) -> object:
    """A non-blank string field, documented and checked the way QueryText is."""
    return Annotated[str, Field(min_length=1, max_length=max_length,
                                json_schema_extra={"pattern": not_blank_pattern()}),
                     AfterValidator(_not_blank)]


PerTopic = Annotated[int, annotated_types.Interval(ge=1, le=MAX_PER_TOPIC), BeforeValidator(_integral)]
Heading = _text(MAX_HEADING_CHARS)
Intro = _text(MAX_INTRO_CHARS)


def _comma_list(value: object) -> object:
    """``"good_practice, risk"`` (as a topics file may write it) -> ``["good_practice", "risk"]``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


LessonTypes = Annotated[list[LessonType], BeforeValidator(_comma_list)]


class TopicIn(_Strict):
    # exactly one of questions / question, said in the schema too (clients and generated tests read it)
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["questions"]}, {"required": ["question"]}]})

    heading: Heading = Field(description="The topic's heading in the pack.")  # type: ignore[valid-type]
    questions: list[QueryText] = Field(  # type: ignore[assignment]  # absent is None; null is refused
        None, min_length=1, max_length=MAX_QUESTIONS, description="One or more questions, any language.")
    question: QueryText = Field(  # type: ignore[assignment]
        None, description="One question: the same as `questions` with one item.")
    intro: Intro | None = None  # type: ignore[valid-type]
    type: LessonTypes | None = Field(  # type: ignore[valid-type]
        None, description="Optional lesson type(s) the topic is about: \"barrier\", [\"barrier\", \"risk\"] "
                          "or \"barrier, risk\".")
    per_topic: PerTopic | None = None

    @model_validator(mode="after")
    def _one_question_field(self) -> "TopicIn":
        if (self.questions is None) == (self.question is None):
            raise ValueError("give 'questions' (a list) or 'question' (one), exactly one of them")
        return self


PassageId = _text(600)  # not blank, said in the schema too (a generated " " is then expected to fail)


class BriefRequest(_Strict):
    """The topics file of `kb brief`, as JSON, plus the output format; or, in place of
    ``topics``, the ids of passages a person chose (the web page's pack), quoted in that order."""

    # exactly one of topics / passages, and the options that go with each, said in the schema too
    # (clients and generated tests read it): a key present, even as null, counts as given
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": ["topics"], "not": {"anyOf": [{"required": ["passages"]}, {"required": ["heading"]}]}},
        {"required": ["passages"], "not": {"anyOf": [{"required": ["topics"]}, {"required": ["per_topic"]},
                                                      {"required": ["group_by"]}]}},
    ]})

    title: Heading  # type: ignore[valid-type]
    intro: Intro | None = None  # type: ignore[valid-type]
    lang: str | None = Field(None, pattern=r"^[A-Za-z]{2,3}$",
                             description="Preferred language of quotes and labels (ISO 639-1, e.g. \"fr\").")
    per_topic: PerTopic | None = Field(None, description=f"Quotes per topic, 1 to {MAX_PER_TOPIC} (default 4).")
    topics: list[TopicIn] = Field(None, min_length=1, max_length=MAX_TOPICS)  # type: ignore[assignment]
    passages: list[PassageId] = Field(  # type: ignore[assignment, valid-type]
        None, min_length=1, max_length=MAX_PASSAGES, json_schema_extra={"uniqueItems": True},
        description="Passage ids (from POST /search), each once, quoted whole in this order, in place of `topics`.")
    heading: Heading | None = Field(  # type: ignore[valid-type]
        None, description="With `passages`: the section's heading (default: \"Selected passages\" in `lang`).")
    group_by: Literal["type"] | None = Field(
        None, description="\"type\": each topic becomes one section per lesson type (barriers, good practice, ...).")
    format: Literal[FORMATS] = Field(  # type: ignore[valid-type]
        "md", description="Markdown, a self-contained printable HTML page, or a Word document.")

    @model_validator(mode="after")
    def _topics_or_passages(self) -> "BriefRequest":
        if (self.topics is None) == (self.passages is None):
            raise ValueError("give 'topics' (questions to search) or 'passages' (chosen ids), exactly one of them")
        given = self.model_fields_set
        if self.passages is not None and given & {"per_topic", "group_by"}:
            raise ValueError("'per_topic' and 'group_by' apply to 'topics', not to chosen 'passages'")
        if self.topics is not None and "heading" in given:
            raise ValueError("'heading' applies to chosen 'passages'; each topic has its own")
        return self

    def topics_object(self) -> dict[str, object]:
        return self.model_dump(exclude={"format"}, exclude_none=True)
