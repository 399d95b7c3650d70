"""Probe: the question's sparse code together with the codes of its translations.

Sparse codes (kb/derived/sparse.py) are features of the model's token states, and a good
part of them follow the words of one language, so a question finds passages in its own
language more easily. This probe adds to the question's code the codes of its Apertium
translations (into the pivot language, or into each of the index's other languages the
bridge reaches, kb/search/bridge.py), each at ``--share``, so that a passage in another
language meets a question in its own words. Questions with a dictionary route only (de, ar)
keep their own code, as in the bridge. Nothing in the library or the index changes:
``SparseSearch.start`` is wrapped for the run.

    .venv/bin/python bench/sparse_bridge_probe.py --index DIR --qrels bench/blind/dev.jsonl
    .venv/bin/python bench/sparse_bridge_probe.py --index indexes/bench-xquad-mixed-en-es-ar-e5-small-q4 --xquad 400
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from kb.search import sparse as sparse_module  # noqa: E402


class Lever:
    share = 0.0
    targets = "pivot"  # or "all": every index language the bridge reaches


def merged(codes: list[tuple[np.ndarray, np.ndarray]], shares: list[float]) -> tuple[np.ndarray, np.ndarray]:
    weights: dict[int, float] = {}
    for (ids, vals), share in zip(codes, shares):
        for i, v in zip(ids.tolist(), vals.tolist()):
            weights[i] = weights.get(i, 0.0) + share * v
    ids = np.array(sorted(weights), dtype=np.int64)
    return ids, np.array([weights[i] for i in ids.tolist()], dtype=np.float32)


def install(kb) -> None:
    SparseSearch = sparse_module.SparseSearch
    start = SparseSearch.start
    searcher = kb._searcher

    def start_bridged(self, text, submit):
        own = start(self, text, submit)
        if not Lever.share:
            return own
        lang = searcher._language(text)
        if Lever.targets == "pivot":
            pivot = searcher._pivot.pivot()
            translations = [searcher._pivot.translated(text, lang)] if pivot and lang != pivot else []
        else:
            targets = searcher._bridge.targets(lang)
            translations = list(searcher._bridge.translations(text, lang, targets).values()) if targets else []
        translations = [t for t in translations if t]
        if not translations:
            return own
        others = [start(self, t, submit) for t in translations]
        return lambda: merged([own()] + [o() for o in others], [1.0] + [Lever.share] * len(others))

    SparseSearch.start = start_bridged


def main() -> int:
    from probe_report import report
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--qrels", type=Path)
    ap.add_argument("--xquad", type=int, default=0)
    ap.add_argument("--shares", default="0,0.5,1")
    ap.add_argument("--targets", choices=("pivot", "all"), default="pivot")
    args = ap.parse_args()
    Lever.targets = args.targets
    with KnowledgeBase.open(Settings.from_env(args.index)) as kb:
        install(kb)
        for share in (float(s) for s in args.shares.split(",")):
            Lever.share = share
            tag = f"share {share:g} ({args.targets})"
            report(kb, tag, args.qrels, args.xquad)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
