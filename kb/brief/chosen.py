"""A briefing pack from passages a person chose (the web page's pack), not from topics.

Why a second way in: a facilitator who searched, read and picked passages wants exactly
those, in the order they put them, not what the pack's own selection would pick for a
question. The request names passage ids; everything else (citations, the "also in"
languages, the numbered sources, the renderers) is the topics pack's, so the three formats
read the same whichever way the pack was made.

The request object::

    {"title": "...", "passages": ["doc:12", "doc:40"], "intro": "...", "lang": "fr", "heading": "..."}

``lang`` only chooses the pack's fixed words (quotes stay in the language chosen);
``heading`` names the one section (default: "Selected passages" in ``lang``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from kb.brief.labels import Labels
from kb.brief.pack import Pack, PackTopic, Quote
from kb.brief.topics import MAX_HEADING_CHARS, MAX_INTRO_CHARS, _lang, _one_line, _text, _unknown
from kb.errors import UnknownIdError, UsageError

if TYPE_CHECKING:
    from kb.library import KnowledgeBase

#: a pack is read by people: a few dozen passages at most; this only bounds one request
MAX_PASSAGES = 200
_KEYS = {"title", "passages", "intro", "lang", "heading"}


@dataclass(frozen=True)
class ChosenSpec:
    """A validated request for a pack of chosen passages."""

    title: str
    passage_ids: tuple[str, ...]
    intro: str | None = None
    lang: str | None = None
    heading: str | None = None


def is_chosen(obj: object) -> bool:
    """Whether a pack request names passages (this module) rather than topics (kb.brief.topics)."""
    return isinstance(obj, Mapping) and "passages" in obj


def load_chosen(obj: Mapping[str, Any], where: str = "pack") -> ChosenSpec:
    """Check a request the way ``load_topics`` checks a topics file: a mistake is a ``UsageError`` naming it."""
    if not isinstance(obj, Mapping):
        raise UsageError(f"{where}: expected an object with 'title' and 'passages'")
    if "topics" in obj:
        raise UsageError(f"{where}: give 'topics' or 'passages', not both")
    _unknown(obj, _KEYS, where)
    ids = obj.get("passages")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise UsageError(f"{where}: 'passages' must be a non-empty list of passage ids")
    if len(ids) > MAX_PASSAGES:
        raise UsageError(f"{where}: {len(ids)} passages; the limit is {MAX_PASSAGES}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise UsageError(f"{where}: passage(s) listed twice: {', '.join(repeated)}")
    return ChosenSpec(
        title=_one_line(_text(obj.get("title"), f"{where}: 'title'", limit=MAX_HEADING_CHARS)) or "",
        passage_ids=tuple(ids),
        intro=_text(obj.get("intro"), f"{where}: 'intro'", required=False, limit=MAX_INTRO_CHARS),
        lang=_lang(obj.get("lang"), f"{where}: 'lang'"),
        heading=_one_line(_text(obj.get("heading"), f"{where}: 'heading'", required=False, limit=MAX_HEADING_CHARS)),
    )


def build_chosen_pack(kb: "KnowledgeBase", spec: ChosenSpec, now: datetime | None = None) -> Pack:
    """The passages, whole and in the order given, each cited, with its other languages.

    An id the index does not hold is an ``UnknownIdError`` (404 from the API): a pack that
    silently drops a passage someone chose would be worse than none.
    """
    from kb.brief.build import _generated, _PackState
    from kb.brief.translations import TranslationFinder
    from kb.search.cite import citation_for

    missing = [pid for pid in spec.passage_ids if kb.passage(pid) is None]
    if missing:
        raise UnknownIdError(f"no passage {', '.join(map(repr, missing))} in the index (was it re-ingested?)")
    finder = TranslationFinder(kb)
    state = _PackState()
    quotes: list[Quote] = []
    for pid in spec.passage_ids:
        passage = kb.passage(pid)
        assert passage is not None  # checked above, in the same snapshot
        others = {t.lang for t in finder.find(passage) if t.lang != passage.lang}
        quotes.append(Quote(
            passage_id=passage.passage_id, doc_id=passage.doc_id, text=passage.text,
            citation=citation_for(passage, kb.document(passage.doc_id)), lang=passage.lang,
            other_languages=sorted(others), source_number=state.number(kb, passage.doc_id),
        ))
    heading = spec.heading or Labels(spec.lang)["chosen"]
    return Pack(title=spec.title, intro=spec.intro, lang=spec.lang,
                topics=[PackTopic(heading, [], quotes)], sources=list(state.sources.values()),
                generated=_generated(kb, now))
