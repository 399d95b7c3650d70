"""Serving from one process and from N: throughput, p95 and memory, in one run.

    .venv/bin/python bench/serve_scaling.py --index COPY_OF_AN_INDEX [--seconds 30] [--json]
    .venv/bin/python bench/serve_scaling.py --index /tmp/kb-bench/scale/full-...-1000000 --memory-only

For each server (today's `kb serve`, `kb serve --workers 1`, `--workers 2`) bench/load.py
starts it on loopback and runs, in this order: 50 clients asking the 20 repeated questions
(their query vectors cached after a warm-up), 50 clients asking questions never asked
before (each costs an encoding), and one client with the repeated questions (the latency a
lone user sees). After the first load the server's processes' summed PSS is read.

The encoder bound: 1 and 2 processes encoding new questions one at a time with the
models a search encodes with (the index's, and its companion's), as fast as they can;
new-question throughput is quoted against it. ``--memory-only`` runs one short load per
server (1M-passage indexes: the load is beside the point, the resident memory is not).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ((None, "kb serve"), (1, "--workers 1"), (2, "--workers 2"))


def load(index: Path, workers: int | None, clients: int, seconds: float, novel: bool, memory: bool) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "load.py"), "--index", str(index), "--clients", str(clients),
               "--seconds", str(seconds), "--json", *(["--workers", str(workers)] if workers else []),
               *(["--novel"] if novel else []), *(["--memory"] if memory else [])]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 900)
    if not done.stdout.strip():
        raise SystemExit(f"bench/load.py failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["load_avg"] = round(os.getloadavg()[0], 1)
    return out


def _encode_loop(models: list[str], seconds: float, offset: int, counter) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from load import novel_question

    from kb.embed import get_embedder

    os.environ.setdefault("KB_EMBED_THREADS", "1")
    embedders = [get_embedder(m) for m in models]
    for e in embedders:
        e.encode_queries(["warm-up question"])
    done, number = 0, offset
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        text = novel_question(number)
        number += 1000003
        for e in embedders:
            e.encode_queries([text])
        done += 1
    with counter.get_lock():
        counter.value += done


def encoder_bound(models: list[str], processes: int, seconds: float) -> float:
    """New questions a second that ``processes`` processes can encode (all models), one at a time."""
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("i", 0)
    procs = [ctx.Process(target=_encode_loop, args=(models, seconds, i, counter)) for i in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return round(counter.value / seconds, 1)


def index_models(index: Path) -> list[str]:
    con = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True)
    meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('model', 'companion_model')"))
    con.close()
    return [meta["model"]] + ([meta["companion_model"]] if meta.get("companion_model") not in (None, "none") else [])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return round(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="a copy: `kb serve` may open it for writing")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole matrix; ratios are per round, then the median")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kinds = [("repeated-10", 10, False)] if args.memory_only else [
        ("repeated-50", 50, False), ("novel-50", 50, True), ("repeated-1", 1, False)]
    rounds: list[dict[str, dict]] = []
    for number in range(args.rounds):
        results: dict[str, dict] = {}
        for workers, name in SERVERS:
            results[name] = {}
            for position, (kind, clients, novel) in enumerate(kinds):
                r = load(args.index, workers, clients, args.seconds, novel, memory=position == 0)
                results[name][kind] = r
                print(f"round {number + 1} {name:12} {kind:12} {r['requests_per_s']:6} req/s  p50 {r['p50_ms']:7} ms  "
                      f"p95 {r['p95_ms']:7} ms  errors {r['errors']}  "
                      + (f"PSS {r['memory']['pss_mb']} MB" if r.get("memory") else "") + f"  (load {r['load_avg']})",
                      file=sys.stderr, flush=True)
        rounds.append(results)
    first = kinds[0][0]
    out: dict[str, object] = {"index": str(args.index), "cpus": os.cpu_count(), "rounds": rounds}
    out["memory_workers2_over_workers1"] = median(
        [r["--workers 2"][first]["memory"]["pss_mb"] / r["--workers 1"][first]["memory"]["pss_mb"] for r in rounds])
    if not args.memory_only:
        models = index_models(args.index)
        out["encoder_bound_qps"] = {n: encoder_bound(models, n, min(args.seconds, 20)) for n in (1, 2)}
        ratio = lambda kind, a, b: median(  # noqa: E731
            [r[a][kind]["requests_per_s"] / r[b][kind]["requests_per_s"] for r in rounds])
        out["workers2_over_workers1"] = {"repeated_throughput": ratio("repeated-50", "--workers 2", "--workers 1"),
                                         "novel_throughput": ratio("novel-50", "--workers 2", "--workers 1")}
        out["novel_workers2_over_encoder_bound"] = round(
            median([r["--workers 2"]["novel-50"]["requests_per_s"] for r in rounds]) / out["encoder_bound_qps"][2], 2)
        out["one_client_p95_ms"] = {name: median([r[name]["repeated-1"]["p95_ms"] for r in rounds])
                                    for _, name in SERVERS}
        out["errors"] = sum(run["errors"] for r in rounds for server in r.values() for run in server.values())
    print(json.dumps(out) if args.json else json.dumps({k: v for k, v in out.items() if k != "rounds"}, indent=1))


if __name__ == "__main__":
    main()
