"""DOCX with python-docx: paragraphs and tables in document order.

Heading-styled paragraphs become ``#`` lines (the chunker's section names); tables are
kept, one row per line with cells joined by ``|``, since policy annexes live in tables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kb.errors import ExtractionError
from kb.ingest.extract._common import first_heading, is_real_author, one_line, squash, stem_title
from kb.models import ExtractedDocument, Page

# Built-in heading styles keep English ids, but some documents carry localised names.
_HEADING_STYLE = re.compile(
    r"^(?:heading|titre|título|titulo|überschrift|kop|intestazione)\s*(\d)$", re.IGNORECASE
)


def extract_docx(path: Path) -> ExtractedDocument:
    """Read a .docx file; raises ``ExtractionError`` when it is not a Word package."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ExtractionError("not a DOCX (not a zip file)")
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ExtractionError(one_line(f"not a DOCX ({type(err).__name__}: {err})")) from err
    blocks = list(_blocks(document))
    text = "\n\n".join(blocks)
    metadata = _core_metadata(document)
    title = metadata.pop("title", None) or _first_heading_block(blocks) or stem_title(path)
    return ExtractedDocument(
        source=str(path),
        format="docx",
        title=title,
        pages=[Page(number=None, text=text + "\n" if text else "")],
        metadata=metadata,
    )


def _blocks(document: Any) -> list[str]:
    """Paragraph and table texts in body order, empty paragraphs skipped."""
    from docx.table import Table

    out: list[str] = []
    for item in document.iter_inner_content():
        text = _table_text(item) if isinstance(item, Table) else _paragraph_text(item)
        if text.strip():
            out.append(text)
    return out


def _paragraph_text(paragraph: Any) -> str:
    text = paragraph.text.strip()
    if not text:
        return ""
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    match = _HEADING_STYLE.match(style.strip())
    if match:
        return "#" * max(1, min(6, int(match.group(1)))) + " " + squash(text)
    if style.strip().lower() == "title":
        return "# " + squash(text)
    if "list" in style.lower():
        return "- " + text
    return text


def _table_text(table: Any) -> str:
    """One line per row; merged cells repeat in python-docx, so consecutive repeats are dropped."""
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = squash(cell.text)
            if value and (not cells or cells[-1] != value):
                cells.append(value)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _core_metadata(document: Any) -> dict[str, Any]:
    """Title, author, year, language from the core properties.

    python-docx's template says author "python-docx" and a 2013 creation date: documents
    generated from it carry both, so neither is trusted then.
    """
    props = document.core_properties
    meta: dict[str, Any] = {}
    if props.title and squash(props.title):
        meta["title"] = squash(props.title)
    templated = "python-docx" in f"{props.author} {props.comments}".lower()
    if props.author and is_real_author(props.author) and not templated:
        meta["author"] = squash(props.author)
    if props.created is not None and not templated:
        meta["year"] = props.created.year
    if props.language:
        meta["lang"] = props.language
    return meta


def _first_heading_block(blocks: list[str]) -> str | None:
    """A ``#`` paragraph if there is one near the top, else the first heading-like line."""
    for block in blocks[:20]:
        if block.startswith("#"):
            return block.lstrip("#").strip()
    return first_heading([line for block in blocks[:20] for line in block.split("\n")])
