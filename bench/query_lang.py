"""Query language: langdetect alone against kb/search/language.py, on short queries and XQuAD.

    .venv/bin/python bench/query_lang.py [--index indexes/bench-corpus-e5-ctx] [--xquad-model e5-small-q4]

Prints, for bench/short_queries.tsv (66 queries of 1-4 words in en/fr/es/de/pt, the way a
policy officer types them) and bench/questions.jsonl (the own set's 60 questions), how many
each detector gets right over the given index (the shared corpus's, which
bench/eval_corpus.py builds), and the ones it gets wrong. Then, if bench/xquad.py's cached
indexes exist, XQuAD's short questions (at most kb.search.language.SHORT_WORDS words) in
en/es/de/ar against each one-language index: same-language questions should gain, and a
question in a language the index lacks must not be pulled into the index's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.text.lang import detect_language  # noqa: E402
from kb.search.language import SHORT_WORDS, QueryLanguage, _LETTER_WORD  # noqa: E402
from kb.store.db import Database  # noqa: E402

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad"


def score(name: str, detect, data: list[tuple[str, str]]) -> None:
    start = time.perf_counter()
    got = [detect(text) for _, text in data]
    ms = (time.perf_counter() - start) / max(len(data), 1) * 1e3
    wrong = [f"{text!r} ({want}->{found})" for (want, text), found in zip(data, got) if found != want]
    print(f"  {name:<11} {len(data) - len(wrong):>4}/{len(data)} right, {ms:.2f} ms per query (cold)")
    if wrong:
        print("      wrong: " + "; ".join(wrong))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=ROOT / "indexes" / "bench-corpus-e5-ctx",
                    help="an index over ../shared/corpus (default indexes/bench-corpus-e5-ctx)")
    ap.add_argument("--xquad-model", default="e5-small-q4", help="model of bench/xquad.py's cached indexes")
    args = ap.parse_args()
    if not (args.index / "kb.sqlite").is_file():
        sys.exit(f"no index at {args.index}: build one with bench/eval_corpus.py")
    short = [tuple(line.rstrip("\n").split("\t")) for line in
             (ROOT / "bench" / "short_queries.tsv").read_text(encoding="utf-8").splitlines() if line.strip()]
    own = [(q["lang"], q["query"]) for q in map(json.loads, (ROOT / "bench" / "questions.jsonl").read_text(
        encoding="utf-8").splitlines()) if q]
    for label, data in (("short queries", short), ("own question set", own)):
        print(f"{label} over {args.index.name}")
        score("langdetect", detect_language, data)
        score("query_lang", QueryLanguage(Database(args.index, readonly=True)).detect, data)
    for index_lang in ("en", "es", "ar"):
        folder = ROOT / "indexes" / f"bench-xquad-{index_lang}-{args.xquad_model}"
        if not (folder / "kb.sqlite").is_file() or not (XQUAD / "xquad.en.json").is_file():
            print(f"(no {folder.name}: run bench/xquad.py first)")
            continue
        detector = QueryLanguage(Database(folder, readonly=True))
        for lang in ("en", "es", "de", "ar"):
            articles = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
            qs = [qa["question"] for a in articles for p in a["paragraphs"] for qa in p["qas"]]
            qs = [q for q in qs if len(_LETTER_WORD.findall(q)) <= SHORT_WORDS]
            old = sum(detect_language(q) == lang for q in qs)
            new = sum(detector.detect(q) == lang for q in qs)
            print(f"XQuAD {lang} questions on the {index_lang} index: {len(qs)} short, "
                  f"langdetect {old} right, query_lang {new}")


if __name__ == "__main__":
    main()
