"""``POST /search``: the contract's result object for one query."""

from __future__ import annotations

from email.message import Message

from fastapi import APIRouter, Depends, HTTPException, Request

from api.routes import errors, service
from api.schemas import SearchRequest, SearchResponse
from api.service import ApiService

router = APIRouter(tags=["search"])


async def json_body(request: Request) -> None:
    """A body sent as anything but JSON gets a 415 that says so (FastAPI alone would say 422)."""
    if not await request.body():
        return
    header = Message()
    header["content-type"] = request.headers.get("content-type", "")
    subtype = header.get_content_subtype()
    if header.get_content_maintype() != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise HTTPException(415, "send the body as JSON, with the header 'Content-Type: application/json'")


@router.post(
    "/search", response_model=SearchResponse, response_model_exclude_unset=True,
    dependencies=[Depends(json_body)], responses=errors(415, 422),
    summary="Top passages for a query, each with its citation",
)
def search(body: SearchRequest, svc: ApiService = Depends(service)) -> dict[str, object]:
    return svc.search(**body.library_args())
