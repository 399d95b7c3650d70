"""Language-bias correction for dense retrieval in indexes that mix languages.

A multilingual encoder places a text partly by what it says and partly by which language
it is in, so a question scores the passages of its own language higher than an answer in
another one. Subtracting each language's mean passage vector from its passages, and the
question's language mean from the question, removes much of that shared language
component (Libovický et al., 2020, "On the language neutrality of pre-trained multilingual
representations"). Measured with e5-small-q4 (bench/language_bias.py, README): XQuAD with
each paragraph present in only one of en/es/ar, English questions whose answer is in
another language went from Recall@1 0.43 to 0.74 at strength 0.5 while same-language
answers went from 0.99 to 0.98; the own question set over the shared corpus, dense
Recall@5 0.60 to 0.68.

The correction only applies when the index holds at least two languages with a mean and
the question's language is one of them: a one-language index ranks exactly as before.
Stored vectors are never changed: the means live in the index's meta table (recomputed
at the end of each ingest from a sample) and dense candidates are re-scored at query time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from kb.store.db import Database

from kb.store.keys import LANGUAGE_MEANS as META_KEY
#: a language needs this many passages for its mean to be trusted
MIN_PASSAGES = 30
#: passages sampled per language (the mean of 2,000 unit vectors is stable to ~0.01)
SAMPLE = 2000
#: dense candidates re-scored per result wanted: the correction reorders across
#: languages, so the raw list is read deeper than the depth kept
DEPTH_FACTOR = 2


@dataclass(frozen=True)
class LanguageMeans:
    means: dict[str, np.ndarray]

    def applies(self, query_lang: str | None) -> bool:
        return query_lang in self.means and len(self.means) >= 2

    def to_json(self) -> str:
        return json.dumps({lang: [round(float(x), 6) for x in v] for lang, v in sorted(self.means.items())})

    @classmethod
    def from_json(cls, raw: str | None) -> "LanguageMeans":
        if not raw:
            return cls({})
        return cls({lang: np.asarray(v, dtype=np.float32) for lang, v in json.loads(raw).items()})

    def query(self, vector: np.ndarray, lang: str, strength: float) -> np.ndarray:
        """The question's vector without its language's share, unit length."""
        return _unit(np.asarray(vector, dtype=np.float32) - strength * self.means[lang])

    def rescore(self, query: np.ndarray, vectors: np.ndarray, langs: Sequence[str | None],
                strength: float) -> np.ndarray:
        """Cosines of ``query`` (already corrected) with passages corrected by their language's mean."""
        shift = np.stack([self.means[lang] if lang in self.means else np.zeros_like(query) for lang in langs])
        return _unit(vectors - strength * shift) @ query


def compute(db: "Database") -> LanguageMeans:
    """Mean stored vector per language with enough passages (a sample of each)."""
    means: dict[str, np.ndarray] = {}
    for lang, count in db.languages().items():
        if lang == "?" or count < MIN_PASSAGES:
            continue
        sample = db.language_sample(lang, max(1, count // SAMPLE), SAMPLE)
        if len(sample):
            means[lang] = sample.mean(axis=0).astype(np.float32)
    return LanguageMeans(means)


def refresh(db: "Database") -> LanguageMeans:
    """Recompute the means and store them in the index (one transaction); after ingest and remove."""
    means = compute(db)
    with db.conn:
        db.set_meta(META_KEY, means.to_json())
    return means


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)
