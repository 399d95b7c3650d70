"""What is refused before the application reads a byte of the body: a missing or wrong API key
(401) and a body over the size limit (413).

FastAPI reads and parses a request's JSON before it runs the dependencies, so with the key
checked only there, an anonymous client could make the server parse a body of any size and
learn the schema from its 422s. This plain ASGI middleware answers first. The routes keep the
``require_key`` dependency (api/security.py) so that ``/openapi.json`` documents the schemes.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from api import web
from api.security import UNAUTHORIZED, key_matches

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the largest request body: a /briefs request at its limits (30 topics of 12 questions of
#: 2,000 characters, intros of 5,000) is ~1 MB of JSON in a Latin script
MAX_BODY_BYTES = 4 * 2**20
#: paths open without the key: liveness and the API's own documentation (pages, and the
#: Swagger UI / ReDoc files under DOCS_ASSETS); the web page's files too (api.web.is_public)
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_ASSETS = "/docs-assets"


async def _answer(send: Send, status: int, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    def __init__(self, app: ASGIApp, api_key: str | None = None, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        # CORS preflights carry no credentials by design; the CORS middleware outside answers them
        if (self.api_key and scope["method"] != "OPTIONS" and scope["path"] not in PUBLIC_PATHS
                and not scope["path"].startswith(DOCS_ASSETS + "/") and not web.is_public(scope["path"])
                and not key_matches(headers, self.api_key)):
            await _answer(send, 401, UNAUTHORIZED, ((b"www-authenticate", b"Bearer"),))
            return
        too_large = f"the request body is over {self.max_body // 2**20} MB"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            await _answer(send, 413, too_large)
            return
        seen = 0
        started = answered = False

        async def counted() -> Message:  # a body sent without a length (chunked) is counted as it comes
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and not answered:
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    # answer now and tell the app the client has gone: whatever it does next is dropped
                    if not started:
                        await _answer(send, 413, too_large)
                    answered = True
            return {"type": "http.disconnect"} if answered else message

        async def tracked(message: Message) -> None:
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked)
