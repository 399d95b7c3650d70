"""Giving stored passages what their index keeps and they lack (companion vectors, sparse codes).

Both are computed from the text the model embedded for each passage (kb/embed/context.py)
and stored under the hash the passage has, batch by batch in transactions of their own: an
interrupted fill keeps what it committed, and the next run computes only the rest.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from kb.index import Index


def fill(index: "Index", missing: Sequence[tuple[str, str]], batch: int, store: Callable[[dict[str, str]], int],
         on_progress: Callable[[int, int], None] | None = None) -> int:
    """``missing``: (doc_id, text_sha) of the passages that lack it, by document; ``store(texts)``
    computes and commits one batch of texts by hash and returns how many it stored. Returns the
    number stored in all."""
    from kb.embed.context import embedding_texts

    db = index.db
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
                done += store(pending)
                pending = {}
                if on_progress:
                    on_progress(done, len(missing))
    if pending:
        done += store(pending)
    if on_progress:
        on_progress(len(missing), len(missing))
    return done
