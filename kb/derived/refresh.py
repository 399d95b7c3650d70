"""The one list of refresh steps run after every change to an index's documents.

Ingest and remove both end here, so data derived from the stored passages (lesson types,
translation links, per-language mean vectors) can never be refreshed by one and forgotten
by the other. Each step reads only what is stored (nothing is embedded) and decides for
itself whether anything changed enough to redo its work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from kb.store import keys

if TYPE_CHECKING:
    from kb.index import Index


@dataclass
class Refreshed:
    """What the steps did: counts by step, and seconds by step for the ingest report."""

    relabelled: int = 0
    linked: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _relabel(index: "Index", changed: Sequence[str], out: Refreshed) -> bool:
    from kb.derived.relabel import ensure_current

    done = ensure_current(index.db, index.labeler)
    if done is None:
        return False
    out.relabelled = done.passages
    return True


def _links(index: "Index", changed: Sequence[str], out: Refreshed) -> bool:
    """Link changed documents to their versions in other languages; every document once
    when the index's links come from older rules."""
    from kb.derived.translations import LINKS_VERSION, link_documents

    db = index.db
    todo = [d for d in changed if db.document(d) is not None]  # a removed document has no links left
    if db.get_meta(keys.TRANSLATIONS) != LINKS_VERSION:
        todo = [d.doc_id for d in db.documents()]
    if not todo:
        return False
    out.linked = link_documents(db, todo)
    with db.conn:
        db.set_meta(keys.TRANSLATIONS, LINKS_VERSION)
    return True


def _roles(index: "Index", changed: Sequence[str], out: Refreshed) -> bool:
    """Passages of an index made before roles (or under older rules) get their roles from their
    stored text; new passages got theirs at ingestion."""
    from kb.text.roles import ROLES_VERSION, role_of

    db = index.db
    if db.get_meta(keys.ROLES) == ROLES_VERSION:
        return False
    with db.conn:
        for doc in db.documents():
            rowids = db.passage_rowids(doc.doc_id)
            passages = db.passages_by_rowids(rowids)
            db.write_roles(rowids, [role_of(passages[r].text) for r in rowids])
        db.set_meta(keys.ROLES, ROLES_VERSION)
    return True


def _language_means(index: "Index", changed: Sequence[str], out: Refreshed) -> bool:
    from kb.derived.language_means import refresh

    if index.db.get_meta(keys.LANGUAGE_MEANS) is not None and not changed:
        return False
    refresh(index.db)
    return True


def _acronyms(index: "Index", changed: Sequence[str], out: Refreshed) -> bool:
    """Acronyms the changed documents define ("Talent Beyond Boundaries (TBB)"), for the search."""
    from kb.derived.acronyms import refresh

    return refresh(index.db, changed)


#: (name in the report's timings, step); run in this order
STEPS: tuple[tuple[str, Callable[["Index", Sequence[str], Refreshed], bool]], ...] = (
    ("roles", _roles),
    ("relabel", _relabel),
    ("link", _links),
    ("language_means", _language_means),
    ("acronyms", _acronyms),
)


def refresh_derived(index: "Index", changed: Sequence[str]) -> Refreshed:
    """Run every step; ``changed``: documents added, replaced or removed by the caller."""
    out = Refreshed()
    for name, step in STEPS:
        t0 = time.perf_counter()
        if step(index, changed, out):
            out.seconds[name] = time.perf_counter() - t0
    return out
