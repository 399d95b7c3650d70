"""Whether a sentence-transformers model can be loaded here, asked before torch is imported.

A name that is neither a folder nor in the local Hugging Face cache is fetched from the model
hub. With no network, huggingface_hub retries for about a minute before it gives up (55 s
for ``kb search --rerank nosuch``, measured on a machine without internet). One connection
attempt tells the same at once, and the error can say what to do instead.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from kb.errors import UsageError

#: seconds one connection attempt to the hub may take
TIMEOUT = 3.0
_PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _cached(model: str) -> bool:
    """In the local hub cache, under its own name or the organisation sentence-transformers adds."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # sentence-transformers brings it; without it the caller says what to install
        return True
    names = [model] if "/" in model else [model, f"sentence-transformers/{model}", f"cross-encoder/{model}"]
    for name in names:
        try:
            if isinstance(try_to_load_from_cache(name, "config.json"), str):
                return True
        except Exception:  # noqa: BLE001 - a name the hub would refuse ("a b"): let the loader say so
            return True
    return False


def check_loadable(model: str, what: str) -> None:
    """Raise a UsageError now if ``model`` can only come from a hub this machine cannot reach.

    ``what`` names the model's role in the message ("cross-encoder", "embedding model").
    """
    if Path(model).expanduser().is_dir() or _cached(model):
        return
    if _offline():
        raise UsageError(f"{what} {model!r} is neither a folder nor in the local model cache, and "
                         "HF_HUB_OFFLINE is set: give the folder the model is in")
    if any(os.environ.get(v) for v in _PROXIES):
        return  # the hub is reached through a proxy: only the loader can tell
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=TIMEOUT).close()
    except OSError as err:
        raise UsageError(f"{what} {model!r} is neither a folder nor in the local model cache, and the "
                         f"model hub ({host}) cannot be reached ({err.strerror or err}): give the folder "
                         "the model is in") from err
