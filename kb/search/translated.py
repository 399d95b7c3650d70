"""The keyword list across languages: the question translated into the index's pivot language
and matched on the passages' translations into it (kb/translate/, kb/derived/pivot.py).

The own-language keyword list finds nothing in other languages (a question's words are not in
them). Rough machine translation gives keyword matching that bridge: the content words come
through. Where it is fused (docs/translation.md has the figures):

* keyword mode (``--mode keyword``): always, leading the own-language list, which breaks ties
  (KEYWORD_MODE_LEAD); for a lookup of a few words both count alike, exact names first.
* hybrid: only with Settings.pivot_weight > 0 (default 0), and only its passages in other
  languages than the question's, under the language shares hybrid keeps. On the blind dev set
  no setting that kept XQuAD's cross-language Recall@1 gained more than noise: dense already
  bridges languages, and a same-topic paragraph in another language shares translated words too.

Hits are always the passages: a translation is never shown.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable

from kb.store.keys import TRANSLATOR
from kb.translate.memo import TranslationMemo
from kb.store.keyword_rows import PIVOT_TABLE

if TYPE_CHECKING:
    from kb.index import Index
    from kb.settings import Settings

Matches = list[tuple[int, float]]


def _usable_route(translator, lang: str, word_by_word: bool) -> bool:
    """Whether a question in ``lang`` has a route into the pivot, through Apertium pairs only
    unless ``word_by_word`` (a dictionary step) is acceptable.

    A dictionary gives every sense of every word, and a question's few words then match
    anything: in hybrid search German questions (FreeDict into English) lost answers to the
    pivot list (blind dev, R@5 0.57 -> 0.43). In keyword mode there is no dense list to lose to,
    and the words help a little (dev: Arabic 0 -> 1 of 6 in the top 5; own set: German 3 -> 4 of 6).
    Passages' dictionary translations are matchable by questions in other languages either way."""
    steps = translator.route(lang)
    return steps is not None and (word_by_word or all(step.kind == "apertium" for step in steps))


class PivotSearch:
    """Translates questions for one index (an LRU of recent ones) and matches them."""

    CACHE_SIZE = 1024
    #: keyword mode: the pivot list's weight over the own-language list's for a question. Blind
    #: dev set, answers in the top 5 of 53: own words alone 10; fused 2:1 13, 10:1 18, 30:1 19
    #: (MRR@10 0.18, 0.22, 0.25); the own set 29, 33, 38, 38 of 60 (`kb eval --mode keyword`)
    KEYWORD_MODE_LEAD = 30.0
    #: passages the pivot list's OR may touch, at most (match_expression): a second keyword
    #: query on the search path, kept to its rarest terms. 100k passages: the pivot side's term
    #: counts and match p50 14 ms at 2,000 against 22 ms at 5,000 (bench/translate.py scale);
    #: the blind dev set's scores do not move between the two (docs/translation.md)
    BUDGET = 2_000

    def __init__(self, index: "Index", settings: "Settings") -> None:
        self.index = index
        self.settings = settings
        self._memo = TranslationMemo(self.CACHE_SIZE)
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

    def translated(self, text: str, lang: str | None, word_by_word: bool = False) -> str | None:
        """``text`` in the pivot language, or None when translation is off or has no route
        (``word_by_word``: a dictionary route counts, see _usable_route)."""
        pivot = self.pivot()
        if not self.settings.translate or not pivot or not lang:
            return None
        if lang == pivot:
            return text
        from kb.translate import enabled

        translator = enabled(True)
        if translator is None or translator.pivot != pivot or not _usable_route(translator, lang, word_by_word):
            return None
        return self._memo.translate(translator, text, lang, pivot)

    def matches(self, text: str, lang: str | None, depth: int, allowed, budget: int,
                search: Callable[..., Matches], word_by_word: bool = False) -> Matches | None:
        """Passages whose pivot text matches the translated question, best bm25 first; None
        when there is no such list (``search``: Searcher._keyword_matches)."""
        from kb.text.keywords import match_expression

        translated = self.translated(text, lang, word_by_word)
        if not translated:
            return None
        db = self.index.db
        expr = match_expression(translated, self.pivot(), lambda terms: db.term_doc_freq(terms, PIVOT_TABLE),
                                min(budget, self.BUDGET))
        return search(expr, depth, allowed, PIVOT_TABLE) if expr else []

    def for_query(self, text: str, lang: str | None, mode: str, lookup: bool, own_weight: float, depth: int,
                  allowed, budget: int, search: Callable[..., Matches]) -> tuple[Matches | None, float]:
        """(the pivot list or None, its fusion weight) for one query (module docstring)."""
        if mode == "keyword":
            weight = own_weight * (1.0 if lookup else self.KEYWORD_MODE_LEAD)
        elif mode == "hybrid":
            weight = self.settings.pivot_weight
        else:
            return None, 0.0
        if weight <= 0:
            return None, 0.0
        found = self.matches(text, lang, depth, allowed, budget, search, word_by_word=mode == "keyword")
        if found and mode == "hybrid":  # the own list has the question's language
            langs = self.index.db.langs_of([r for r, _ in found])
            found = [(r, s) for r, s in found if langs.get(r) != lang]
        return found or None, weight
