"""`kb ingest --ray`: extraction, cleaning, chunking and embedding on a Ray cluster; one writer.

``RayIngestor`` is the plain ``Ingestor`` with one step replaced, the loop that prepares,
embeds and commits the files to do (``Ingestor._ingest``). Everything before it (finding
files, skipping unchanged ones, handing out document ids) and after it (translation links,
language means) is the plain code, and so is each commit: ``Ingestor._finish`` and
``_store`` run here on the writer, with the vectors the workers computed in place of local
embedding. Hence the same guarantees: one transaction per document, unchanged files
skipped, changed ones replaced, bad files named one by one, and a re-run after a crash of
the writer (or Ctrl-C) redoes only what was not committed.

The workers (kb/ingest/ray_worker.py) do three kinds of call. ``prepare`` reads one file
(sent as bytes) and returns its passages; the writer then checks which texts the index
already holds a vector for, as plain ingestion does, and sends the rest to ``embed`` in
slices (kb/ingest/ray_calls.py), so that a long document is embedded by several workers at
once. The slices are cut from the texts sorted by length exactly where plain ingestion cuts
its batches, so every batch holds the same texts and the vectors come out identical. Where
the index translates passages into a pivot language (kb/ingest/translate.py), ``translate``
does that too, so the writer is left with its commits.

A lost worker (killed, out of memory, its node gone) loses only calls in flight: each is
sent again, to any worker, up to :data:`MAX_ATTEMPTS` times; then that file is reported as
failed with the reason, like a file that cannot be read.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from kb.embed.batch import embed_batched
from kb.errors import KBError
from kb.ingest.discover import text_sha
from kb.ingest.pending import PendingFile
from kb.ingest.pipeline import Ingestor
from kb.ingest.ray_calls import Call, Doc, WorkerPivot, companion_for, done_future, slices
from kb.ingest.report import EventHandler, FileOutcome, IngestReport, ProgressEvent
from kb.store.keys import COMPANION_TABLE

if TYPE_CHECKING:
    from kb.glossary import Glossary
    from kb.index import Index
    from kb.manifest import Manifest
    from kb.ingest.ray_cluster import WorkerPool

#: calls queued on each worker: the next one is there when the current one ends
DEPTH = 2
#: documents started and not yet committed, per worker
AHEAD = 4
#: sends of one call before its file is given up as failed
MAX_ATTEMPTS = 3


class RayIngestor(Ingestor):
    """An ``Ingestor`` whose documents are prepared and embedded by a Ray cluster's workers."""

    def __init__(self, index: "Index", on_event: EventHandler | None = None, meta: "Manifest | None" = None,
                 glossary: "Glossary | None" = None, workers: int | None = None) -> None:
        super().__init__(index, on_event, meta, glossary)
        from kb.ingest.ray_cluster import RemoteEmbedder

        self.workers = workers
        self.start_seconds = 0.0
        self._pool: WorkerPool | None = None
        self._given_vectors: dict[str, dict[str, np.ndarray]] = {}
        self._report = IngestReport()
        self._open = 0  # documents started and not yet committed (or failed)
        self.models = {"embeddings": index.model}
        companion = companion_for(index)
        if companion is not None:
            self.models[COMPANION_TABLE] = companion
        index.use_embedders(RemoteEmbedder(self.pool, "embeddings"),
                            RemoteEmbedder(self.pool, COMPANION_TABLE) if companion else None)

    def pool(self) -> "WorkerPool":
        """The workers, started on first use: a run with nothing to do loads no model anywhere."""
        if self._pool is None:
            from kb.ingest.ray_cluster import WorkerPool

            started = time.perf_counter()
            self._pool = WorkerPool(self.models, self.workers)
            self.start_seconds = time.perf_counter() - started  # actors up, models loaded
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.kill()
            self._pool = None

    # -- the replaced step --------------------------------------------------------------------
    def _ingest(self, todo: list[PendingFile], report: IngestReport) -> None:
        if not todo:
            return
        pool = self.pool()
        report.seconds["workers_start"] = self.start_seconds
        if self._pivot is not None and self._pivot.translator is not None:
            self._pivot = WorkerPivot(self._pivot)
        queue: deque[Call] = deque()  # calls ready to send: embedding slices and retries first
        fresh = deque(todo)  # files not started yet
        inflight: dict[object, tuple[Call, int]] = {}
        self._report, self._open = report, 0
        last_save = time.perf_counter()
        report.seconds.setdefault("workers_embed", 0.0)
        try:
            while fresh or queue or inflight:
                self._send(pool, queue, fresh, inflight)
                if not inflight:
                    self._give_up(queue, fresh, "no Ray worker is left (each lost its calls 3 times in a row)")
                    break
                ready, _ = pool.ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    call, actor = inflight.pop(ref)
                    try:
                        value = pool.ray.get(ref)
                    except pool.ray.exceptions.RayError as err:
                        pool.answered(actor, lost=True)
                        self._lost(call, err, queue)
                        continue
                    pool.answered(actor, lost=False)
                    self._answered(call, value, queue, report)
                if time.perf_counter() - last_save > self.index.settings.snapshot_every:
                    self.index.save()
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            if report.interrupted:
                self.close()
            self.index.save()

    def _send(self, pool: "WorkerPool", queue: deque, fresh: deque, inflight: dict) -> None:
        """Fill every worker up to DEPTH calls: waiting calls first, then new files."""
        settings = self.index.settings
        while True:
            actor = pool.least_loaded(DEPTH)
            if actor is None:
                return
            if queue:
                call = queue.popleft()
            elif fresh and self._open < AHEAD * pool.size:
                item = fresh.popleft()
                item = item.with_id(self._doc_id(item.path, item.abs_path))
                call = Call(Doc(item), "prepare")
                self._open += 1
            else:
                return
            if call.doc.done:
                continue
            if call.method == "prepare":
                path, meta, doc_id = call.doc.item.path, call.doc.item.meta, call.doc.item.doc_id
                try:
                    data = Path(path).read_bytes()
                except OSError as err:
                    self._commit(call.doc, done_future(error=KBError(err.strerror or str(err))))
                    continue
                ref = pool.call(actor, "prepare", Path(path).name, data, doc_id, meta.language if meta else None,
                                settings.min_chars, settings.max_chars, settings.ocr)
            elif call.method == "translate":
                passages = call.doc.prepared.passages  # type: ignore[union-attr]
                ref = pool.call(actor, "translate", [p.text for p in passages], [p.lang for p in passages],
                                settings.translate)
            else:
                ref = pool.call(actor, "embed", call.table, call.texts)
            inflight[ref] = (call, actor)

    def _answered(self, call: Call, value: object, queue: deque, report: IngestReport) -> None:
        doc = call.doc
        if doc.done:
            return
        if call.method == "prepare":
            prepared, reason, cpu = value  # type: ignore[misc]
            report.seconds["workers_extract_cpu"] = report.seconds.get("workers_extract_cpu", 0.0) + cpu
            if reason is not None:
                self._commit(doc, done_future(error=KBError(reason)))
                return
            doc.prepared = prepared
            calls = self._to_embed(doc)
            if isinstance(self._pivot, WorkerPivot):
                calls.append(Call(doc, "translate"))
            queue.extend(calls)
            doc.waiting += len(calls)
        elif call.method == "translate":
            doc.pivot = value  # type: ignore[assignment]
            doc.waiting -= 1
        else:
            vectors, seconds, cpu = value  # type: ignore[misc]
            doc.vectors.setdefault(call.table or "", {}).update(vectors)
            report.seconds["workers_embed"] += seconds  # the workers' wall time, both models
            key = "workers_embed_companion_cpu" if call.table == COMPANION_TABLE else "workers_embed_model_cpu"
            report.seconds[key] = report.seconds.get(key, 0.0) + cpu
            doc.waiting -= 1
        if doc.waiting == 0:
            self._commit(doc, done_future(doc.prepared))

    def _to_embed(self, doc: Doc) -> list[Call]:
        """Embedding calls for the texts of a prepared document the index holds no vector for."""
        from kb.embed.context import embedding_texts

        path, sha, meta, doc_id = doc.item.path, doc.item.sha, doc.item.meta, doc.item.doc_id
        document = self._document(path, doc_id, sha, doc.prepared, meta)  # type: ignore[arg-type]
        texts = embedding_texts(doc.prepared.passages, document.title, self.index.embed_recipe)  # type: ignore[union-attr]
        shas = [text_sha(t) for t in texts]
        tables = ["embeddings"] + ([COMPANION_TABLE] if self.index.companion_model is not None else [])
        calls = []
        for table in tables:
            cached = self.index.db.cached_vectors(shas, table)
            wanted = {s: t for s, t in zip(shas, texts) if s not in cached}
            calls += [Call(doc, "embed", table, part) for part in slices(wanted)]
        return calls

    def _lost(self, call: Call, err: BaseException, queue: deque) -> None:
        """A worker died with this call: send it again, or after MAX_ATTEMPTS fail its file
        (a translation is left to the writer instead)."""
        if call.doc.done:
            return
        call.attempts += 1
        if call.attempts < MAX_ATTEMPTS:
            queue.appendleft(call)
            return
        if call.method == "translate":  # as in plain ingestion, translation never costs a
            call.doc.waiting -= 1  # document its place: with no pivot given, WorkerPivot translates
            if call.doc.waiting == 0:
                self._commit(call.doc, done_future(call.doc.prepared))
            return
        doing = "reading" if call.method == "prepare" else "embedding"
        reason = f"Ray workers were lost {call.attempts} times while {doing} it ({type(err).__name__})"
        self._commit(call.doc, done_future(error=KBError(reason)))

    def _give_up(self, queue: deque, fresh: deque, reason: str) -> None:
        """No worker is left: every file not committed is reported failed with ``reason``."""
        for doc in {id(c.doc): c.doc for c in queue if not c.doc.done}.values():
            self._commit(doc, done_future(error=KBError(reason)))
        queue.clear()
        for item in fresh:
            outcome = FileOutcome(str(item.path), "failed", reason=reason)
            self._report.outcomes.append(outcome)
            self.on_event(ProgressEvent("file", outcome.path, outcome.doc_id, outcome=outcome))
        fresh.clear()

    def _commit(self, doc: Doc, future: Future) -> None:
        """The plain commit (``Ingestor._finish``) of a prepared document, or its failure."""
        doc.done = True
        self._open -= 1
        self._given_vectors = doc.vectors
        if isinstance(self._pivot, WorkerPivot):
            self._pivot.given = doc.pivot
        cpu = time.process_time()  # the writer's own cost per document, whatever else runs here
        try:
            outcome = self._finish(doc.item, future, self._report)
        finally:
            self._given_vectors = {}
            seconds = self._report.seconds
            seconds["writer_commit_cpu"] = seconds.get("writer_commit_cpu", 0.0) + time.process_time() - cpu
        self._report.outcomes.append(outcome)
        self.on_event(ProgressEvent("file", outcome.path, outcome.doc_id, outcome=outcome))

    # -- vectors from the workers, in the plain store step ------------------------------------------
    def _vectors(self, embedder, shas: list[str], texts: list[str], table: str,
                 report: IngestReport | None = None, progress: Callable[[int], None] | None = None,
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        given = self._given_vectors.get(table)
        if given is None:
            return super()._vectors(embedder, shas, texts, table, report, progress)
        db = self.index.db
        cached = db.cached_vectors(shas, table)  # committed since the document was sent: as plain ingest would
        wanted = {s: t for s, t in zip(shas, texts) if s not in cached}
        fresh = {s: given[s] for s in wanted if s in given}
        fresh.update(embed_batched(embedder, {s: t for s, t in wanted.items() if s not in given}))
        fresh = {s: db.stored(v, table) for s, v in fresh.items()}
        if report is not None:
            report.embedded += len(fresh)
        if progress is not None:  # the document's passages, all embedded already
            progress(len(shas))
        return np.stack([cached[s] if s in cached else fresh[s] for s in shas]), fresh
