"""``GET /health``: liveness plus what is being served (always open, even with an API key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.routes import service
from api.schemas import Health
from api.service import ApiService

router = APIRouter(tags=["health"])
PUBLIC = True  # not behind the API key


@router.get("/health", response_model=Health, summary="Status, document and passage counts, model")
def health(svc: ApiService = Depends(service)) -> dict[str, object]:
    return svc.health()


@router.head("/health", include_in_schema=False)
def health_head(svc: ApiService = Depends(service)) -> Response:
    """For uptime monitors and load balancers that probe with HEAD: 200 when the index answers."""
    svc.health()
    return Response(status_code=200)
