"""The index's pivot texts (kb/translate/): which translator made them, and `kb translate`, which
gives stored passages theirs without embedding anything.

The record (meta ``translator``) names the pivot language and the packages with their versions,
so `kb stats` can say what the keyword text across languages came from, and a search translates
questions into the same pivot. Passages ingested without a translator (Apertium installed
later, KB_TRANSLATE=0) have no pivot text until `kb translate` gives them one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from kb.store.keys import TRANSLATOR

if TYPE_CHECKING:
    from kb.store.db import Database
    from kb.translate import Translator

#: passages translated and committed together by a backfill (one transaction each)
BATCH = 256


@dataclass
class TranslateReport:
    translated: int = 0
    #: passages of a language with no route into the pivot: left without a pivot text
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    record: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"translated": self.translated, "skipped": self.skipped, "warnings": self.warnings,
                "seconds": round(self.seconds, 3), "translator": self.record}


def recorded(db: "Database") -> dict[str, object] | None:
    """The translator the index's pivot texts came from, or None (none has been stored)."""
    raw = db.get_meta(TRANSLATOR)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def record(db: "Database", translator: "Translator") -> dict[str, object]:
    """Note ``translator`` as the source of the pivot texts (inside the caller's transaction)."""
    status = translator.status()
    value: dict[str, object] = {"pivot": translator.pivot, "version": status.version,
                                "languages": list(status.languages)}
    db.set_meta(TRANSLATOR, json.dumps(value, ensure_ascii=False))
    return value


def backfill(db: "Database", translator: "Translator", redo: bool = False,
             on_progress: Callable[[int, int], None] | None = None) -> TranslateReport:
    """Give every passage without a pivot text one (every passage with ``redo``), batch by batch;
    an interrupted run keeps its committed batches and the next run does the rest."""
    from kb.translate.bodies import pivot_bodies

    old = recorded(db)
    if old and old.get("pivot") != translator.pivot:
        redo = True  # texts in another pivot cannot be matched by questions in this one
    report = TranslateReport()
    start = time.perf_counter()
    total = db.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    todo_total = total if redo else total - db.pivot_count()
    after, done = 0, 0
    while True:
        rows = db.passages_for_pivot(redo, after, BATCH)
        if not rows:
            break
        after = rows[-1][0]
        bodies, warnings = pivot_bodies([r[1] for r in rows], [r[2] for r in rows], translator)
        report.warnings += warnings
        with db.conn:
            if redo:
                db.delete_pivot([r[0] for r in rows])
            db.write_pivot((r[0], b) for r, b in zip(rows, bodies) if b is not None)
            report.record = record(db, translator)
            db._bump_generation()  # readers' cached term counts of the pivot texts are stale
        report.translated += sum(1 for b in bodies if b is not None)
        report.skipped += sum(1 for b in bodies if b is None)
        done += len(rows)
        if on_progress:
            on_progress(done, todo_total)
    report.seconds = time.perf_counter() - start
    return report


def summary(db: "Database", on: bool) -> dict[str, object]:
    """What `kb stats` says about translation: what the index holds, what this machine can do.

    ``on``: Settings.translate. ``install`` names the Debian packages still missing."""
    from kb.translate import shared

    status = shared().status()
    return {"enabled": bool(on and status.enabled), "recorded": recorded(db),
            "passages": db.pivot_count(), "available": status.describe(),
            "languages": list(status.languages), "install": list(status.missing)}
