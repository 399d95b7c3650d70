"""Ingestion, one module per stage: discover -> extract -> clean -> chunk -> (embed) -> store.

``prepare`` runs the per-document stages (extract, repair, clean, structure, chunk) in a
worker process; ``Ingestor`` (pipeline.py) embeds and commits each document in its own
transaction. Names are re-exported lazily: a worker that imports ``kb.ingest.chunk`` must
not pay for the index, FAISS and the models.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Ingestor": "kb.ingest.pipeline",
    "IngestReport": "kb.ingest.report", "FileOutcome": "kb.ingest.report", "EventHandler": "kb.ingest.report",
    "discover": "kb.ingest.discover", "excluded": "kb.ingest.discover", "slugify": "kb.ingest.discover",
    "PreparedDoc": "kb.ingest.prepare", "prepare": "kb.ingest.prepare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kb.ingest' has no attribute {name!r}")
