"""PDF text layer with pypdf, page by page (``Page.number`` is the 1-based physical page).

pypdf reports font and repair problems through ``logging`` (and a few through
``warnings``); left alone they would reach the terminal through Python's last-resort
handler.  They are routed to the "kb.ingest.extract" logger at DEBUG and summarised in
``ExtractedDocument.warnings`` instead.  Image-only PDFs come back with empty pages: the
caller decides what "no text layer" means.
"""

from __future__ import annotations

import logging
import math
import re
import warnings as pywarnings
from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kb.errors import ExtractionError
from kb.ingest.extract._common import (
    first_heading,
    is_heading_like,
    join_lines,
    is_real_author,
    one_line,
    squash,
    stem_title,
    strip_folio,
)
from kb.ingest.extract.pdf_layout import Positions, relaid
from kb.ingest.extract.un_title import un_resolution_title
from kb.text.keywords import fold
from kb.models import ExtractedDocument, Page

log = logging.getLogger("kb.ingest.extract")

_capture: ContextVar[list[str] | None] = ContextVar("kb_extract_pypdf_capture", default=None)
_MAGIC = {
    b"PK\x03\x04": "a zip file: DOCX/XLSX?",
    b"\xd0\xcf\x11\xe0": "an old Office file",
    b"{\\rt": "an RTF file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"<": "HTML/XML",
}
_JUNK_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint|excel)\s*-|untitled|sans titre|sin título|document\d*$"
    r"|title$|slide \d+$|presentation\d*$)",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(r"\.(?:docx?|pdf|indd|rtf|odt|pptx?|xlsx?|txt|qxd|pub)$|_", re.I)
_MAX_WARNINGS = 8
# PDF syntax after the last %%EOF: the file's real end (xref, trailer) is missing.
_BODY_AFTER_EOF = re.compile(rb"\d+\s+\d+\s+obj\b|\bendobj\b|\bstartxref\b")


def extract_pdf(path: Path) -> ExtractedDocument:
    """Extract every page's text; ``ExtractionError`` for non-PDF, corrupt or locked files."""
    _check_header(path)
    _route_pypdf_logging()
    with _captured_messages() as messages:
        reader = _open(path)
        metadata, meta_title = _metadata(reader)
        pages, page_errors, lines = _read_pages(reader, path)
    problems = page_errors + _summarise(messages)
    if _truncated(path):
        problems.insert(0, "file looks truncated (no %%EOF at the end): pages or text may be missing")
    if not any(p.text.strip() for p in pages):
        problems.append("no text on any page (image-only PDF?)")
    title = _title(meta_title, lines, pages, path)
    return ExtractedDocument(str(path), "pdf", title, pages, metadata, problems)


def _check_header(path: Path) -> None:
    """A PDF has ``%PDF-`` in its first kilobyte; say what the file looks like otherwise."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" in head:
        return
    kind = next((name for magic, name in _MAGIC.items() if head.lstrip().startswith(magic)), "")
    raise ExtractionError(f"not a PDF (starts with {head[:4]!r}{', ' + kind if kind else ''})")


class _PypdfForwarder(logging.Handler):
    """Receives pypdf's records: keeps them for the current document and logs at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not break extraction
            message = str(record.msg)
        sink = _capture.get()
        if sink is not None:
            sink.append(message)
        log.debug("pypdf (%s): %s", record.name, message)


def _route_pypdf_logging() -> None:
    """Send the "pypdf" logger to our forwarder only (idempotent)."""
    logger = logging.getLogger("pypdf")
    if not any(isinstance(h, _PypdfForwarder) for h in logger.handlers):
        logger.addHandler(_PypdfForwarder())
    logger.propagate = False


@contextmanager
def _captured_messages() -> Iterator[list[str]]:
    """Collect pypdf log records and Python warnings raised while reading one file."""
    messages: list[str] = []
    token = _capture.set(messages)
    try:
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            yield messages
        for w in caught:
            messages.append(f"{w.category.__name__}: {w.message}")
            log.debug("warning while reading PDF: %s", w.message)
    finally:
        _capture.reset(token)


def _summarise(messages: list[str]) -> list[str]:
    """Distinct messages (cut before any dumped dictionary) with counts: diagnosis, not flood."""
    counts = Counter(one_line(m.split("{", 1)[0], 120) for m in messages)
    out = [f"pypdf: {m}" + (f" (x{n})" if n > 1 else "") for m, n in counts.most_common()]
    if len(out) > _MAX_WARNINGS:
        out = out[:_MAX_WARNINGS] + [f"pypdf: {len(out) - _MAX_WARNINGS} more kinds of warning"]
    return out


def _open(path: Path) -> Any:
    """Open and, if needed, decrypt with the empty password; map pypdf errors to messages."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, EmptyFileError, PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            _decrypt(reader)
        if len(reader.pages) == 0:
            raise _corrupt(path, "no pages")
        return reader
    except ExtractionError:
        raise
    except EmptyFileError as err:
        raise ExtractionError("empty file") from err
    except DependencyError as err:
        raise ExtractionError(one_line(f"cannot read PDF: {err}")) from err
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise _corrupt(path, _reason(err)) from err


def _corrupt(path: Path, reason: str) -> ExtractionError:
    """The "corrupt PDF" error; "truncated" comes first when the file lost its end (a cut download)."""
    if _truncated(path):
        reason = f"truncated (no %%EOF at the end; incomplete download?): {reason}"
    return ExtractionError(one_line(f"corrupt PDF: {reason}"))


def _truncated(path: Path) -> bool:
    """True when the file does not end with %%EOF, as after an interrupted download.

    Whitespace or foreign junk may follow the last %%EOF, PDF objects may not: the
    %%EOF of a linearized file's first section or of an earlier revision is not the end.
    """
    with path.open("rb") as fh:
        fh.seek(-min(1024, path.stat().st_size), 2)
        tail = fh.read()
        end = tail.rfind(b"%%EOF")
        if end >= 0 and not _BODY_AFTER_EOF.search(tail, end):
            return False
        fh.seek(0)
        data = fh.read()
    end = data.rfind(b"%%EOF")
    return end < 0 or bool(_BODY_AFTER_EOF.search(data, end))


def _decrypt(reader: Any) -> None:
    from pypdf import PasswordType
    from pypdf.errors import DependencyError

    try:
        result = reader.decrypt("")
    except DependencyError as err:
        raise ExtractionError(one_line(f"encrypted PDF: cannot decrypt: {err}")) from err
    if result == PasswordType.NOT_DECRYPTED:
        raise ExtractionError("encrypted PDF: needs a password")


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _metadata(reader: Any) -> tuple[dict[str, Any], str | None]:
    """Author, creation year and /Lang (kept as found), plus the raw /Title."""
    meta: dict[str, Any] = {}
    title: str | None = None
    try:
        info = reader.metadata or {}
        title = _text(info.get("/Title"))
        author = _text(info.get("/Author"))
        if author and is_real_author(author):
            meta["author"] = author
        year = re.search(r"(\d{4})", _text(info.get("/CreationDate")) or "")
        if year and 1900 <= int(year.group(1)) <= 2999:
            meta["year"] = int(year.group(1))
        lang = _text(reader.trailer["/Root"].get("/Lang"))
        if lang:
            meta["lang"] = lang
    except Exception as err:  # broken metadata is no reason to lose the text
        log.debug("PDF metadata unreadable: %s", err)
    return meta, title


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        value = value.get_object()
    except AttributeError:
        pass
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = squash(str(value)).strip("\x00")
    return text or None


@dataclass
class _Line:
    """A line of page 1 with its largest font size, for the title heuristic."""

    size: float
    text: str


class _LineCollector:
    """pypdf text visitor: rebuilds page 1 line by line with the font size of each line.

    pypdf passes every piece of its output (newlines and inserted spaces included) to the
    visitor, so splitting the pieces on "\\n" gives exactly the lines of ``extract_text``.
    """

    def __init__(self, limit: int = 80) -> None:
        self.lines: list[_Line] = [_Line(0.0, "")]
        self.limit = limit

    def __call__(self, text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        if len(self.lines) > self.limit:
            return
        try:
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            size = float(font_size) * (scale or 1.0)
        except (TypeError, ValueError, IndexError):  # the title guess must not cost the text
            size = 0.0
        for i, piece in enumerate(text.split("\n")):
            if i:
                self.lines.append(_Line(0.0, ""))
            line = self.lines[-1]
            line.text += piece
            if piece.strip():
                line.size = max(line.size, size)


def _read_pages(reader: Any, path: Path) -> tuple[list[Page], list[str], list[_Line]]:
    """Text of each page; a page that fails is empty and noted, all failing is corruption."""
    pages: list[Page] = []
    errors: list[str] = []
    collector = _LineCollector()
    for index, page in enumerate(reader.pages):
        try:
            positions = Positions()
            visitor = _both(collector, positions) if index == 0 else positions
            text = relaid(positions, page.extract_text(visitor_text=visitor) or "")
        except Exception as err:
            errors.append(one_line(f"page {index + 1}: {type(err).__name__}: {err}", 160))
            text = ""
        pages.append(Page(number=index + 1, text=text))
    if errors and len(errors) == len(pages):
        raise _corrupt(path, f"no page could be read ({errors[0]})")
    return pages, errors[:_MAX_WARNINGS], collector.lines


def _both(*visitors: Any) -> Any:
    """One pypdf text visitor that feeds several."""
    def visit(*args: Any) -> None:
        for visitor in visitors:
            visitor(*args)
    return visit


def _title(meta_title: str | None, lines: list[_Line], pages: list[Page], path: Path) -> str:
    """A resolution's own title line, else the metadata title if meaningful, else the most
    prominent block of page 1, else the name."""
    first_text = pages[0].text if pages else ""
    resolution = un_resolution_title(first_text)
    if resolution:
        return resolution
    if meta_title and _meaningful(meta_title, path):
        return meta_title
    return _prominent_block(lines) or first_heading(first_text.split("\n")) or stem_title(path)


def _meaningful(title: str, path: Path) -> bool:
    """Reject "Microsoft Word - x.docx", file names, "untitled" and the like."""
    if _JUNK_TITLE.match(title) or _FILE_NAME.search(title):
        return False
    if squash(title).lower() in {path.stem.lower(), path.name.lower()}:
        return False
    return sum(c.isalpha() for c in title) >= 3


def _prominent_block(lines: list[_Line], max_len: int = 250) -> str | None:
    """Pick the block of same-size heading-like lines with the best size x length score.

    Size alone picks one-word logos ("GUIDE"); length alone picks body text; their product,
    with length capped at 40 characters, finds the wrapped title in these documents.
    A block that only names the kind of document ("RÉSUMÉ D'ÉVALUATION") gives way to
    the block after it, which names the subject (_subtitle).
    """
    blocks = list(_blocks(lines))
    best: tuple[float, int, str] | None = None
    for i, (size, texts) in enumerate(blocks):
        text = join_lines(texts)
        if not text or len(text) > max_len:
            continue
        score = size * min(1.0, len(text) / 40)
        if best is None or score > best[0] + 1e-6:
            best = (score, i, text)
    if best is None:
        return None
    if _GENERIC_TITLE.match(" ".join(fold(best[2]).replace("\u2019", "'").split())):
        return _subtitle(blocks[best[1] + 1:], max_len) or best[2]
    return best[2]


#: titles that name only the kind of document, in the corpus's languages (folded: kb.text.keywords.fold)
_GENERIC_TITLE = re.compile(
    r"^(?:(?:final |draft |annual |progress |evaluation |executive |policy |project )?"
    r"(?:report|brief|briefing(?: note)?|summary|fact ?sheet|note|terms of reference|evaluation)"
    r"|(?:rapport|resume|note|fiche|termes de reference)(?: d'evaluation| final| analytique| de synthese"
    r"| d'orientation| d'information| d'activite)?"
    r"|(?:informe|resumen|nota|hoja|ficha|terminos de referencia)(?: de evaluacion| final| ejecutivo"
    r"| informativa| de orientacion)?"
    r"|(?:relatorio|resumo)(?: de avaliacao| final| executivo)?"
    r"|(?:bericht|zusammenfassung|kurzbericht|evaluierungsbericht))$"
)


def _subtitle(blocks: list[tuple[float, list[str]]], max_len: int) -> str | None:
    """The first following block of at least three words, up to its first "Field: value" line."""
    for _size, texts in blocks[:2]:
        kept: list[str] = []
        for text in texts:
            if _FIELD_LINE.match(text):
                break
            kept.append(text)
        joined = join_lines(kept)
        if len(joined.split()) >= 3 and len(joined) <= max_len:
            return joined
    return None


#: "Type d'évaluation: finale", "Date: juin 2025": a form field under the title, not the title
_FIELD_LINE = re.compile(r"^[^:«»\"]{2,40}\s?:\s")


def _blocks(lines: list[_Line]) -> Iterator[tuple[float, list[str]]]:
    """Runs of heading-like lines sharing a font size (within 0.6 pt); blank lines are skipped."""
    size = 0.0
    texts: list[str] = []
    for line in lines:
        text = strip_folio(line.text)
        if not text:
            continue
        fits = is_heading_like(text)
        if texts and (not fits or abs(size - line.size) > 0.6):
            yield size, texts
            texts = []
        if fits:
            size = line.size if not texts else size
            texts.append(text)
    if texts:
        yield size, texts
