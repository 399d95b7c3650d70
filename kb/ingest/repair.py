"""Repair words damaged by PDF ligature extraction.

PDF fonts often draw "ti", "tt", "fi", "ffi"... as one glyph.  Extractors then emit
U+FFFD or a private-use code point for it, or drop one letter of "tt"
("atteint" -> "ateint").  We rebuild candidate spellings and keep the one with the
highest word frequency in the text's language (wordfreq), and never guess: a word
with no real-word candidate is left as it is.  Only damaged words are touched, so
the output equals the input with each ``Repair`` span replaced by ``after``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, product

from kb.text.urls import URL_OR_EMAIL

__all__ = ["Repair", "RepairResult", "repair_text"]

# What one unknown glyph (U+FFFD or private use) may have stood for.
GLYPH_OPTIONS: tuple[str, ...] = ("ti", "tt", "tti", "ft", "fi", "fl", "ff", "ffi", "ffl")
# Real Unicode ligatures: always expanded, no language needed.
LIGATURES: dict[str, str] = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
    "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st",
}
FALLBACK_LANGS: tuple[str, ...] = ("fr", "en", "es", "de", "pt")

GLYPH_MIN_ZIPF = 1.5     # a glyph word's best candidate must be at least this common
SHORT_MIN_ZIPF = 2.5     # ... or this, for short (<= 4 letters) results: "titi" is no guess
OTHER_LANG_BONUS = 1.0   # extra zipf needed when borrowing another language's word
TT_KNOWN = 3.0           # a plain word this common is never touched
TT_UNKNOWN = 1.5         # a plain word below this zipf counts as not a real word
TT_STRONG = 3.0          # "ateint" -> "atteint": result must be at least this common
TT_GAP = 2.5             # known-but-rare word ("cete") must gain this much ...
TT_GAP_MIN = 4.0         # ... and land on a very common word ("cette")
TT_WEAK = 2.0            # in a text that visibly drops "tt", this is enough
WEAK_EVIDENCE = 3        # "visibly": this many sure tt-repairs
DOUBLING_PENALTY = 0.5   # prefer fewer invented t's between equally common words
MAX_COMBOS = 729         # 9**3: words with more glyphs are left alone

_GLYPH_CLASS = "\ufffd\ue000-\uf8ff"
_WORD_RE = re.compile(rf"(?:[^\W\d_]|[\u0300-\u036f{_GLYPH_CLASS}])+")
_GLYPH_RE = re.compile(f"[{_GLYPH_CLASS}]")
# E-mail addresses are matched from the start of a token only: "\S+@\S+\.\w+" tried from
# every position backtracks over the rest of the token (cubic on "a@a@a@...").


@dataclass
class Repair:
    """One changed word; ``start``/``end`` are offsets in the input text."""

    start: int
    end: int
    before: str
    after: str


@dataclass
class RepairResult:
    """The repaired text and every change made to it, in text order."""

    text: str
    repairs: list[Repair]


@dataclass
class _Choice:
    text: str            # cased, NFC
    zipf: float
    glyphs: tuple[tuple[str, str], ...]  # (glyph char, chosen option)
    doublings: int


# A candidate spelling: (cased text, glyph readings, number of t's doubled).
_Cand = tuple[str, tuple[tuple[str, str], ...], int]


@lru_cache(maxsize=None)
def _freqs(lang: str) -> dict[str, float]:
    """wordfreq's list for ``lang``; loading costs ~0.1 s, so once per process."""
    import wordfreq

    return wordfreq.get_frequency_dict(lang, wordlist="best")


@lru_cache(maxsize=1)
def _supported() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.available_languages(wordlist="best"))


def _zipf(word: str, lang: str) -> float:
    """Zipf frequency of an already NFC + casefolded word (0 when unknown)."""
    f = _freqs(lang).get(word)
    return math.log10(f) + 9.0 if f else 0.0


def _key(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


def _is_allcaps(word: str) -> bool:
    cased = [c for c in word if c.lower() != c.upper() and c not in LIGATURES]
    return len(cased) >= 2 and all(c.isupper() for c in cased)


def _single_t_positions(s: str) -> list[int]:
    """Indices of lone t's: doubling one of them undoes a dropped "tt"."""
    low = s.lower()
    return [i for i, c in enumerate(low) if c == "t"
            and (i == 0 or low[i - 1] != "t") and (i + 1 == len(low) or low[i + 1] != "t")]


def _doubled(s: str, max_doublings: int, t: str) -> list[tuple[str, int]]:
    """``s`` plus every spelling with up to ``max_doublings`` lone t's doubled."""
    out = [(s, 0)]
    pos = _single_t_positions(s)
    for n in range(1, max_doublings + 1):
        for picks in combinations(pos, n):
            chars = list(s)
            for i in reversed(picks):
                chars.insert(i + 1, t)
            out.append(("".join(chars), n))
    return out


class _Repairer:
    """Holds one call's language choice and caches (texts repeat their words)."""

    def __init__(self, lang: str | None, restrict: dict[str, str] | None = None) -> None:
        self.lang = lang
        self.others = tuple(x for x in FALLBACK_LANGS if x != lang and x in _supported())
        self.restrict = restrict or {}
        self._glyph_cache: dict[str, _Choice | None] = {}

    def best(self, cands: list[_Cand], langs: tuple[str, ...]) -> _Choice | None:
        """Most frequent candidate (in any of ``langs``), invented t's slightly penalised."""
        best: _Choice | None = None
        best_score = -1.0
        for text, glyphs, dbl in cands:
            key = _key(text)
            z = max(_zipf(key, lg) for lg in langs)
            score = z - DOUBLING_PENALTY * dbl
            if z > 0 and score > best_score:
                best = _Choice(unicodedata.normalize("NFC", text), z, glyphs, dbl)
                best_score = score
        return best

    def glyph_word(self, word: str) -> _Choice | None:
        """Best real-word reading of a word containing U+FFFD / private-use glyphs."""
        if word in self._glyph_cache:
            return self._glyph_cache[word]
        upper = _is_allcaps(word)
        parts = _GLYPH_RE.split(word)
        glyphs = _GLYPH_RE.findall(word)
        opts = [(self.restrict[g],) if g in self.restrict else GLYPH_OPTIONS for g in glyphs]
        choice = None
        if math.prod(len(o) for o in opts) <= MAX_COMBOS:
            cands: list[_Cand] = []
            for combo in product(*opts):
                fill = [o.upper() if upper else o for o in combo]
                s = parts[0] + "".join(o + p for o, p in zip(fill, parts[1:]))
                for text, dbl in _doubled(s, 2, "T" if upper else "t"):
                    cands.append((text, tuple(zip(glyphs, combo)), dbl))
            choice = self._accept(self.best(cands, (self.lang,)) if self.lang else None, 0.0)
            if choice is None and self.others:
                choice = self._accept(self.best(cands, self.others), OTHER_LANG_BONUS)
        self._glyph_cache[word] = choice
        return choice

    @staticmethod
    def _accept(c: _Choice | None, bonus: float) -> _Choice | None:
        if c is None:
            return None
        need = (SHORT_MIN_ZIPF if len(c.text) <= 4 else GLYPH_MIN_ZIPF) + bonus
        return c if c.zipf >= need else None

    def tt_word(self, word: str) -> tuple[_Choice, bool] | None:
        """A repair for a word that lost a "t" of "tt": (choice, sure?) or None."""
        if self.lang is None or len(word) < 3:
            return None
        zo = _zipf(_key(word), self.lang)
        if zo >= TT_KNOWN:
            return None
        cands = [(s, (), n) for s, n in _doubled(word, 1, "T" if _is_allcaps(word) else "t")[1:]]
        c = self.best(cands, (self.lang,))
        if c is None:
            return None
        if zo < TT_UNKNOWN and c.zipf >= TT_STRONG:
            return c, True
        if c.zipf - zo >= TT_GAP and c.zipf >= TT_GAP_MIN:
            return c, True
        if zo < 1.0 and c.zipf >= TT_WEAK:
            return c, False
        return None


def _detect_lang(words: list[str]) -> str | None:
    """Best of FALLBACK_LANGS by mean zipf of a sample of clean words, if convincing."""
    clean = [_key(w) for w in words if len(w) > 1 and not _GLYPH_RE.search(w)]
    sample = clean[:: max(1, len(clean) // 2000)]
    if not sample:
        return None
    langs = [lg for lg in FALLBACK_LANGS if lg in _supported()]
    scores = {lg: sum(_zipf(w, lg) for w in sample) / len(sample) for lg in langs}
    known = {lg: sum(_zipf(w, lg) >= 1.5 for w in sample) / len(sample) for lg in langs}
    lang = max(langs, key=scores.__getitem__, default=None)
    return lang if lang and known[lang] >= 0.5 else None


def _has_letter(word: str) -> bool:
    return any(c.isalpha() for c in word)


def _glyph_plan(lang: str | None, glyph_words: list[str]) -> tuple[_Repairer, frozenset[str]]:
    """Look at all glyphs of the document first: a code point is used consistently.

    Returns a repairer whose private-use glyphs are pinned to their majority reading
    (3+ votes, 75%), and the glyphs to leave alone: private-use code points seen on
    their own (bullets, check marks), and glyphs that mostly resolve to no word at
    all (mojibake rather than ligatures).
    """
    rep = _Repairer(lang)
    symbols = {g for w in glyph_words if not _has_letter(w) for g in _GLYPH_RE.findall(w)}
    symbols.discard("\ufffd")
    resolved: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    votes: dict[str, Counter[str]] = {}
    for w in set(glyph_words):
        gs = set(_GLYPH_RE.findall(w))
        if not _has_letter(w) or gs & symbols:
            continue
        c = rep.glyph_word(w)
        for g in gs:
            (resolved if c else failed)[g] += 1
        for g, opt in c.glyphs if c else ():
            if g != "\ufffd":
                votes.setdefault(g, Counter())[opt] += 1
    bad = {g for g, n in failed.items() if n >= 5 and n > 2 * resolved[g]}
    pinned = {}
    for g, cnt in votes.items():
        opt, n = cnt.most_common(1)[0]
        if n >= 3 and n >= 0.75 * sum(cnt.values()):
            pinned[g] = opt
    if pinned:
        rep = _Repairer(lang, pinned)
    return rep, frozenset(symbols | bad)


def repair_text(text: str, lang: str | None) -> RepairResult:
    """Repair ligature damage in ``text`` (``lang``: ISO 639-1 code or None)."""
    spans = [(m.start(), m.end(), m.group()) for m in _WORD_RE.finditer(text)]
    if lang is None or lang not in _supported():
        lang = _detect_lang([w for _, _, w in spans]) if spans else None
    urls = [(m.start(), m.end()) for m in URL_OR_EMAIL.finditer(text)]
    glyph_words = [w for _, _, w in spans if _GLYPH_RE.search(w)]
    rep, skip = _glyph_plan(lang, glyph_words) if glyph_words else (_Repairer(lang), frozenset())

    decided: list[tuple[int, int, str, str, bool]] = []  # start, end, before, after, sure
    evidence = 0
    u = 0
    for start, end, word in spans:
        while u < len(urls) and urls[u][1] <= start:
            u += 1
        in_url = u < len(urls) and urls[u][0] <= start
        after = "".join(LIGATURES.get(c, c) for c in word)
        if after != word and _is_allcaps(word):
            after = after.upper()
        sure = True
        glyphs = set(_GLYPH_RE.findall(after))
        if glyphs:
            c = rep.glyph_word(after) if _has_letter(after) and not glyphs & skip else None
            if c is not None:
                after = c.text
                evidence += c.doublings > 0  # the text also drops "tt"
        elif not in_url and "t" in after.lower():
            r = rep.tt_word(after)
            if r is not None:
                after, sure = r[0].text, r[1]
                evidence += sure
        if after != word:
            decided.append((start, end, word, unicodedata.normalize("NFC", after), sure))

    weak_ok = evidence >= WEAK_EVIDENCE
    repairs = [Repair(s, e, b, a) for s, e, b, a, sure in decided if sure or weak_ok]
    return RepairResult(_apply(text, repairs), repairs)


def _apply(text: str, repairs: list[Repair]) -> str:
    """The input with each repair's span replaced: the module's invariant."""
    out, pos = [], 0
    for r in repairs:
        out.append(text[pos:r.start])
        out.append(r.after)
        pos = r.end
    out.append(text[pos:])
    return "".join(out)
