"""The curator's endpoints: GET /v1/curate/candidates[?source=] (= `kb curate candidates --format json`) and
POST /v1/curate/validate (a curation file or evidence items as YAML; checked as `kb curate validate` checks
a file; nothing is written). Problems are problem+json through the app's one error mapping, every problem
of the body listed."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from web.database import Database, database
from web.responses import media_type, text_of
from web.routes import BODY_PROBLEMS, PROBLEMS

router = APIRouter(prefix="/v1/curate", tags=["curation"])
YAML_TYPES = {"application/yaml": "yaml", "application/x-yaml": "yaml", "text/yaml": "yaml", "text/plain": "yaml"}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Coverage(_Open):
    source: str
    sentences: int
    covered: int
    coverage: Optional[float] = Field(description="covered / sentences; null for a source without marker sentences")


class Candidate(_Open):
    source: str
    document: str
    start: int
    end: int
    markers: list[str]
    marker_ids: list[str]
    matched: list[str]
    cues: list[str]
    sentence: str = Field(description="Exactly the document's text[start:end]")


class CandidatesResult(_Open):
    kb_version: dict[str, Any]
    coverage: list[Coverage]
    candidates: list[Candidate]


class Validation(_Open):
    ok: bool
    file: str
    kind: str = Field(description="file | item | items: what the body held")
    evidence: int
    links: int
    message: str = Field(description="The line `kb curate validate` prints")


@router.get("/candidates", response_model=CandidatesResult, responses=PROBLEMS)
async def candidates(request: Request, source: Optional[str] = Query(None, description="A source id (default: every source)."),
                     db: Database = Depends(database)):
    """Sentences that mention a marker with a number or a comparative word and that no evidence link
    covers, with the coverage per source (covered marker sentences / all marker sentences)."""
    from kb.core.errors import NotFound
    from web.pages.curation import candidates as all_candidates, of_source

    def work(con):
        result = all_candidates(con)
        known = [c["source"] for c in result["coverage"]]
        if source is not None and source not in known:
            raise NotFound(f"no source {source!r}; sources: {', '.join(known)}")
        return of_source(result, source)

    return await db.json(request, work)


BODY = {"requestBody": {"required": True, "description": "A curation file (curation/<source>.yaml), one evidence item, or a list of items (then `source=` names their source).",
                        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES}}}


@router.post("/validate", response_model=Validation, responses=BODY_PROBLEMS, openapi_extra=BODY)
async def validate(request: Request,
                   source: Optional[str] = Query(None, max_length=100, description="The source whose text evidence items quote (a whole file names its own)."),
                   label: str = Query("body", max_length=200, description="How the text is named in messages."),
                   db: Database = Depends(database)):
    """Check YAML curation against the seeds (schema, vocabularies, marker ids, every quote) without
    building or writing: 200 with the `ok:` line, or 422 with every problem as `kb curate validate` reports
    them: `detail` holds their lines (`label:line: field: problem`, lines of the body), `problems` one object
    each (file, line, field, problem, message; for a quote not in the text its `closest` passage with
    offsets). An item whose id the knowledge base already has is refused."""
    from web.pages.curation import validate as run

    media_type(request, YAML_TYPES)
    text = text_of(await request.body(), label)
    return await db.run(lambda con: run(con, text, label, source))
