"""A consistent copy of an index's files, taken while a writer may be committing.

The SQLite file is copied with SQLite's online backup API in one step: the copy is the
database as one committed transaction left it, whatever the writer does meanwhile (WAL
readers never block it). The FAISS snapshots are taken first, so each is of a generation
no newer than the copied database: kb/store/live.py then brings it up to the database's
generation from the change log, as it does after a crash (kb/snapshot.py does that step).
A FAISS file the writer replaced between reading its stamp and opening it is simply taken
again; files are never rewritten in place, so a hard link is as good as a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

from kb.store.db import DB_NAME
from kb.store.keys import COMPANION_FILE, GENERATION
from kb.store.vectors import STAMP_NAME

#: FAISS snapshots an index may hold: the model's and the companion's
SNAPSHOT_NAMES = (STAMP_NAME.removesuffix(".json"), COMPANION_FILE)
#: attempts at copying a FAISS file that its writer keeps replacing
ATTEMPTS = 5


def copy_vector_snapshots(source: Path, dest: Path) -> dict[str, int]:
    """Copy each FAISS snapshot (file, then its stamp) into ``dest``; {name: its generation}.

    A snapshot that cannot be had (none yet, or replaced every time it was read) is left
    out: the copy then rebuilds those vectors from its database.
    """
    copied: dict[str, int] = {}
    for name in SNAPSHOT_NAMES:
        for _attempt in range(ATTEMPTS):
            try:
                stamp = json.loads((source / f"{name}.json").read_text())
                file = str(stamp["file"])
                if Path(file).name != file:
                    raise ValueError(f"stamp names a file elsewhere: {file!r}")
                _link_or_copy(source / file, dest / file)
            except FileNotFoundError:
                if not (source / f"{name}.json").exists():
                    break  # no snapshot of this kind
                continue  # the writer moved on between the stamp and its file: read it again
            except (OSError, ValueError, KeyError, TypeError):
                break
            (dest / f"{name}.json").write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
            copied[name] = int(stamp.get("generation", -1))
            break
    return copied


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        shutil.copyfile(source, dest)


def backup_database(source: Path, dest: Path) -> int:
    """Copy ``source``'s SQLite database into ``dest`` (one consistent state); its generation.

    The copy uses a rollback journal, not WAL: a read-only replica can then open it even in
    a folder it may not write (WAL needs a shared-memory file beside the database).
    """
    src = sqlite3.connect(f"file:{source / DB_NAME}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest / DB_NAME)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        src.backup(dst)  # pages=-1: all in one step, under one read transaction
        dst.execute("PRAGMA journal_mode = DELETE")
        row = dst.execute("SELECT value FROM meta WHERE key = ?", (GENERATION,)).fetchone()
        return int(row[0]) if row else 0
    finally:
        dst.close()
        src.close()
