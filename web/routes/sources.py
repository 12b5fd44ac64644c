"""GET /v1/sources (= `kb sources --format json`) and GET /v1/documents/{id} (text, or a slice of it)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from kb import query as q
from schemas.api import DocumentResult, SourcesResult
from web.database import Database, database
from web.responses import paginate
from web.routes import PROBLEMS, limit_query, offset_query

router = APIRouter(prefix="/v1", tags=["sources"])


@router.get("/sources", response_model=SourcesResult, responses=PROBLEMS)
async def sources(request: Request, limit: Optional[int] = limit_query(), offset: Optional[int] = offset_query(),
                  db: Database = Depends(database)):
    """The sources (by id) with their bibliographic data and renditions (documents)."""
    return await db.json(request, lambda con: paginate(q.sources(con=con), "sources", limit, offset))


@router.get("/documents/{document_id}", response_model=DocumentResult, responses=PROBLEMS)
async def document(request: Request, document_id: str,
                   start: Optional[int] = Query(None, ge=0, description="First character (offset into the text)."),
                   end: Optional[int] = Query(None, ge=0, description="One past the last character."),
                   db: Database = Depends(database)):
    """A document's metadata, sha256 and text; with start/end only text[start:end], as evidence links cite it."""
    return await db.json(request, lambda con: q.document(document_id, start, end, con=con))
