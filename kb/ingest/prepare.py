"""The per-document work of ingestion: extract -> clean -> chunk, in a worker process.

Everything here crosses a process boundary (spawned workers, or Ray workers), so it takes
and returns plain picklable values and never touches the index.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import ExtractionError
from kb.models import Passage


@dataclass
class PreparedDoc:
    """A document read, repaired and split, ready to embed (picklable, crosses processes)."""

    title: str
    lang: str | None
    format: str
    pages: int
    passages: list[Passage]
    metadata: dict[str, object]
    seconds: float
    #: each passage's role (kb/text/roles.py), row for row
    roles: list[str] = field(default_factory=list)


def prepare(path: str, doc_id: str, lang_hint: str | None, min_chars: int, max_chars: int,
            ocr: bool = False) -> PreparedDoc:
    from kb.ingest.chunk import chunk
    from kb.ingest.clean import clean_pages
    from kb.ingest.extract import extract
    from kb.ingest.glued import unglue_caps
    from kb.text.roles import role_of
    from kb.text.lang import detect_language

    started = time.perf_counter()
    extracted = extract(path)
    if ocr and extracted.format == "pdf":
        _ocr_missing_pages(path, extracted, lang_hint)
    if not any(p.text.strip() for p in extracted.pages):
        if extracted.format == "pdf":
            raise ExtractionError("no text layer (image-only PDF): needs OCR (kb ingest --ocr)")
        raise ExtractionError("no text (empty document)")
    sample = " ".join(p.text for p in extracted.pages[:8])
    lang = lang_hint or detect_language(sample)
    clean = clean_pages(extracted.pages, lang)
    passages = chunk(clean, doc_id, min_chars=min_chars, max_chars=max_chars)
    if not passages:
        raise ExtractionError("no passages: the text is too short or only headings")
    title = unglue_caps(extracted.title, lang) if extracted.title else Path(path).stem
    return PreparedDoc(
        title=title, lang=lang, format=extracted.format,
        pages=len(extracted.pages), passages=passages, metadata=dict(extracted.metadata),
        seconds=time.perf_counter() - started, roles=[role_of(p.text) for p in passages],
    )


def worker_init(parent: int) -> None:
    """Ctrl-C is the main process's to handle (at a document boundary); workers ignore it.

    A worker also exits on its own when the main process is gone (``kill -9``): the pool's
    queue never reports EOF to a spawned worker, which would otherwise wait for ever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="kb-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _ocr_missing_pages(path: str, extracted, lang_hint: str | None) -> None:
    """Replace the pages that have (almost) no text layer with Tesseract's reading of them."""
    from kb.ingest.ocr import ocr_pdf, pages_needing_ocr

    needed = pages_needing_ocr(extracted.pages)
    if not needed:
        return
    recognised = {p.number: p for p in ocr_pdf(path, [lang_hint] if lang_hint else [], needed)}
    extracted.pages = [recognised.get(p.number, p) for p in extracted.pages]
    extracted.warnings.append(f"OCR on pages {', '.join(map(str, needed))}")


class InlineExecutor(Executor):
    """Runs work at submit time: the single-process path, with the same interface."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered through the future
            future.set_exception(err)
        return future
