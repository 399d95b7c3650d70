"""One module per resource, each exporting ``router``; ``api.app.ROUTERS`` lists them.

Adding an endpoint group (``POST /briefs`` when briefing packs exist) is a new module here
plus one line in ``ROUTERS``. Handlers are one line each: parse (pydantic did it),
delegate to ``ApiService``, return the library's dict (the response model validates it).
"""

from __future__ import annotations

import asyncio
import threading
from email.message import Message
from typing import Any, Callable

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.schemas import ErrorOut
from api.service import ApiService


async def service(request: Request) -> ApiService:
    """The app's shared ``ApiService`` (a dependency, so handlers stay one line).

    ``async`` on purpose: a sync dependency would cost every request a thread-pool trip.
    """
    return request.app.state.service


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for the error codes a route can answer with."""
    return {code: {"model": ErrorOut} for code in codes}


async def json_body(request: Request) -> None:
    """A body sent as anything but JSON gets a 415 that says so (FastAPI alone would say 422)."""
    if not await request.body():
        return
    header = Message()
    header["content-type"] = request.headers.get("content-type", "")
    subtype = header.get_content_subtype()
    if header.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise HTTPException(415, "send the body as JSON, with the header 'Content-Type: application/json'")


async def while_connected(request: Request, work: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``work(**kwargs, abandoned=...)`` on the thread pool, where ``abandoned()`` turns true once
    the client has hung up: a request that waits its turn behind long searches, and whose
    caller gave up, is then skipped instead of computed for nobody."""
    gone = threading.Event()

    async def watch() -> None:
        while not gone.is_set():
            if await request.is_disconnected():
                gone.set()
                return
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        return await run_in_threadpool(work, **kwargs, abandoned=gone.is_set)
    finally:
        watcher.cancel()
