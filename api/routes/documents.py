"""``GET /documents`` (paginated) and ``GET /documents/{doc_id}``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.routes import errors, service
from api.schemas import OFFSET_MAX, PAGE_MAX, DocumentOut, DocumentPage
from api.service import ApiService

router = APIRouter(tags=["documents"])


@router.get("/documents", response_model=DocumentPage, responses=errors(422), summary="Documents in the index, by id")
def documents(
    limit: int = Query(50, ge=1, le=PAGE_MAX, description="Page size."),
    offset: int = Query(0, ge=0, le=OFFSET_MAX, description="Documents to skip."),
    svc: ApiService = Depends(service),
) -> dict[str, object]:
    return svc.documents(limit, offset)


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses=errors(404, 422), summary="One document's metadata")
def document(doc_id: str, svc: ApiService = Depends(service)) -> dict[str, object]:
    return svc.document(doc_id)
