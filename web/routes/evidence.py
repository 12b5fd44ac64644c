"""GET /v1/evidence (= `kb query --format json`) and GET /v1/evidence/{id} (= `kb show ID --format json`)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from kb import query as q
from schemas.api import EvidenceResult, ShowResult
from web.database import Database, database
from web.responses import paginate
from web.routes import PROBLEMS, limit_query, offset_query

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.get("/evidence", response_model=EvidenceResult, responses=PROBLEMS)
async def evidence(request: Request,
                   marker: Optional[str] = Query(None, description="Marker name or any spelling (fuzzy: 'lactate dehydrogenase' finds LDH); omitted: every marker."),
                   disease: Optional[str] = Query(None, description="Disease: name, synonym or code (C83.3, DOID:0050745, NCIT:C8851); includes its subtypes (LBCL includes DLBCL)."),
                   therapy: Optional[str] = Query(None, description="Therapy (axi-cel, ...) or class (CD19 CAR-T)."),
                   direction: Optional[str] = Query(None, description="unfavorable | favorable | mixed | none"),
                   type: Optional[str] = Query(None, description="predictive | prognostic | ... | mechanistic"),
                   status: str = Query("accepted", description="accepted (default) | submitted | rejected | all"),
                   source: Optional[str] = Query(None, description="A source id (see /v1/sources)."),
                   broader: bool = Query(False, description="With disease: include evidence recorded at the disease's ancestors (each item's `disease_match` says how it relates)."),
                   context: Optional[str] = Query(None, description="clinical | preclinical | background (default: all)."),
                   limit: Optional[int] = limit_query(), offset: Optional[int] = offset_query(),
                   db: Database = Depends(database)):
    """Evidence items for a marker and filters, strongest first (level, then number of patients, then id)."""
    return await db.json(request, lambda con: paginate(
        q.evidence(marker, disease, therapy, direction, type, status, source, broader, context=context, con=con),
        "evidence", limit, offset))


@router.get("/evidence/{evidence_id}", response_model=ShowResult, responses=PROBLEMS)
async def show(request: Request, evidence_id: str,
               window: int = Query(200, ge=0, le=100_000, description="Characters of document text shown around each quote."),
               db: Database = Depends(database)):
    """One evidence item, each link with the document text around its quote (`before`, `after`)."""
    return await db.json(request, lambda con: q.show(evidence_id, window, con=con))
