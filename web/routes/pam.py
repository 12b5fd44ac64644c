"""GET /v1/pam/models (the models) and GET /v1/pam/models/{id} (= `kb pam show ID --format json`)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request

from kb.pam import open as pam_open
from schemas.api import ModelShow, ModelsResult
from web.database import Database, database
from web.responses import paginate
from web.routes import PROBLEMS, limit_query, offset_query

router = APIRouter(prefix="/v1/pam", tags=["pam"])


@router.get("/models", response_model=ModelsResult, responses=PROBLEMS)
async def models(request: Request, limit: Optional[int] = limit_query(), offset: Optional[int] = offset_query(),
                 db: Database = Depends(database)):
    """The knowledge base's PAM models, by id: name, kind, classes and genes."""
    return await db.json(request, lambda con: paginate(pam_open.models(con=con), "models", limit, offset))


@router.get("/models/{model_id}", response_model=ModelShow, responses=PROBLEMS)
async def show(request: Request, model_id: str, db: Database = Depends(database)):
    """A model's genes, priors, reported performance with its evidence, and what the priors do."""
    return await db.json(request, lambda con: pam_open.show(model_id, con=con, files=False))
