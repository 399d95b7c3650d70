"""Passages' keyword text in the pivot language (kb/translate/): written with the passage,
backfilled by `kb translate`, never shown. Rowids are the passages' ids."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence

from kb.store.keyword_rows import PIVOT_TABLE


class PivotRows:
    """The pivot-text rows of Database (a mixin: it needs ``conn``)."""

    conn: sqlite3.Connection

    def has_pivot_table(self) -> bool:
        """False for an index made before translation, opened read-only (nothing created)."""
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (PIVOT_TABLE,)).fetchone() is not None

    def write_pivot(self, rows: Iterable[tuple[int, str]]) -> None:
        """(rowid, keyword body) pairs, replacing any earlier body; inside the caller's transaction."""
        rows = list(rows)
        self.conn.executemany(f"DELETE FROM {PIVOT_TABLE} WHERE rowid = ?", [(r,) for r, _ in rows])
        self.conn.executemany(f"INSERT INTO {PIVOT_TABLE}(rowid, body) VALUES (?, ?)", rows)

    def delete_pivot(self, rowids: Sequence[int]) -> None:
        self.conn.executemany(f"DELETE FROM {PIVOT_TABLE} WHERE rowid = ?", [(i,) for i in rowids])

    def pivot_count(self) -> int:
        if not self.has_pivot_table():
            return 0
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {PIVOT_TABLE}_docsize").fetchone()[0])

    def passages_for_pivot(self, redo: bool = False, after: int = 0, limit: int = 500) -> list[tuple[int, str, str | None]]:
        """(rowid, text, lang) of passages after ``after`` without a pivot body (all with ``redo``),
        in id order: a backfill pages through them."""
        missing = "" if redo else f"AND id NOT IN (SELECT id FROM {PIVOT_TABLE}_docsize)"
        rows = self.conn.execute(f"SELECT id, text, lang FROM passages WHERE id > ? {missing} ORDER BY id LIMIT ?",
                                 (after, limit)).fetchall()
        return [(int(r[0]), r[1], r[2]) for r in rows]
