"""What a page handler reads: a cursor of the app's database (`web.database`), leased for the request
(this sync dependency and the route may run on different pool threads), and the `Site`: what every page
of one knowledge base shares, read once, as the database is immutable while the server runs."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

_lock = threading.Lock()


def connection(request: Request):
    with request.app.state.database.lease() as cursor:
        yield cursor


@dataclass
class Site:
    kb_version: dict
    markers: list[dict]  # `kb markers` rows, by name
    by_id: dict[str, dict]
    choices: dict  # the values the filter forms offer
    documents: dict  # id -> web.pages.documents.Document
    cited_spans: dict  # cited work id -> (document id, start, end) of its reference-list entry (first rendition)
    figures: dict = field(default_factory=dict)  # figures that depend on the knowledge base alone, by key

    @property
    def doc_ids(self) -> dict[str, str]:
        """Document path (as links name it) -> document id."""
        return {d.path: d.id for d in self.documents.values()}


def site(request: Request) -> Site:
    state = request.app.state
    found = getattr(state, "pages_site", None)
    if found is None:
        with _lock:
            found = getattr(state, "pages_site", None)
            if found is None:
                with state.database.lease() as con:
                    found = state.pages_site = _load(con)
    return found


def _load(con) -> Site:
    from kb.core import store
    from kb.query import api
    from schemas.enums import DIRECTIONS, EVIDENCE_TYPES
    from web.pages.documents import Document

    markers = api.markers(con=con)["markers"]
    therapies = store.terms(con, "therapy")
    choices = {"diseases": [t["name"] for t in store.terms(con, "disease")],
               "therapies": [t["name"] for t in therapies],
               "therapy_classes": sorted({t["therapy_class"] for t in therapies if t["therapy_class"]}, key=str.casefold),
               "directions": list(DIRECTIONS), "types": list(EVIDENCE_TYPES)}
    documents = {d[0]: Document(d[0], d[1], d[2], d[4]) for d in store.documents(con)}
    cited_spans: dict[str, tuple[str, int, int]] = {}
    for work_id, doc_id, start, end, _ in store.cited_work_links(con):
        cited_spans.setdefault(work_id, (doc_id, start, end))
    return Site(store.kb_version(con), markers, {m["id"]: m for m in markers}, choices, documents, cited_spans)
