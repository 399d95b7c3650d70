"""``POST /search``: the contract's result object for one query."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from api.routes import errors, json_body, service, while_connected
from api.schemas import SearchRequest, SearchResponse
from api.service import ApiService

router = APIRouter(tags=["search"])


@router.post(
    "/search", response_model=SearchResponse, response_model_exclude_unset=True,
    dependencies=[Depends(json_body)], responses=errors(404, 413, 415, 422),
    summary="Top passages for a query, each with its citation",
)
async def search(body: SearchRequest, request: Request, svc: ApiService = Depends(service)) -> dict[str, object]:
    return await while_connected(request, svc.search, **body.library_args())
