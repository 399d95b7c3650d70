"""``POST /briefs``: a briefing pack (Markdown or HTML) for a topics object, as `kb brief` makes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.routes import errors, json_body, service
from api.schemas import BriefRequest
from api.service import ApiService

router = APIRouter(tags=["briefs"])


@router.post(
    "/briefs", dependencies=[Depends(json_body)], responses={
        200: {"content": {"text/markdown": {}, "text/html": {}}, "description": "The pack"},
        **errors(415, 422)},
    response_class=Response, summary="A briefing pack: the best cited passages per topic, and the sources",
)
def briefs(body: BriefRequest, svc: ApiService = Depends(service)) -> Response:
    return svc.brief(body.topics_object(), body.format)
