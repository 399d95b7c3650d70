"""Probe: a small learned re-ranking of kb's top candidates from the scores it already has.

Reciprocal rank fusion throws the retrievers' scores away and keeps their ranks. This probe
asks whether the scores themselves, weighed by a logistic regression fitted on judged
questions, re-rank kb's top ``--depth`` hits better: features are each hit's fused rank,
its dense, keyword, companion and sparse scores (0 where a list did not find it, with a flag),
whether it is in the question's language, and its length. Scored by leave-one-question-out
on one question set (fit on the others, re-rank the one left out), and by fitting on one set
and re-ranking another (``--fit``). Nothing in the library changes.

    .venv/bin/python bench/learned_fusion_probe.py --index DIR --qrels bench/blind/dev.jsonl
    .venv/bin/python bench/learned_fusion_probe.py --index DIR --qrels bench/blind/dev.jsonl \\
        --fit bench/questions.jsonl --fit-index DIR2
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.evaluate import _judge, _normalised_passages, load_qrels, metrics_for, summarise  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

LISTS = ("dense", "keyword", "companion", "sparse")


def candidates(kb: KnowledgeBase, qrels: Path, depth: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per question: (features of its top ``depth`` hits, their relevance, its relevant count)."""
    corpus = _normalised_passages(kb)
    cache = {pid: norm for pid, norm, _ in corpus}
    out = []
    for question in load_qrels(qrels):
        n_relevant = sum(1 for pid, norm, src in corpus if question.is_relevant(pid, norm, src))
        result = kb.search(question.query, k=depth)
        rows, labels = [], []
        top_sparse = max([h.extra["scores"].get("sparse", 0.0) for h in result.hits] + [1e-6])
        for hit in result.hits:
            s = hit.extra["scores"]
            row = [1.0 / hit.rank, math.log(hit.rank)]
            for name in LISTS:
                value = s.get(name)
                row += [0.0 if value is None else 1.0]
                if name == "keyword":
                    row += [math.log1p(max(value or 0.0, 0.0))]
                elif name == "sparse":
                    row += [(value or 0.0) / top_sparse]
                else:
                    row += [value or 0.0]
            row += [float(hit.passage.lang == result.query_lang), math.log(len(hit.passage.text) + 1)]
            rows.append(row)
            labels.append(float(bool(_judge(question, hit, cache, False))))
        out.append((np.array(rows, np.float64), np.array(labels), n_relevant))
    return out


def fit(data) -> object:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([f for f, _, _ in data])
    y = np.concatenate([l for _, l, _ in data])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, class_weight="balanced", max_iter=2000))
    return model.fit(x, y)


def scored(data, models) -> dict[str, float]:
    out = []
    for (features, labels, n_relevant), model in zip(data, models):
        order = np.argsort(-model.decision_function(features), kind="stable") if model is not None else np.arange(len(labels))
        out.append(metrics_for([bool(labels[i]) for i in order][:10], n_relevant, 10))
    return summarise(out)


def line(name: str, m: dict[str, float]) -> str:
    return f"{name:34} " + "  ".join(f"{k} {m[k]:.3f}" for k in ("recall@1", "recall@5", "recall@10", "mrr@10"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--qrels", type=Path, required=True)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--fit", type=Path, help="fit on this question set instead (and score all of --qrels)")
    ap.add_argument("--fit-index", type=Path)
    args = ap.parse_args()
    with KnowledgeBase.open(Settings.from_env(args.index)) as kb:
        data = candidates(kb, args.qrels, args.depth)
    print(line("kb's own order", scored(data, [None] * len(data))))
    loo = [fit(data[:i] + data[i + 1:]) if any(l.any() for _, l, _ in data[:i] + data[i + 1:]) else None
           for i in range(len(data))]
    print(line("leave one question out", scored(data, loo)))
    if args.fit:
        with KnowledgeBase.open(Settings.from_env(args.fit_index or args.index)) as kb:
            other = candidates(kb, args.fit, args.depth)
        model = fit(other)
        print(line(f"fitted on {args.fit.name}", scored(data, [model] * len(data))))
        names = ["1/rank", "log rank"] + [f"{n}{part}" for n in LISTS for part in (" found", "")] + ["same lang", "log len"]
        coef = model[-1].coef_[0]
        print("weights: " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(names, coef)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
