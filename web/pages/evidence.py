"""`/evidence/{id}` (one item and each of its links in context, as `kb show` prints it) and
`/documents/{document_id}` (the whole text, every curated span highlighted and linked)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from web.pages.common import base, error_page
from web.pages.deps import connection, site
from web.pages.render import page

router = APIRouter(include_in_schema=False)
SHOW_CONTEXT = 300  # characters around each quote, as `kb show --context 300`


@router.get("/evidence/{evidence_id}")
def evidence_page(evidence_id: str, con=Depends(connection), site=Depends(site)):
    from kb.core.errors import NotFound
    from kb.query import api

    try:
        item = api.show(evidence_id, SHOW_CONTEXT, con=con)["evidence"]
    except NotFound as exc:
        return error_page(site, 404, "No such evidence item", str(exc))
    return page("evidence.html", item=item, **base(site))


@router.get("/documents/{document_id}")
def document_page(document_id: str, con=Depends(connection), site=Depends(site)):
    from kb.core import store
    from kb.query import api
    from web.pages.spans import highlighted, spans_of

    doc = site.documents.get(document_id)
    if doc is None:
        known = ", ".join(sorted(site.documents))
        return error_page(site, 404, "No such document", f"no document {document_id!r}; documents: {known}")
    source = next(s for s in api.sources(con=con)["sources"] if any(d["id"] == document_id for d in s["documents"]))
    meta = next(d for d in source["documents"] if d["id"] == document_id)
    spans = spans_of(store.document_links(con, document_id))
    return page("document.html", doc=doc, source=source, meta=meta, spans=spans, n_links=sum(len(s.evidence) for s in spans), body=highlighted(doc.text, spans),
                **base(site))
