"""Ingestion through Ray (1 and 2 worker processes) against plain `kb ingest`, in one run.

    .venv/bin/python bench/ray_ingest.py [PATH...] [--rounds 1] [--model M] [--json]

Each round ingests the same files into fresh indexes three ways, one after the other:
plain `kb ingest` (its default: 2 extraction processes beside the embedding process),
then `kb ingest --ray --workers 1` and `--ray --workers 2` (a private Ray cluster on this
machine, started by the command itself and counted in its time). The wall times of one
round are measured minutes apart on the same machine, so their ratios are the figures to
quote; the absolute times move with whatever else the machine runs (the load average is
printed). Default files: ../shared/corpus/fr (10 files, ~660 passages), default model
and companion. Per-stage costs for docs/scale-out.md come from the reports: the workers'
CPU-seconds of extraction and of embedding (model and companion apart; CPU time, so a busy
machine does not inflate them) and the writer's store seconds, each per passage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KB = [sys.executable, "-c", "from kb.cli import main; main()"]
DEFAULT = [ROOT.parent / "shared" / "corpus" / "fr"]
VARIANTS = (("plain", []), ("ray-1", ["--ray", "--workers", "1"]), ("ray-2", ["--ray", "--workers", "2"]))


def ingest(paths: list[Path], index: Path, extra: list[str], model: list[str]) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.pop("KB_RAY_ADDRESS", None)
    started = time.perf_counter()
    done = subprocess.run([*KB, "ingest", *map(str, paths), "--index", str(index), "--json", *model, *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"kb ingest {' '.join(extra)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    return {"wall_s": round(wall, 1), "passages": report["passages"], "embedded": report["embedded"],
            "failed": report["failed"], "seconds": report["seconds"], "load_avg": round(os.getloadavg()[0], 1)}


def per_passage(runs: dict[str, dict]) -> dict[str, float]:
    """CPU-seconds per passage of each stage, from the Ray runs (workers' clocks) and plain (writer)."""
    ray = runs["ray-2"]
    n = max(ray["passages"], 1)
    secs = ray["seconds"]
    plain = runs["plain"]
    return {
        "extract_cpu_s": round(secs.get("workers_extract_cpu", 0.0) / n, 5),
        "embed_model_cpu_s": round(secs.get("workers_embed_model_cpu", 0.0) / max(ray["embedded"], 1), 5),
        "embed_companion_cpu_s": round(secs.get("workers_embed_companion_cpu", 0.0) / max(ray["embedded"], 1), 5),
        "writer_store_s_ray": round(secs.get("store", 0.0) / n, 5),
        "writer_store_s_plain": round(plain["seconds"].get("store", 0.0) / max(plain["passages"], 1), 5),
        "workers_start_s": round(secs.get("workers_start", 0.0), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", default=None, help="e.g. test-hash (plumbing only); default: kb's default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = ["--model", args.model, "--companion", "none"] if args.model == "test-hash" else (
        ["--model", args.model] if args.model else [])
    work = Path(tempfile.mkdtemp(prefix="kb-ray-bench-"))
    rounds = []
    try:
        for number in range(args.rounds):
            runs = {}
            for name, extra in VARIANTS:
                runs[name] = ingest(args.paths, work / f"{name}-{number}", extra, model)
                print(f"round {number + 1} {name}: {runs[name]['wall_s']} s, {runs[name]['passages']} passages "
                      f"(load {runs[name]['load_avg']})", file=sys.stderr, flush=True)
            base = runs["plain"]["wall_s"]
            rounds.append({"runs": runs, "ratio_plain_over": {k: round(base / v["wall_s"], 2) for k, v in runs.items()},
                           "per_passage": per_passage(runs)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"paths": [str(p) for p in args.paths], "cpus": os.cpu_count(), "rounds": rounds}
    if args.json:
        print(json.dumps(out))
        return
    for number, r in enumerate(rounds, 1):
        print(f"round {number}: " + ", ".join(f"{k} {v['wall_s']} s" for k, v in r["runs"].items()))
        print("  speed-up over plain (plain wall / wall): " + ", ".join(f"{k} {v}x" for k, v in r["ratio_plain_over"].items()))
        print("  per passage: " + ", ".join(f"{k} {v}" for k, v in r["per_passage"].items()))


if __name__ == "__main__":
    main()
