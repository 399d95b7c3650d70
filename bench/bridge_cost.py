"""What the bridge (kb/search/bridge.py) costs a question: whole-search latency with it off and on.

Every question is asked once per setting, in a fresh process-level cache state for that setting
(a new searcher each), so translations and query vectors are computed, not recalled: the cost
of a novel question. The blind set's 106 questions (six languages) by default.

    .venv/bin/python bench/bridge_cost.py --index /path/to/index [--weight 0.3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.library import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

QUESTIONS = [ROOT / "bench" / "blind" / "dev.jsonl", ROOT / "bench" / "blind" / "test.jsonl"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--weight", type=float, default=0.3)
    args = parser.parse_args()
    texts = [json.loads(line)["query"] for path in QUESTIONS
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with KnowledgeBase.open(Settings.from_env(args.index)) as base:
        base.search("warm-up: load the models and the translator", k=5)
        base.with_settings(bridge_weight=args.weight).search("préparer le modèle et le traducteur", k=5)
        for label, weight in (("off", 0.0), ("on", args.weight)):
            kb = base.with_settings(bridge_weight=weight)  # a new searcher: nothing cached
            times = []
            for text in texts:
                started = time.perf_counter()
                kb.search(text, k=10)
                times.append((time.perf_counter() - started) * 1000)
            print(f"bridge {label:3} ({weight}): {len(times)} novel questions, p50 {statistics.median(times):.1f} ms, "
                  f"p95 {pct(times, 95):.1f} ms, mean {statistics.mean(times):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
