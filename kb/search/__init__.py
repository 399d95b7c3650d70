"""Search, one module per stage: query -> retrieve (dense, keyword, companion) -> fuse -> cite.

query.py checks a request; language.py tells the question's language; searcher.py runs the
retrievers; fusion.py merges their lists; group.py folds translations and duplicates;
rerank.py and nonanswer.py adjust scores; cite.py builds citations. Names are re-exported
lazily so that checking a query never loads the index, FAISS or a model.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Searcher": "kb.search.searcher",
    "Query": "kb.search.query", "MODES": "kb.search.query", "is_blank": "kb.search.query",
    "is_blank_char": "kb.search.query", "lang_codes": "kb.search.query",
    "in_sorted": "kb.search.fusion", "fuse": "kb.search.fusion", "Candidate": "kb.search.fusion",
    "keep_language_shares": "kb.search.fusion",
    "citation_for": "kb.search.cite", "GROUP_DEPTH": "kb.search.searcher", "only_links": "kb.text.urls",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kb.search' has no attribute {name!r}")
