"""The single writer's rates: SQLite commits and FAISS adds, per passage, as an index grows.

    .venv/bin/python bench/writer_rates.py [--sizes 0,100000,1000000] [--dim 384] [--json]

With many workers preparing and embedding, what is left on the one writer is the commit of
each document (kb/ingest/pipeline.py ``_store``): its SQLite transaction (passages, FTS5
keyword rows, vectors, lesson types) and the FAISS add. This measures both with synthetic
documents of 100 passages (real corpus sentences, random unit vectors), at each size in
``--sizes``: an index of that many passages is grown first (not timed), then 20 documents
are committed and timed. FAISS adds are timed on the kind ``auto`` picks at that size (flat
below 50,000 passages, ivf above), with a companion's 512-d vectors added beside, as an
index with a companion does. Labeling and keyword folding are per passage and do not
grow with the index: bench/ray_ingest.py reports them in the writer's ``store`` seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOC = 100
TIMED_DOCS = 20
SENTENCES = (ROOT / "corpus" / "000_56388bd38537218d.txt").read_text().split(". ")


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def document(d: int, rng: np.random.Generator, dim: int, companion_dim: int):
    from kb.models import Document, Passage
    from kb.store.db import DocumentRecord
    from kb.text.keywords import index_body

    doc_id = f"w{d:07d}"
    texts = [" ".join(SENTENCES[i] for i in rng.integers(len(SENTENCES), size=4)) + f" {d}.{o}" for o in range(DOC)]
    passages = [Passage(passage_id=f"{doc_id}:{o}", doc_id=doc_id, ordinal=o, text=t, lang="en", page_start=1,
                        page_end=1, paragraph=None, section=None, char_start=0, char_end=len(t))
                for o, t in enumerate(texts)]
    shas = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    vectors, companions = unit(rng, DOC, dim), unit(rng, DOC, companion_dim)
    record = DocumentRecord(Document(doc_id=doc_id, source=f"w/{doc_id}.txt", title=doc_id, lang="en", format="txt",
                                     sha256=doc_id, pages=1, passages=DOC), f"/w/{doc_id}.txt", 1, 0.0, {})
    bodies = [index_body(t, "en") for t in texts]
    return record, passages, shas, dict(zip(shas, vectors)), bodies, dict(zip(shas, companions)), vectors, companions


def measure(size: int, dim: int, companion_dim: int, work: Path) -> dict:
    from kb.store.db import Database
    from kb.store.vectors import VectorIndex

    rng = np.random.default_rng(size)
    db = Database(work / f"db-{size}")
    main, comp = VectorIndex(dim), VectorIndex(companion_dim)
    grown = time.perf_counter()
    for d in range(size // DOC):
        record, passages, shas, vecs, bodies, comps, v, c = document(d, rng, dim, companion_dim)
        _, added = db.replace_document(record, passages, shas, vecs, bodies, companion_vectors=comps)
        main.add(np.asarray(added), v)
        comp.add(np.asarray(added), c)
    grown = time.perf_counter() - grown
    sql = faiss_s = 0.0
    for d in range(size // DOC, size // DOC + TIMED_DOCS):
        record, passages, shas, vecs, bodies, comps, v, c = document(d, rng, dim, companion_dim)
        t0 = time.perf_counter()
        _, added = db.replace_document(record, passages, shas, vecs, bodies, companion_vectors=comps)
        t1 = time.perf_counter()
        main.add(np.asarray(added), v)
        comp.add(np.asarray(added), c)
        sql += t1 - t0
        faiss_s += time.perf_counter() - t1
    n = TIMED_DOCS * DOC
    db.close()
    return {"size": size, "kind": main.kind, "sqlite_ms_per_passage": round(sql / n * 1000, 3),
            "faiss_ms_per_passage": round(faiss_s / n * 1000, 3),
            "writer_passages_per_s": round(n / (sql + faiss_s), 1), "grow_s": round(grown, 1)}


def faiss_adds_at(index_dir: Path, dim: int) -> dict:
    """FAISS adds (100 at a time) to the model's snapshot of an existing index, e.g. a 1M one
    from bench/scale.py --full (in memory only: the index is not changed)."""
    import sqlite3

    from kb.store.vectors import VectorIndex

    con = sqlite3.connect(f"file:{index_dir / 'kb.sqlite'}?mode=ro", uri=True)
    generation = int(con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    con.close()
    vectors = VectorIndex.load(index_dir, dim, generation)
    if vectors is None:
        raise SystemExit(f"no FAISS snapshot of generation {generation} in {index_dir}")
    rng = np.random.default_rng(7)
    start = int(1e9)
    t0 = time.perf_counter()
    for d in range(TIMED_DOCS):
        vectors.add(np.arange(start + d * DOC, start + (d + 1) * DOC), unit(rng, DOC, dim))
    seconds = time.perf_counter() - t0
    return {"size": vectors.count - TIMED_DOCS * DOC, "kind": vectors.kind,
            "faiss_ms_per_passage": round(seconds / (TIMED_DOCS * DOC) * 1000, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0,100000")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--companion-dim", type=int, default=512)
    parser.add_argument("--faiss-from", type=Path, default=None, help="also time FAISS adds to this index's snapshot")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-writer-") as folder:
        rows = [measure(int(s), args.dim, args.companion_dim, Path(folder)) for s in args.sizes.split(",") if s]
    if args.faiss_from:
        rows.append(faiss_adds_at(args.faiss_from, args.dim))
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        sql = f"SQLite {r['sqlite_ms_per_passage']} ms/passage, " if "sqlite_ms_per_passage" in r else ""
        rate = f" -> {r['writer_passages_per_s']} passages/s" if "writer_passages_per_s" in r else ""
        print(f"{r['size']:>9} passages ({r['kind']}): {sql}FAISS {r['faiss_ms_per_passage']} ms/passage{rate}")


if __name__ == "__main__":
    main()
