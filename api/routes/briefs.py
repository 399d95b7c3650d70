"""``POST /briefs``: a briefing pack (Markdown, HTML or DOCX) for a topics object, as `kb brief` makes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.routes import errors, json_body, service, while_connected
from api.schemas import BriefRequest
from api.service import ApiService
from kb.brief import MEDIA_TYPES

router = APIRouter(tags=["briefs"])


@router.post(
    "/briefs", dependencies=[Depends(json_body)], responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()},
              "description": "The pack; its file name in `Content-Disposition`"},
        **errors(404, 409, 413, 415, 422)},
    response_class=Response, summary="A briefing pack: the best cited passages per topic, and the sources",
)
async def briefs(body: BriefRequest, request: Request, svc: ApiService = Depends(service)) -> Response:
    return await while_connected(request, svc.brief, topics=body.topics_object(), fmt=body.format)
