"""What sparse codes (kb ingest --sparse) cost: per question, per passage, on disk and in memory.

    .venv/bin/python bench/sparse_cost.py --index DIR [--questions 100] [--passages 200]

On an index that keeps codes: hybrid search of questions never seen before (each runs once,
so the query vectors and codes are computed, as for a new question), with the sparse list
and without it (``sparse_weight`` 0), interleaved; the time to code ``--passages`` stored
passages against the time to embed them with the dense model (both as ingestion calls them);
the codes' bytes in SQLite; and the time and memory of building the search side's postings
from SQLite (what the first hybrid search after a change pays).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.library import KnowledgeBase  # noqa: E402
from kb.search.sparse import Postings  # noqa: E402
from kb.settings import Settings  # noqa: E402

QUESTION_FILES = [ROOT / "bench" / "questions.jsonl", ROOT / "bench" / "blind" / "dev.jsonl"]


def questions(limit: int) -> list[str]:
    out: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["query"])
    return list(dict.fromkeys(out))[:limit]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--passages", type=int, default=200)
    args = ap.parse_args()
    with KnowledgeBase.open(Settings.from_env(args.index)) as kb:
        if not kb.stats().get("sparse"):
            raise SystemExit(f"{args.index} keeps no sparse codes (kb ingest PATH --index {args.index} --sparse)")
        with_codes, without = kb, kb.with_settings(sparse_weight=0.0)
        with_codes.search("warm up", k=10)
        without.search("warm up", k=10)
        timing: dict[str, list[float]] = {"with": [], "without": []}
        for n, text in enumerate(questions(args.questions)):
            # each question new to both: a variant of the text neither has cached
            for name, base in (("with", with_codes), ("without", without))[:: 1 if n % 2 else -1]:
                t0 = time.perf_counter()
                base.search(f"{text} ({name})", k=10)
                timing[name].append((time.perf_counter() - t0) * 1000)
        for name, values in timing.items():
            print(f"hybrid, new questions, {name} sparse list: p50 {statistics.median(values):.1f} ms, "
                  f"p95 {percentile(values, 95):.1f} ms (n={len(values)})")

        db = kb.index.db
        texts = [r[0] for r in db.conn.execute("SELECT text FROM passages ORDER BY id LIMIT ?", (args.passages,))]
        t0 = time.perf_counter()
        kb.index.embedder.encode_sparse(texts)
        coded = time.perf_counter() - t0
        t0 = time.perf_counter()
        for start in range(0, len(texts), 32):
            kb.index.embedder.encode_passages(texts[start:start + 32])
        embedded = time.perf_counter() - t0
        print(f"{len(texts)} passages: sparse codes {coded:.1f} s ({len(texts) / coded:.1f}/s), "
              f"dense vectors {embedded:.1f} s ({len(texts) / embedded:.1f}/s): codes cost "
              f"{coded / embedded:.2f}x the embedding")

        passages = kb.stats()["passages"]
        with sqlite3.connect(f"file:{args.index / 'kb.sqlite'}?mode=ro", uri=True) as conn:
            stored = conn.execute("SELECT SUM(LENGTH(ids) + LENGTH(vals) + LENGTH(text_sha)) FROM sparse_codes").fetchone()[0]
        print(f"codes in SQLite: {stored / 1e6:.1f} MB for {passages} passages ({stored / passages:.0f} bytes each)")
        tracemalloc.start()
        t0 = time.perf_counter()
        postings = Postings.read(db)
        built = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        held = postings.nbytes
        print(f"postings from SQLite: {built * 1000:.0f} ms, {held / 1e6:.1f} MB held, {peak / 1e6:.1f} MB peak")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
