"""An open index: the SQLite store, the vectors and the embedder, kept consistent.

This is where the rule "an index answers only to the model it was built with" lives.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from kb.context import PLAIN as PLAIN_RECIPE, RECIPE as CONTEXT_RECIPE
from kb.embed import Embedder, canonical_name, default_model, get_embedder
from kb.errors import IndexMissingError, ModelMismatchError
from kb.settings import Settings
from kb.store.atomic import atomic_write_json
from kb.store.db import DB_NAME, FORMAT_VERSION, Database
from kb.store.vectors import VectorIndex

MANIFEST_NAME = "index.json"


class Index:
    def __init__(self, settings: Settings, db: Database, model: str, dim: int | None) -> None:
        self.settings = settings
        self.dir = Path(settings.index_dir)
        self.db = db
        self.model = model
        self.dim = dim
        self._embedder: Embedder | None = None
        self._labeler = None
        self._vectors: VectorIndex | None = None
        self._vectors_generation = -1
        self._lock = threading.RLock()

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, create: bool = False, readonly: bool = False) -> "Index":
        """Open (or with ``create`` make) the index, refusing a model it was not built with."""
        index_dir = Path(settings.index_dir)
        exists = (index_dir / DB_NAME).exists()
        if not exists and not create:
            raise IndexMissingError(
                f"no index at {index_dir}: build one with `kb ingest PATH --index {index_dir}`"
            )
        db = Database(index_dir, readonly=readonly and exists)
        stored = db.get_meta("model")
        asked = canonical_name(settings.model) if settings.model else None
        if stored and asked and stored != asked:
            db.close()
            raise ModelMismatchError(
                f"index {index_dir} was built with model {stored!r}; it cannot be searched or "
                f"extended with {asked!r} (use another --index, or omit --model)"
            )
        model = stored or asked or default_model()
        dim = int(db.get_meta("dim")) if db.get_meta("dim") else None
        return cls(settings, db, model, dim)

    def close(self) -> None:
        self.db.close()

    # -- embedder -------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """Loaded on first use: listing documents never pays for a model."""
        with self._lock:
            if self._embedder is None:
                embedder = get_embedder(self.model)
                if self.dim is not None and embedder.dim != self.dim:
                    raise ModelMismatchError(
                        f"model {self.model!r} gives {embedder.dim}-d vectors but the index holds {self.dim}-d"
                    )
                self._embedder = embedder
            return self._embedder

    @property
    def labeler(self):
        """The lesson-type labeler (kb.lessons); it loads this index's model only when it needs it."""
        with self._lock:
            if self._labeler is None:
                from kb.lessons import LessonLabeler

                self._labeler = LessonLabeler(lambda: self.embedder, self.settings.lesson_cues)
            return self._labeler

    def record_model(self) -> None:
        """Stamp a new index with its model (inside the first write)."""
        if self.db.get_meta("model") is None:
            with self.db.conn:
                self.db.set_meta("model", self.model)
                self.db.set_meta("dim", self.embedder.dim)
                self.db.set_meta("format", FORMAT_VERSION)
                self.db.set_meta("embed_text", CONTEXT_RECIPE)
            self.dim = self.embedder.dim

    @property
    def embed_recipe(self) -> str:
        """How passage text becomes embedded text (kb/context.py); older indexes embedded it plain."""
        return self.db.get_meta("embed_text") or PLAIN_RECIPE

    # -- vectors --------------------------------------------------------------------------
    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index matching the current SQLite generation.

        When the generation has moved on (another process ingested, or a crash left the
        snapshot behind), only the passages that changed since are applied, using the
        change log; a full rebuild from SQLite is the fallback.
        """
        with self._lock:
            generation = self.db.generation()
            if self._vectors is None or generation != self._vectors_generation:
                self._vectors = self._load_vectors(generation)
                self._vectors_generation = generation
            return self._vectors

    def _load_vectors(self, generation: int) -> VectorIndex:
        dim = self.dim or self.embedder.dim
        if self._vectors is not None and self._catch_up(self._vectors, self._vectors_generation):
            return self._vectors
        exact = VectorIndex.load(self.dir, dim, generation)
        if exact is not None:
            return exact
        stamp = VectorIndex.read_stamp(self.dir) or {}
        older = stamp.get("generation")
        if isinstance(older, int) and older < generation:
            stale = VectorIndex.load(self.dir, dim, older)
            if stale is not None and self._catch_up(stale, older):
                return stale
        count = self.db.counts()["passages"]
        return VectorIndex.from_batches(dim, self.db.iter_vectors, count)

    def _catch_up(self, vectors: VectorIndex, since: int) -> bool:
        """Apply the logged changes after generation ``since``; False if the log is too short."""
        changes = self.db.changes_since(since)
        if changes is None:
            return False
        removed, added = changes
        vectors.remove(removed | added)
        ids, vecs = self.db.vectors_for(added - removed)
        vectors.add(ids, vecs)
        return True

    def apply_vector_change(self, removed: list[int], added: list[int], vectors: np.ndarray, generation: int) -> None:
        """Bring the in-memory FAISS index along with a committed transaction."""
        with self._lock:
            current = self._vectors
            if current is None or self._vectors_generation != generation - 1:
                self._vectors = None  # someone else wrote too: reload from SQLite on next use
                return
            current.remove(removed)
            current.add(np.asarray(added, dtype=np.int64), vectors)
            self._vectors_generation = generation

    def save(self) -> None:
        """Snapshot FAISS and rewrite the manifest (both atomically).

        An ivf index whose lists no longer fit (grown 4x since training, or new topics
        crowding a few lists) is rebuilt from SQLite first: a writer pays for it, once,
        instead of every query paying for long or lopsided lists.
        """
        with self._lock:
            generation = self.db.generation()
            vectors = self.vectors
            if vectors.retrain_advised:
                vectors = VectorIndex.from_batches(vectors.dim, self.db.iter_vectors, self.db.counts()["passages"])
                self._vectors, self._vectors_generation = vectors, generation
            vectors.save(self.dir, generation)
            atomic_write_json(self.dir / MANIFEST_NAME, self.manifest())

    def manifest(self) -> dict[str, object]:
        counts = self.db.counts()
        return {
            "format": FORMAT_VERSION,
            "model": self.model,
            "dim": self.dim,
            "generation": self.db.generation(),
            "documents": counts["documents"],
            "pages": counts["pages"],
            "passages": counts["passages"],
            "languages": self.db.languages(),
            "files": {"database": DB_NAME, "vectors": "vectors.json"},
        }
