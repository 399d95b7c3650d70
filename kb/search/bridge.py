"""Dense scores across languages: the question translated into each of the index's other
languages, and each dense candidate re-scored partly by its cosine with the question in its own
language.

A small multilingual model places a question nearer to any passage in its own language than to
the same content in another: answers in another language than the question's are the ones it
ranks tenth or lower (docs/benchmarks.md). A rough rule-based translation of the question turns
a match across languages into one within a language, which the model does well. The passages
are untouched: this costs a few translations and embeddings per question (cached for repeated
questions), nothing at ingestion.

Where Apertium has no pair (German, Arabic), the route goes through a dictionary, which gives
every sense of every word. Such a word list is a rough question, but only part of a passage's
score comes from it (the blend in Pending.rescore), and only a large dictionary is used
(MIN_HEADWORDS); docs/translation.md has what it gained and cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from kb.translate.memo import TranslationMemo

if TYPE_CHECKING:
    from kb.index import Index
    from kb.settings import Settings

Matches = list[tuple[int, float]]
#: (question vector, its language, passage rowids) -> their dense scores (Searcher._cosines)
Cosines = Callable[[np.ndarray, str, Sequence[int]], np.ndarray]
#: texts -> a callable giving their query vectors (Searcher._vectors_later)
Encode = Callable[[Sequence[str]], Callable[[], list[np.ndarray]]]


class Bridge:
    """Translates questions for one index (an LRU of recent ones) into its other languages."""

    CACHE_SIZE = 1024
    #: a route's dictionary steps must have this many entries: FreeDict's large German
    #: dictionaries helped German questions, its small Arabic ones cost Arabic questions answers
    #: across languages (docs/translation.md)
    MIN_HEADWORDS = 100_000
    #: a language with this share of the passages must be reachable for any to be translated
    #: into (targets); smaller ones (a few Swahili form pages) are translated into when they can be
    MIN_SHARE = 0.02

    def __init__(self, index: "Index", settings: "Settings") -> None:
        self.index = index
        self.settings = settings
        self._memo = TranslationMemo(self.CACHE_SIZE)
        self._langs: tuple[int, dict[str, int]] = (-1, {})

    def languages(self) -> dict[str, int]:
        """The index's document languages and their passages, read once per generation (from
        the small documents table: counting a large index's passages by language is slow)."""
        generation = self.index.db.generation()
        if self._langs[0] != generation:
            self._langs = (generation, self.index.db.document_languages())
        return self._langs[1]

    def targets(self, lang: str | None, wanted: Sequence[str] = ()) -> list[str]:
        """The languages a question in ``lang`` is translated into: the index's others that a
        route reaches (and that a language filter ``wanted`` allows); none when a language
        holding MIN_SHARE of the passages is out of reach.

        All or none, because a question and a passage in one language score higher than across
        two: translating into some languages only lifts them over the others (German questions
        on XQuAD's paragraphs in en/es/ar lost most Arabic answers; docs/translation.md)."""
        if not lang or not self.settings.translate:
            return []
        from kb.translate import enabled

        translator = enabled(True)
        if translator is None:
            return []
        counts = self.languages()
        total = sum(counts.values()) or 1
        out = []
        for target, passages in counts.items():
            if target == lang or (wanted and target not in wanted):
                continue
            steps = translator.route(lang, target)
            if steps and all((translator.headwords(step) or self.MIN_HEADWORDS) >= self.MIN_HEADWORDS
                             for step in steps):
                out.append(target)
            elif passages / total >= self.MIN_SHARE:
                return []
        return out

    def translations(self, text: str, lang: str, targets: Sequence[str]) -> dict[str, str]:
        """``text`` in each target language it could be translated into."""
        from kb.translate import enabled

        translator = enabled(True)
        if translator is None:
            return {}
        out: dict[str, str] = {}
        for target in targets:
            found = self._memo.translate(translator, text, lang, target)
            if found and found.strip():
                out[target] = found
        return out

    def start(self, text: str, lang: str | None, wanted: Sequence[str], encode: Encode) -> "Pending | None":
        """Translate the question and start embedding its translations (None: nothing to do)."""
        found = self.translations(text, lang, self.targets(lang, wanted)) if lang else {}
        if not found:
            return None
        return Pending(list(found), encode(list(found.values())))


class Pending:
    """A question's translations being embedded; ``rescore`` uses them on the dense candidates."""

    def __init__(self, langs: list[str], vectors: Callable[[], list[np.ndarray]]) -> None:
        self.langs = langs
        self._vectors = vectors

    def rescore(self, found: Matches, langs: dict[int, str | None], share: float, cosines: Cosines) -> Matches:
        """``found`` (the question's dense candidates) re-scored and re-sorted: a passage in a
        language the question was translated into scores ``(1 - share) * its score +
        share * its cosine with the question in its language``; the others keep theirs.

        A blend, not the better of the two: taking the maximum, or searching each language
        with its translation, ranked every translated language above the languages with no
        route (Arabic paragraphs of XQuAD lost to Spanish ones), because a question and a
        passage in one language always score higher than across two."""
        if not found:
            return found
        by_lang: dict[str, list[int]] = {}
        for rowid, _ in found:
            lang = langs.get(rowid)
            if lang in self.langs:
                by_lang.setdefault(lang, []).append(rowid)
        if not by_lang:
            return found
        scores = dict(found)
        for lang, vector in zip(self.langs, self._vectors()):
            ids = by_lang.get(lang)
            if ids:
                for rowid, cosine in zip(ids, cosines(vector, lang, ids).tolist()):
                    scores[rowid] = (1.0 - share) * scores[rowid] + share * cosine
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
