"""What translation for the keyword index costs (kb/translate/).

  python bench/translate.py questions [--file bench/questions.jsonl] [--rounds 5]
      per-question latency into the pivot (warm processes), p50/p95 per language; and the
      alternative of translating each question into every language of the index
  python bench/translate.py passages --index DIR [--limit N] [--batch 64]
      passages per second into the pivot, by language, reading an index's passages
  python bench/translate.py scale --index DIR [--size 100000] [--file QUESTIONS]
      what the pivot list adds to a search at --size passages: the question's translation
      plus the pivot table's keyword match (bm25 under PivotSearch.BUDGET, kb/search/translated.py),
      on a pivot table of that size synthesised from the index's pivot texts (run
      `kb translate` on a copy first): each row a real pivot text with a quarter of its words
      swapped for words of other rows, so term frequencies grow as in a larger corpus

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


def scale(args: argparse.Namespace) -> None:
    import random

    from kb.search.searcher import Searcher
    from kb.search.translated import PivotSearch
    from kb.text.keywords import match_expression

    src = sqlite3.connect(f"file:{Path(args.index) / 'kb.sqlite'}?mode=ro", uri=True)
    bodies = [r[0].split() for r in src.execute("SELECT body FROM pivot_fts")]
    if not bodies:
        sys.exit("the index has no pivot texts: run `kb translate --index` on a copy of it first")
    path = Path(args.work)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE pivot_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")
    rng = random.Random(7)
    a = time.perf_counter()
    rows = []
    for i in range(args.size):
        words = list(bodies[i % len(bodies)])
        other = bodies[rng.randrange(len(bodies))]
        for j in rng.sample(range(len(words)), len(words) // 4):
            words[j] = other[rng.randrange(len(other))]
        rows.append((i + 1, " ".join(words)))
    conn.executemany("INSERT INTO pivot_fts(rowid, body) VALUES (?, ?)", rows)
    conn.commit()
    conn.execute("CREATE VIRTUAL TABLE temp.pivot_vocab USING fts5vocab(main, pivot_fts, row)")
    print(f"{args.size} synthetic pivot rows in {time.perf_counter() - a:.1f} s")

    def doc_freq(terms):
        out = {}
        for t in terms:
            row = conn.execute("SELECT doc FROM pivot_vocab WHERE term = ?", (t,)).fetchone()
            out[t] = int(row[0]) if row else 0
        return out

    t = Translator()
    qs = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    for lang in {q["lang"] for q in qs}:
        if t.can(lang):
            t.translate("warm up", lang)
    trans, fts, total = [], [], []
    for q in qs:
        if not t.can(q["lang"]):
            continue
        a = time.perf_counter()
        text = t.translate(q["query"], q["lang"])
        b = time.perf_counter()
        expr = match_expression(text, t.pivot, doc_freq, args.budget or min(Searcher.KEYWORD_BUDGET, PivotSearch.BUDGET))
        if expr:
            conn.execute("SELECT rowid, -bm25(pivot_fts) FROM pivot_fts WHERE pivot_fts MATCH ? "
                         "ORDER BY bm25(pivot_fts) LIMIT 50", (expr,)).fetchall()
        c = time.perf_counter()
        trans.append((b - a) * 1000)
        fts.append((c - b) * 1000)
        total.append((c - a) * 1000)
    for name, v in (("translate", trans), ("pivot match", fts), ("added", total)):
        print(f"{name:12} p50 {_pct(v, .5):6.1f} ms   p95 {_pct(v, .95):6.1f} ms   ({len(v)} questions)")
    t.close()
    path.unlink(missing_ok=True)


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
    s = sub.add_parser("scale")
    s.add_argument("--index", required=True)
    s.add_argument("--size", type=int, default=100_000)
    s.add_argument("--file", default=str(Path(__file__).with_name("questions.jsonl")))
    s.add_argument("--work", default="/tmp/kb-pivot-scale.sqlite")
    s.add_argument("--budget", type=int, default=0, help="the pivot OR's budget (default: kb's)")
    args = parser.parse_args()
    {"questions": questions, "passages": passages, "scale": scale}[args.what](args)


if __name__ == "__main__":
    main()
