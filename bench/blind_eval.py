"""The blind question set (bench/blind/) against an index of ../shared/corpus: levers on and off.

Tune on the dev half; the test half is scored only to report (``--half test``), never to choose.

    .venv/bin/python bench/blind_eval.py --index /path/to/index                 # dev half, every lever
    .venv/bin/python bench/blind_eval.py --index /path/to/index --half test --levers default

The index: ``kb ingest ../shared/corpus -x SOURCES.md -x guide.pdf -x guide_PDF_ES.pdf``.
Each lever is a Settings change on the same open index (nothing is re-embedded), so the
variants differ only in that lever. The context header is a property of how passages were
embedded: compare two indexes for it (``--index`` twice is not needed; run the script on each).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kb.evaluate import evaluate, summarise  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402
from kb.settings import Settings  # noqa: E402

HALVES = {"dev": ROOT / "bench" / "blind" / "dev.jsonl", "test": ROOT / "bench" / "blind" / "test.jsonl"}

#: name -> Settings changes; "default" is kb as shipped
LEVERS: dict[str, dict[str, object]] = {
    "default": {},
    "dense": {"mode": "dense"},
    "keyword": {"mode": "keyword"},
    "no-centering": {"language_centering": 0.0},
    "no-nonanswer-penalty": {"non_answer_penalty": 0.0},
    "no-companion": {"companion_weight": 0.0},
    "keyword-weight-0.1": {"keyword_weight": 0.1},
    "keyword-weight-0.6": {"keyword_weight": 0.6},
    "cross-keyword-0.5": {"cross_keyword_weight": 0.5},
    "bridge-0.3": {"bridge_weight": 0.3},
    "bridge-0.5": {"bridge_weight": 0.5},
    "bridge-0.7": {"bridge_weight": 0.7},
    # an index with sparse codes (kb ingest --sparse) fuses them at 0.5; these need one
    "no-sparse": {"sparse_weight": 0.0},
    "sparse-0.25": {"sparse_weight": 0.25},
    "sparse-1": {"sparse_weight": 1.0},
}


def answer_langs(path: Path) -> dict[str, bool]:
    """question id -> whether its answer is in another language than the question's."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            out[q["id"]] = q.get("answer_lang", q["lang"]) != q["lang"]
    return out


def row(metrics: dict[str, float]) -> str:
    return f"R@1 {metrics['recall@1']:.3f}  R@5 {metrics['recall@5']:.3f}  R@10 {metrics['recall@10']:.3f}  " \
           f"MRR@10 {metrics['mrr@10']:.3f}  (n={int(metrics['n'])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--half", choices=sorted(HALVES), default="dev")
    parser.add_argument("--levers", nargs="*", default=list(LEVERS))
    parser.add_argument("--versions", action="store_true",
                        help="also count a hit whose translation or duplicate holds the answer (kb eval --versions)")
    parser.add_argument("--json", help="write every report here")
    parser.add_argument("--failures", action="store_true", help="list the questions missed at 10 (dev only)")
    args = parser.parse_args()
    qrels = HALVES[args.half]
    cross = answer_langs(qrels)
    reports = {}
    with KnowledgeBase.open(Settings.from_env(args.index)) as base:
        for name in args.levers:
            kb = base.with_settings(**{k: v for k, v in LEVERS[name].items() if k != "mode"})
            report = evaluate(kb, qrels, mode=LEVERS[name].get("mode"), versions=args.versions)  # type: ignore[arg-type]
            reports[name] = report.to_dict()
            print(f"== {name} ({args.half}{', versions count' if args.versions else ''}, {report.seconds:.0f} s)")
            print("  all        " + row(report.overall))
            for label, want in (("same-lang ", False), ("cross-lang", True)):
                part = summarise(r.metrics for r in report.results if cross.get(r.question.id) == want)
                if part.get("n"):
                    print(f"  {label} " + row(part))
            for lang, metrics in report.by_language.items():
                print(f"  {lang:10} " + row(metrics))
            if args.failures and args.half == "dev":
                print("  missed: " + ", ".join(r.question.id for r in report.failures))
    if args.json:
        Path(args.json).write_text(json.dumps(reports, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
