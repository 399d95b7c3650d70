"""A search request as the CLI and the API build it, checked once: the rules for what a
query may be (not blank, not too long, k in range, known mode, language codes) live here."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Sequence

from kb.errors import UsageError

MODES = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class Query:
    """A validated search request (the CLI and the API both build one)."""

    text: str
    k: int = 10
    langs: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    mode: str = "hybrid"
    id: object = None
    #: only passages with any of these lesson types (kb.lessons.TYPES)
    types: tuple[str, ...] = ()

    @classmethod
    def build(cls, text: object, k: object = 10, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
              mode: str = "hybrid", id: object = None, max_chars: int = 2000, k_max: int = 100,
              types: Sequence[str] = ()) -> "Query":
        if isinstance(text, str):
            text = _undo_surrogates(text)
        if not isinstance(text, str) or is_blank(text):
            raise UsageError("the query is empty")
        if not has_text(text):
            raise UsageError(NO_TEXT)
        if len(text) > max_chars:
            raise UsageError(f"the query is {len(text)} characters long; the limit is {max_chars}")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= k_max:
            raise UsageError(f"k must be a whole number from 1 to {k_max}, got {k!r}")
        if mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        from kb.lessons import parse_types

        return cls(text.strip(), k, tuple(lang_codes(langs)), tuple(doc_ids), mode, id, parse_types(list(types)))


def _undo_surrogates(text: str) -> str:
    """A command-line argument in another encoding than the terminal's reaches Python with its
    undecodable bytes as lone surrogates ("march\\udce9"), which no embedder can encode. Read the
    bytes again: as UTF-8 when they are, else as Windows-1252 (the usual culprit: Latin-1 text)."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates no undecodable byte made: nothing to recover
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def is_blank_char(ch: str) -> bool:
    """A space, control or invisible format character (a NUL, a zero-width space) of the Basic
    Multilingual Plane: a query of only these would return arbitrary passages."""
    return ord(ch) < 0x10000 and (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"))


def is_blank(text: str) -> bool:
    """Nothing to search for: only spaces, control and invisible format characters."""
    return all(is_blank_char(ch) for ch in text)


NO_TEXT = "the query has no letters or digits: nothing to search for"


def is_text_char(ch: str) -> bool:
    """A letter or digit, in any script (or a character outside the Basic Multilingual Plane,
    or half of one, which the API's schema pattern cannot tell apart)."""
    code = ord(ch)
    return code >= 0xD800 and (code >= 0x10000 or code <= 0xDFFF) or unicodedata.category(ch)[0] in "LN"


def has_text(text: str) -> bool:
    """Something to search for: "?!...;:" has nothing, and would return arbitrary passages."""
    return any(is_text_char(ch) for ch in text)


def not_a_language(value: object) -> str:
    """The one message for a language filter that is no language code (the CLI's and the API's)."""
    return f"language filter {value!r} is not a language code: use ISO 639-1 codes such as 'fr'"


def lang_codes(langs: Sequence[str]) -> list[str]:
    """Language filter values as ISO 639 codes ("FR " -> "fr"); anything else ("english") is a
    mistake to report, not a filter that silently matches nothing."""
    from kb.text.lang import iso_code

    out = []
    for lang in langs:
        code = iso_code(lang)
        if code is None:
            raise UsageError(not_a_language(lang))
        out.append(code)
    return out
