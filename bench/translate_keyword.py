"""Keyword retrieval across languages, with and without translation: which design to adopt.

  python bench/translate_keyword.py --index DIR --questions FILE [--work /tmp/tk.sqlite]

Reads an index (never writes it), translates every passage into each candidate pivot in a
separate SQLite file (``--work``, reused on later runs), and scores keyword-only rankings of
the questions (their ``lang`` field taken as the question's language):

* ``own``: kb's keyword list (the question's words and stems over the passages' own words)
* ``pivot-es`` / ``pivot-en``: the question translated into the pivot, matched on the
  passages' translations into it (ingestion cost: every passage translated)
* ``each-lang``: the question translated into each language of the index and matched on that
  language's passages' own words, the lists fused (no ingestion cost)

Recall@5 and MRR@10, overall and split by whether the answer is in the question's language.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.evaluate import load_qrels, normalise  # noqa: E402
from kb.text.keywords import index_body, match_expression  # noqa: E402
from kb.translate import Translator  # noqa: E402

PIVOTS = ("es", "en")
DEPTH = 50


def build(work: sqlite3.Connection, rows: list[tuple[int, str, str | None]], pivot: str) -> None:
    table = f"pivot_{pivot}"
    work.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")
    if work.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] >= len(rows):
        return
    work.execute(f"DELETE FROM {table}")
    t = Translator(pivot=pivot)
    start = time.perf_counter()
    by_lang: dict[str | None, list[tuple[int, str]]] = defaultdict(list)
    for rowid, text, lang in rows:
        by_lang[lang].append((rowid, text))
    for lang, items in by_lang.items():
        if lang == pivot or not t.can(lang):
            bodies = [index_body(text, lang) for _, text in items]
        else:
            out = t.translate_many([text for _, text in items], lang)
            bodies = [index_body(o, pivot) if o is not None else index_body(text, lang) for o, (_, text) in zip(out, items)]
        work.executemany(f"INSERT INTO {table}(rowid, body) VALUES (?, ?)", [(r, b) for (r, _), b in zip(items, bodies)])
    work.commit()
    print(f"pivot {pivot}: {len(rows)} passages translated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    t.close()


def search(conn: sqlite3.Connection, table: str, expr: str | None, where: str = "") -> list[int]:
    if not expr:
        return []
    name = table.split(".")[-1]  # FTS5 wants the bare name in MATCH and bm25()
    sql = f"SELECT rowid FROM {table} WHERE {name} MATCH ? {where} ORDER BY bm25({name}) LIMIT {DEPTH}"
    try:
        return [r[0] for r in conn.execute(sql, (expr,))]
    except sqlite3.OperationalError:
        return []


def rrf(lists: list[list[int]], k: int = 60) -> list[int]:
    score: dict[int, float] = defaultdict(float)
    for ranked in lists:
        for rank, rowid in enumerate(ranked, start=1):
            score[rowid] += 1.0 / (k + rank)
    return sorted(score, key=lambda r: -score[r])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--work", default="/tmp/translate_keyword.sqlite")
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{Path(args.index) / 'kb.sqlite'}?mode=ro", uri=True)
    rows = db.execute("SELECT p.id, p.text, p.lang FROM passages p ORDER BY p.id").fetchall()
    info = {r[0]: (r[1], normalise(r[2]), r[3], r[4]) for r in db.execute(
        "SELECT p.id, p.passage_id, p.text, d.source, p.lang FROM passages p JOIN documents d USING (doc_id)")}
    work = sqlite3.connect(args.work)
    work.execute(f"ATTACH DATABASE 'file:{Path(args.index) / 'kb.sqlite'}?mode=ro' AS idx")
    for pivot in PIVOTS:
        build(work, rows, pivot)
    langs = [r[0] for r in db.execute("SELECT lang FROM passages WHERE lang IS NOT NULL GROUP BY lang HAVING COUNT(*) >= 20")]
    t = Translator()
    pivots = {p: (t if p == t.pivot else Translator(pivot=p)) for p in PIVOTS}
    scores: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for q in load_qrels(args.questions):
        ql = q.lang
        answer_langs = {info[r][3] for r in info if q.is_relevant(info[r][0], info[r][1], info[r][2])}
        if not answer_langs:
            continue
        group = "same" if ql in answer_langs else "cross"
        runs: dict[str, list[int]] = {}
        runs["own"] = search(work, "idx.passages_fts", match_expression(q.query, ql))
        for p, tr in pivots.items():
            text = q.query if ql == p else (tr.translate(q.query, ql) if tr.can(ql) else None)
            runs[f"pivot-{p}"] = search(work, f"pivot_{p}", match_expression(text, p)) if text else []
        per_lang = []
        for lang in langs:
            text = q.query if lang == ql else (t.translate(q.query, ql, lang) if t.can(ql, lang) else None)
            if text:
                ids = search(work, "idx.passages_fts", match_expression(text, lang),
                             f"AND rowid IN (SELECT id FROM idx.passages WHERE lang = '{lang}')")
                per_lang.append(ids)
        runs["each-lang"] = rrf(per_lang)
        runs["own+pivot-es"] = rrf([runs["own"], runs["pivot-es"]])
        for name, ranked in runs.items():
            judged = [q.is_relevant(info[r][0], info[r][1], info[r][2]) for r in ranked[:10]]
            first = next((i for i, ok in enumerate(judged) if ok), None)
            r5 = 1.0 if first is not None and first < 5 else 0.0
            mrr = 1.0 / (first + 1) if first is not None else 0.0
            for key in ("all", group, f"q:{ql}"):
                scores[name][key].append((r5, mrr))
    keys = ["all", "same", "cross"] + sorted(k for k in next(iter(scores.values())) if k.startswith("q:"))
    print(f"{'run':14}" + "".join(f"{k:>16}" for k in keys))
    for name, by in scores.items():
        cells = []
        for k in keys:
            v = by.get(k, [])
            cells.append(f"{sum(a for a, _ in v):3.0f}/{len(v):<3} {sum(b for _, b in v) / max(1, len(v)):.2f}" if v else "-")
        print(f"{name:14}" + "".join(f"{c:>16}" for c in cells))
    print("cells: R@5 hits/questions, MRR@10")


if __name__ == "__main__":
    main()
