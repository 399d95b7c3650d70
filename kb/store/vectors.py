"""The FAISS half of an index: an id-mapped inner-product index over passage vectors.

The file on disk is a snapshot stamped with the SQLite generation it reflects. When the
stamp does not match (a crash between commit and snapshot, or another process's ingest),
the vectors are rebuilt from SQLite, which holds every vector, so nothing is ever lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from kb.store.atomic import atomic_write, atomic_write_json

STAMP_NAME = "vectors.json"


class VectorIndex:
    """Exact cosine search (flat inner product) with passage ids as FAISS ids."""

    def __init__(self, dim: int, index: object | None = None) -> None:
        import faiss

        self.dim = dim
        self._faiss = faiss
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: Iterable[int]) -> None:
        ids = np.fromiter(ids, dtype=np.int64)
        if len(ids):
            self.index.remove_ids(self._faiss.IDSelectorBatch(ids))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) for one query vector, optionally only among ``allowed`` ids."""
        if self.count == 0 or k <= 0:
            return []
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            params = self._faiss.SearchParameters(sel=self._faiss.IDSelectorBatch(allowed.astype(np.int64)))
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), min(k, self.count), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    # -- persistence ----------------------------------------------------------------------
    def save(self, index_dir: Path, generation: int) -> None:
        """Write ``vectors-<generation>.faiss``, then point the stamp at it.

        The file name carries the generation so that a reader never pairs a new stamp
        with an old file; older snapshots are removed after the stamp moves on.
        """
        name = f"vectors-{generation:08d}.faiss"
        atomic_write(index_dir / name, lambda tmp: self._faiss.write_index(self.index, tmp))
        atomic_write_json(
            index_dir / STAMP_NAME,
            {"generation": generation, "count": self.count, "dim": self.dim, "file": name},
        )
        for old in index_dir.glob("vectors-*.faiss"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, index_dir: Path, dim: int, generation: int) -> "VectorIndex | None":
        """The snapshot if it matches ``generation``, else None (caller rebuilds)."""
        try:
            stamp = json.loads((index_dir / STAMP_NAME).read_text())
            if stamp.get("generation") != generation or stamp.get("dim") != dim:
                return None
            import faiss

            index = faiss.read_index(str(index_dir / stamp["file"]))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        if index.ntotal != stamp.get("count"):
            return None
        return cls(dim, index)
