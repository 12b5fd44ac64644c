"""POST /v1/evaluate (= `kb evaluate --format json`; with `Accept: application/fhir+json`, = `--format fhir`): one
patient record, a list of records, or JSONL.

The body's Content-Type declares its format; each media type maps to a format name that
`kb.evaluate.evaluator.evaluate_text` reads, so a new input form is one line in MEDIA_TYPES.
"""
from __future__ import annotations

import json
from typing import Literal, Optional, Union

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kb.evaluate.evaluator import evaluate_text
from kb.evaluate.fhir_out import loinc_codes, to_document
from schemas.api import Problem, Summary
from schemas.patient import Patient
from web.database import Database, database
from web.responses import json_bytes, media_type, negotiate, text_of
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


FHIR_JSON = "application/fhir+json"
OUTPUTS = ("application/json", NDJSON, FHIR_JSON)
_FHIR_BUNDLE = {"type": "object", "description": "A FHIR R4B Bundle of type collection (= `kb evaluate --format fhir`): "
                "the Patient and the RiskAssessments of one record; for several records, a collection Bundle whose "
                "entries are the records' Bundles."}
RESPONSES = {
    **BODY_PROBLEMS,
    200: {"description": "Content negotiation on Accept. `application/json` (the default): one summary for one record, "
                         "a list for a list (= `kb evaluate --format json`); for JSONL input the default is "
                         "`application/x-ndjson`, one summary per line. `application/fhir+json`: a FHIR R4B collection "
                         "Bundle (= `kb evaluate --format fhir`; several records: a Bundle of the records' Bundles).",
          "content": {NDJSON: {"schema": {"type": "string"}}, FHIR_JSON: {"schema": _FHIR_BUNDLE}}},
    406: {"model": Problem, "description": "Accept names none of application/json, application/x-ndjson, "
                                           "application/fhir+json"},
}


@router.post("/evaluate", response_model=Union[Summary, list[Summary]], openapi_extra=BODY, responses=RESPONSES)
async def evaluate(request: Request,
                   priors: Literal["published", "equal"] = Query("published", description="PAM class priors for the call (both are always reported)."),
                   model: Optional[str] = Query(None, description="PAM model id of the knowledge base for expression (default: the published model); a record's own `model` wins."),
                   at: Optional[str] = Query(None, max_length=40, description="Evaluation time (YYYY-MM-DD or dateTime) for FHIR and Phenopacket bodies: each marker's latest observation at or before it (default: the start of the CD19-directed therapy)."),
                   label: str = Query("body", max_length=200, description="How records are named in errors and in `patient.source` (the CLI uses the file name)."),
                   db: Database = Depends(database)):
    """A risk summary per patient record: every evidence item of its observed markers, and the PAM signature.
    `Accept: application/fhir+json` answers the same as a FHIR Bundle. For research use only."""
    fmt = media_type(request, MEDIA_TYPES)
    output = negotiate(request, OUTPUTS)
    text = text_of(await request.body())
    limit = request.app.state.settings.max_records

    def run(con):
        summaries, kind = evaluate_text(text, fmt, con=con, priors=priors, model=model, label=label,
                                        max_records=limit, at=at, evaluator=db.evaluator(model))
        return summaries, kind, (to_document(summaries, kind, loinc_codes(con)) if output == FHIR_JSON else None)

    summaries, kind, bundle = await db.run(run)
    if bundle is not None:
        return Response(json_bytes(bundle), media_type=FHIR_JSON)
    if output == NDJSON or (output is None and kind == "jsonl"):
        lines = "\n".join(json.dumps(s, ensure_ascii=False, allow_nan=False, default=str) for s in summaries)
        return Response(lines + "\n", media_type=NDJSON)
    return Response(json_bytes(summaries[0] if kind == "single" else summaries), media_type="application/json")


def patient_schema() -> dict:
    """The Patient schema (and its parts) for the OpenAPI components, as schemas/patient.py exports it."""
    schema = Patient.model_json_schema(ref_template="#/components/schemas/{model}")
    parts = schema.pop("$defs", {})
    return {"Patient": schema, **parts}
