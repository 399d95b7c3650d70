"""The keyword list across languages: the question translated into the index's pivot language
and matched on the passages' translations into it (kb/translate/, kb/derived/pivot.py).

The own-language keyword list finds nothing in other languages (a question's words are not
in them), and dense retrieval is the only bridge there. Rough machine translation is enough to
give keyword matching that bridge: the content words come through. The list is fused like the
others (Settings.pivot_weight) and never decides what is shown: hits are the passages.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable

from kb.store.keys import TRANSLATOR
from kb.store.keyword_rows import PIVOT_TABLE

if TYPE_CHECKING:
    from kb.index import Index
    from kb.settings import Settings

Matches = list[tuple[int, float]]


def _sentence_route(translator, lang: str) -> bool:
    """Whether a question in ``lang`` reaches the pivot through Apertium pairs only.

    A dictionary step translates word by word with every sense of each word, and a question's
    few words then match anything: German and Arabic questions (FreeDict into English) lost
    answers to the pivot list on the blind dev set (German R@5 0.57 -> 0.43) while their
    passages' dictionary translations stay matchable by questions in other languages."""
    steps = translator.route(lang)
    return steps is not None and all(step.kind == "apertium" for step in steps)


class PivotSearch:
    """Translates questions for one index (an LRU of recent ones) and matches them."""

    CACHE_SIZE = 1024
    #: passages the pivot list's OR may touch, at most (match_expression): a second keyword
    #: query on the search path, kept to its rarest terms. 100k passages: the pivot side's term
    #: counts and match p50 14 ms at 2,000 against 22 ms at 5,000 (bench/translate.py scale);
    #: the blind dev set's scores do not move between the two (docs/translation.md)
    BUDGET = 2_000

    def __init__(self, index: "Index", settings: "Settings") -> None:
        self.index = index
        self.settings = settings
        self._texts: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._pivot: tuple[int, str | None] = (-1, None)

    def pivot(self) -> str | None:
        """The index's pivot language, if it has pivot texts (read once per generation)."""
        generation = self.index.db.generation()
        if self._pivot[0] != generation:
            raw = self.index.db.get_meta(TRANSLATOR)
            try:
                pivot = json.loads(raw).get("pivot") if raw else None
            except (ValueError, AttributeError):
                pivot = None
            self._pivot = (generation, pivot)
        return self._pivot[1]

    def translated(self, text: str, lang: str | None) -> str | None:
        """``text`` in the pivot language, or None when translation is off or has no route."""
        pivot = self.pivot()
        if not self.settings.translate or self.settings.pivot_weight <= 0 or not pivot or not lang:
            return None
        if lang == pivot:
            return text
        key = (lang, text)
        if key in self._texts:
            self._texts.move_to_end(key)
            return self._texts[key]
        from kb.translate import TranslationError, enabled

        translator = enabled(True)
        out = None
        if translator is not None and translator.pivot == pivot and _sentence_route(translator, lang):
            try:
                out = translator.translate(text, lang)
            except TranslationError:  # a question the translator chokes on: no list, not an error
                out = None
        self._texts[key] = out
        while len(self._texts) > self.CACHE_SIZE:
            self._texts.popitem(last=False)
        return out

    def matches(self, text: str, lang: str | None, depth: int, allowed, budget: int,
                search: Callable[..., Matches]) -> Matches | None:
        """Passages whose pivot text matches the translated question, best bm25 first; None
        when there is no such list (``search``: Searcher._keyword_matches)."""
        from kb.text.keywords import match_expression

        translated = self.translated(text, lang)
        if not translated:
            return None
        db = self.index.db
        expr = match_expression(translated, self.pivot(), lambda terms: db.term_doc_freq(terms, PIVOT_TABLE),
                                min(budget, self.BUDGET))
        return search(expr, depth, allowed, PIVOT_TABLE) if expr else []
