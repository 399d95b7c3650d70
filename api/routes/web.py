"""The web page (api/web): ``/`` (search), ``/library`` (documents), ``/pack``, and their files.

Open without the API key (a browser cannot send a header when it follows a link); the page
then asks for the key once per tab and sends it with every API call it makes.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api import web

router = APIRouter(include_in_schema=False)
PUBLIC = True  # not behind the API key: see api.web.is_public, which the gate applies


@router.get("/")
def search_page() -> Response:
    return web.page("/")


@router.get("/library")
def library_page() -> Response:
    return web.page("/library")


@router.get("/pack")
def pack_page() -> Response:
    return web.page("/pack")


@router.get(web.ASSETS + "/static/{name}")
def asset(name: str) -> Response:
    return web.asset(name)


@router.get(web.ASSETS + "/vocabulary")
def vocabulary() -> Response:
    return JSONResponse(web.vocabulary(), headers={"Cache-Control": "no-cache"})
