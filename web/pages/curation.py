"""`/curation`: coverage per source, the candidate sentences no evidence covers yet (in context), a drafted
YAML item for one candidate holding its exact sentence as the quote, and a form that validates pasted
YAML against the seeds (the library function behind `POST /v1/curate/validate`; nothing is written)."""
from __future__ import annotations

import json
import threading

from fastapi import APIRouter, Depends, Request

from web.pages.common import base, error_page
from web.pages.deps import connection, site
from web.pages.render import page

router = APIRouter(include_in_schema=False)
CONTEXT = 160  # characters of the document shown on either side of a candidate sentence
_cache: dict[str, dict] = {}
_lock = threading.Lock()


def candidates(con) -> dict:
    """`kb curate candidates` of every source, computed once per knowledge-base content (it reads every
    document: a second or two)."""
    from kb.core import store
    from kb.curate.candidates import candidates as run

    key = store.kb_version(con)["content"]
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = run(con=con)
        return _cache[key]


def of_source(result: dict, source: str | None) -> dict:
    """The `kb curate candidates SOURCE` payload cut from the all-sources one (same rows, same order)."""
    if source is None:
        return result
    return {"kb_version": result["kb_version"], "coverage": [c for c in result["coverage"] if c["source"] == source],
            "candidates": [c for c in result["candidates"] if c["source"] == source]}


def draft(candidate: dict, evidence_types, directions, contexts) -> str:
    """A YAML evidence item for a candidate: its marker and exact sentence filled in, every judgement a
    curator must make left empty with its allowed values (nothing is guessed)."""
    marker = candidate["marker_ids"][0]
    quote = json.dumps(candidate["sentence"], ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
    return "\n".join([
        f"id: {candidate['source']}-{marker}-",
        f"marker: {marker}",
        f"evidence_type:   # {' | '.join(evidence_types)}",
        f"direction:   # {' | '.join(directions)}; leave empty when the text states none",
        f"context:   # {' | '.join(contexts)} (docs/curation.md)",
        "disease:   # a disease of vocabulary.yaml; leave empty when the text names none",
        "therapy:   # a therapy of vocabulary.yaml; leave empty when the text names none",
        "timepoint: unspecified",
        "outcome: ",
        "level:   # A | B | C | D | E",
        "statement: ",
        "quotes:",
        f"  - {quote}",
    ]) + "\n"


def _context(con, site, params: dict, draft_text: str | None = None, validation=None, problem=None, pasted: str = "",
             status: int = 200):
    from schemas.enums import CONTEXTS, DIRECTIONS, EVIDENCE_TYPES

    source = params.get("source") or None
    result = candidates(con)
    known = [c["source"] for c in result["coverage"]]
    if source is not None and source not in known:
        return error_page(site, 404, "No such source", f"no source {source!r}; sources: {', '.join(known)}")
    shown = of_source(result, source)
    texts = {d.path: d.text for d in site.documents.values()}
    around = {(c["document"], c["start"]): (texts[c["document"]][max(0, c["start"] - CONTEXT):c["start"]],
                                            texts[c["document"]][c["end"]:c["end"] + CONTEXT])
              for c in shown["candidates"]}
    chosen = None
    if params.get("draft"):
        chosen = next((c for c in shown["candidates"] if f"{c['document']}:{c['start']}" == params["draft"]), None)
        if chosen is None:
            return error_page(site, 404, "No such candidate", f"no candidate sentence {params['draft']!r}"
                                                                f"{' of ' + source if source else ''}")
        draft_text = draft(chosen, EVIDENCE_TYPES, DIRECTIONS, CONTEXTS)
    return page("curation.html", status=status, nav="/curation", source=source, sources=known, shown=shown,
                doc_ids=site.doc_ids, around=around, chosen=chosen, draft=draft_text, validation=validation, problem=problem,
                pasted=pasted if pasted else (draft_text or ""), **base(site))


@router.get("/curation")
def curation_page(source: str | None = None, draft: str | None = None, con=Depends(connection),
                  site=Depends(site)):
    return _context(con, site, {"source": source, "draft": draft})


@router.post("/curation")
async def curation_validate(request: Request, con=Depends(connection), site=Depends(site)):
    from starlette.concurrency import run_in_threadpool

    from kb.core.errors import CurationError

    form = await request.form(max_files=0, max_fields=4)
    text, source = str(form.get("yaml") or ""), str(form.get("source") or "") or None
    try:
        validation = await run_in_threadpool(validate, con, text, "pasted", source)
    except CurationError as exc:
        return _context(con, site, {"source": source}, problem=str(exc), pasted=text)  # a form shown again: 200
    return _context(con, site, {"source": source}, validation=validation, pasted=text)


def validate(con, text: str, label: str, source: str | None) -> dict:
    """`kb curate validate` of pasted YAML; an item's id must be new to the knowledge base."""
    from kb.curate.validate import validate_text

    from kb.core import store

    ids = {eid: "in the knowledge base" for eid, *_ in store.links(con)}  # every item has at least one link
    return validate_text(text, label, source, existing_ids=ids)
