"""One module per resource, each exporting ``router``; ``api.app.ROUTERS`` lists them.

Adding an endpoint group (``POST /briefs`` when briefing packs exist) is a new module here
plus one line in ``ROUTERS``. Handlers are one line each: parse (pydantic did it),
delegate to ``ApiService``, return the library's dict (the response model validates it).
"""

from __future__ import annotations

from fastapi import Request

from api.schemas import ErrorOut
from api.service import ApiService


def service(request: Request) -> ApiService:
    """The app's shared ``ApiService`` (a dependency, so handlers stay one line)."""
    return request.app.state.service


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` for the error codes a route can answer with."""
    return {code: {"model": ErrorOut} for code in codes}
