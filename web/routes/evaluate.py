"""POST /v1/evaluate (= `kb evaluate --format json`): one patient record, a list of records, or JSONL.

The body's Content-Type declares its format; each media type maps to a format name that
`kb.evaluate.evaluator.evaluate_text` reads, so a new input form is one line in MEDIA_TYPES.
"""
from __future__ import annotations

import json
from typing import Literal, Optional, Union

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kb.evaluate.evaluator import evaluate_text
from schemas.api import Summary
from schemas.patient import Patient
from web.database import Database, database
from web.responses import json_bytes, media_type, text_of
from web.routes import BODY_PROBLEMS

router = APIRouter(prefix="/v1", tags=["evaluate"])

MEDIA_TYPES = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "application/x-ndjson": "jsonl",
    "application/fhir+json": "fhir",  # a Bundle or one resource (application/json detects FHIR and Phenopackets too)
    "application/fhir+ndjson": "fhir-ndjson",
}
NDJSON = "application/x-ndjson"
_RECORDS = {"oneOf": [{"$ref": "#/components/schemas/Patient"},
                      {"type": "array", "items": {"$ref": "#/components/schemas/Patient"}, "minItems": 1}]}
BODY = {"requestBody": {"required": True, "description": "One patient record, a list of records, or JSONL (one record per line).",
                        "content": {"application/json": {"schema": _RECORDS},
                                    "application/yaml": {"schema": _RECORDS},
                                    "application/x-yaml": {"schema": _RECORDS},
                                    NDJSON: {"schema": {"type": "string"}},
                                    "application/fhir+json": {"schema": {"type": "object", "description": "A FHIR R4/R4B Bundle or resource."}},
                                    "application/fhir+ndjson": {"schema": {"type": "string"}}}}}


@router.post("/evaluate", response_model=Union[Summary, list[Summary]], openapi_extra=BODY,
             responses={**BODY_PROBLEMS, 200: {"description": "One summary for one record, a list for a list; for JSONL, one summary per line (application/x-ndjson) unless Accept asks for application/json.",
                                               "content": {NDJSON: {"schema": {"type": "string"}}}}})
async def evaluate(request: Request,
                   priors: Literal["published", "equal"] = Query("published", description="PAM class priors for the call (both are always reported)."),
                   model: Optional[str] = Query(None, description="PAM model id of the knowledge base for expression (default: the published model); a record's own `model` wins."),
                   at: Optional[str] = Query(None, max_length=40, description="Evaluation time (YYYY-MM-DD or dateTime) for FHIR and Phenopacket bodies: each marker's latest observation at or before it (default: the start of the CD19-directed therapy)."),
                   label: str = Query("body", max_length=200, description="How records are named in errors and in `patient.source` (the CLI uses the file name)."),
                   db: Database = Depends(database)):
    """A risk summary per patient record: every evidence item of its observed markers, and the PAM signature.
    For research use only."""
    fmt = media_type(request, MEDIA_TYPES)
    text = text_of(await request.body())
    limit = request.app.state.settings.max_records
    summaries, kind = await db.run(lambda con: evaluate_text(text, fmt, con=con, priors=priors, model=model,
                                                             label=label, max_records=limit, at=at,
                                                             evaluator=db.evaluator(model)))
    if kind == "jsonl" and "application/json" not in request.headers.get("accept", ""):
        lines = "\n".join(json.dumps(s, ensure_ascii=False, allow_nan=False, default=str) for s in summaries)
        return Response(lines + "\n", media_type=NDJSON)
    return Response(json_bytes(summaries[0] if kind == "single" else summaries), media_type="application/json")


def patient_schema() -> dict:
    """The Patient schema (and its parts) for the OpenAPI components, as schemas/patient.py exports it."""
    schema = Patient.model_json_schema(ref_template="#/components/schemas/{model}")
    parts = schema.pop("$defs", {})
    return {"Patient": schema, **parts}
