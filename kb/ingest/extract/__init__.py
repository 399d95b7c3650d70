"""Read one file into an ``ExtractedDocument``: PDF, TXT, Markdown, HTML, DOCX.

``extract(path)`` picks the extractor from the file suffix (``EXTRACTORS``); adding a
format is adding a module with an ``extract_xxx(path) -> ExtractedDocument`` function
and one line here.  Heavy libraries (pypdf, python-docx, charset-normalizer) are imported
inside the extractor functions so that importing this package stays cheap for the CLI.

Every failure leaves ``extract`` as an ``ExtractionError`` whose message is one line
meant for the user; nothing else escapes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from kb.errors import ExtractionError
from kb.ingest.extract import docx, html, markdown, pdf, text
from kb.ingest.extract._common import one_line
from kb.models import ExtractedDocument

__all__ = ["EXTRACTORS", "SUPPORTED_SUFFIXES", "ExtractionError", "extract"]

# A library must not print: without a handler of ours, Python's last-resort handler would
# send our warnings to stderr when the application has not configured logging.
logging.getLogger("kb.ingest.extract").addHandler(logging.NullHandler())

Extractor = Callable[[Path], ExtractedDocument]

EXTRACTORS: dict[str, Extractor] = {
    ".pdf": pdf.extract_pdf,
    ".txt": text.extract_txt,
    ".text": text.extract_txt,
    ".md": markdown.extract_markdown,
    ".markdown": markdown.extract_markdown,
    ".html": html.extract_html,
    ".htm": html.extract_html,
    ".docx": docx.extract_docx,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(EXTRACTORS)


def extract(path: str | Path) -> ExtractedDocument:
    """Extract the text of ``path``; raises ``ExtractionError`` (one-line reason) on failure."""
    file = Path(path)
    suffix = file.suffix.lower()
    extractor = EXTRACTORS.get(suffix)
    if extractor is None:
        raise ExtractionError(f"unsupported file type: {suffix or '(no suffix)'}")
    try:
        _check_readable(file)
        return extractor(file)
    except ExtractionError:
        raise
    except Exception as err:  # anything else is a bug or an odd file: still one line
        raise ExtractionError(
            one_line(f"cannot read {suffix[1:].upper()}: {type(err).__name__}: {err}")
        ) from err


def _check_readable(file: Path) -> None:
    """Fail early with a clear message for missing, non-regular and empty files."""
    if not file.exists():
        raise ExtractionError(f"file not found: {file}")
    if not file.is_file():
        raise ExtractionError(f"not a regular file: {file}")
    if file.stat().st_size == 0:
        raise ExtractionError("empty file")
