"""Helpers shared by the extractors: decoding bytes, title heuristics, tidy messages.

Kept free of third-party imports at module level so that ``import kb.ingest.extract`` is cheap.
"""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path
from typing import Iterable

from kb.text.urls import URL_OR_EMAIL

log = logging.getLogger("kb.ingest.extract")

# Stems that say nothing about the document: use the folder name instead (de/bqfg/index.md).
GENERIC_STEMS = {"index", "readme", "document", "main", "default", "content"}
_PAGE_NUMBER = re.compile(
    r"^(?:page|p\.|seite|página|pagina)?\s*\d{1,4}\s*"
    r"(?:(?:/|of|de|sur|von|di)\s*\d{1,4})?\s*[-–—|.]?\s*$",
    re.IGNORECASE,
)
# "134 - Title" at the top of a chapter page: the number is a folio, not part of the title.
_FOLIO_PREFIX = re.compile(r"^\d{1,4}\s+[-–—|]\s*")
# Authors that name a tool or a default account, not a person or an organisation.
_GENERIC_AUTHORS = {"python-docx", "user", "admin", "administrator", "owner", "author", "unknown"}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 1 << 16  # bytes looked at to tell text from binary data
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32), 127])
_CONTROL_CHARS = dict.fromkeys(_CONTROL_BYTES)
#: a UTF-8 file with stray invalid bytes stays UTF-8 when this share of its
#: non-ASCII sequences is valid (20 accented letters beside 3 Latin-1 bytes: 87%)
UTF8_MIN_VALID_SHARE = 0.8


def one_line(message: object, limit: int = 200) -> str:
    """Collapse whitespace and cut: error messages are printed on one terminal line."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def squash(text: str) -> str:
    """Collapse runs of whitespace (including no-break spaces) into single spaces."""
    return " ".join(text.replace("\u00a0", " ").split())


def stem_title(path: Path) -> str:
    """Last-resort title from the file name: underscores to spaces, generic stems skipped."""
    stem = path.stem
    if stem.lower() in GENERIC_STEMS and path.parent.name:
        stem = path.parent.name
    return squash(re.sub(r"[_]+", " ", stem)) or path.name


def is_real_author(author: str) -> bool:
    """False for tool names and default accounts ("python-docx", "User")."""
    return squash(author).lower() not in _GENERIC_AUTHORS and bool(squash(author))


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text of unknown encoding; returns ``(text, encoding)``.

    Order matters: a BOM is certain, NULs on one byte parity mean UTF-16, strict UTF-8
    almost never matches by accident (nor does UTF-8 that is right but for a few stray
    bytes), charset-normalizer is a guess, and cp1252/Latin-1 always decodes something.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    utf16 = utf16_without_bom(data)
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = _mostly_utf8(data)
    if text is not None:
        return text, "utf-8"
    guessed = _guess_encoding(data)
    if guessed:
        try:
            return data.decode(guessed), guessed
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with its few invalid bytes replaced, if valid multibyte sequences dominate.

    One stray Latin-1 byte must not send a UTF-8 file to the guesser (which then reads
    every "é" as "Ã©"); in real Latin-1/cp1252 text almost no accented byte happens to
    form a valid UTF-8 sequence, so the share test does not take those.
    """
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd")
    bad = replaced - data.count("\ufffd".encode())
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - replaced
    return text if bad > 0 and valid >= UTF8_MIN_VALID_SHARE * (valid + bad) else None


def utf16_without_bom(data: bytes) -> str | None:
    """The UTF-16 codec when NUL bytes (>= 1%) sit on one byte parity only, else None.

    That is what UTF-16 text without a BOM looks like (ASCII characters and spaces have
    a zero byte); binary data has its NULs on both parities.
    """
    sample = data[:_SAMPLE]
    nuls = sample.count(0)
    if nuls < max(2, 0.01 * len(sample)):
        return None
    even = sample[0::2].count(0)
    if nuls - even >= 0.95 * nuls:
        return "utf-16-le"
    if even >= 0.95 * nuls:
        return "utf-16-be"
    return None


def control_share(data: bytes) -> float:
    """Share of control characters (not tab, newlines, form feed) at the start of ``data``.

    Text has almost none; binary data about 11% (28 of 256 byte values), NUL padding 100%.
    UTF-16/32 (BOM or NUL parity) is measured on its decoded characters.
    """
    sample = data[:_SAMPLE]
    encoding = next((enc for bom, enc in _BOMS if sample.startswith(bom)), None) or utf16_without_bom(sample)
    if encoding and encoding != "utf-8-sig":
        text = sample.decode(encoding, errors="replace")
        return (len(text) - len(text.translate(_CONTROL_CHARS))) / max(1, len(text))
    return (len(sample) - len(sample.translate(None, _CONTROL_BYTES))) / max(1, len(sample))


def _guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's best guess, with cp1252 winning ties.

    On short Western European text it often ranks cp1250 first with exactly the same
    scores as cp1252 ("à" comes back as "ŕ"); this corpus is en/fr/es/pt/de, so among
    equally good candidates the Windows Western code page is the likely truth.
    """
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - dependency is declared
        return None
    results = list(from_bytes(data))
    if not results:
        return None
    best = results[0]
    for match in results:
        tied = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.02
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return best.encoding


def is_heading_like(line: str, max_len: int = 150) -> bool:
    """A short line made mostly of letters: not a page number, date, URL or sentence run-on."""
    text = squash(line)
    if not 3 <= len(text) <= max_len:
        return False
    if _PAGE_NUMBER.match(text) or URL_OR_EMAIL.search(text):
        return False
    chars = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    return letters >= 3 and letters / len(chars) >= 0.6


def is_upper(line: str) -> bool:
    """True for an all-caps line (title blocks in policy documents are often set in caps)."""
    letters = [c for c in line if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) >= 0.9


def strip_folio(line: str) -> str:
    """Drop a leading page number such as ``"60 - "`` from a title candidate."""
    return _FOLIO_PREFIX.sub("", squash(line))


def join_lines(parts: Iterable[str]) -> str:
    """Join title lines; a line ending in a hyphen is glued to the next (``SALVA-GUARDAR``)."""
    out = ""
    for part in parts:
        part = squash(part)
        if not part:
            continue
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and part[:1].isalpha():
            out = out[:-1] + part
        else:
            out = f"{out} {part}" if out else part
    return out


def first_heading(lines: list[str], scan: int = 40, max_len: int = 300) -> str | None:
    """First heading-like line among the first ``scan`` lines.

    An all-caps first line is joined with the all-caps lines that follow (blank lines in
    between are skipped), since long titles are wrapped over several lines.
    """
    candidates = lines[:scan]
    for i, raw in enumerate(candidates):
        line = strip_folio(raw)
        if not is_heading_like(line):
            continue
        if not is_upper(line):
            return line
        block = [line]
        for nxt in candidates[i + 1 :]:
            nxt = squash(nxt)
            if not nxt:
                continue
            if not (is_heading_like(nxt) and is_upper(nxt)):
                break
            if len(join_lines([*block, nxt])) > max_len:
                break
            block.append(nxt)
        return join_lines(block)
    return None
