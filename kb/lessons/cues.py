"""The cue file (``kb/data/lesson_cues.yaml``): loading, validation and matching.

Everything a reader may want to change about lesson types lives in that file, not in
code: the words documents use ("obstacles", "barreras", "lessons learned",
"recommandations"), the headings that announce a kind of section, the short label
descriptions that are embedded, and the few numbers that weigh the signals. This module
turns it into compiled, accent- and case-insensitive patterns and checks it thoroughly,
so that a typo is reported with the place it is in rather than silently ignored.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from kb.errors import UsageError
from kb.models import LESSON_TYPES

TYPES = LESSON_TYPES
DEFAULT_CUES_PATH = Path(__file__).resolve().parent.parent / "data" / "lesson_cues.yaml"
#: bumped when the way cues are applied changes, so that a fingerprint also covers the code
LABELER_VERSION = "2"

_SCORING_DEFAULTS: dict[str, Any] = {
    "threshold": 0.5,
    "weights": {"heading": 0.6, "lead_in": 0.55, "cue": 0.7, "similarity": 0.45},
    "cue_rate": 0.8,
    "heading_cues": 0.0,
    "lead_chars": 160,
    "lead_bonus": 1.0,
    "similarity_margin": 1.0,
    "similarity_span": 1.0,
    "similarity_calibration": {},
    "secondary_threshold": 0.65,
    "secondary_support": 0.0,
    "secondary_excluded": {},
    "type_thresholds": {},
    "context_fallback": 0.55,
    "context_margin": 0.1,
    "min_letters": 25,
}
_SIGNALS = ("heading", "lead_in", "cue", "similarity")
_TYPE_KEYS = {"descriptions", "headings", "cues"}
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "´": "'", "ʹ": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


class CueFileError(UsageError):
    """The cue file cannot be read or is malformed; the message names the place."""


#: both tables as one {character: replacement}: no replacement holds a character to replace
_REPLACE = {chr(k): v for table in (_APOSTROPHES, _LIGATURES) for k, v in table.items()}
_REPLACED = frozenset(_REPLACE)
_ASCII_REPLACED = tuple(ch for ch in _REPLACE if ch.isascii())


def strip_accents(text: str) -> str:
    """Remove diacritics, unify apostrophes and ligatures; keeps case.

    ``str.replace`` per character present rather than ``str.translate``, which is an
    order of magnitude slower on non-ASCII text (the result is the same).
    """
    if text.isascii():  # NFKD leaves ASCII as it is, and it has no combining marks
        for ch in _ASCII_REPLACED:
            text = text.replace(ch, _REPLACE[ch])
        return text
    for ch in _REPLACED.intersection(text):
        text = text.replace(ch, _REPLACE[ch])
    decomposed = unicodedata.normalize("NFKD", text)
    for ch in [c for c in set(decomposed) if c > "\x7f" and unicodedata.combining(c)]:
        decomposed = decomposed.replace(ch, "")
    return decomposed


def fold(text: str) -> str:
    """What cues are matched against: no accents, one kind of apostrophe, lower case.

    NFKD decomposition keeps one character per base letter, so offsets stay close to
    those of the original text (enough for "is this near the start").
    """
    return strip_accents(text).casefold()


_TOKEN = re.compile(r"\w+")


class FoldedText:
    """A text folded once and split into words, so that hundreds of phrases match fast."""

    def __init__(self, text: str) -> None:
        self.text = fold(text)
        self.words: list[str] = _TOKEN.findall(self.text)
        self.positions: dict[str, list[int]] = {}
        for i, w in enumerate(self.words):
            self.positions.setdefault(w, []).append(i)
        self._sorted: list[str] | None = None

    @cached_property
    def starts(self) -> list[int]:
        """Offset of each word in ``text`` (computed when a match needs one)."""
        return [m.start() for m in _TOKEN.finditer(self.text)]

    def candidates(self, word: str, prefix: bool) -> list[int]:
        """Word indexes where ``word`` (or, with ``prefix``, a word starting with it) stands."""
        if not prefix:
            return self.positions.get(word, [])
        if self._sorted is None:
            self._sorted = sorted(self.positions)
        from bisect import bisect_left

        out: list[int] = []
        i = bisect_left(self._sorted, word)
        while i < len(self._sorted) and self._sorted[i].startswith(word):
            out.extend(self.positions[self._sorted[i]])
            i += 1
        return sorted(out)


@dataclass(frozen=True)
class Cue:
    """One compiled phrase or regular expression and its weight.

    Plain phrases are matched word by word on a ``FoldedText`` (fast); regular
    expressions, and phrases with a "*" inside a word, on the folded string.
    """

    source: str
    regex: re.Pattern[str]
    weight: float = 1.0
    words: tuple[tuple[str, bool], ...] | None = None

    def first(self, text: "str | FoldedText") -> int | None:
        """Offset of the first match in folded ``text`` (a str is taken as already folded)."""
        if isinstance(text, FoldedText):
            if self.words is not None:
                return self._first_words(text)
            text = text.text
        m = self.regex.search(text)
        return m.start() if m else None

    def _first_words(self, doc: FoldedText) -> int | None:
        (head, head_prefix), rest = self.words[0], self.words[1:]  # type: ignore[index]
        for i in doc.candidates(head, head_prefix):
            if i + len(rest) >= len(doc.words) + (0 if rest else 1):
                continue
            ok = True
            for k, (word, prefix) in enumerate(rest, start=1):
                have = doc.words[i + k]
                if not (have.startswith(word) if prefix else have == word):
                    ok = False
                    break
            if ok:
                return doc.starts[i]
        return None


@dataclass(frozen=True)
class TypeCues:
    name: str
    descriptions: tuple[str, ...]
    headings: tuple[Cue, ...]
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class Calibration:
    """How one embedding model spreads similarities to the label descriptions.

    ``scale`` is the standard deviation, over a corpus's passages, of a passage's
    similarity to a type's descriptions minus its mean similarity to all types (taken
    about each type's own mean); ``center`` is that difference's mean per type (a type whose descriptions are close to
    every passage gets no evidence for free). Both are measured without any labels
    (``bench/lessons_eval.py --calibrate``) and hold only for the descriptions whose
    fingerprint is ``descriptions``.
    """

    scale: float
    center: Mapping[str, float]
    descriptions: str = ""


@dataclass(frozen=True)
class Scoring:
    threshold: float
    weights: Mapping[str, float]
    cue_rate: float
    heading_cues: float
    lead_chars: int
    lead_bonus: float
    similarity_margin: float
    similarity_span: float
    similarity_calibration: Mapping[str, Calibration]
    secondary_threshold: float
    secondary_support: float
    secondary_excluded: Mapping[str, tuple[str, ...]]
    type_thresholds: Mapping[str, float]
    context_fallback: float
    context_margin: float
    min_letters: int


@dataclass(frozen=True)
class Cues:
    """A loaded, validated cue file."""

    path: Path
    fingerprint: str
    version: int
    scoring: Scoring
    types: Mapping[str, TypeCues] = field(default_factory=dict)
    #: how much text about the document itself ("the evaluation will examine the risks")
    #: lowers every lesson type, and the cues that recognise such text
    meta_weight: float = 0.0
    meta: tuple[Cue, ...] = ()
    #: headings of the document's apparatus (references, resources, contents): no type at all
    meta_headings: tuple[Cue, ...] = ()
    #: a passage this short (letters) that is mostly about the document ("for more practices,
    #: visit ...") gets no type either
    meta_short: int = 0

    def descriptions(self) -> list[tuple[str, str]]:
        """(type, description) for every description, in a stable order."""
        return [(t, d) for t in TYPES for d in self.types[t].descriptions]

    @property
    def descriptions_fingerprint(self) -> str:
        """A short hash of the descriptions: a model's calibration holds only for these."""
        text = "\n".join(f"{t}\t{d}" for t, d in self.descriptions())
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def cues_fingerprint(path: str | Path | None = None) -> str:
    """A short hash of the cue file's bytes (and of the labeler version).

    The store keeps it beside the labels: when it differs, labels are due for a
    re-labelling (which reuses stored vectors and embeds nothing).
    """
    path = Path(path) if path else DEFAULT_CUES_PATH
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CueFileError(f"cannot read lesson cue file {path}: {err.strerror or err}") from err
    return _fingerprint(data)


def _fingerprint(data: bytes) -> str:
    digest = hashlib.sha256(f"kb-lessons/{LABELER_VERSION}\n".encode() + data)
    return digest.hexdigest()[:16]


def load_cues(path: str | Path | None = None) -> Cues:
    """Read and validate the cue file (the packaged one by default)."""
    import yaml

    path = Path(path) if path else DEFAULT_CUES_PATH
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CueFileError(f"cannot read lesson cue file {path}: {err.strerror or err}") from err
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise CueFileError(f"{path}: not valid YAML: {err}") from err
    return parse_cues(raw, path=path, fingerprint=_fingerprint(data))


def parse_cues(raw: Any, path: str | Path = "<cues>", fingerprint: str = "") -> Cues:
    """Validate an already-parsed cue mapping (what ``load_cues`` does after reading)."""
    where = str(path)
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping with 'types:' at the top")
    unknown = set(raw) - {"version", "scoring", "types", "meta"}
    if unknown:
        raise CueFileError(f"{where}: unknown top-level key(s): {', '.join(sorted(map(str, unknown)))}")
    version = raw.get("version", 1)
    if version != 1:
        raise CueFileError(f"{where}: version must be 1, got {version!r}")
    scoring = _scoring(raw.get("scoring") or {}, where)
    types_raw = raw.get("types")
    if not isinstance(types_raw, Mapping):
        raise CueFileError(f"{where}: 'types:' must map each lesson type to its cues")
    extra = set(types_raw) - set(TYPES)
    if extra:
        raise CueFileError(
            f"{where}: unknown lesson type(s) {', '.join(sorted(map(str, extra)))}; the types are {', '.join(TYPES)}"
        )
    missing = [t for t in TYPES if t not in types_raw]
    if missing:
        raise CueFileError(f"{where}: missing lesson type(s): {', '.join(missing)}")
    types = {t: _type_cues(t, types_raw[t], f"{where}: types.{t}") for t in TYPES}
    meta_weight, meta, meta_headings, meta_short = _meta(raw.get("meta"), f"{where}: meta")
    return Cues(Path(path), fingerprint, version, scoring, types, meta_weight, tuple(meta),
                tuple(meta_headings), meta_short)


def _meta(raw: Any, where: str) -> tuple[float, list[Cue], list[Cue], int]:
    """``meta:``: cues of text about the document itself, which lower every lesson type;
    headings of its apparatus and the length below which such text gets no type."""
    if raw is None:
        return 0.0, [], [], 0
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping with 'weight' and 'cues'")
    unknown = set(raw) - {"weight", "cues", "headings", "short"}
    if unknown:
        raise CueFileError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                           "expected cues, headings, short, weight")
    return (_number(raw.get("weight", 0.5), f"{where}.weight", 0.0, 1.0), _patterns(raw.get("cues"), f"{where}.cues"),
            _patterns(raw.get("headings"), f"{where}.headings"),
            int(_number(raw.get("short", 0), f"{where}.short", 0, 100_000)))


def _number(value: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise CueFileError(f"{where}: expected a number, got {value!r}")
    if not lo <= value <= hi:
        raise CueFileError(f"{where}: must be between {lo} and {hi}, got {value}")
    return float(value)


def _scoring(raw: Any, where: str) -> Scoring:
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: 'scoring:' must be a mapping")
    unknown = set(raw) - set(_SCORING_DEFAULTS)
    if unknown:
        raise CueFileError(f"{where}: scoring: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    merged = {**_SCORING_DEFAULTS, **raw}
    weights_raw = merged["weights"]
    if not isinstance(weights_raw, Mapping):
        raise CueFileError(f"{where}: scoring.weights must be a mapping")
    bad = set(weights_raw) - set(_SIGNALS)
    if bad:
        raise CueFileError(
            f"{where}: scoring.weights: unknown signal(s) {', '.join(sorted(map(str, bad)))}; "
            f"the signals are {', '.join(_SIGNALS)}"
        )
    weights = {**_SCORING_DEFAULTS["weights"], **weights_raw}
    return Scoring(
        threshold=_number(merged["threshold"], f"{where}: scoring.threshold", 0.01, 0.99),
        weights={k: _number(v, f"{where}: scoring.weights.{k}", 0.0, 1.0) for k, v in weights.items()},
        cue_rate=_number(merged["cue_rate"], f"{where}: scoring.cue_rate", 0.01, 10.0),
        heading_cues=_number(merged["heading_cues"], f"{where}: scoring.heading_cues", 0.0, 2.0),
        lead_chars=int(_number(merged["lead_chars"], f"{where}: scoring.lead_chars", 0, 10_000)),
        lead_bonus=_number(merged["lead_bonus"], f"{where}: scoring.lead_bonus", 0.0, 10.0),
        similarity_margin=_number(merged["similarity_margin"], f"{where}: scoring.similarity_margin", -10.0, 10.0),
        similarity_span=_number(merged["similarity_span"], f"{where}: scoring.similarity_span", 0.01, 20.0),
        similarity_calibration=_calibrations(merged["similarity_calibration"],
                                             f"{where}: scoring.similarity_calibration"),
        secondary_threshold=_number(merged["secondary_threshold"], f"{where}: scoring.secondary_threshold", 0.01, 1.0),
        secondary_support=_number(merged["secondary_support"], f"{where}: scoring.secondary_support", 0.0, 1.0),
        secondary_excluded=_exclusions(merged["secondary_excluded"], f"{where}: scoring.secondary_excluded"),
        type_thresholds=_type_thresholds(merged["type_thresholds"], f"{where}: scoring.type_thresholds"),
        context_fallback=_number(merged["context_fallback"], f"{where}: scoring.context_fallback", 0.0, 1.0),
        context_margin=_number(merged["context_margin"], f"{where}: scoring.context_margin", -1.0, 1.0),
        min_letters=int(_number(merged["min_letters"], f"{where}: scoring.min_letters", 0, 100_000)),
    )


def _calibrations(raw: Any, where: str) -> dict[str, Calibration]:
    """{model name: {scale: s, center: {type: c}, descriptions: fingerprint}}."""
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping of a model name to its calibration")
    out: dict[str, Calibration] = {}
    for model, item in raw.items():
        place = f"{where}.{model}"
        if not isinstance(model, str) or not isinstance(item, Mapping):
            raise CueFileError(f"{place}: expected {{scale: ..., center: {{type: ...}}, descriptions: ...}}")
        unknown = set(item) - {"scale", "center", "descriptions"}
        if unknown or "scale" not in item:
            raise CueFileError(f"{place}: expected scale, center and descriptions, got {', '.join(map(str, item))}")
        center = item.get("center") or {}
        if not isinstance(center, Mapping) or any(k not in TYPES for k in center):
            raise CueFileError(f"{place}.center: expected a mapping of a lesson type to a number")
        fingerprint = item.get("descriptions", "")
        if not isinstance(fingerprint, str):
            raise CueFileError(f"{place}.descriptions: expected the descriptions' fingerprint (a string)")
        out[model] = Calibration(
            scale=_number(item["scale"], f"{place}.scale", 1e-4, 10.0),
            center={t: _number(v, f"{place}.center.{t}", -1.0, 1.0) for t, v in center.items()},
            descriptions=fingerprint,
        )
    return out


def _type_thresholds(raw: Any, where: str) -> dict[str, float]:
    """{lesson type: its own threshold} (the others use ``threshold``)."""
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping of a lesson type to a number")
    bad = [k for k in raw if k not in TYPES]
    if bad:
        raise CueFileError(f"{where}: unknown lesson type(s) {', '.join(map(str, bad))}")
    return {k: _number(v, f"{where}.{k}", 0.01, 0.99) for k, v in raw.items()}


def _exclusions(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    """{first type: [types never added beside it]}."""
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping of a lesson type to a list of lesson types")
    out: dict[str, tuple[str, ...]] = {}
    for first, others in raw.items():
        items = [others] if isinstance(others, str) else others
        if first not in TYPES or not isinstance(items, list) or any(o not in TYPES for o in items):
            raise CueFileError(f"{where}: {first!r}: {others!r} is not a lesson type and a list of lesson types")
        out[first] = tuple(items)
    return out


def _type_cues(name: str, raw: Any, where: str) -> TypeCues:
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping with descriptions, headings and cues")
    unknown = set(raw) - _TYPE_KEYS
    if unknown:
        raise CueFileError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; expected {', '.join(sorted(_TYPE_KEYS))}"
        )
    descriptions = [d for _, items in _by_language(raw.get("descriptions"), f"{where}.descriptions") for d in items]
    for i, d in enumerate(descriptions):
        if not isinstance(d, str) or not d.strip():
            raise CueFileError(f"{where}.descriptions: entry {i + 1} must be a non-empty string")
    if not descriptions:
        raise CueFileError(f"{where}.descriptions: give at least one description")
    headings = _patterns(raw.get("headings"), f"{where}.headings")
    cues = _patterns(raw.get("cues"), f"{where}.cues")
    if not cues:
        raise CueFileError(f"{where}.cues: give at least one cue")
    return TypeCues(name, tuple(d.strip() for d in descriptions), tuple(headings), tuple(cues))


def _by_language(raw: Any, where: str) -> list[tuple[str, list[Any]]]:
    """``{lang: [items]}`` (a single string is one item); ``None`` is empty."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise CueFileError(f"{where}: expected a mapping of language code to a list")
    out = []
    for lang, items in raw.items():
        if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}", lang):
            raise CueFileError(f"{where}: {lang!r} is not a language code such as en, fr or es")
        if items is None:
            continue
        if isinstance(items, (str, Mapping)):
            items = [items]
        if not isinstance(items, list):
            raise CueFileError(f"{where}.{lang}: expected a list")
        out.append((lang, items))
    return out


def _patterns(raw: Any, where: str) -> list[Cue]:
    out: list[Cue] = []
    for lang, items in _by_language(raw, where):
        for i, item in enumerate(items):
            place = f"{where}.{lang}[{i + 1}]"
            weight = 1.0
            if isinstance(item, Mapping):
                extra = set(item) - {"pattern", "weight"}
                if extra or "pattern" not in item:
                    raise CueFileError(f"{place}: expected {{pattern: ..., weight: ...}}")
                weight = _number(item.get("weight", 1.0), f"{place}.weight", 0.0, 10.0)
                item = item["pattern"]
            if not isinstance(item, str) or not item.strip():
                raise CueFileError(f"{place}: expected a phrase or /regular expression/, got {item!r}")
            out.append(Cue(item, compile_pattern(item, place), weight, phrase_words(item)))
    # languages are only for readability: a phrase listed under two of them ("obstacle*"
    # in en and fr) is one cue, counted once, with the larger weight
    unique: dict[str, Cue] = {}
    for cue in out:
        key = cue.source.strip() if cue.words is None else " ".join(
            w + ("*" if prefix else "") for w, prefix in cue.words)
        if key not in unique or unique[key].weight < cue.weight:
            unique[key] = cue
    return list(unique.values())


def phrase_words(text: str) -> tuple[tuple[str, bool], ...] | None:
    """A phrase as (word, is_prefix) pairs, or None when only a regex can match it."""
    text = text.strip()
    if text.startswith("/") and text.endswith("/") and len(text) >= 2:
        return None
    out: list[tuple[str, bool]] = []
    for raw in fold(text).split():
        prefix = raw.endswith("*")
        core = raw.rstrip("*")
        pieces = _TOKEN.findall(core)
        if not pieces or "*" in core or "".join(pieces) != re.sub(r"\W", "", core):
            return None
        # "d'apres" is two words in the text too; only the last piece may be a prefix
        out.extend((piece, prefix and k == len(pieces) - 1) for k, piece in enumerate(pieces))
    return tuple(out) or None


def compile_pattern(text: str, where: str = "cue") -> re.Pattern[str]:
    """A phrase ("lessons learned", "obstacle*") or a /regex/ as a pattern over folded text."""
    text = text.strip()
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        body = strip_accents(text[1:-1])
        try:
            return re.compile(body, re.IGNORECASE | re.MULTILINE)
        except re.error as err:
            raise CueFileError(f"{where}: bad regular expression {text}: {err}") from err
    words = fold(text).split()
    parts = []
    for word in words:
        if not word.replace("*", ""):
            raise CueFileError(f"{where}: {text!r}: '*' must follow letters")
        parts.append(r"\w*".join(re.escape(piece) for piece in word.split("*")))
    body = r"\s+".join(parts)
    tail = "" if words[-1].endswith("*") else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{tail}")
