"""Fast cue matching: the same first offsets as ``Cue.first``, found with far less work.

``Cue.first`` tries one cue at every position of a text; with some six hundred cues per
passage that dominated labelling. ``CueMatcher`` serves a cue file's lists instead:

- phrases (matched word by word on a ``FoldedText``) are indexed by their first word,
  so a text's distinct words are each looked up once and every list's phrases are
  found in that one pass;
- a regular expression (and a cue matched on a plain string, such as a heading cue) is
  searched only when the text can hold a literal that each of its matches contains
  ("risk" for ``(?<!\\bno )\\brisk``). The literals are read from the standard
  library's own parse of the pattern, so skipping a search never changes a result.

What a word holds (phrase heads, literals) is remembered across texts: a corpus has far
fewer distinct words than word occurrences.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from kb.lessons.cues import _TOKEN  # the words of a FoldedText

if TYPE_CHECKING:
    from kb.lessons.cues import Cue, FoldedText

try:  # the standard library's own parser: a pattern's literals exactly as the engine reads them
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre  # type: ignore[no-redef]

#: literals without a word character are looked for with ``in``; beyond this many, the
#: look-ups would cost about what the search costs
_MAX_RAW = 12
#: whole literals ("l'evaluation") are also looked for when there are at most this many
_MAX_FULL = 16
#: distinct words whose phrase heads and literals are remembered (forgotten beyond this)
_MAX_WORDS = 200_000
_GRAM = 3
_NONE: tuple = ()


class _Regex(NamedTuple):
    pattern: re.Pattern[str]
    always: bool  # no literal known: always searched
    raw: tuple[str, ...]  # literals without a word character, looked for with ``in``
    full: tuple[str, ...]  # all literals, looked for once a word literal was seen (or empty)


class CueMatcher:
    """Matches ``lists`` (cues on a ``FoldedText``) and ``string_lists`` (on a folded str)."""

    def __init__(self, lists: Sequence[Sequence["Cue"]], string_lists: Sequence[Sequence["Cue"]] = ()) -> None:
        self.lists = tuple(lists)
        self.string_lists = tuple(string_lists)
        self._slot = {id(cues): k for k, cues in enumerate(self.lists)}
        self._string_slot = {id(cues): k for k, cues in enumerate(self.string_lists)}
        self._phrase_ids: dict[tuple, int] = {}
        self._owners: list[list[tuple[int, int]]] = []  # phrase id -> [(list slot, order)]
        self._exact: dict[str, list[tuple[int, tuple]]] = {}  # head word -> [(phrase id, rest)]
        self._prefix: dict[str, list[tuple[int, tuple]]] = {}  # "head*" -> [(phrase id, rest)]
        self._regex_ids: dict[tuple, int] = {}
        self._regexes: list[_Regex] = []
        self._inside: dict[str, list[int]] = {}  # word-character literal -> regex ids
        self._ending: dict[str, list[int]] = {}  # literal a word must end with -> regex ids
        chars: set[str] = set()
        self._list_regexes: list[list[tuple[int, int]]] = []  # per list: (order, regex id)
        for slot, cues in enumerate(self.lists):
            regexes = []
            for order, cue in enumerate(cues):
                if cue.words is not None:
                    self._owners[self._phrase(cue.words)].append((slot, order))
                else:
                    regexes.append((order, self._regex(cue.regex, chars)))
            self._list_regexes.append(regexes)
        self._string_regexes = [[self._regex(cue.regex, chars) for cue in cues] for cues in self.string_lists]
        self._look_alikes = _case_variants(frozenset(chars))
        self._always = [rid for rid, r in enumerate(self._regexes) if r.always]
        self._raw = [(rid, r.raw) for rid, r in enumerate(self._regexes) if r.raw and not r.always]
        self._full = {rid: r.full for rid, r in enumerate(self._regexes) if r.full}
        # what a word is looked up by: heads and literals by their first _GRAM characters
        self._prefix_grams = _by_gram(self._prefix)
        self._short_prefixes = sorted({len(h) for h in self._prefix if len(h) < _GRAM})
        self._inside_grams = _by_gram(self._inside)
        self._short_inside = sorted({len(s) for s in self._inside if len(s) < _GRAM})
        self._ending_sizes = sorted({len(s) for s in self._ending})
        #: word -> (phrases headed by it, regexes with a literal in it), for the words seen;
        #: the useful ones have either
        self._words: dict[str, tuple[tuple, tuple]] = {}
        self._seen: set[str] = set()
        self._useful: set[str] = set()
        self._last: tuple[str, set[int] | None] | None = None  # a heading's regexes worth searching

    def _phrase(self, words: tuple[tuple[str, bool], ...]) -> int:
        pid = self._phrase_ids.get(words)
        if pid is None:
            pid = self._phrase_ids[words] = len(self._owners)
            self._owners.append([])
            (head, is_prefix), rest = words[0], tuple(words[1:])
            (self._prefix if is_prefix else self._exact).setdefault(head, []).append((pid, rest))
        return pid

    def _regex(self, pattern: re.Pattern[str], chars: set[str]) -> int:
        key = (pattern.pattern, pattern.flags)
        rid = self._regex_ids.get(key)
        if rid is not None:
            return rid
        rid = self._regex_ids[key] = len(self._regexes)
        need, originals = _required(pattern)
        raw = tuple(s for s, _ in need or () if not _TOKEN.search(s))
        if need is None or len(raw) > _MAX_RAW:
            self._regexes.append(_Regex(pattern, True, _NONE, _NONE))
            return rid
        chars.update(originals)
        partial = False
        for s, bounded in need:
            pieces = _TOKEN.findall(s)
            if not pieces:
                continue
            if bounded and _TOKEN.fullmatch(s[-1]):  # a word boundary follows: a word ends with it
                self._ending.setdefault(pieces[-1], []).append(rid)
                partial = partial or pieces[-1] != s
            else:  # its longest run of word characters lies inside one word of the text
                longest = max(pieces, key=len)
                self._inside.setdefault(longest, []).append(rid)
                partial = partial or longest != s
        full = tuple(dict.fromkeys(s for s, _ in need)) if partial and len(need) <= _MAX_FULL else _NONE
        self._regexes.append(_Regex(pattern, False, raw, full))
        return rid

    def serves(self, lists: Sequence[Sequence["Cue"]], string_lists: Sequence[Sequence["Cue"]]) -> bool:
        """True if built from exactly these list objects."""
        return (len(lists) == len(self.lists) and len(string_lists) == len(self.string_lists)
                and all(a is b for a, b in zip(lists, self.lists))
                and all(a is b for a, b in zip(string_lists, self.string_lists)))

    def owns(self, cues: Sequence["Cue"]) -> bool:
        slot = self._slot.get(id(cues))
        return slot is not None and self.lists[slot] is cues

    def owns_strings(self, cues: Sequence["Cue"]) -> bool:
        slot = self._string_slot.get(id(cues))
        return slot is not None and self.string_lists[slot] is cues

    # -- on a FoldedText -------------------------------------------------------------------
    def hits(self, cues: Sequence["Cue"], folded: "FoldedText") -> list[tuple["Cue", int]]:
        """(cue, ``cue.first(folded)``) for each cue of ``cues`` (one of ``lists``) that
        occurs in ``folded``, in the list's order."""
        state = folded.__dict__.get("_cue_matches")
        if state is None or state[0] is not self:
            state = folded._cue_matches = self._scan(folded)  # type: ignore[attr-defined]
        _, phrases, worth, searched = state
        slot = self._slot[id(cues)]
        found = list(phrases[slot])
        for order, rid in self._list_regexes[slot]:
            if worth is not None and rid not in worth:
                continue  # the text lacks every literal that each match holds
            pos = searched.get(rid, -1)
            if pos == -1:
                m = self._regexes[rid].pattern.search(folded.text)
                pos = searched[rid] = m.start() if m else None
            if pos is not None:
                found.append((order, pos))
        found.sort()
        return [(cues[order], pos) for order, pos in found]

    def _scan(self, folded: "FoldedText") -> tuple:
        """(self, per list (order, offset) of its phrases found, regexes worth searching, {}).

        A phrase's offset is that of the first word position where its words follow,
        exactly as ``Cue._first_words`` finds it.
        """
        words, n, positions = folded.words, len(folded.words), folded.positions
        first: dict[int, int] = {}
        candidates: set[int] = set()
        known = self._words
        for word in self._useful_words(positions.keys()):
            heads, rids = known.get(word) or self._word(word)  # (forgotten meanwhile: looked up again)
            if rids:
                candidates.update(rids)
            where = positions[word]
            for pid, rest in heads:
                size = len(rest)
                for i in where:
                    if size:
                        if i + size >= n:
                            break
                        ok = True
                        for k, (want, is_prefix) in enumerate(rest, start=i + 1):
                            have = words[k]
                            if not (have.startswith(want) if is_prefix else have == want):
                                ok = False
                                break
                        if not ok:
                            continue
                    if pid not in first or i < first[pid]:
                        first[pid] = i
                    break
        out: list[list[tuple[int, int]]] = [[] for _ in self.lists]
        starts = folded.starts if first else None
        for pid, i in first.items():
            for slot, order in self._owners[pid]:
                out[slot].append((order, starts[i]))  # type: ignore[index]
        return self, out, self._worth_searching(folded.text, candidates), {}

    def _useful_words(self, words) -> set[str]:
        """Those of ``words`` (distinct) that head a phrase or hold a regex's literal."""
        new = words - self._seen
        if new:
            if len(self._seen) + len(new) > _MAX_WORDS:
                self._seen.clear(), self._useful.clear(), self._words.clear()
                new = set(words)
            for word in new:
                if self._word(word) != (_NONE, _NONE):
                    self._useful.add(word)
            self._seen.update(new)
        return self._useful.intersection(words)

    def _word(self, word: str) -> tuple[tuple, tuple]:
        """Phrases headed by ``word`` (or by a prefix of it, for "word*"), and regexes with
        a literal inside it or at its end."""
        heads = list(self._exact.get(word, _NONE))
        for head, entries in self._prefix_grams.get(word[:_GRAM], _NONE):
            if word.startswith(head):
                heads.extend(entries)
        for size in self._short_prefixes:
            if size <= len(word):
                heads.extend(self._prefix.get(word[:size], _NONE))
        rids: list[int] = []
        grams = self._inside_grams
        for start in range(len(word) - _GRAM + 1):
            for literal, ids in grams.get(word[start:start + _GRAM], _NONE):
                if word.startswith(literal, start):
                    rids.extend(ids)
        for size in self._short_inside:
            for start in range(len(word) - size + 1):
                rids.extend(self._inside.get(word[start:start + size], _NONE))
        for size in self._ending_sizes:
            if size <= len(word):
                rids.extend(self._ending.get(word[-size:], _NONE))
        entry = self._words[word] = (tuple(heads) or _NONE, tuple(set(rids)) or _NONE)
        return entry

    def _worth_searching(self, text: str, candidates: set[int]) -> set[int] | None:
        """Given the regexes with a literal in a word of the text, those that may match;
        None (search them all) when the text holds a character that a case-insensitive
        literal matches other than its own lower case ("K" for "k", dotless "ı" for "i")."""
        if self._look_alikes is not None and self._look_alikes.search(text):
            return None
        for rid, raw in self._raw:
            if rid not in candidates and any(s in text for s in raw):
                candidates.add(rid)
        for rid, full in self._full.items():
            if rid in candidates and not any(s in text for s in full):
                candidates.discard(rid)
        candidates.update(self._always)
        return candidates

    # -- on a folded string ------------------------------------------------------------------
    def matching(self, cues: Sequence["Cue"], text: str) -> list["Cue"]:
        """The cues of ``cues`` (one of ``string_lists``) with ``cue.first(text) is not None``."""
        if self._last is not None and self._last[0] == text:
            worth = self._last[1]
        else:
            candidates: set[int] = set()
            for word in self._useful_words(set(_TOKEN.findall(text))):
                candidates.update((self._words.get(word) or self._word(word))[1])
            worth = self._worth_searching(text, candidates)
            self._last = (text, worth)
        rids = self._string_regexes[self._string_slot[id(cues)]]
        regexes = self._regexes
        return [cue for cue, rid in zip(cues, rids)
                if (worth is None or rid in worth) and regexes[rid].pattern.search(text) is not None]


def _by_gram(literals: dict[str, list]) -> dict[str, list[tuple[str, list]]]:
    out: dict[str, list[tuple[str, list]]] = {}
    for literal, entries in literals.items():
        if len(literal) >= _GRAM:
            out.setdefault(literal[:_GRAM], []).append((literal, entries))
    return out


def _required(pattern: re.Pattern[str]) -> tuple[tuple[tuple[str, bool], ...] | None, set[str]]:
    """Lower-cased strings one of which every match of ``pattern`` contains (None when
    unknown), each with whether a word boundary always follows it; and the pattern
    characters they come from.
    """
    try:
        need = _need(_sre.parse(pattern.pattern, pattern.flags), not pattern.flags & re.ASCII)
    except Exception:  # an unfamiliar parse tree: no shortcut, only the search
        return None, set()
    if not need:
        return None, set()
    lowered = tuple((s.lower(), bounded) for s, bounded in need)
    if any(len(a) != len(b) for (a, _), (b, _) in zip(lowered, need)):
        return None, set()
    return tuple(dict.fromkeys(lowered)), {ch for s, _ in need for ch in s}


def _need(items, bounds: bool) -> tuple[tuple[str, bool], ...] | None:
    """What one of the strings a match of this sequence must contain: a run of literals,
    or what a group, a repetition of at least one, or every branch of an alternation
    requires. ``bounds``: ``\\b`` is the Unicode word boundary here (no ASCII flag)."""
    items = list(items)
    best: tuple[tuple[str, bool], ...] | None = None
    run: list[str] = []

    def keep(alts: tuple[tuple[str, bool], ...] | None) -> None:
        nonlocal best
        if alts and all(s for s, _ in alts) and (best is None or _rank(alts) > _rank(best)):
            best = alts

    def boundary(j: int) -> bool:
        return bounds and j < len(items) and items[j][0] is _sre.AT and items[j][1] is _sre.AT_BOUNDARY

    repeats = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT))
    for j, (op, av) in enumerate(items):
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            keep((("".join(run), boundary(j)),))
            run = []
        if op is _sre.SUBPATTERN:
            keep(_need(av[-1], bounds and not av[1] & (re.ASCII | re.LOCALE)))
        elif op in repeats and av[0] >= 1:
            keep(_need(av[2], bounds))
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            keep(_need(av, bounds))
        elif op is _sre.BRANCH:
            alts = []
            for branch in av[1]:
                if len(branch) and all(o is _sre.LITERAL for o, _ in branch):  # a plain word: what follows
                    alts.append((("".join(chr(c) for _, c in branch), boundary(j + 1)),))  # the branch follows it
                else:
                    alts.append(_need(branch, bounds))
            if all(alts):
                keep(tuple(dict.fromkeys(p for a in alts for p in a)))  # type: ignore[union-attr]
    if run:
        keep((("".join(run), boundary(len(items))),))
    return best


def _rank(alts: tuple[tuple[str, bool], ...]) -> tuple[bool, int, int]:
    """Fewer and longer strings rule out more texts for less work."""
    shortest = min(len(s) for s, _ in alts)
    return shortest >= 3, -len(alts), shortest


@lru_cache(maxsize=8)
def _case_variants(chars: frozenset[str]) -> re.Pattern[str] | None:
    """A pattern finding any character that a case-insensitive pattern takes for one of
    ``chars`` without being its lower case ("K" or the Kelvin sign for "k", dotless "ı"
    for "i"). The engine itself is asked, over every code point, once per cue file."""
    if not chars:
        return None
    ordered = sorted(chars)
    every = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")  # all code points
    candidates = set(re.findall("[" + "".join(map(re.escape, ordered)) + "]", every, re.IGNORECASE))
    variants = {x for x in candidates for ch in ordered
                if x != ch.lower() and re.fullmatch(re.escape(ch), x, re.IGNORECASE)}
    if not variants:
        return None
    return re.compile("[" + "".join(map(re.escape, sorted(variants))) + "]")
