"""Keyword bodies in the pivot language for passages: what ingestion and `kb translate` store.

A passage already in the pivot language is indexed as it is; one in a language with a route
is translated; one the translator chokes on keeps its own words (with a warning), so it can
still be matched by a question in its language; one in a language without a route (or of no
known language) gets no pivot body at all.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from kb.text.keywords import index_body
from kb.translate.pivot import TranslationError, Translator


def pivot_bodies(texts: Sequence[str], langs: Sequence[str | None],
                 translator: Translator) -> tuple[list[str | None], list[str]]:
    """(body or None per text, warnings)."""
    bodies: list[str | None] = [None] * len(texts)
    warnings: list[str] = []
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        if lang == translator.pivot:
            bodies[i] = index_body(texts[i], lang)
        elif lang and translator.can(lang):
            by_lang[lang].append(i)
    for lang, idx in by_lang.items():
        try:
            out = translator.translate_many([texts[i] for i in idx], lang)
        except TranslationError as err:  # the route vanished (packages removed while running)
            out = [None] * len(idx)
            warnings.append(str(err))
        failed = 0
        for i, translated in zip(idx, out):
            if translated is None:
                failed += 1
                bodies[i] = index_body(texts[i], lang)
            else:
                bodies[i] = index_body(translated, translator.pivot)
        if failed:
            warnings.append(f"{failed} {lang} passage{'s' if failed != 1 else ''} could not be translated into "
                            f"{translator.pivot}; indexed with {'their' if failed != 1 else 'its'} own words")
    return bodies, warnings
