"""Passage roles in SQLite: which passages are boilerplate (kb/text/roles.py decides).

Sparse: only passages that are not content have a row, so an index made before roles (or a
read-only one that cannot get the table) reads as all content.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence


class RoleRows:
    """The ``passage_roles`` table of Database (a mixin: it needs ``conn``)."""

    conn: sqlite3.Connection

    def write_roles(self, rowids: Sequence[int], roles: Sequence[str]) -> None:
        """Store these passages' roles; runs inside the caller's transaction."""
        self.conn.executemany("DELETE FROM passage_roles WHERE passage = ?", [(int(r),) for r in rowids])
        self.conn.executemany("INSERT INTO passage_roles(passage, role) VALUES (?, ?)",
                              [(int(r), role) for r, role in zip(rowids, roles) if role != "content"])

    def roles_of(self, rowids: Iterable[int]) -> dict[int, str]:
        """{rowid: role} for those of these passages that are not content."""
        ids = list(dict.fromkeys(int(r) for r in rowids))
        out: dict[int, str] = {}
        try:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                out.update(self.conn.execute(
                    f"SELECT passage, role FROM passage_roles WHERE passage IN ({marks})", chunk).fetchall())
        except sqlite3.OperationalError:  # an older index opened read-only: no table, all content
            return {}
        return out

    def role_counts(self) -> dict[str, int]:
        try:
            return dict(self.conn.execute("SELECT role, COUNT(*) FROM passage_roles GROUP BY role").fetchall())
        except sqlite3.OperationalError:
            return {}
