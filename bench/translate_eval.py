"""Hybrid search with and without translation (kb/translate/), on one loaded index.

  python bench/translate_eval.py --index DIR --questions FILE [--weights 0.3,0.6,1.0]

The index needs pivot texts (`kb translate --index DIR` on a copy). Prints Recall@5 and
MRR@10 overall, by question language, and split by whether the answer is in the question's
language (the QRELS field ``answer_lang``, when the file has it), for translation off and for
each pivot weight. Tune on a dev set only; a test set is scored once, to report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kb.evaluate import evaluate  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--weights", default="0.6")
    args = parser.parse_args()
    answer = {}
    for line in Path(args.questions).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            answer[str(row["id"])] = (row.get("lang"), row.get("answer_lang"))
    kb = KnowledgeBase.open(Settings.from_env(args.index))
    runs = [("off", {"translate": False})] + [(f"pivot {w}", {"pivot_weight": float(w)}) for w in args.weights.split(",")]
    for label, changes in runs:
        report = evaluate(kb.with_settings(**changes), args.questions)
        groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for r in report.results:
            m = r.metrics
            q_lang, a_lang = answer.get(str(r.question.id), (None, None))
            groups["all"].append((m["recall@5"], m["mrr@10"]))
            groups[f"q:{r.question.lang}"].append((m["recall@5"], m["mrr@10"]))
            if a_lang:
                groups["same" if a_lang == q_lang else "cross"].append((m["recall@5"], m["mrr@10"]))
        keys = ["all", "same", "cross"] + sorted(k for k in groups if k.startswith("q:"))
        cells = " ".join(f"{k} {sum(a for a, _ in groups[k]):.0f}/{len(groups[k])} {sum(b for _, b in groups[k]) / len(groups[k]):.2f}"
                         for k in keys if groups.get(k))
        print(f"{label:10} {cells}", flush=True)
    print("cells: group R@5-hits/questions MRR@10")
    kb.close()


if __name__ == "__main__":
    main()
