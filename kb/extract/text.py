"""Plain-text files: detect the encoding, keep the text as one page-less ``Page``."""

from __future__ import annotations

from pathlib import Path

from kb.extract._common import decode_bytes, first_heading, stem_title
from kb.models import ExtractedDocument, Page


def extract_txt(path: Path) -> ExtractedDocument:
    """Read a TXT file of unknown encoding (BOM, UTF-8, guessed, cp1252)."""
    text, encoding = decode_bytes(path.read_bytes())
    text = normalise_newlines(text)
    warnings: list[str] = []
    if encoding not in {"utf-8", "utf-8-sig", "utf-16", "utf-32"}:
        warnings.append(f"encoding guessed: {encoding}")
    lost = text.count("\ufffd")
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
