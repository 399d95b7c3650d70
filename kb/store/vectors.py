"""The FAISS half of an index: passage vectors searchable by inner product (= cosine).

Two kinds of FAISS index sit behind one interface (``add``/``remove``/``search``/``save``/``load``):

``flat``
    ``IndexIDMap2(IndexFlatIP)``: exact, 2 KB per 512-d passage, and every query reads
    all of it: ~0.25 ms per 1,000 passages (12 ms at 50k, 27 ms at 100k, 260 ms and 2 GB
    at 1M on this 2-core machine).
``ivf``
    ``IndexIVFScalarQuantizer``: inverted lists, 8-bit scalar quantisation of residuals,
    inner product. ~0.5 KB per 512-d passage (1M passages: 0.5 GB of RAM), a query scans
    ``nprobe`` of ``nlist`` lists (1M: 12 ms), recall@10 against exact search 0.97-0.98
    (0.997 with ``exact`` re-scoring). It keeps passage ids itself and supports
    ``remove_ids`` and id selectors (filters), which HNSW does not.

Choosing: the one option is ``kind`` (argument, else ``$KB_VECTOR_INDEX``):

* ``auto`` (default): flat until the index holds ``threshold`` passages
  (``$KB_IVF_THRESHOLD``, default :data:`DEFAULT_THRESHOLD` = 50,000, measured with
  bench/scale.py: where flat search passes ~12 ms, a quarter of the 50 ms budget of a whole
  query, while ivf stays under 1 ms with recall >= 0.97), then ivf. An ``add`` that
  crosses the threshold converts in place, training on the exact vectors the flat index
  holds; :meth:`VectorIndex.from_batches` (rebuilds) trains on a uniform sample of all of
  them. It never converts back (a few removals must not trigger a retrain).
* ``flat``: always exact. ``ivf``: approximate as soon as there is enough to train on.

Parameters: ``nlist`` = the power of two nearest sqrt(n) (1M: 1024), trained on up to
64 vectors a list; ``nprobe`` = nlist/16, at least 16 (``$KB_IVF_NPROBE`` overrides).
:attr:`VectorIndex.retrain_advised` says when the lists no longer fit (4x growth since
training, or 1.5x more uneven lists: new topics the sample never saw).

Filters: ``search(..., allowed=...)`` takes passage ids (int array) or a boolean mask
indexed by passage id. Large sets become a FAISS bitmap selector (one bit per id, built
with numpy in about a millisecond even for 1M ids), small ones an ``IDSelectorBatch``.
With ivf the selector is tested before any distance is computed, and ``nprobe`` grows as
the filter narrows (:func:`filtered_nprobe`): a filter's nearest allowed passages lie
farther from the query, so a 26% language filter probes ~nprobe/0.26^2 lists and one of
5% or less scans every list, which with a selector costs id checks only.

Threads: a single query runs on one OpenMP thread (see :meth:`VectorIndex.search`).

On disk (the snapshot format)
-----------------------------
``vectors-<generation>.faiss`` is ``faiss.write_index`` of the index, and ``vectors.json``
(the stamp) points at it::

    {"format": 2, "generation": 42, "count": 1000000, "dim": 512,
     "file": "vectors-00000042.faiss", "kind": "ivf",
     "params": {"nlist": 1024, "nprobe": 64, "quantizer": "SQ8", "metric": "ip",
                "trained_on": 1000000, "imbalance": 1.52}}

``kind`` is ``flat`` (``params`` empty) or ``ivf``; a format-1 stamp has no
``kind``/``params`` and is a flat index. The file name carries the generation so that a
reader never pairs a new stamp with an old file. The companion model's vectors
(kb/derived/companion.py) use the same format under the name ``companion`` (``companion-<generation>.faiss``,
``companion.json``). When the stamp does not match the SQLite
generation (a crash between commit and snapshot, another process's ingest) or holds
another kind than the one explicitly configured, ``load`` returns None and the caller
rebuilds from SQLite, which holds every vector exactly, so nothing is ever lost.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from kb.store.atomic import atomic_write, atomic_write_json

STAMP_NAME = "vectors.json"
STAMP_FORMAT = 2
KINDS = ("auto", "flat", "ivf")

#: passages at which ``auto`` switches from exact flat search to ivf (see bench/scale.py)
DEFAULT_THRESHOLD = 50_000
#: fewest vectors ``kind="ivf"`` trains on
MIN_IVF_TRAIN = 1_000
#: lists probed per query, at least (``nlist // 16`` when larger; scaled up for filters)
DEFAULT_NPROBE = 16
#: a filter admitting at most this share of the passages scans every list
FULL_SCAN_SHARE = 0.05
#: with ``exact``, this many times ``k`` candidates are re-scored with exact vectors
RERANK_FACTOR = 4
#: training sample per list (faiss warns below 39)
TRAIN_PER_LIST = 64
#: ids arrays longer than this become a bitmap selector
_BITMAP_FROM = 4096


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def nlist_for(n: int) -> int:
    """Lists for ``n`` vectors: the power of two nearest sqrt(n), with >= 39 vectors a list."""
    n = max(int(n), 1)
    nlist = 2 ** round(math.log2(max(math.sqrt(n), 1.0)))
    while nlist > 1 and nlist * 39 > n:
        nlist //= 2
    return int(min(max(nlist, 1), 65536))


def nprobe_for(nlist: int) -> int:
    """Lists probed without a filter: 1/16 of them (at least 16); ``$KB_IVF_NPROBE`` overrides."""
    return int(min(nlist, _env_int("KB_IVF_NPROBE", max(DEFAULT_NPROBE, nlist // 16))))


def filtered_nprobe(nprobe: int, nlist: int, share: float, exponent: float = 2.0) -> int:
    """Lists probed when only ``share`` of the passages are allowed.

    A filter's nearest allowed passages are farther from the query than its nearest
    passages (an English question filtered to Spanish or German documents), so probing
    ``1/share`` times more lists is not enough: at 1M, a 26% language filter gave recall@10
    0.93 that way and 0.98 with ``nprobe / share**2``; a 2.6% one needs every list. Below
    :data:`FULL_SCAN_SHARE` every list is scanned: the selector is tested before any
    distance is computed, so a full scan with a selective filter costs id checks only
    (~15 ms at 1M).
    """
    if share >= 1.0:
        return min(nprobe, nlist)
    if share <= FULL_SCAN_SHARE:
        return nlist
    return int(min(nlist, math.ceil(nprobe / share ** exponent)))


class VectorIndex:
    """Cosine search over passage vectors with passage ids as FAISS ids (flat or ivf)."""

    def __init__(self, dim: int, index: object | None = None, *, kind: str | None = None,
                 threshold: int | None = None, expected: int | None = None,
                 params: dict | None = None) -> None:
        import faiss

        self.dim = dim
        self._faiss = faiss
        kind = (kind or os.environ.get("KB_VECTOR_INDEX") or "auto").strip().lower()
        if kind not in KINDS:
            raise ValueError(f"vector index kind must be one of {', '.join(KINDS)}, got {kind!r}")
        #: what was asked for (auto/flat/ivf); ``kind`` is what the index is now
        self.setting = kind
        self.threshold = threshold if threshold is not None else _env_int("KB_IVF_THRESHOLD", DEFAULT_THRESHOLD)
        #: final size the caller expects (sizes nlist when converting); None: unknown
        self.expected = expected
        #: read from a memory-mapped snapshot file (``load(..., mmap=True)``): read-only
        self.mapped = False
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.params: dict = dict(params or {})
        ivf = self._ivf
        if ivf is not None:
            self.params.setdefault("nlist", int(ivf.nlist))
            self.params.setdefault("nprobe", nprobe_for(int(ivf.nlist)))
            self.params.setdefault("quantizer", "SQ8")
            self.params.setdefault("metric", "ip")
            self.params.setdefault("trained_on", int(ivf.ntotal))

    # -- what it is -------------------------------------------------------------------------
    @property
    def _ivf(self):
        return self._faiss.try_extract_index_ivf(self.index)

    @property
    def kind(self) -> str:
        return "flat" if self._ivf is None else "ivf"

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def describe(self) -> dict:
        """Kind and parameters, as recorded in the stamp."""
        return {"kind": self.kind, "params": dict(self.params) if self.kind == "ivf" else {}}

    # -- writing ----------------------------------------------------------------------------
    def _writable(self) -> None:
        if self.mapped:  # FAISS aborts the process on a write to a mapped index: refuse politely
            raise RuntimeError("a memory-mapped vector index is read-only; load a private copy to change it")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids)
        self._writable()
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
            if self._should_convert():
                self.convert_to_ivf()

    def remove(self, ids: Iterable[int]) -> None:
        ids = np.fromiter(ids, dtype=np.int64)
        self._writable()
        if len(ids):
            self.index.remove_ids(self._faiss.IDSelectorBatch(ids))

    def _should_convert(self) -> bool:
        if self.kind != "flat" or self.setting == "flat":
            return False
        if self.setting == "ivf":
            return self.count >= self.train_target()
        return self.count >= max(self.threshold, MIN_IVF_TRAIN)

    def imbalance(self) -> float:
        """FAISS's list imbalance factor (1.0: even lists); 0 for flat."""
        ivf = self._ivf
        return float(ivf.invlists.imbalance_factor()) if ivf is not None and ivf.ntotal else 0.0

    @property
    def retrain_advised(self) -> bool:
        """An ivf index whose lists no longer fit its data: rebuild it (:meth:`from_batches`).

        Either it has grown 4x since training (lists 4x longer than sized for), or its
        lists have become 1.5x more uneven than after training: new documents on topics
        the training sample never saw crowd into a few lists (measured at 1M: recall@10
        0.85 instead of 0.98, 5x slower). Still correct meanwhile, just slower/less exact.
        """
        if self.kind != "ivf":
            return False
        trained_on = int(self.params.get("trained_on") or 1)
        if self.count >= 4 * trained_on:
            return True
        base = float(self.params.get("imbalance") or 0.0)
        return bool(base) and self.count >= 1.25 * trained_on and self.imbalance() > 1.5 * base

    @classmethod
    def from_batches(cls, dim: int, batches: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]], count: int,
                     *, kind: str | None = None, threshold: int | None = None, seed: int = 0) -> "VectorIndex":
        """Build for ``count`` vectors from ``batches()`` (callable: ivf reads them twice).

        Flat, or ivf when the kind/threshold says so for ``count``: a first pass draws a
        uniform training sample (so the lists fit every document, not only the oldest),
        a second pass adds everything.
        """
        out = cls(dim, kind=kind, threshold=threshold, expected=count)
        use_ivf = (out.setting == "ivf" and count >= MIN_IVF_TRAIN) or (
            out.setting == "auto" and count >= max(out.threshold, MIN_IVF_TRAIN))
        if not use_ivf:
            for ids, vecs in batches():
                out.index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), np.asarray(ids, dtype=np.int64))
            return out
        nlist = nlist_for(count)
        want = min(count, TRAIN_PER_LIST * nlist)
        rng = np.random.default_rng(seed)
        picked = []
        for _ids, vecs in batches():
            take = rng.random(len(vecs)) < want / max(count, 1)
            if take.any():
                picked.append(np.asarray(vecs, dtype=np.float32)[take])
        sample = np.concatenate(picked) if picked else np.zeros((0, dim), np.float32)
        if len(sample) < max(39, MIN_IVF_TRAIN // 10):
            return cls.from_batches(dim, batches, count, kind="flat")
        ivf = out.train_ivf(sample, nlist, seed=seed)
        for ids, vecs in batches():
            ivf.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        out.index = ivf
        out.params = {"nlist": int(ivf.nlist), "nprobe": nprobe_for(int(ivf.nlist)), "quantizer": "SQ8",
                      "metric": "ip", "trained_on": int(ivf.ntotal), "imbalance": round(out.imbalance(), 4)}
        return out

    def train_target(self) -> int:
        """Vectors to collect before ``kind="ivf"`` trains: enough for the expected size's lists."""
        if not self.expected:
            return MIN_IVF_TRAIN
        return max(MIN_IVF_TRAIN, min(self.expected, TRAIN_PER_LIST * nlist_for(self.expected)))

    def convert_to_ivf(self, nlist: int | None = None, seed: int = 0) -> None:
        """Replace the flat index by an ivf one trained on (a sample of) its exact vectors."""
        faiss = self._faiss
        if self.kind != "flat" or self.count < 2:
            return
        n, d = self.count, self.dim
        flat = faiss.downcast_index(self.index.index)
        vectors = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        ivf = self.train_ivf(vectors, nlist or nlist_for(max(n, self.expected or 0)), seed=seed)
        for start in range(0, n, 65536):
            ivf.add_with_ids(vectors[start : start + 65536], ids[start : start + 65536])
        self.index = ivf
        self.params = {"nlist": int(ivf.nlist), "nprobe": nprobe_for(int(ivf.nlist)), "quantizer": "SQ8",
                       "metric": "ip", "trained_on": n, "imbalance": round(self.imbalance(), 4)}

    def train_ivf(self, sample: np.ndarray, nlist: int, seed: int = 0):
        """An empty, trained ``IndexIVFScalarQuantizer`` (SQ8, inner product, residuals)."""
        faiss = self._faiss
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        nlist = max(1, min(nlist, len(sample) // 39 or 1))
        want = min(len(sample), TRAIN_PER_LIST * nlist)
        if want < len(sample):
            rows = np.sort(np.random.default_rng(seed).choice(len(sample), size=want, replace=False))
            sample = np.ascontiguousarray(sample[rows])
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFScalarQuantizer(
            quantizer, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT, True
        )
        ivf.cp.seed = 1234 + seed
        ivf.cp.max_points_per_centroid = TRAIN_PER_LIST
        ivf.train(sample)
        ivf.own_fields = True
        quantizer.this.disown()  # owned by ivf now
        return ivf

    # -- searching --------------------------------------------------------------------------
    def _selector(self, allowed: np.ndarray):
        """(FAISS selector, how many ids it admits) for ids or a boolean id mask."""
        faiss = self._faiss
        allowed = np.asarray(allowed)
        if allowed.dtype == np.bool_:
            n_allowed = int(np.count_nonzero(allowed))
            return (faiss.IDSelectorBitmap(np.packbits(allowed, bitorder="little")) if n_allowed else None), n_allowed
        ids = allowed.astype(np.int64, copy=False)
        ids = ids[ids >= 0]
        if len(ids) == 0:
            return None, 0
        if len(ids) < _BITMAP_FROM:
            return faiss.IDSelectorBatch(ids), len(ids)
        mask = np.zeros(int(ids.max()) + 1, dtype=bool)
        mask[ids] = True
        return faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little")), int(np.count_nonzero(mask))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               exact: Callable[[np.ndarray], np.ndarray] | None = None,
               widen: float = 2.0) -> list[tuple[int, float]]:
        """Top ``k`` (id, cosine) for one query vector, optionally only among ``allowed`` ids.

        ``allowed``: passage ids, or a boolean mask indexed by passage id.
        ``exact``: optional source of the exact vectors, ``ids -> rows`` aligned with ids
        (NaN rows: gone) or ``ids -> (ids, rows)`` like ``Database.vectors_for``; with ivf,
        ``RERANK_FACTOR * k`` candidates are then re-scored exactly, which removes the
        8-bit quantisation's ranking errors (recall@10 0.977 -> 0.997 at 1M).
        ``widen``: with ivf and a filter allowing a share s of the passages, nprobe / s**widen
        lists are probed (:func:`filtered_nprobe`).
        """
        faiss = self._faiss
        if self.count == 0 or k <= 0:
            return []
        sel, n_allowed = None, self.count
        if allowed is not None:
            sel, n_allowed = self._selector(allowed)
            if sel is None:
                return []
        ivf = self._ivf
        if ivf is not None:
            nlist = int(ivf.nlist)
            nprobe = _env_int("KB_IVF_NPROBE", int(self.params.get("nprobe") or nprobe_for(nlist)))
            if sel is not None:
                nprobe = filtered_nprobe(nprobe, nlist, min(n_allowed, self.count) / self.count, widen)
            params = faiss.SearchParametersIVF(nprobe=int(min(max(nprobe, 1), nlist)), sel=sel)
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
            exact = None  # flat scores are exact already
        want = min(k * RERANK_FACTOR if exact is not None else k, self.count)
        query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        # One query is a single pass over memory: a second OpenMP thread only adds a team
        # start-up, which on a busy 2-core machine cost 28 ms for a 4k-vector flat search
        # that takes 0.15 ms alone. The setting is per calling thread (OpenMP ICV).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(query, want, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]
        if exact is not None and found:
            found = self._rescore(found, query[0], k, exact)
        return found[:k]

    def _rescore(self, found, query: np.ndarray, k: int, exact) -> list[tuple[int, float]]:
        """Re-rank candidates by exact inner product; ``exact`` returns rows aligned with the
        ids (NaN rows: gone) or ``(ids, rows)`` for the ids it has (``Database.vectors_for``)."""
        cand = np.array([i for i, _ in found], dtype=np.int64)
        got = exact(cand)
        if isinstance(got, tuple):
            got_ids, rows = np.asarray(got[0], dtype=np.int64), np.asarray(got[1], dtype=np.float32)
            vecs = np.full((len(cand), self.dim), np.nan, dtype=np.float32)
            if len(got_ids):
                pos = {int(i): r for r, i in enumerate(got_ids)}
                for r, i in enumerate(cand.tolist()):
                    if i in pos:
                        vecs[r] = rows[pos[i]]
        else:
            vecs = np.asarray(got, dtype=np.float32).reshape(len(cand), self.dim)
        rescored = vecs @ query
        keep = ~np.isnan(rescored)
        order = np.argsort(-rescored[keep], kind="stable")[:k]
        return [(int(i), float(s)) for i, s in zip(cand[keep][order], rescored[keep][order])]

    # -- persistence ----------------------------------------------------------------------
    def save(self, index_dir: Path, generation: int, name: str = "vectors") -> None:
        """Write ``<name>-<generation>.faiss``, then point the stamp ``<name>.json`` at it.

        The file name carries the generation so that a reader never pairs a new stamp
        with an old file; older snapshots are removed after the stamp moves on. ``name``
        tells apart the vectors of the index's model and of its companion (kb/derived/companion.py).
        """
        file = f"{name}-{generation:08d}.faiss"
        atomic_write(index_dir / file, lambda tmp: self._faiss.write_index(self.index, tmp))
        atomic_write_json(
            index_dir / f"{name}.json",
            {"format": STAMP_FORMAT, "generation": generation, "count": self.count, "dim": self.dim,
             "file": file, **self.describe()},
        )
        for old in index_dir.glob(f"{name}-*.faiss"):
            if old.name != file:
                old.unlink(missing_ok=True)

    @staticmethod
    def read_stamp(index_dir: Path, name: str = "vectors") -> dict | None:
        try:
            stamp = json.loads((index_dir / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None
        return stamp if isinstance(stamp, dict) else None

    @classmethod
    def load(cls, index_dir: Path, dim: int, generation: int, *, kind: str | None = None,
             threshold: int | None = None, name: str = "vectors", mmap: bool = False) -> "VectorIndex | None":
        """The snapshot if it matches ``generation`` (and the configured kind), else None (caller rebuilds).

        ``mmap``: map the file instead of reading it (flat and ivf codes alike): processes serving
        one index then share one copy in the page cache (kb/serving.py); such an index is read-only.
        """
        stamp = cls.read_stamp(index_dir, name)
        if stamp is None:
            return None
        setting = (kind or os.environ.get("KB_VECTOR_INDEX") or "auto").strip().lower()
        stored_kind = stamp.get("kind", "flat")
        try:
            if stamp.get("generation") != generation or stamp.get("dim") != dim:
                return None
            if setting in ("flat", "ivf") and stored_kind != setting:
                return None  # asked for another kind: rebuild from SQLite
            import faiss

            index = faiss.read_index(str(index_dir / stamp["file"]), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None
        if index.ntotal != stamp.get("count") or index.d != dim:
            return None
        loaded = cls(dim, index, kind=setting, threshold=threshold, params=stamp.get("params") or None)
        if loaded.kind != stored_kind:
            return None
        loaded.mapped = mmap
        return loaded
