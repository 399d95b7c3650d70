"""Probe: dense scores over every passage's translation into the pivot language (Spanish).

Issue 17 asked whether embedding the passages' translations is worth its cost. The bridge
(kb/search/bridge.py) embeds the question in each of the index's languages at query time;
this probe does the opposite: every passage is translated into the pivot once (Apertium, the
raw translation, not the keyword-normalised text kb stores), embedded with the index's model,
and the question is embedded once more in the pivot. All passages are then compared in one
language, so a passage's language no longer lifts or sinks it; each passage's dense score
becomes ``(1 - w) * its own + w * its pivot score``. The pivot vectors are centered by their
source language (the translation from each language has its own signature, as the passages
do: kb/derived/language_means.py), at ``--centering``.

Nothing in the library or the index changes: ``Searcher._nearest`` is wrapped for the run
only, and the pivot vectors are cached under ``indexes/pivot-probe-<hash>.npz``. Questions in
a language with a dictionary route only (de, ar) keep their own scores: dictionary
translations of a question cost the bridge XQuAD answers (docs/translation.md).

Usage::

    .venv/bin/python bench/pivot_dense_probe.py --index DIR --qrels bench/blind/dev.jsonl
    .venv/bin/python bench/pivot_dense_probe.py --index indexes/bench-xquad-mixed-en-es-ar-e5-small-q4 --xquad 400
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from kb.search import searcher as searcher_module  # noqa: E402

PIVOT = "es"
MIN_PER_LANGUAGE = 20  # fewer translated passages than this: no mean for that source language


class PivotVectors:
    """Each passage's pivot translation embedded, with the mean of each source language
    (kb/derived/language_means.py's correction, applied to the translations' languages)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, langs: list[str]) -> None:
        from kb.derived.language_means import LanguageMeans

        self.ids, self.vectors, self.langs = ids, vectors, langs
        self.row = {int(r): i for i, r in enumerate(ids)}
        means = {}
        for lang in set(langs):
            rows = [i for i, x in enumerate(langs) if x == lang]
            if len(rows) >= MIN_PER_LANGUAGE:
                means[lang] = vectors[rows].mean(axis=0)
        if PIVOT not in means:  # the question's side needs a mean too
            means[PIVOT] = vectors.mean(axis=0)
        self.means = LanguageMeans(means)

    def scores(self, question: np.ndarray, strength: float) -> np.ndarray:
        if not strength:
            return self.vectors @ question
        return self.means.rescore(self.means.query(question, PIVOT, strength), self.vectors, self.langs, strength)


def build(index: Path, model: str) -> PivotVectors:
    """Translate and embed every passage (cached by index path and generation)."""
    from kb.embed import get_embedder
    from kb.translate import shared

    db = sqlite3.connect(f"file:{index / 'kb.sqlite'}?mode=ro", uri=True)
    generation = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    tag = hashlib.sha1(f"{index.resolve()}:{generation}:{model}".encode()).hexdigest()[:12]
    cache = ROOT / "indexes" / f"pivot-probe-{tag}.npz"
    if cache.exists():
        got = np.load(cache)
        return PivotVectors(got["ids"], got["vectors"], got["langs"].tolist())
    rows = db.execute("SELECT id, lang, text FROM passages ORDER BY id").fetchall()
    translator = shared()
    by_lang: dict[str, list[tuple[int, str]]] = {}
    for rowid, lang, text in rows:
        by_lang.setdefault(lang, []).append((rowid, text))
    texts: dict[int, tuple[str, str]] = {}
    started = time.perf_counter()
    for lang, items in by_lang.items():
        if lang == PIVOT:
            texts.update({r: (t, lang) for r, t in items})
        elif translator.can(lang, PIVOT):
            for (rowid, _), out in zip(items, translator.translate_many([t for _, t in items], lang, PIVOT)):
                if out:
                    texts[rowid] = (out, lang)
    translated = time.perf_counter() - started
    ids = sorted(texts)
    embedder = get_embedder(model)
    started = time.perf_counter()
    batches = [embedder.encode_passages([texts[r][0] for r in ids[i:i + 64]]) for i in range(0, len(ids), 64)]
    vectors = np.vstack(batches).astype(np.float32)
    print(f"pivot vectors: {len(ids)} of {len(rows)} passages; translation {translated:.0f} s, "
          f"embedding {time.perf_counter() - started:.0f} s", file=sys.stderr)
    langs = [texts[r][1] for r in ids]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=np.asarray(ids, np.int64), vectors=vectors, langs=np.asarray(langs))
    return PivotVectors(np.asarray(ids, np.int64), vectors, langs)


class Lever:
    """What the wrapped ``_nearest`` does: off, or the blend at ``weight`` and ``centering``."""

    weight = 0.0
    centering = 0.5


def own_scores(searcher, vector: np.ndarray, lang: str | None, rowids: list[int]) -> dict[int, float]:
    """The question's own dense scores of ``rowids``, as ``Searcher._nearest`` gives them."""
    ids, vectors = searcher.index.db.vectors_for(rowids)
    if not len(ids):
        return {}
    strength = searcher.settings.language_centering
    means = searcher._language_means() if strength else None
    if means is not None and means.applies(lang):
        langs = searcher.index.db.langs_of(ids.tolist())
        scores = means.rescore(means.query(vector, lang, strength), vectors, [langs.get(int(i)) for i in ids], strength)
    else:
        scores = vectors @ np.asarray(vector, np.float32).ravel()
    return dict(zip(ids.tolist(), scores.tolist()))


def install(pivot: PivotVectors) -> None:
    """Wrap Searcher.search (to see the question's text) and Searcher._nearest (to blend)."""
    Searcher = searcher_module.Searcher
    nearest, search = Searcher._nearest, Searcher.search
    texts: dict[int, str] = {}
    question_vectors: dict[str, np.ndarray | None] = {}

    def search_seen(self, query):
        texts[id(self)] = query.text
        return search(self, query)

    def in_pivot(self, text: str, lang: str | None) -> np.ndarray | None:
        if text not in question_vectors:
            translated = text if lang == PIVOT else self._pivot.translated(text, lang)  # no dictionary routes
            question_vectors[text] = (np.asarray(self.index.embedder.encode_queries([translated]), np.float32).ravel()
                                      if translated else None)
        return question_vectors[text]

    def blended(self, vector, lang, depth, allowed):
        found = nearest(self, vector, lang, depth, allowed)
        question = in_pivot(self, texts.get(id(self), ""), lang) if Lever.weight else None
        if question is None:
            return found
        pivot_scores = pivot.scores(question, Lever.centering)
        own = dict(found)
        wanted = [int(pivot.ids[i]) for i in np.argsort(-pivot_scores)[: depth * 2] if int(pivot.ids[i]) not in own]
        if wanted:  # passages the pivot found that the question's own search did not: their own score
            own.update(own_scores(self, vector, lang, wanted))
        w = Lever.weight
        blend = {r: s if r not in pivot.row else (1 - w) * s + w * float(pivot_scores[pivot.row[r]])
                 for r, s in own.items()}
        return sorted(blend.items(), key=lambda item: (-item[1], item[0]))[:depth]

    Searcher.search = search_seen
    Searcher._nearest = blended


def main() -> int:
    from probe_report import report
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--qrels", type=Path, help="a question set in kb eval's format")
    ap.add_argument("--xquad", type=int, default=0, help="XQuAD questions a language (the index: bench/language_bias.py's)")
    ap.add_argument("--weights", default="0,0.3,0.5", help="pivot shares of the dense score; 0 is kb as shipped")
    ap.add_argument("--centering", type=float, default=0.5)
    args = ap.parse_args()
    with KnowledgeBase.open(Settings.from_env(args.index)) as kb:
        install(build(args.index, kb.index.model))
        Lever.centering = args.centering
        for weight in (float(w) for w in args.weights.split(",")):
            Lever.weight = weight
            report(kb, f"weight {weight:g}", args.qrels, args.xquad)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
