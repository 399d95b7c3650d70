"""What the Ray writer (kb/ingest/distributed.py) keeps about each document and each call.

A document in flight (``Doc``) waits for its preparation, then for its embedding slices
and its translation; a ``Call`` is one request to a worker (kb/ingest/ray_worker.py).
``slices`` cuts a document's texts where plain ingestion cuts its embedding batches, and
``WorkerPivot`` hands the workers' translations to the plain store step.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kb.embed.batch import EMBED_BATCH
from kb.errors import KBError
from kb.ingest.pending import PendingFile
from kb.store.keys import COMPANION_MODEL, COMPANION_NONE, companion_wanted

if TYPE_CHECKING:
    from kb.index import Index

#: texts per embedding call: a multiple of the embedding batch, so slices never split a batch
EMBED_SLICE = 8 * EMBED_BATCH


@dataclass(eq=False)
class Doc:
    item: PendingFile  # with its doc_id, as Ingestor._finish takes it
    prepared: object | None = None
    waiting: int = 0  # embedding slices and translation not back yet
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    pivot: tuple[str, object] | None = None  # a worker's translation (IngestWorker.translate)
    done: bool = False


@dataclass(eq=False)
class Call:
    doc: Doc
    method: str  # prepare | embed | translate
    table: str | None = None
    texts: dict[str, str] | None = None
    attempts: int = 0


def done_future(value: object = None, error: BaseException | None = None) -> Future:
    """A finished future: ``Ingestor._finish`` takes the prepared document in one."""
    future: Future = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return future


def slices(texts_by_sha: dict[str, str]) -> list[dict[str, str]]:
    """The texts to embed, cut where ``embed_batched`` cuts its batches (sorted by length)."""
    items = sorted(texts_by_sha.items(), key=lambda kv: len(kv[1]))
    return [dict(items[i : i + EMBED_SLICE]) for i in range(0, len(items), EMBED_SLICE)]


def companion_for(index: "Index") -> str | None:
    """The companion model this run embeds with, by kb/derived/companion.py's rules (None: none)."""
    if index.companion_model is not None:
        return index.companion_model
    if index.db.get_meta(COMPANION_MODEL) == COMPANION_NONE and index.settings.companion is None:
        return None
    return companion_wanted(index.settings.companion, index.model)


class WorkerPivot:
    """The run's PivotStep (kb/ingest/translate.py) fed with the workers' translations, so that
    the writer does not translate; where a worker could not, the writer does, as plainly."""

    def __init__(self, step) -> None:
        self.step = step
        self.translator = step.translator
        self.given: tuple[str, object] | None = None  # the document being committed

    @property
    def used(self) -> bool:
        return self.step.used

    def start(self, passages):
        if self.given is None or self.given[0] == "off":
            return self.step.start(passages)
        if self.given[0] == "failed":
            return done_future(error=KBError(str(self.given[1])))
        return done_future(self.given[1])

    def finish(self, future):
        return self.step.finish(future)

    def close(self) -> None:
        self.step.close()
