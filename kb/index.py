"""An open index: the SQLite store, the vectors and the embedder, kept consistent.

This is where the rule "an index answers only to the model it was built with" lives.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from kb.embed import Embedder, canonical_name, check_available, default_model, get_embedder
from kb.errors import IndexMissingError, ModelMismatchError
from kb.settings import Settings
from kb.embed.context import PLAIN as PLAIN_RECIPE, RECIPE as CONTEXT_RECIPE
from kb.store.keys import (COMPANION_DIM as COMPANION_DIM_KEY, COMPANION_FILE, COMPANION_MODEL as COMPANION_KEY,
                           COMPANION_NONE, COMPANION_TABLE, DEFAULT_COMPANION, companion_named as named,
                           companion_wanted as wanted)
from kb.store.atomic import atomic_write_json
from kb.store.db import DB_NAME, FORMAT_VERSION, Database
from kb.store.live import LiveVectors
from kb.store.vectors import VectorIndex

MANIFEST_NAME = "index.json"


class Index:
    #: how the database and the vectors are held; kb/serving.py's read-only index swaps them
    database_class = Database
    live_vectors_class = LiveVectors

    def __init__(self, settings: Settings, db: Database, model: str, dim: int | None) -> None:
        self.settings = settings
        self.dir = Path(settings.index_dir)
        self.db = db
        self.model = model
        self.dim = dim
        self._embedder: Embedder | None = None
        self._companion_embedder: Embedder | None = None
        self._labeler = None
        self._lock = threading.RLock()
        self._main = self.live_vectors_class(db, self.dir, lambda: self.dim or self.embedder.dim)
        # the stored dimension: saving after `kb remove` must not load the companion model
        self._companion = self.live_vectors_class(db, self.dir, self._companion_dim, table=COMPANION_TABLE,
                                                  name=COMPANION_FILE)

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
        asked = canonical_name(settings.model) if settings.model else None  # a typo: before any folder is made
        if not exists:  # nor for a model, or a companion, that cannot be had here
            for name in (asked, named(settings.companion) if settings.companion else None):
                if name:
                    check_available(name)
        db = cls.database_class(index_dir, readonly=readonly and exists)
        stored = db.get_meta("model")
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

    def use_embedders(self, main: Embedder, companion: Embedder | None = None) -> None:
        """Embed through these instead of loading the models here (kb/ingest/distributed.py: the models
        live on the cluster's workers, and the writer asks them)."""
        with self._lock:
            self._embedder = main
            if companion is not None:
                self._companion_embedder = companion

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
        """How passage text becomes embedded text (kb/embed/context.py); older indexes embedded it plain."""
        return self.db.get_meta("embed_text") or PLAIN_RECIPE

    # -- vectors ------------------------------------------------------------------------
    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index of the model's vectors at the current SQLite generation (kb/store/live.py)."""
        return self._main.current()

    # -- the companion model (kb/derived/companion.py) ---------------------------------------------
    @property
    def companion_model(self) -> str | None:
        """The second model whose vectors this index keeps complete, or None."""
        name = self.db.get_meta(COMPANION_KEY)
        return None if name in (None, COMPANION_NONE) else name

    @property
    def companion_embedder(self) -> Embedder:
        with self._lock:
            if self._companion_embedder is None:
                name = self.companion_model or wanted(self.settings.companion, self.model) or DEFAULT_COMPANION
                embedder = get_embedder(name)
                stored = self.db.get_meta(COMPANION_DIM_KEY)
                if stored is not None and embedder.dim != int(stored):
                    raise ModelMismatchError(
                        f"companion model {name!r} gives {embedder.dim}-d vectors but the index holds {stored}-d"
                    )
                self._companion_embedder = embedder
            return self._companion_embedder

    def _companion_dim(self) -> int:
        return int(self.db.get_meta(COMPANION_DIM_KEY) or 0) or self.companion_embedder.dim

    @property
    def companion_vectors(self) -> VectorIndex | None:
        """The companion's FAISS index, or None when the index has no (complete) companion."""
        if self.companion_model is None:
            return None
        return self._companion.current()

    def apply_vector_change(self, removed: list[int], added: list[int], vectors: np.ndarray, generation: int,
                            companion: np.ndarray | None = None) -> None:
        """Bring the in-memory FAISS indexes along with a committed transaction."""
        with self._lock:
            self._main.apply_change(removed, added, vectors, generation)
            if companion is not None:
                self._companion.apply_change(removed, added, companion, generation)

    def save(self) -> None:
        """Snapshot FAISS (the model's and the companion's) and rewrite the manifest, all atomically."""
        with self._lock:
            self._main.save()
            if self.companion_model is not None:
                self._companion.save()
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
            "companion": ({"model": self.companion_model, "dim": int(self.db.get_meta(COMPANION_DIM_KEY) or 0),
                           "stored_as": self.db.vector_dtype(COMPANION_TABLE)}
                          if self.companion_model else None),
            "files": {"database": DB_NAME, "vectors": "vectors.json",
                      **({"companion_vectors": f"{COMPANION_FILE}.json"} if self.companion_model else {})},
        }
