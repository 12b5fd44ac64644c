"""POST /v1/score: a cohort (CSV, TSV or Parquet) scored by a PAM model, like `kb score`.

The answer is the `kb score --format json` summary plus one row per sample; `Accept:
application/vnd.apache.parquet` or `text/csv` returns the scores file itself.
"""
from __future__ import annotations

import json
from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kb.pam.cohort_upload import score_bytes
from schemas.api import ScoreResult
from web.database import Database, database
from web.responses import json_bytes, media_type
from web.routes import BODY_PROBLEMS

router = APIRouter(prefix="/v1", tags=["score"])

PARQUET = "application/vnd.apache.parquet"
MEDIA_TYPES = {"text/csv": "csv", "text/tab-separated-values": "tsv", PARQUET: "parquet"}
OUTPUTS = {PARQUET: "parquet", "text/csv": "csv"}
BODY = {"requestBody": {"required": True,
                        "description": "Cohort: one row per sample; the first column is the sample id, then one column per gene (log2 expression; empty or NA = missing).",
                        "content": {"text/csv": {"schema": {"type": "string"}},
                                    "text/tab-separated-values": {"schema": {"type": "string"}},
                                    PARQUET: {"schema": {"type": "string", "format": "binary"}}}}}


def _output(accept: str) -> str:
    for mime, kind in OUTPUTS.items():
        if mime in accept:
            return kind
    return "json"


@router.post("/score", response_model=ScoreResult, openapi_extra=BODY,
             responses={**BODY_PROBLEMS, 200: {"description": "The summary and one row per sample; or the scores file (Parquet, CSV) when Accept asks for it.",
                                               "content": {PARQUET: {"schema": {"type": "string", "format": "binary"}},
                                                           "text/csv": {"schema": {"type": "string"}}}}})
async def score(request: Request,
                model: Optional[str] = Query(None, description="PAM model id of the knowledge base (default: the published model)."),
                priors: Literal["published", "equal"] = Query("published", description="Class priors: the model's own or equal."),
                db: Database = Depends(database)):
    """Score every sample of a cohort with a PAM model (δ and posterior per class, call). For research use only."""
    kind = media_type(request, MEDIA_TYPES)
    output = _output(request.headers.get("accept", ""))
    data = await request.body()
    payload, file = await db.run(lambda con: score_bytes(data, kind, con=con, model=model, priors=priors, output=output))
    if file is not None:
        mime = PARQUET if output == "parquet" else "text/csv"
        return Response(file, media_type=mime, headers={"X-KB-Summary": json.dumps(
            {k: payload[k] for k in ("n_samples", "incomplete", "calls")}, separators=(",", ":"))})
    return Response(json_bytes(payload), media_type="application/json")
