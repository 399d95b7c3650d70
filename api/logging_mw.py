"""One log line per request on logger ``kb.api``: ``METHOD path status ms``.

A plain ASGI middleware (not ``BaseHTTPMiddleware``): it adds no task or stream copy to
each request, and it still sees the status of a request that failed with an exception.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

log = logging.getLogger("kb.api")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope["method"], _printable(scope), status, ms)


def _printable(scope: Scope) -> str:
    """The path as the client sent it (still percent-encoded), so that an encoded newline in it
    cannot start a forged log line; other servers' scopes may lack ``raw_path``: escape then."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else scope["path"]
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in path)
