"""``GET /passages/{passage_id}``: one passage, its position and its citation."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.routes import errors, service
from api.schemas import PassageOut
from api.service import ApiService

router = APIRouter(tags=["passages"])


@router.get("/passages/{passage_id}", response_model=PassageOut, responses=errors(404, 422), summary="One passage with its citation")
def passage(passage_id: str, svc: ApiService = Depends(service)) -> dict[str, object]:
    return svc.passage(passage_id)
