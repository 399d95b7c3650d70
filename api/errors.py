"""Error answers: every failure caused by the request is a 4xx with a ``detail`` that says why.

FastAPI's own 422 body is kept in shape (a list of ``{loc, msg, type}``) but without the
echoed ``input``: that can be a 2,000-character query, or text that cannot even be encoded
back to UTF-8. Library errors are mapped by class; anything else is a bug, logged with its
traceback and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.service import ClientGone, NotFound
from kb.errors import EmptyIndexError, IndexBusyError, KBError, UnknownIdError, UsageError

log = logging.getLogger("kb.api")

#: library error class -> HTTP status; the first match (in order) wins
STATUS_FOR: tuple[tuple[type[KBError], int], ...] = (
    (ClientGone, 499),  # nginx's "client closed request": only the log sees it
    (NotFound, 404),
    (UnknownIdError, 404),
    (EmptyIndexError, 409),
    (UsageError, 422),
    (IndexBusyError, 503),
)


def _item(error: dict[str, Any]) -> dict[str, Any]:
    msg = str(error.get("msg", "invalid value"))
    ctx = error.get("ctx") or {}
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if error.get("type") == "json_invalid" and ctx.get("error"):
        msg = f"the body is not valid JSON: {ctx['error']}"
    loc = [part if isinstance(part, (str, int)) else str(part) for part in error.get("loc", ())]
    return {"loc": loc, "msg": msg, "type": str(error.get("type", "value_error"))}


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": [_item(e) for e in exc.errors()]})


def _unreadable(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    return str(cause) or type(cause).__name__


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI answers a body that ``json.loads`` cannot even decode (bad UTF-8, absurd nesting,
    a 5,000-digit number) with a bare 400; say why, in the same 422 shape as any other bad JSON."""
    assert isinstance(exc, HTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, (UnicodeDecodeError, RecursionError, ValueError)):
        item = {"loc": ["body"], "msg": f"the body is not valid JSON: {_unreadable(cause)}", "type": "json_invalid"}
        return JSONResponse(status_code=422, content={"detail": [item]})
    return await http_exception_handler(request, exc)


async def kb_error(request: Request, exc: Exception) -> JSONResponse:
    for cls, status in STATUS_FOR:
        if isinstance(exc, cls):
            return JSONResponse(status_code=status, content={"detail": str(exc)})
    log.error("library error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=500, content={"detail": f"the index could not answer: {exc}"})


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal error (logged on the server)"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(KBError, kb_error)
    app.add_exception_handler(Exception, unexpected_error)
