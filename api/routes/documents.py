"""``GET /documents`` (paginated), ``GET /documents/{doc_id}`` and its original file."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from api.files import MEDIA
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


@router.get(
    "/documents/{doc_id}/file", response_class=Response, responses={
        200: {"content": {media: {} for media, _ in MEDIA.values()}, "description": "The file as ingested"},
        **errors(404, 409, 422)},
    summary="The document's original file, unchanged since ingest (PDFs: append #page=N)",
)
def document_file(doc_id: str, svc: ApiService = Depends(service)) -> Response:
    return svc.document_file(doc_id)
