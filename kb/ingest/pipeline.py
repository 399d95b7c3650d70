"""Ingestion: extract -> clean -> chunk (in worker processes) -> embed -> store (here).

Each document is committed in its own transaction, so an interrupted run keeps every
document it finished and a re-run picks up the rest. Unchanged files are recognised by
size and mtime, then by content hash, and skipped without being read twice.
"""

from __future__ import annotations

import multiprocessing
import hashlib
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np

from kb.embed.batch import embed_batched
from kb.errors import KBError
from kb.index import Index
from kb.ingest.discover import discover, file_sha256, text_sha
from kb.ingest.naming import display_sources, id_candidates
from kb.ingest.manifest import DocMeta, Manifest
from kb.ingest.pending import PendingFile
from kb.ingest.prepare import PreparedDoc, InlineExecutor, worker_init, prepare
from kb.ingest.report import EventHandler, FileOutcome, IngestReport, ProgressEvent
from kb.ingest.translate import PivotStep
from kb.models import Document
from kb.store.db import DocumentRecord
from kb.store.keys import MODEL

if TYPE_CHECKING:
    from kb.glossary import Glossary

#: documents each extraction worker may have prepared or in hand ahead of the one being
#: embedded: the main process and a worker need about the same CPU time over a corpus, but
#: not document by document, so a deep queue lets the worker run on while a long document is
#: embedded and the main process rarely waits for it (bench/README.md).
AHEAD_PER_WORKER = 8


class Ingestor:
    """Runs one ingest over an open index; reports progress through ``on_event``."""

    def __init__(self, index: Index, on_event: EventHandler | None = None, meta: Manifest | None = None,
                 glossary: "Glossary | None" = None) -> None:
        self.index = index
        self.glossary = glossary
        self.on_event: EventHandler = on_event or (lambda event: None)
        self.manifests = [meta] if meta else []
        self._given: dict[str, str] = {}  # doc_id -> path, for ids handed out in this run
        self._pivot: PivotStep | None = None  # passages' keyword text in the pivot language
        self._sources: dict[Path, str] = {}  # file -> the path its citations show

    def _meta_for(self, path: Path) -> DocMeta | None:
        for manifest in self.manifests:
            found = manifest.lookup(path)
            if found:
                return found
        return None

    def _doc_id(self, path: Path, abs_path: str) -> str:
        """A readable, stable id (kb/ingest/naming.py), unique against the index and this run.

        Ids are handed out before documents are stored (several are prepared ahead), so the
        ones given in this run count as taken too.
        """
        existing = self.index.db.document_by_path(abs_path)
        if existing:
            doc_id = existing.document.doc_id
        else:
            candidates = id_candidates(path)
            free = [c for c in candidates if self._free(c, abs_path)]
            doc_id = free[0] if free else candidates[0]
            attempt = 0
            while not self._free(doc_id, abs_path):
                attempt += 1
                doc_id = f"{candidates[0]}-{hashlib.sha1(f'{abs_path}#{attempt}'.encode()).hexdigest()[:6]}"
        self._given[doc_id] = abs_path
        return doc_id

    def _free(self, doc_id: str, abs_path: str) -> bool:
        return not self.index.db.doc_id_taken(doc_id, abs_path) and self._given.get(doc_id, abs_path) == abs_path

    def run(self, paths: Iterable[str | Path], exclude: Sequence[str] = ()) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        paths = list(paths)
        from kb.derived import companion, sparse

        companion.check(self.index)  # a companion other than the index's is refused before anything is written
        sparse.check(self.index)  # and so is --sparse for a model without a sparse head
        files, missing, auto = discover(paths, exclude)
        self._sources = display_sources(paths, files)
        self.manifests.extend(auto)
        report.outcomes.extend(missing)
        self._store_glossary(paths)
        self.on_event(ProgressEvent("start", files=len(files)))
        todo: list[PendingFile] = []
        for path in files:
            outcome = self._check_unchanged(path, todo)
            if outcome:
                report.outcomes.append(outcome)
                self.on_event(ProgressEvent("file", outcome.path, outcome.doc_id, outcome=outcome))
        if todo:
            self.index.record_model()
        if self.index.db.get_meta(MODEL) is not None:
            self._backfill(report, "companion")
            if report.interrupted:  # Ctrl-C while filling in the companion: what was committed stays
                report.seconds["total"] = time.perf_counter() - started
                return report
        if todo:
            _ = self.index.vectors  # load once, then keep them in step document by document
            _ = self.index.companion_vectors
            self._pivot = PivotStep(self.index.settings)
        try:
            self._ingest(todo, report)
        finally:
            self._close_pivot()
        if not report.interrupted and self.index.db.get_meta(MODEL) is not None:
            self._backfill(report, "sparse")
        self._refresh_derived(report)
        report.seconds["total"] = time.perf_counter() - started
        return report

    def _ingest(self, todo: list[PendingFile], report: IngestReport) -> None:
        """Prepare, embed and commit the files of ``todo``, one transaction each (kb/ingest/distributed.py
        replaces this step only: discovery, skipping and the steps after it stay the same)."""
        workers = self.index.settings.workers if len(todo) > 1 else 0
        # spawn, not fork: a forked worker would inherit the writer lock's descriptor and hold
        # the index "busy" after the main process dies; it also must not inherit BLAS threads.
        executor: Executor = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=worker_init, initargs=(os.getpid(),))
                              if workers > 0 else InlineExecutor())
        last_save = time.perf_counter()
        try:
            for item, future in self._submit_ahead(executor, todo, max(2, AHEAD_PER_WORKER * workers)):
                outcome = self._finish(item, future, report)
                report.outcomes.append(outcome)
                self.on_event(ProgressEvent("file", outcome.path, outcome.doc_id, outcome=outcome))
                if time.perf_counter() - last_save > self.index.settings.snapshot_every:
                    self.index.save()
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            executor.shutdown(wait=not report.interrupted, cancel_futures=True)
            if todo:
                self.index.save()

    def _close_pivot(self) -> None:
        """Record the translator the run's pivot texts came from (kb/derived/pivot.py)."""
        step, self._pivot = self._pivot, None
        if step is None:
            return
        step.close()
        if step.used and step.translator is not None:
            from kb.derived.pivot import record

            with self.index.db.conn:
                record(self.index.db, step.translator)

    #: what a backfill gives stored passages (kb/derived/backfill.py): its module, the report's
    #: count of it, and its key in the report's seconds
    BACKFILLS = {"companion": ("kb.derived.companion", "companion_embedded", "companion_backfill"),
                 "sparse": ("kb.derived.sparse", "sparse_coded", "sparse")}

    def _backfill(self, report: IngestReport, kind: str) -> None:
        """Give the stored passages what the index keeps and they lack: companion vectors before
        the run's documents, sparse codes after them."""
        from importlib import import_module

        module, count, key = self.BACKFILLS[kind]
        t0 = time.perf_counter()
        try:
            done = import_module(module).ensure(self.index, lambda done, total: self.on_event(
                ProgressEvent(kind, done=done, total=total)))
        except KeyboardInterrupt:
            report.interrupted = True
            return
        setattr(report, count, done)
        if done:
            report.seconds[key] = time.perf_counter() - t0

    def _refresh_derived(self, report: IngestReport) -> None:
        """Lesson types, translation links and language means, from what was stored (kb/derived/refresh.py)."""
        from kb.derived.refresh import refresh_derived

        changed = [o.doc_id for o in report.outcomes if o.status in ("added", "replaced") and o.doc_id]
        done = refresh_derived(self.index, changed)
        report.relabelled, report.linked = done.relabelled, done.linked
        report.seconds.update(done.seconds)

    def _store_glossary(self, paths: Iterable[str | Path]) -> None:
        """The glossary given, else the first kb-glossary.yaml among the folders, into the index."""
        from kb.glossary import Glossary, find_in
        from kb.store.keys import GLOSSARY

        glossary = self.glossary
        if glossary is None:
            found = [g for g in (find_in(Path(p)) for p in paths if Path(p).is_dir()) if g]
            glossary = Glossary.load(found[0]) if found else None
        if glossary is not None:
            db = self.index.db
            with db.conn:
                db.set_meta(GLOSSARY, glossary.to_json())

    def _check_unchanged(self, path: Path, todo: list[PendingFile]) -> FileOutcome | None:
        abs_path = str(path.resolve())
        try:
            stat = path.stat()
        except OSError as err:
            return FileOutcome(str(path), "failed", reason=err.strerror or str(err))
        meta = self._meta_for(path)
        meta_key = repr(meta) + ("|ocr" if self.index.settings.ocr else "")
        record = self.index.db.document_by_path(abs_path)
        if record and record.size == stat.st_size and record.mtime == stat.st_mtime and record.extra.get("meta") == meta_key:
            return self._unchanged(path, record)
        try:
            sha = file_sha256(path)
        except OSError as err:
            return FileOutcome(str(path), "failed", reason=err.strerror or str(err))
        if record and record.document.sha256 == sha and record.extra.get("meta") == meta_key:
            return self._unchanged(path, record)
        todo.append(PendingFile(path, abs_path, sha, meta, stat, meta_key))
        return None

    def _unchanged(self, path: Path, record: DocumentRecord) -> FileOutcome:
        """A file already in the index: only the path its citations show may change (as now given)."""
        source = self._source(path)
        if self.index.db.source_of(record.document.doc_id) != source and self.index.db.writable:
            self.index.db.set_source(record.document.doc_id, source)
        return FileOutcome(str(path), "unchanged", record.document.doc_id, record.document.pages, record.document.passages)

    def _source(self, path: Path) -> str:
        return self._sources.get(path) or path.name

    def _submit_ahead(self, executor: Executor, todo: list[PendingFile], window: int
                      ) -> Iterator[tuple[PendingFile, Future]]:
        """Keep ``window`` documents in preparation while the caller embeds earlier ones."""
        settings = self.index.settings
        pending: list[tuple[PendingFile, Future]] = []
        items = iter(todo)
        while True:
            while len(pending) < window:
                item = next(items, None)
                if item is None:
                    break
                item = item.with_id(self._doc_id(item.path, item.abs_path))
                lang = item.meta.language if item.meta else None
                future = executor.submit(prepare, str(item.path), item.doc_id, lang, settings.min_chars,
                                         settings.max_chars, settings.ocr)
                pending.append((item, future))
            if not pending:
                return
            yield pending.pop(0)

    def _finish(self, item: PendingFile, future: Future, report: IngestReport) -> FileOutcome:
        path, abs_path, sha, meta, stat, meta_key, doc_id = (item.path, item.abs_path, item.sha, item.meta, item.stat,
                                                             item.meta_key, item.doc_id)
        try:
            prepared: PreparedDoc = future.result()
        except KBError as err:
            return FileOutcome(str(path), "failed", reason=str(err))
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the others
            return FileOutcome(str(path), "failed", reason=f"{type(err).__name__}: {err}")
        report.seconds["extract"] += prepared.seconds
        replaced = self.index.db.document_by_path(abs_path) is not None
        document = self._document(path, doc_id, sha, prepared, meta)
        self.on_event(ProgressEvent("document", str(path), doc_id, passages=len(prepared.passages)))
        warnings = self._store(document, abs_path, stat, meta_key, prepared, report, str(path))
        return FileOutcome(str(path), "replaced" if replaced else "added", doc_id, prepared.pages, len(prepared.passages),
                           warnings=warnings)

    def _document(self, path: Path, doc_id: str, sha: str, prepared: PreparedDoc, meta: DocMeta | None) -> Document:
        meta = meta or DocMeta()
        year = meta.year
        if year is None and isinstance(prepared.metadata.get("year"), int):
            year = prepared.metadata["year"]  # type: ignore[assignment]
        return Document(
            doc_id=doc_id, source=self._source(path), title=meta.title or prepared.title,
            lang=meta.language or prepared.lang, format=prepared.format, sha256=sha,
            pages=prepared.pages, passages=len(prepared.passages), organisation=meta.organisation,
            year=year, country=meta.country, url=meta.url or _str_or_none(prepared.metadata.get("url")),
            tags=list(meta.tags),
        )

    def _store(self, document: Document, abs_path: str, stat: os.stat_result, meta_key: str,
               prepared: PreparedDoc, report: IngestReport, shown: str = "") -> list[str]:
        """Embed, translate and store one document; returns warnings for its outcome."""
        from kb.text.keywords import index_body

        from kb.embed.context import embedding_texts

        passages = prepared.passages
        texts = embedding_texts(passages, document.title, self.index.embed_recipe)
        shas = [text_sha(t) for t in texts]  # the vector cache key: what the model read
        translating = self._pivot.start(passages) if self._pivot else None  # while embedding
        t0 = time.perf_counter()

        def embedded(n: int) -> None:  # "embedded" events: passages of this document done so far
            self.on_event(ProgressEvent("embedded", shown, document.doc_id, passages=n))

        vectors, fresh = self._vectors(self.index.embedder, shas, texts, "embeddings", report, embedded)
        t1 = time.perf_counter()
        companion, companion_fresh = None, None
        if self.index.companion_model is not None:  # kb/derived/companion.py: kept complete with the passages
            from kb.store.keys import COMPANION_TABLE

            companion, companion_fresh = self._vectors(self.index.companion_embedder, shas, texts, COMPANION_TABLE)
        t2 = time.perf_counter()
        record = DocumentRecord(document, abs_path, stat.st_size, stat.st_mtime, {"meta": meta_key})
        pivot, warnings = self._pivot.finish(translating) if self._pivot else (None, [])
        t3 = time.perf_counter()
        if translating is not None:  # what translating added: its wait after embedding
            report.seconds["translate_wait"] = report.seconds.get("translate_wait", 0.0) + t3 - t2
        bodies = [index_body(p.text, p.lang) for p in passages]
        types = self.index.labeler.label(passages, vectors)  # from the vectors above: no extra embedding
        removed, added = self.index.db.replace_document(record, passages, shas, fresh, bodies, types, companion_fresh,
                                                        roles=prepared.roles or None, pivot_bodies=pivot)
        self.index.apply_vector_change(removed, added, vectors, self.index.db.generation(), companion)
        report.seconds["embed"] += t1 - t0
        if companion is not None:
            report.seconds["companion"] = report.seconds.get("companion", 0.0) + t2 - t1
        report.seconds["store"] += time.perf_counter() - t3
        return warnings

    def _vectors(self, embedder, shas: list[str], texts: list[str], table: str,
                 report: IngestReport | None = None, progress: Callable[[int], None] | None = None,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Every passage's vector from ``table``'s cache or the model; (all, the new ones by hash)."""
        db = self.index.db
        cached = db.cached_vectors(shas, table)
        reused = sum(1 for sha in shas if sha in cached)
        fresh = embed_batched(embedder, {sha: t for sha, t in zip(shas, texts) if sha not in cached},
                              (lambda n: progress(reused + n)) if progress else None)
        fresh = {sha: db.stored(v, table) for sha, v in fresh.items()}  # as a rebuild would read them
        if report is not None:
            report.embedded += len(fresh)
        return np.stack([cached[s] if s in cached else fresh[s] for s in shas]), fresh


def _str_or_none(value: object) -> str | None:
    return str(value) if value else None
