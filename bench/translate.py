"""What translation for the keyword index costs (kb/translate/).

  python bench/translate.py questions [--file bench/questions.jsonl] [--rounds 5]
      per-question latency into the pivot (warm processes), p50/p95 per language; and the
      alternative of translating each question into every language of the index
  python bench/translate.py passages --index DIR [--limit N] [--batch 64]
      passages per second into the pivot, by language, reading an index's passages

Figures with machine and date go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.translate import Translator  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def questions(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    t = Translator()
    start = time.perf_counter()
    for lang in sorted({r["lang"] for r in rows}):  # one start per route, outside the figures
        if t.can(lang):
            t.translate("warm up", lang)
    print(f"process starts for {len(t._pipes)} pairs: {time.perf_counter() - start:.2f} s")
    by_lang: dict[str, list[float]] = defaultdict(list)
    every: dict[str, list[float]] = defaultdict(list)
    targets = ["en", "es", "fr", "pt", "de"]
    for _ in range(args.rounds):
        for row in rows:
            if not t.can(row["lang"]):
                continue
            a = time.perf_counter()
            t.translate(row["query"], row["lang"])
            by_lang[row["lang"]].append((time.perf_counter() - a) * 1000)
            a = time.perf_counter()
            for dst in targets:
                if dst != row["lang"] and t.can(row["lang"], dst):
                    t.translate(row["query"], row["lang"], dst)
            every[row["lang"]].append((time.perf_counter() - a) * 1000)
    print(f"{'lang':6}{'n':>5}{'pivot p50':>11}{'p95':>8}{'all langs p50':>15}{'p95':>8}   (ms)")
    total, total_every = [], []
    for lang in sorted(by_lang):
        v, w = by_lang[lang], every[lang]
        total += v
        total_every += w
        print(f"{lang:6}{len(v):5}{_pct(v, .5):11.1f}{_pct(v, .95):8.1f}{_pct(w, .5):15.1f}{_pct(w, .95):8.1f}")
    print(f"{'all':6}{len(total):5}{_pct(total, .5):11.1f}{_pct(total, .95):8.1f}"
          f"{_pct(total_every, .5):15.1f}{_pct(total_every, .95):8.1f}")
    t.close()


def passages(args: argparse.Namespace) -> None:
    conn = sqlite3.connect(f"file:{Path(args.index) / 'kb.sqlite'}?mode=ro", uri=True)
    rows = conn.execute("SELECT lang, text FROM passages ORDER BY id" + (f" LIMIT {int(args.limit)}" if args.limit else "")).fetchall()
    t = Translator()
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, text in rows:
        by_lang[lang or "?"].append(text)
    print(f"{len(rows)} passages, {sum(len(x) for _, x in rows)} characters; pivot {t.pivot}")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    failed = skipped = 0
    for lang, texts in sorted(by_lang.items()):
        if lang == t.pivot:
            continue
        if not t.can(lang):
            skipped += len(texts)
            print(f"{lang}: {len(texts)} passages, no route")
            continue
        a = time.perf_counter()
        for i in range(0, len(texts), args.batch):
            out = t.translate_many(texts[i:i + args.batch], lang)
            failed += sum(1 for o in out if o is None)
        took = time.perf_counter() - a
        print(f"{lang}: {len(texts)} passages in {took:.1f} s = {len(texts) / took:.1f} passages/s "
              f"({sum(map(len, texts)) / took / 1000:.1f} k chars/s)")
    wall = time.perf_counter() - wall0
    print(f"total {wall:.1f} s wall ({len(rows) / wall:.1f} passages/s over all, the pivot's own included), "
          f"this process's CPU {time.process_time() - cpu0:.1f} s; failed {failed}, no route {skipped}")
    t.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("questions")
    q.add_argument("--file", default=str(Path(__file__).with_name("questions.jsonl")))
    q.add_argument("--rounds", type=int, default=5)
    p = sub.add_parser("passages")
    p.add_argument("--index", required=True)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    questions(args) if args.what == "questions" else passages(args)


if __name__ == "__main__":
    main()
