"""Word-by-word translation with a FreeDict dictionary (dictd files under /usr/share/dictd).

Apertium has no German or Arabic pair in Debian; FreeDict does (``dict-freedict-deu-eng``,
``-ara-eng``, ...). A dictionary gives words, not sentences, and that is what keyword search
needs: the content words of a passage or a question in the other language.

The ``.index`` file is sorted by headword (lowercased, punctuation and Arabic vowel marks
dropped; code point order), so a word is found by binary search over the file's bytes, mapped
into memory, without loading its half-million lines. Its entry is read from the ``.dict.dz``
through dictzip's chunk table (kb/translate/dictzip.py).
"""

from __future__ import annotations

import mmap
import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

from kb.translate.dictzip import DictFile

DICTD_DIR = Path("/usr/share/dictd")
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_LABEL = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)|\{[^}]*\}")
#: lines of an entry that are not translations: examples, notes, synonyms, cross references
_NOT_SENSE = re.compile(r"^\s*(?:\"|Note:|Synonyms?:|see:|Antonyms?:)")
_NUMBERED = re.compile(r"^\s*\d+\.\s*")
#: translations kept per word: the first is often enough; more add recall and noise
MAX_SENSES = 2
#: German inflection endings tried when a form is not a headword ("Kompetenzen" -> "Kompetenz")
_DE_ENDINGS = ("en", "n", "es", "s", "e", "er", "em", "ern", "nen")
#: German compound linking elements ("Arbeitsmarkt" = "Arbeit" + s + "Markt")
_DE_LINKS = ("s", "es", "n", "en", "e")
_AR_PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", "ال", "و", "ب", "ل", "ف", "ك", "س")
_AR_SUFFIXES = ("هما", "كما", "ها", "هم", "هن", "كم", "كن", "نا", "ات", "ون", "ين", "ان", "ة", "ه", "ي", "ك")


def headword_key(text: str) -> str:
    """A word or phrase as the dictd index spells headwords: lowercase, letters, digits and
    single spaces, without combining marks (Arabic short vowels; precomposed ü stays)."""
    text = unicodedata.normalize("NFC", text.lower())
    kept = "".join(c for c in text if c.isalnum() or c.isspace())
    kept = "".join(c for c in kept if unicodedata.category(c) != "Mn")
    return " ".join(kept.split())


def _b64(text: bytes) -> int:
    value = 0
    for ch in text.decode("ascii"):
        value = value * 64 + _B64[ch]
    return value


def parse_entry(entry: str) -> list[str]:
    """The translations an entry gives, in order: its sense lines, without grammar labels,
    domain labels, notes, examples or cross references."""
    out: list[str] = []
    for line in entry.split("\n")[1:]:  # the first line is the headword and its pronunciation
        if not line.strip() or _NOT_SENSE.match(line):
            continue
        line = _LABEL.sub(" ", _NUMBERED.sub("", line))
        for item in line.replace(";", ",").split(","):
            item = " ".join(item.split())
            if item and any(c.isalpha() for c in item):
                out.append(item)
    return out


class FreeDict:
    """One FreeDict dictionary (``name`` like "deu-eng"), looked up word by word."""

    def __init__(self, name: str, directory: Path = DICTD_DIR) -> None:
        self.name = name
        base = directory / f"freedict-{name}"
        self.index_path = base.with_name(base.name + ".index")
        dz = base.with_name(base.name + ".dict.dz")
        self.dict_path = dz if dz.exists() else base.with_name(base.name + ".dict")
        self.source = name.split("-")[0]
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._data: DictFile | None = None
        self.lookup = lru_cache(maxsize=50_000)(self._lookup)
        self._headwords: int | None = None

    def available(self) -> bool:
        return self.index_path.is_file() and self.dict_path.is_file()

    def headwords(self) -> int:
        """Entries in the dictionary's index (one line each): how much of a language it covers."""
        if self._headwords is None:
            index, _ = self._open()
            self._headwords = index[:].count(b"\n")
        return self._headwords

    def _open(self) -> tuple[mmap.mmap, DictFile]:
        with self._lock:
            if self._map is None or self._data is None:
                with open(self.index_path, "rb") as f:
                    self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                self._data = DictFile(self.dict_path)
            return self._map, self._data

    def _locations(self, key: str) -> list[tuple[int, int]]:
        """(offset, length) of every entry whose headword is ``key``, by binary search."""
        index, _ = self._open()
        want = key.encode("utf-8")
        lo, hi = 0, len(index)
        while lo < hi:
            mid = (lo + hi) // 2
            start = index.rfind(b"\n", 0, mid) + 1
            end = index.find(b"\n", start)
            end = len(index) if end < 0 else end
            tab = index.find(b"\t", start, end)
            head = index[start: tab if tab >= 0 else end]
            if head < want:
                lo = end + 1
            else:
                hi = start
        found: list[tuple[int, int]] = []
        while lo < len(index):
            end = index.find(b"\n", lo)
            end = len(index) if end < 0 else end
            parts = index[lo:end].split(b"\t")
            if parts[0] != want or len(parts) < 3:
                break
            found.append((_b64(parts[1]), _b64(parts[2])))
            lo = end + 1
        return found

    def _lookup(self, key: str) -> tuple[str, ...]:
        """Translations of one headword, the most often given first (then in entry order)."""
        if not key:
            return ()
        _, data = self._open()
        counts: Counter[str] = Counter()
        order: dict[str, int] = {}
        for offset, length in self._locations(key):
            text = data.read(offset, length).decode("utf-8", "replace")
            for item in dict.fromkeys(parse_entry(text)):
                counts[item] += 1
                order.setdefault(item, len(order))
        return tuple(sorted(counts, key=lambda t: (-counts[t], order[t])))

    def word(self, word: str) -> tuple[str, ...]:
        """Translations of ``word``: as written, else an inflected form's base, else (German)
        a compound's parts; () when the dictionary has none of these."""
        key = headword_key(word)
        found = self.lookup(key)
        if found or len(key) < 4:
            return found
        for base in self._bases(key):
            found = self.lookup(base)
            if found:
                return found
        if self.source == "deu":
            return self._compound(key)
        return ()

    def _bases(self, key: str) -> list[str]:
        if self.source == "deu":
            return [key[: -len(e)] for e in _DE_ENDINGS if key.endswith(e) and len(key) - len(e) >= 3]
        if self.source == "ara":
            # FreeDict's Arabic headwords mostly carry the article, and spell ئ as ىء
            variants = list(dict.fromkeys([key, key.replace("ئ", "ىء")]))
            out = [v for v in variants[1:]]
            for variant in variants:
                for p in ("", *_AR_PREFIXES):
                    for s in ("", *_AR_SUFFIXES):
                        stem = variant[len(p): len(variant) - len(s)]
                        if (p or s) and variant.startswith(p) and variant.endswith(s) and len(stem) >= 2:
                            out += [stem, "ال" + stem]
            return list(dict.fromkeys(out))
        return []

    def _compound(self, key: str) -> tuple[str, ...]:
        """A German compound read as modifier + head, the longest head first."""
        for cut in range(3, len(key) - 3):
            head = key[cut:]
            head_words = self.lookup(head) or next((self.lookup(b) for b in self._bases(head) if self.lookup(b)), ())
            if not head_words:
                continue
            first = key[:cut]
            options = [first] + [first[: -len(link)] for link in _DE_LINKS if first.endswith(link)]
            modifier = next((self.lookup(o) for o in options if len(o) >= 3 and self.lookup(o)), ())
            if modifier:
                return (f"{modifier[0]} {head_words[0]}", *head_words[1:])
        return ()

    def translate(self, text: str, keep_unknown: bool = True, senses: int = MAX_SENSES,
                  skip: frozenset[str] = frozenset()) -> str:
        """``text`` word by word: each word's first ``senses`` translations; a word the
        dictionary lacks (a name, a number, an acronym) kept as written; words in ``skip``
        (lowercase stopwords) dropped: their translations would only be more stopwords."""
        out: list[str] = []
        for word in _WORD.findall(text):
            if word.lower() in skip:
                continue
            found = self.word(word) if not word.isdigit() else ()
            if found:
                out.extend(found[:senses])
            elif keep_unknown:
                out.append(word)
        return " ".join(out)

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
            self._map = self._data = None
