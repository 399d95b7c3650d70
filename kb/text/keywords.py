"""Text for the keyword index and keyword queries: folded, with per-language stems.

The FTS body holds each passage's own words plus their stems in the passage's
language, so an exact name ("EU-Passworld") and an inflected form ("reconnaissances")
both match. Accents are folded by FTS5's unicode61 tokenizer; stopwords are dropped
from queries only (bm25 already discounts them in bodies).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

_STEMMER_NAMES = {
    "en": "english", "fr": "french", "es": "spanish", "de": "german", "pt": "portuguese",
    "it": "italian", "nl": "dutch", "ar": "arabic", "ru": "russian", "tr": "turkish",
    "ro": "romanian", "el": "greek", "sv": "swedish", "da": "danish", "no": "norwegian",
    "fi": "finnish", "hu": "hungarian",
}

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("a an and are as at be by for from how in is it of on or that the this to was were what when where which who why with do does did can could should would their there these those about into than then them they we our you your".split()),
    "fr": frozenset("le la les l un une des de du d et ou en au aux a à est sont que qui quoi quel quelle quels quelles pour par sur dans avec ce cet cette ces se sa son ses leur leurs ne pas plus comment pourquoi il elle ils elles on nous vous y".split()),
    "es": frozenset("el la los las un una unos unas de del y o en a al es son que qué cual cuál cuales cuáles para por con se su sus lo como cómo no más le les hay".split()),
    "de": frozenset("der die das den dem des ein eine einer eines einem und oder in im an am auf für von mit zu zum zur ist sind was wie wer wo warum welche welcher nicht es sie er wir ihr".split()),
    "pt": frozenset("o a os as um uma uns umas de do da dos das e ou em no na nos nas ao aos é são que qual quais para por com se seu sua seus suas como não mais".split()),
}


def fold(text: str) -> str:
    """Lowercase and strip accents (the same folding FTS5 applies)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=32)
def _stemmer(lang: str | None):
    name = _STEMMER_NAMES.get(lang or "")
    if not name:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)


def tokens(text: str) -> list[str]:
    return [fold(t) for t in _WORD.findall(text)]


def index_body(text: str, lang: str | None) -> str:
    """FTS body: the passage's words, then the stems that differ from them."""
    words = tokens(text)
    stemmer = _stemmer(lang)
    if stemmer is None:
        return " ".join(words)
    simple = [w for w in words if "-" not in w and "'" not in w and "’" not in w]
    stems = {s for s, w in zip(stemmer.stemWords(simple), simple) if s != w}
    return " ".join(words) + (" " + " ".join(sorted(stems)) if stems else "")


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_terms(query: str, lang: str | None) -> tuple[list[str], list[str]]:
    """(content words, terms): the query's words without stopwords, and each word plus its stem."""
    words = tokens(query)
    stop = STOPWORDS.get(lang or "", frozenset())
    content = [w for w in words if w not in stop] or words
    terms: list[str] = []
    stemmer = _stemmer(lang)
    for word in dict.fromkeys(content):
        terms.append(word)
        if stemmer is not None and "-" not in word:
            stem = stemmer.stemWord(word)
            if stem != word:
                terms.append(stem)
    return content, list(dict.fromkeys(terms))


def match_expression(query: str, lang: str | None, doc_freq=None, budget: int | None = None) -> str | None:
    """An FTS5 MATCH for a free-text query: any word or stem; the whole query as a phrase too.

    With ``doc_freq`` (terms -> {term: passages containing it}) and ``budget``, the OR
    keeps the rarest terms while the passages they occur in add up to at most ``budget``
    (two terms at least), and the phrase only if all its words are kept. FTS5 scores every
    passage an OR matches, so on a large index a question's common words ("migration",
    "workers": a quarter of 1M passages) cost hundreds of ms while adding little: their
    idf is small and dense retrieval covers them. Names, numbers and acronyms are rare
    and always kept. Below ~50k passages nothing is dropped (measured on the 10k index).
    """
    content, terms = match_terms(query, lang)
    if not content:
        return None
    phrase = len(content) > 1
    if doc_freq is not None and budget is not None:
        df = doc_freq(terms)
        kept: list[str] = []
        total = 0
        for term in sorted(terms, key=lambda t: (df.get(t, 0), terms.index(t))):
            if len(kept) >= 2 and total + df.get(term, 0) > budget:
                break
            kept.append(term)
            total += df.get(term, 0)
        phrase = phrase and set(content) <= set(kept)
        terms = [t for t in terms if t in set(kept)]
    expr = " OR ".join(_quote(t) for t in terms)
    if phrase:
        expr = f"{_quote(' '.join(content))} OR {expr}"
    return expr


def phrase_expression(phrases: Sequence[str]) -> str | None:
    """An FTS5 MATCH for any of ``phrases`` as a whole (a glossary name: its words in order)."""
    quoted = [_quote(" ".join(words)) for words in (tokens(p) for p in phrases) if words]
    return " OR ".join(dict.fromkeys(quoted)) or None
