"""Ingestion: extract -> clean -> chunk (in worker processes) -> embed -> store (here).

Each document is committed in its own transaction, so an interrupted run keeps every
document it finished and a re-run picks up the rest. Unchanged files are recognised by
size and mtime, then by content hash, and skipped without being read twice.
"""

from __future__ import annotations

import fnmatch
import hashlib
import multiprocessing
import os
import re
import signal
import threading
import time
import unicodedata
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np

from kb.errors import ExtractionError, KBError
from kb.extract import SUPPORTED_SUFFIXES
from kb.index import Index
from kb.manifest import AUTO_NAMES, DocMeta, Manifest
from kb.models import Document, Passage
from kb.store.db import DocumentRecord

if TYPE_CHECKING:
    from kb.glossary import Glossary

EMBED_BATCH = 32
#: documents each extraction worker may have prepared or in hand ahead of the one being
#: embedded. The main process and the worker need about the same CPU time over a corpus, but
#: not document by document: a deep queue lets the worker run on while a long document is
#: embedded, so the main process rarely waits for it. Over ../shared/corpus the main process
#: waited 12-13 s for extraction with 2 documents ahead, about 5 s with 8 (bench/README.md).
AHEAD_PER_WORKER = 8


@dataclass
class FileOutcome:
    path: str
    status: str  # added | replaced | unchanged | failed
    doc_id: str | None = None
    pages: int = 0
    passages: int = 0
    reason: str | None = None


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: {"extract": 0.0, "embed": 0.0, "store": 0.0, "total": 0.0})
    embedded: int = 0
    interrupted: bool = False
    #: passages whose lesson types were recomputed because the cue file changed
    relabelled: int = 0
    #: document pairs linked as translations of each other (kb/translations.py)
    linked: int = 0
    #: stored passages given their companion model's vectors (kb/companion.py)
    companion_embedded: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict[str, object]:
        done = [o for o in self.outcomes if o.status in ("added", "replaced")]
        return {
            "added": self.count("added"), "replaced": self.count("replaced"),
            "unchanged": self.count("unchanged"), "failed": self.count("failed"),
            "pages": sum(o.pages for o in done), "passages": sum(o.passages for o in done),
            "embedded": self.embedded, "relabelled": self.relabelled, "linked": self.linked,
            "companion_embedded": self.companion_embedded, "interrupted": self.interrupted,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "failures": [{"path": o.path, "reason": o.reason} for o in self.failed],
        }


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


# -- discovery ---------------------------------------------------------------------------------
def discover(paths: Iterable[str | Path], exclude: Sequence[str] = ()
             ) -> tuple[list[Path], list[FileOutcome], list[Manifest]]:
    """Files to ingest (sorted, recursive), missing paths as failures, and auto manifests.

    ``exclude``: glob patterns for files found inside folders (a folder often holds its own
    README or source list, which would otherwise be searched like a policy document); a
    pattern matches the file name or the path relative to the folder given. Files named
    one by one are always taken.
    """
    files: list[Path] = []
    missing: list[FileOutcome] = []
    manifests: list[Manifest] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for name in AUTO_NAMES:
                if (path / name).is_file():
                    manifests.append(Manifest.load(path / name))
            found = [
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
                and not excluded(p, path, exclude)
            ]
            if not found:  # a mistyped or empty folder must not look like a successful ingest
                kinds = ", ".join(sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES))
                missing.append(FileOutcome(str(raw), "failed", reason=f"no files to ingest in this folder ({kinds})"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileOutcome(str(raw), "failed", reason="no such file or folder"))
    unique: dict[Path, Path] = {}  # one file named twice ("t/a.txt", "t/../t/a.txt") is ingested once
    for file in files:
        unique.setdefault(file.resolve(), file)
    return list(unique.values()), missing, manifests


def excluded(path: Path, folder: Path, patterns: Sequence[str]) -> bool:
    """True if a glob of ``patterns`` matches the file's name, the name of a folder on its way
    under ``folder`` (``-x drafts`` leaves out everything in drafts/), or its path under ``folder``."""
    if not patterns:
        return False
    relative = path.relative_to(folder)
    names = relative.parts  # the folders on the way, then the file's own name
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns for name in names) or any(
        fnmatch.fnmatchcase(relative.as_posix(), pat) for pat in patterns)


def slugify(text: str, limit: int = 48) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-") or "doc"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# -- the per-document work (runs in a worker process) -------------------------------------------
def prepare(path: str, doc_id: str, lang_hint: str | None, min_chars: int, max_chars: int,
            ocr: bool = False) -> PreparedDoc:
    from kb.chunk import chunk
    from kb.clean import clean_pages
    from kb.extract import extract
    from kb.lang import detect_language

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
    return PreparedDoc(
        title=extracted.title or Path(path).stem, lang=lang, format=extracted.format,
        pages=len(extracted.pages), passages=passages, metadata=dict(extracted.metadata),
        seconds=time.perf_counter() - started,
    )


def _worker_init(parent: int) -> None:
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
    from kb.ocr import ocr_pdf, pages_needing_ocr

    needed = pages_needing_ocr(extracted.pages)
    if not needed:
        return
    recognised = {p.number: p for p in ocr_pdf(path, [lang_hint] if lang_hint else [], needed)}
    extracted.pages = [recognised.get(p.number, p) for p in extracted.pages]
    extracted.warnings.append(f"OCR on pages {', '.join(map(str, needed))}")


class _InlineExecutor(Executor):
    """Runs work at submit time: the single-process path, with the same interface."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered through the future
            future.set_exception(err)
        return future


EventHandler = Callable[[str, FileOutcome | None], None]


class Ingestor:
    """Runs one ingest over an open index; reports progress through ``on_event``."""

    def __init__(self, index: Index, on_event: EventHandler | None = None, meta: Manifest | None = None,
                 glossary: "Glossary | None" = None) -> None:
        self.index = index
        self.glossary = glossary
        self.on_event = on_event or (lambda kind, outcome: None)
        self.manifests = [meta] if meta else []
        self._given: dict[str, str] = {}  # doc_id -> path, for ids handed out in this run

    def _meta_for(self, path: Path) -> DocMeta | None:
        for manifest in self.manifests:
            found = manifest.lookup(path)
            if found:
                return found
        return None

    def _doc_id(self, path: Path, abs_path: str) -> str:
        """A readable, stable id: the file name's slug, made unique against the index and this run.

        Ids are handed out before documents are stored (several are prepared ahead), so the
        ones given in this run count as taken too.
        """
        existing = self.index.db.document_by_path(abs_path)
        if existing:
            doc_id = existing.document.doc_id
        else:
            base = slugify(path.stem)
            doc_id = base
            attempt = 0
            while self.index.db.doc_id_taken(doc_id, abs_path) or self._given.get(doc_id, abs_path) != abs_path:
                attempt += 1
                doc_id = f"{base}-{hashlib.sha1(f'{abs_path}#{attempt}'.encode()).hexdigest()[:6]}"
        self._given[doc_id] = abs_path
        return doc_id

    def run(self, paths: Iterable[str | Path], exclude: Sequence[str] = ()) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        paths = list(paths)
        from kb.companion import check

        check(self.index)  # a companion other than the index's is refused before anything is written
        files, missing, auto = discover(paths, exclude)
        self.manifests.extend(auto)
        report.outcomes.extend(missing)
        self._store_glossary(paths)
        self.on_event("start", FileOutcome(path=str(len(files)), status="count"))
        todo: list[tuple[Path, str, str, DocMeta | None, os.stat_result, str]] = []
        for path in files:
            outcome = self._check_unchanged(path, todo)
            if outcome:
                report.outcomes.append(outcome)
                self.on_event("file", outcome)
        if todo:
            self.index.record_model()
        if self.index.db.get_meta("model") is not None:
            self._ensure_companion(report)
            if report.interrupted:  # Ctrl-C while filling in the companion: what was committed stays
                report.seconds["total"] = time.perf_counter() - started
                return report
        if todo:
            _ = self.index.vectors  # load once, then keep them in step document by document
            _ = self.index.companion_vectors
        self._relabel_if_stale(report)
        self._ingest(todo, report)
        self._link_translations(report)
        self._store_language_means(report)
        report.seconds["total"] = time.perf_counter() - started
        return report

    def _ingest(self, todo: list, report: IngestReport) -> None:
        """Prepare, embed and commit the files of ``todo``, one transaction each (kb/ray_ingest.py
        replaces this step only: discovery, skipping and the steps after it stay the same)."""
        workers = self.index.settings.workers if len(todo) > 1 else 0
        # spawn, not fork: a forked worker would inherit the writer lock's descriptor and hold
        # the index "busy" after the main process dies; it also must not inherit BLAS threads.
        executor: Executor = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_worker_init, initargs=(os.getpid(),))
                              if workers > 0 else _InlineExecutor())
        last_save = time.perf_counter()
        try:
            for item, future in self._submit_ahead(executor, todo, max(2, AHEAD_PER_WORKER * workers)):
                outcome = self._finish(item, future, report)
                report.outcomes.append(outcome)
                self.on_event("file", outcome)
                if time.perf_counter() - last_save > self.index.settings.snapshot_every:
                    self.index.save()
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            executor.shutdown(wait=not report.interrupted, cancel_futures=True)
            if todo:
                self.index.save()

    def _ensure_companion(self, report: IngestReport) -> None:
        """Give an index without its companion model's vectors those vectors (kb/companion.py)."""
        from kb.companion import ensure

        t0 = time.perf_counter()
        try:
            report.companion_embedded = ensure(self.index, lambda done, total: self.on_event(
                "companion", FileOutcome(path=f"{done}/{total}", status="progress")))
        except KeyboardInterrupt:
            report.interrupted = True
        if report.companion_embedded:
            report.seconds["companion_backfill"] = time.perf_counter() - t0

    def _store_language_means(self, report: IngestReport) -> None:
        """Each language's mean vector for search's language-bias correction (kb/language_means.py)."""
        from kb.language_means import META_KEY, refresh

        db = self.index.db
        if db.get_meta(META_KEY) is not None and not any(
                o.status in ("added", "replaced") for o in report.outcomes):
            return
        t0 = time.perf_counter()
        refresh(db)
        report.seconds["language_means"] = time.perf_counter() - t0

    def _store_glossary(self, paths: Iterable[str | Path]) -> None:
        """The glossary given, else the first kb-glossary.yaml among the folders, into the index."""
        from kb.glossary import META_KEY, Glossary, find_in

        glossary = self.glossary
        if glossary is None:
            found = [g for g in (find_in(Path(p)) for p in paths if Path(p).is_dir()) if g]
            glossary = Glossary.load(found[0]) if found else None
        if glossary is not None:
            db = self.index.db
            with db.conn:
                db.set_meta(META_KEY, glossary.to_json())

    def _link_translations(self, report: IngestReport) -> None:
        """Link the documents this run added or replaced to their versions in other languages.

        From stored vectors, in one transaction, after the run: an index built before links
        existed gets all its documents linked once.
        """
        from kb.translations import LINKS_VERSION, link_documents

        db = self.index.db
        changed = [o.doc_id for o in report.outcomes if o.status in ("added", "replaced") and o.doc_id]
        if db.get_meta("translations") != LINKS_VERSION:
            changed = [d.doc_id for d in db.documents()]
        if not changed:
            return
        t0 = time.perf_counter()
        report.linked = link_documents(db, changed)
        with db.conn:
            db.set_meta("translations", LINKS_VERSION)
        report.seconds["link"] = time.perf_counter() - t0

    def _relabel_if_stale(self, report: IngestReport) -> None:
        """The cue file changed since the index was labelled: relabel it from stored vectors."""
        from kb.lessons.store import ensure_current

        done = ensure_current(self.index, self.index.labeler)
        if done is not None:
            report.relabelled = done.passages

    def _check_unchanged(self, path: Path, todo: list) -> FileOutcome | None:
        abs_path = str(path.resolve())
        try:
            stat = path.stat()
        except OSError as err:
            return FileOutcome(str(path), "failed", reason=err.strerror or str(err))
        meta = self._meta_for(path)
        meta_key = repr(meta) + ("|ocr" if self.index.settings.ocr else "")
        record = self.index.db.document_by_path(abs_path)
        if record and record.size == stat.st_size and record.mtime == stat.st_mtime and record.extra.get("meta") == meta_key:
            return FileOutcome(str(path), "unchanged", record.document.doc_id, record.document.pages, record.document.passages)
        try:
            sha = file_sha256(path)
        except OSError as err:
            return FileOutcome(str(path), "failed", reason=err.strerror or str(err))
        if record and record.document.sha256 == sha and record.extra.get("meta") == meta_key:
            return FileOutcome(str(path), "unchanged", record.document.doc_id, record.document.pages, record.document.passages)
        todo.append((path, abs_path, sha, meta, stat, meta_key))
        return None

    def _submit_ahead(self, executor: Executor, todo: list, window: int) -> Iterator[tuple[tuple, Future]]:
        """Keep ``window`` documents in preparation while the caller embeds earlier ones."""
        settings = self.index.settings
        pending: list[tuple[tuple, Future]] = []
        items = iter(todo)
        while True:
            while len(pending) < window:
                item = next(items, None)
                if item is None:
                    break
                path, abs_path, _sha, meta, _stat, _key = item
                doc_id = self._doc_id(path, abs_path)
                lang = meta.language if meta else None
                future = executor.submit(prepare, str(path), doc_id, lang, settings.min_chars, settings.max_chars,
                                         settings.ocr)
                pending.append(((*item, doc_id), future))
            if not pending:
                return
            yield pending.pop(0)

    def _finish(self, item: tuple, future: Future, report: IngestReport) -> FileOutcome:
        path, abs_path, sha, meta, stat, meta_key, doc_id = item
        try:
            prepared: PreparedDoc = future.result()
        except KBError as err:
            return FileOutcome(str(path), "failed", reason=str(err))
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the others
            return FileOutcome(str(path), "failed", reason=f"{type(err).__name__}: {err}")
        report.seconds["extract"] += prepared.seconds
        replaced = self.index.db.document_by_path(abs_path) is not None
        document = self._document(path, doc_id, sha, prepared, meta)
        self._store(document, abs_path, stat, meta_key, prepared, report)
        return FileOutcome(str(path), "replaced" if replaced else "added", doc_id, prepared.pages, len(prepared.passages))

    def _document(self, path: Path, doc_id: str, sha: str, prepared: PreparedDoc, meta: DocMeta | None) -> Document:
        meta = meta or DocMeta()
        year = meta.year
        if year is None and isinstance(prepared.metadata.get("year"), int):
            year = prepared.metadata["year"]  # type: ignore[assignment]
        return Document(
            doc_id=doc_id, source=_display_path(path), title=meta.title or prepared.title,
            lang=meta.language or prepared.lang, format=prepared.format, sha256=sha,
            pages=prepared.pages, passages=len(prepared.passages), organisation=meta.organisation,
            year=year, country=meta.country, url=meta.url or _str_or_none(prepared.metadata.get("url")),
            tags=list(meta.tags),
        )

    def _store(self, document: Document, abs_path: str, stat: os.stat_result, meta_key: str,
               prepared: PreparedDoc, report: IngestReport) -> None:
        from kb.keywords import index_body

        from kb.context import embedding_texts

        passages = prepared.passages
        texts = embedding_texts(passages, document.title, self.index.embed_recipe)
        shas = [text_sha(t) for t in texts]  # the vector cache key: what the model read
        t0 = time.perf_counter()
        vectors, fresh = self._vectors(self.index.embedder, shas, texts, "embeddings", report)
        t1 = time.perf_counter()
        companion, companion_fresh = None, None
        if self.index.companion_model is not None:  # kb/companion.py: kept complete with the passages
            from kb.companion import COMPANION_TABLE

            companion, companion_fresh = self._vectors(self.index.companion_embedder, shas, texts, COMPANION_TABLE)
        t2 = time.perf_counter()
        record = DocumentRecord(document, abs_path, stat.st_size, stat.st_mtime, {"meta": meta_key})
        bodies = [index_body(p.text, p.lang) for p in passages]
        types = self.index.labeler.label(passages, vectors)  # from the vectors above: no extra embedding
        removed, added = self.index.db.replace_document(record, passages, shas, fresh, bodies, types, companion_fresh)
        self.index.apply_vector_change(removed, added, vectors, self.index.db.generation(), companion)
        report.seconds["embed"] += t1 - t0
        if companion is not None:
            report.seconds["companion"] = report.seconds.get("companion", 0.0) + t2 - t1
        report.seconds["store"] += time.perf_counter() - t2

    def _vectors(self, embedder, shas: list[str], texts: list[str], table: str,
                 report: IngestReport | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every passage's vector from ``table``'s cache or the model; (all, the new ones by hash)."""
        db = self.index.db
        cached = db.cached_vectors(shas, table)
        fresh = embed_batched(embedder, {sha: t for sha, t in zip(shas, texts) if sha not in cached})
        fresh = {sha: db.stored(v, table) for sha, v in fresh.items()}  # as a rebuild would read them
        if report is not None:
            report.embedded += len(fresh)
        return np.stack([cached[s] if s in cached else fresh[s] for s in shas]), fresh


def embed_batched(embedder, texts_by_sha: dict[str, str]) -> dict[str, np.ndarray]:
    """Embed in length-sorted batches so padding is not wasted."""
    if not texts_by_sha:
        return {}
    items = sorted(texts_by_sha.items(), key=lambda kv: len(kv[1]))
    out: dict[str, np.ndarray] = {}
    for start in range(0, len(items), EMBED_BATCH):
        batch = items[start : start + EMBED_BATCH]
        vecs = embedder.encode_passages([t for _, t in batch])
        out.update((sha, vec) for (sha, _), vec in zip(batch, vecs))
    return out


def _display_path(path: Path) -> str:
    """The path as the user would recognise it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.path.relpath(path.resolve()) if not path.is_absolute() else path.as_posix()


def _str_or_none(value: object) -> str | None:
    return str(value) if value else None
