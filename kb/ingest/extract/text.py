"""Plain-text files: detect the encoding, keep the text as one page-less ``Page``."""

from __future__ import annotations

from pathlib import Path

from kb.errors import ExtractionError
from kb.ingest.extract._common import control_share, decode_bytes, first_heading, stem_title
from kb.models import ExtractedDocument, Page

#: above this share of control characters a ".txt" is binary data (text: ~0%, binary: ~11%)
MAX_CONTROL_SHARE = 0.05


def extract_txt(path: Path) -> ExtractedDocument:
    """Read a TXT file of unknown encoding (BOM, UTF-8, guessed, cp1252)."""
    data = path.read_bytes()
    share = control_share(data)
    if share > MAX_CONTROL_SHARE:
        raise ExtractionError(f"not a text file: {share:.0%} control characters or NUL bytes (binary data?)")
    text, encoding = decode_bytes(data)
    text = normalise_newlines(text)
    warnings: list[str] = []
    if encoding not in {"utf-8", "utf-8-sig", "utf-16", "utf-32"}:
        warnings.append(f"encoding guessed: {encoding}")
    lost = text.count("\ufffd")
    invalid = lost - data.count("\ufffd".encode()) if encoding == "utf-8" else 0
    if invalid:
        warnings.append(f"{invalid} invalid UTF-8 bytes replaced by U+FFFD")
        lost -= invalid
    if lost:
        warnings.append(f"{lost} U+FFFD replacement characters in the text (glyphs lost upstream)")
    title = first_heading(text.split("\n")) or stem_title(path)
    return ExtractedDocument(
        source=str(path),
        format="txt",
        title=title,
        pages=[Page(number=None, text=text)],
        metadata={"encoding": encoding},
        warnings=warnings,
    )


def normalise_newlines(text: str) -> str:
    """CRLF and CR to LF, and drop a BOM that survived decoding, so offsets are stable."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
