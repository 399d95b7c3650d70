"""The one object the routes talk to: a ``KnowledgeBase`` made safe to share between threads.

FastAPI runs the (sync) endpoints in a thread pool, while the library holds one SQLite
connection and one in-memory FAISS index. Every library call therefore runs

* under one first-come, first-served lock: the connection and the lazily reloaded vectors
  are never used by two threads at once. Searching is CPU-bound (embedding, language
  detection, a flat FAISS scan), so running searches in parallel gains nothing on a small
  machine: measured with ``bench/load.py``, removing the lock did not raise throughput and
  made the latency tail worse;
* inside one SQLite read transaction: WAL gives it a snapshot, so the generation that
  decides whether FAISS is reloaded, the filter ids, the keyword hits and the passages
  that are cited all come from the same committed state. An ingest by another process
  that commits mid-request is seen whole by the next request, never half by this one.

``/health`` reads from a connection of its own instead, so that a queue of long searches
cannot make a liveness probe time out.

Nothing here writes to the index.
"""

from __future__ import annotations

import threading
from pathlib import Path
from dataclasses import asdict
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from kb.errors import KBError
from kb.library import KnowledgeBase
from kb.models import Document, Passage, cited
from kb.search.cite import citation_for
from kb.store.db import Database


class FairLock:
    """A first-come, first-served lock that hands itself over to the longest waiter.

    ``threading.Lock`` is not fair: when many requests queue for it, the order they get it
    in is arbitrary, so some wait many times longer than others (a p99 several times the
    p50). Serving waiters in arrival order bounds every wait by the length of the queue,
    and handing over directly wakes exactly one thread per release.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def __enter__(self) -> "FairLock":
        with self._mutex:
            if not self._held:
                self._held = True
                return self
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        gate.acquire()  # released by the holder's __exit__: the lock is ours, still marked held
        return self

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False


class NotFound(KBError):
    """An id that the index does not hold (answered with 404)."""


class ClientGone(KBError):
    """The client hung up while its request waited for its turn: the work is skipped (logged as 499)."""


class ApiService:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._lock = FairLock()
        self._warm = False
        #: /health's own read-only connection (opened on first use) and the lock that guards it
        self._status_db: Database | None = None
        self._status_lock = threading.Lock()
        from api.files import Verified

        self._verified = Verified()  # files found unchanged since ingest (GET /documents/{id}/file)

    @contextmanager
    def snapshot(self, abandoned: Callable[[], bool] | None = None) -> Iterator[KnowledgeBase]:
        """Exclusive use of the library, reading one committed state of the index.

        ``abandoned``: asked once the turn comes; a request whose client has gone meanwhile (a
        tool's timeout) then costs nothing, instead of delaying every request queued behind it.
        """
        conn = self.kb.index.db.conn
        with self._lock:
            if abandoned is not None and abandoned():
                raise ClientGone("the client closed the connection before its turn")
            if conn.in_transaction:  # never expected (nothing here writes); do not read a stale snapshot
                conn.rollback()
            conn.execute("BEGIN")
            try:
                yield self.kb
            finally:
                conn.rollback()  # read-only: nothing to commit; ends the snapshot

    # -- start-up -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model, the vectors and the language profiles now, not on the first request."""
        if self._warm:
            return
        with self.snapshot() as kb:
            _ = kb.index.embedder
            _ = kb.index.vectors
            kb.search("warm-up query: recognition of skills", k=1)
        self._warm = True

    # -- reading ------------------------------------------------------------------------
    def search(self, text: str, k: int, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
               mode: str | None = None, id: object = None, types: Sequence[str] = (),
               abandoned: Callable[[], bool] | None = None) -> dict[str, Any]:
        with self.snapshot(abandoned) as kb:
            query = kb.query(text, k, langs, doc_ids, mode, id, types=types)  # the library's own validation too
            return kb.run_query(query).to_dict()

    def types(self) -> dict[str, Any]:
        with self.snapshot() as kb:
            return kb.type_counts()

    def health(self) -> dict[str, Any]:
        """Counts from one committed state, without queueing behind searches (see the module's doc)."""
        with self._status_lock:
            if self._status_db is None:
                # the index's own kind: a serving worker's keeps a connection per thread (kb/serving.py)
                self._status_db = type(self.kb.index.db)(self.kb.index.dir, readonly=True)
            conn = self._status_db.conn
            conn.execute("BEGIN")
            try:
                counts = self._status_db.counts()
                generation = self._status_db.generation()
            finally:
                conn.rollback()
        return {"status": "ok", "documents": counts["documents"], "passages": counts["passages"],
                "model": self.kb.index.model, "generation": generation}

    def close(self) -> None:
        with self._status_lock:
            if self._status_db is not None:
                self._status_db.close()
                self._status_db = None

    def documents(self, limit: int, offset: int) -> dict[str, Any]:
        with self.snapshot() as kb:
            items = [d.to_dict() for d in kb.documents(limit, offset)]
            total = kb.index.db.counts()["documents"]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    def document(self, doc_id: str) -> dict[str, Any]:
        with self.snapshot() as kb:
            found = kb.document(doc_id)
        if found is None:
            raise NotFound(f"no document {doc_id!r} in the index (see GET /documents)")
        return found.to_dict()

    def document_file(self, doc_id: str) -> Any:
        """The document's ingested file (api/files.py): the path comes from the index, never the request."""
        from api.files import file_response

        with self.snapshot() as kb:
            found = kb.document(doc_id)
            where = kb.index.db.path_of(doc_id)  # where ingest read it: citations show the path as typed
        if found is None or where is None:
            raise NotFound(f"no document {doc_id!r} in the index (see GET /documents)")
        return file_response(found, Path(where), self._verified)  # hashed outside the lock: searches need not wait

    def passage(self, passage_id: str) -> dict[str, Any]:
        with self.snapshot() as kb:
            found = kb.passage(passage_id)
            doc = kb.document(found.doc_id) if found else None
        if found is None:
            raise NotFound(f"no passage {passage_id!r} in the index")
        return passage_dict(found, doc)


    def brief(self, topics: dict[str, Any], fmt: str, abandoned: Callable[[], bool] | None = None) -> Any:
        """A briefing pack as an HTTP response (Markdown or HTML shown inline, DOCX a download)."""
        from fastapi import Response

        from kb.brief import make_brief

        with self.snapshot(abandoned) as kb:
            made = make_brief(kb, topics, fmt)
        disposition = "attachment" if made.format == "docx" else "inline"
        return Response(made.content, media_type=made.media_type,
                        headers={"Content-Disposition": f'{disposition}; filename="{made.filename}"'})


def passage_dict(passage: Passage, doc: Document | None) -> dict[str, Any]:
    return {**asdict(passage), **cited(passage, citation_for(passage, doc))}
