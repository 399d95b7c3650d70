"""``GET /types``: how many passages of each lesson type, per language (as `kb types --json`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.routes import service
from api.schemas import TypeCounts
from api.service import ApiService

router = APIRouter(tags=["search"])


@router.get("/types", response_model=TypeCounts, summary="Passages per lesson type and language")
def types(svc: ApiService = Depends(service)) -> dict[str, object]:
    return svc.types()
