"""`kb snapshot DEST`: a consistent, searchable copy of an index, for read-only replicas.

It may run while `kb ingest` writes the index: it takes no writer lock and never waits for
one. The copy is one committed state of the database (kb/store/backup.py) with FAISS
snapshots of exactly that generation, so a replica serving it loads them as they are,
without rebuilding anything. The copy is made in a hidden folder beside DEST and renamed
into place when complete, so DEST is never a half-written index.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from kb.errors import IndexMissingError, UsageError
from kb.index import MANIFEST_NAME, Index
from kb.settings import Settings
from kb.store.atomic import atomic_write_json
from kb.store.backup import backup_database, copy_vector_snapshots
from kb.store.db import DB_NAME


def take_snapshot(settings: Settings, dest: Path) -> dict[str, Any]:
    """Copy the index of ``settings`` to ``dest`` (a new or empty folder); what the copy holds."""
    source = Path(settings.index_dir)
    if not (source / DB_NAME).is_file():
        raise IndexMissingError(f"no index at {source}: nothing to snapshot")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not an empty folder: give a new folder for the snapshot")
    if dest.resolve() == source.resolve():
        raise UsageError("the snapshot must go to another folder than the index")
    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".{dest.name}.snapshot-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        copied = copy_vector_snapshots(source, work)  # first: never newer than the database copied next
        generation = backup_database(source, work)
        index = Index.open(Settings(index_dir=work), readonly=True)  # keeps the copy's rollback journal
        try:
            manifest = index.manifest()
            wanted = ["vectors"] + (["companion"] if index.companion_model else [])
            if all(copied.get(name) == generation for name in wanted):
                atomic_write_json(work / MANIFEST_NAME, manifest)
            else:  # FAISS brought to the copy's generation from its change log (or rebuilt), and the manifest
                index.save()
        finally:
            index.close()
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {"snapshot": str(dest), "source": str(source), "generation": generation,
            "documents": manifest["documents"], "passages": manifest["passages"], "model": manifest["model"],
            "faiss_copied_at": copied, "bytes": sum(f.stat().st_size for f in dest.iterdir() if f.is_file()),
            "seconds": round(time.perf_counter() - started, 3)}
