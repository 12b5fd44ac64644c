"""GET /v1/markers (= `kb markers --format json`, `?search=` = `kb markers --search`) and /v1/markers/{id}."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from kb import query as q
from schemas.api import MarkerResult, MarkersResult
from web.database import Database, database
from web.responses import paginate
from web.routes import PROBLEMS, limit_query, offset_query

router = APIRouter(prefix="/v1", tags=["markers"])


@router.get("/markers", response_model=MarkersResult, responses=PROBLEMS)
async def markers(request: Request,
                  search: Optional[str] = Query(None, description="Fuzzy search over names and aliases, best first."),
                  limit: Optional[int] = limit_query(), offset: Optional[int] = offset_query(),
                  db: Database = Depends(database)):
    """Every marker by name, with kind, unit, codes, aliases and number of accepted items; or the markers
    matching `search`, best first, each with the spelling that matched."""
    return await db.json(request, lambda con: paginate(q.markers(search, con=con), "markers", limit, offset))


@router.get("/markers/{marker_id}", response_model=MarkerResult, responses=PROBLEMS)
async def marker(request: Request, marker_id: str, db: Database = Depends(database)):
    """One marker by id: aliases, codes, description and its evidence items counted by status."""
    return await db.json(request, lambda con: q.marker(marker_id, con=con))
