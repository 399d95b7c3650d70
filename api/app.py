"""The FastAPI application and ``run`` (what ``kb serve`` calls).

``create_app`` opens the index once; the embedding model, the vectors and the language
profiles are loaded before the server accepts a connection (``run`` warms them up before
uvicorn binds; the lifespan hook does it for other ASGI servers). After that, the index
follows other processes' ingests by itself: ``kb.index.Index.vectors`` reloads when the
SQLite generation moves on, and ``ApiService`` reads each request from one snapshot.

Serve it another way with ``uvicorn --factory api.app:factory`` (settings from the
environment: ``KB_INDEX``, ``KB_API_KEY``, ``KB_CORS_ORIGINS``).
"""

from __future__ import annotations

import copy
import logging
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

import kb
from api import errors
from api.gate import DOCS_ASSETS, Gate
from api.logging_mw import RequestLog
from api.routes import briefs, documents, errors as error_responses, health, passages, search, types, web
from api.security import require_key
from api.service import ApiService
from kb.errors import KBError, NotPermittedError, UsageError
from kb.library import KnowledgeBase
from kb.settings import Settings

log = logging.getLogger("kb.api")

#: every endpoint group, in the order /docs shows them; a new group is one more line
ROUTERS = (
    search,
    types,
    health,
    documents,
    passages,
    briefs,
    web,  # the page at / (api/web): not in /docs
)

KEEP_ALIVE_SECONDS = 30

DESCRIPTION = """Semantic search with citations over multilingual policy documents.

`POST /search` returns the best passages for a question in any language, each with its
citation (document, physical page, paragraph). Bad input is answered with a 4xx whose
`detail` says what to fix. When the server has an API key (`KB_API_KEY`), send it as
`X-API-Key: <key>` or `Authorization: Bearer <key>`; `/health` stays open.
"""


def create_app(settings: Settings | None = None, knowledge_base: KnowledgeBase | None = None) -> FastAPI:
    """The API over ``knowledge_base`` (opened from ``settings`` when not given).

    Raises ``kb.errors.IndexMissingError`` (or another ``KBError``) if the index cannot be opened.
    """
    settings = settings or Settings.from_env()
    owned = knowledge_base is None
    library = knowledge_base or KnowledgeBase.open(settings)
    service = ApiService(library)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.warm_up)
        log.info("serving %s: %s", library.index.dir, service.health())
        yield
        service.close()
        if owned:
            library.close()

    # /docs and /redoc from files inside the fastapi-offline package: FastAPI's own pages load
    # Swagger UI from a CDN, which is a blank page on a machine without internet
    app = FastAPIOffline(title="kb", version=kb.__version__, description=DESCRIPTION, lifespan=lifespan,
                         static_url=DOCS_ASSETS)
    app.state.service = service
    errors.install(app)
    guard = [require_key(settings.api_key)] if settings.api_key else []
    for module in ROUTERS:
        public = getattr(module, "PUBLIC", False) or not guard
        app.include_router(module.router, dependencies=[] if public else guard,
                           responses={} if public else error_responses(401))
    app.add_middleware(Gate, api_key=settings.api_key)  # inside CORS, so a 401 or 413 still carries its headers
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"], max_age=600,
        )
    app.add_middleware(RequestLog)  # outermost: times everything, CORS preflights included
    return app


def factory() -> FastAPI:
    """For ``uvicorn --factory api.app:factory``: settings from the environment."""
    return create_app(Settings.from_env())


def log_config(level: str) -> dict[str, object]:
    """uvicorn's logging setup plus the ``kb.api`` request log on the same stream."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    std_level = "DEBUG" if level.lower() == "trace" else level.upper()
    config["loggers"]["kb.api"] = {"handlers": ["default"], "level": std_level, "propagate": False}
    return config


def _check_port(host: str, port: int) -> None:
    """Refuse a port that cannot be bound before loading anything (uvicorn would exit with its own
    code 3 after the model loaded, which kb uses for "model mismatch")."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(f"--host {host!r} is not an address of this machine: {err.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            raise NotPermittedError(f"cannot listen on {host}:{port}: {err.strerror} "
                                    "(another server there? choose another --port)") from None


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Open the index, load the model, then serve until interrupted.

    An index that is missing (or built with another model) is reported in one line on
    stderr and the process exits with the library's exit code, before any port is bound.
    """
    import uvicorn

    try:
        _check_port(host, port)
        app = create_app(settings)
        app.state.service.warm_up()
    except KBError as err:
        print(f"kb: error: {err}", file=sys.stderr)
        raise SystemExit(err.exit_code) from None
    # keep-alive longer than common clients' pool expiry (httpx: 5 s, the same as uvicorn's
    # default), so a pooled connection is not closed just as the client reuses it
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                log_config=log_config(log_level), timeout_keep_alive=KEEP_ALIVE_SECONDS)
