"""The language of a query, told with the index's help.

langdetect reads character n-grams, and a few words do not carry enough of them:
"language courses" comes out French, "skills recognition" Danish, "visa humanitaire"
Finnish. For a short query the index knows better: which languages' passages use its
words (Database.word_languages), as a unigram model per language smoothed towards the
whole index (so a word a small language happens not to use is no evidence against it),
added to langdetect's log-probability with only the index's languages allowed.

Only a query whose every word some passage uses gets the index's help: a word the index
lacks may mean a language it lacks (a Spanish question on an English index), and then
langdetect decides alone, as it does for sentences. Measured (bench/query_lang.py) on 66
short queries in en/fr/es/de/pt (bench/short_queries.tsv) over the shared corpus's index:
42 right with langdetect alone, 56 with this; the own set's 60 questions 59 and 59; XQuAD's
short questions against one-language indexes gain 39 same-language questions of 1,175 and
lose 1 of the 3,070 in other languages.
"""

from __future__ import annotations

import math
import re

from kb.text.lang import detect_language, language_probabilities

#: a query of at most this many words is looked up word by word in the index
SHORT_WORDS = 6
#: Dirichlet smoothing mass, in passages: how far a language's word rates lean on the index's
MU = 20.0
#: the weight of langdetect's log-probability against the words' evidence
LANGDETECT_WEIGHT = 0.5
#: probability given to a language langdetect leaves out (it lists only those above 0.1)
FLOOR = 1e-3
#: a language counts as the index's when it holds this many passages (or all, in a small index)
MIN_PASSAGES = 20
_LETTER_WORD = re.compile(r"[^\W\d_]{3,}")


class QueryLanguage:
    """Detects query languages for one index (``db``: kb.store.db.Database)."""

    def __init__(self, db) -> None:
        self.db = db
        self._sizes: tuple[int, dict[str, int]] | None = None

    def sizes(self) -> dict[str, int]:
        """Passages per language that counts as the index's, cached for the generation."""
        generation = self.db.generation()
        if self._sizes is None or self._sizes[0] != generation:
            counts = self.db.document_languages()
            floor = min(MIN_PASSAGES, max(1, sum(counts.values()) // 10))
            self._sizes = (generation, {lang: n for lang, n in counts.items() if n >= floor})
        return self._sizes[1]

    def detect(self, text: str) -> str | None:
        """The ISO 639-1 code of ``text``'s language, or None when nothing tells."""
        from kb.text.keywords import fold

        words = [fold(w) for w in _LETTER_WORD.findall(text)]
        sizes = self.sizes() if len(words) <= SHORT_WORDS else {}
        evidence, known = self._word_evidence(words, sizes) if sizes else ({}, 0)
        if not known or known < len(words):
            # a sentence, or a word no passage here uses: n-grams tell best, and the answer
            # may be a language the index lacks (a Spanish question on an English index)
            return detect_language(text)
        probs = language_probabilities(text, dict.fromkeys(sizes, 1.0))
        scores = {lang: LANGDETECT_WEIGHT * math.log(max(probs.get(lang, 0.0), FLOOR)) + evidence[lang]
                  for lang in sorted(sizes)}
        return max(scores, key=scores.__getitem__)

    def _word_evidence(self, words: list[str], sizes: dict[str, int]) -> tuple[dict[str, float], int]:
        """(per language, the sum over the words the index holds of log P(word | language);
        how many words it holds). Each rate is smoothed towards the whole index's, so that a
        language with few passages here is not ruled out by a word it happens not to use."""
        total = sum(sizes.values())
        scores = dict.fromkeys(sizes, 0.0)
        known = 0
        for word in words:
            counts = self.db.word_languages(word)
            found = sum(counts.get(lang, 0.0) for lang in sizes)
            if not found:
                continue  # no passage uses it: no evidence either way
            known += 1
            background = found / total
            for lang, n in sizes.items():
                scores[lang] += math.log((counts.get(lang, 0.0) + MU * background) / (n + MU))
        return scores, known
