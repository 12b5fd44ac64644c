"""The query side, above `ingest`: the query API, marker resolution, vocabularies, filters, and the
database a query reads (built on first use by `kb.query.database.connect`).

May import: `kb.core`, `schemas`, and `ingest` (only `connect`, to build on first use).

Public API (the same dicts the CLI prints as JSON and the HTTP API returns)::

    from kb import query
    query.evidence(marker="LDH", disease="LBCL", context="clinical"); query.markers(); query.markers(search="interleukin")
    query.marker(ID); query.sources(); query.show(ID, window=200); query.document(ID, start, end)
    query.cited_works("xu2023")
    con = query.connect(db)   # read-only connection; pass con= to any of the above
"""
from kb.query.api import cited_works, document, evidence, marker, markers, show, sources
from kb.query.database import connect

__all__ = ["cited_works", "connect", "document", "evidence", "marker", "markers", "show", "sources"]
