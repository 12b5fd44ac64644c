"""The query API: evidence by marker and filters, markers, sources, one item with its quotes in context.

Every function takes an open read-only connection (or opens the default one, built on first use) and
returns plain dicts in the JSON shapes of docs/design.md; the CLI and the HTTP API only render them.
Values are always bound parameters.
"""
from __future__ import annotations

import json
import os

import duckdb

from kb.core import store
from kb.core.errors import NotFound
from kb.core.items import fetch_evidence, rows as _rows
from kb.query.database import connect
from kb.query.filters import resolve_filters
from kb.query.resolve import MarkerIndex


def _con(con: duckdb.DuckDBPyConnection | None, db: str | os.PathLike | None) -> duckdb.DuckDBPyConnection:
    return con if con is not None else connect(db)


def evidence(marker: str | None = None, disease: str | None = None, therapy: str | None = None,
             direction: str | None = None, evidence_type: str | None = None, status: str = "accepted",
             source: str | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
             db: str | os.PathLike | None = None) -> dict:
    """Evidence items for a marker (resolved fuzzily) and optional filters, as the `kb query` JSON."""
    con = _con(con, db)
    resolved = MarkerIndex(con).resolve(marker) if marker is not None else None
    filters = resolve_filters(con, resolved.id if resolved else None, disease, therapy, direction, evidence_type,
                              status, source)
    rendered = store.marker_evidence(con, resolved.id) if resolved else None
    if rendered is not None:  # the build's read model: one row instead of two scans
        items = [item for item in json.loads(rendered) if filters.matches(item)]
    else:
        items = fetch_evidence(con, *filters.sql(), {resolved.id: resolved.name} if resolved else None)
    return {
        "kb_version": store.kb_version(con),
        "query": {"marker": marker, "resolved": resolved.as_json() if resolved else None, "disease": disease,
                  "therapy": therapy, "direction": direction, "type": evidence_type, "status": status},
        "evidence": items,
    }


def markers(*, con=None, db=None) -> dict:
    con = _con(con, db)
    rows = _rows(con.execute("""
        WITH a AS (SELECT a.marker_id, list(a.alias ORDER BY lower(a.alias), a.alias) AS aliases
                   FROM marker_alias a JOIN marker m ON m.id = a.marker_id
                   WHERE a.alias <> m.name AND a.alias <> m.id GROUP BY a.marker_id),
             n AS (SELECT marker_id, count(*) AS n_evidence FROM evidence WHERE status = 'accepted' GROUP BY marker_id)
        SELECT m.id, m.name, m.full_name, m.kind, m.unit, m.loinc, m.hgnc_symbol,
               coalesce(a.aliases, []) AS aliases, coalesce(n.n_evidence, 0) AS n_evidence
        FROM marker m LEFT JOIN a ON a.marker_id = m.id LEFT JOIN n ON n.marker_id = m.id
        ORDER BY lower(m.name), m.id"""))
    return {"kb_version": store.kb_version(con), "markers": rows}


def sources(*, con=None, db=None) -> dict:
    con = _con(con, db)
    rows = _rows(con.execute("""
        SELECT s.*, (SELECT count(*) FROM evidence e WHERE e.source_id = s.id) AS n_evidence
        FROM source s ORDER BY s.id"""))
    docs = _rows(con.execute("SELECT id, source_id, path, original_name, sha256, format, n_chars FROM document ORDER BY path"))
    for row in rows:
        row["authors"] = json.loads(row["authors"])
        row["documents"] = [{k: v for k, v in d.items() if k != "source_id"} for d in docs if d["source_id"] == row["id"]]
    return {"kb_version": store.kb_version(con), "sources": rows}


def show(evidence_id: str, context: int = 200, *, con=None, db=None) -> dict:
    """One evidence item, each link with `context` characters of the document on either side."""
    con = _con(con, db)
    items = fetch_evidence(con, "e.id = ?", [evidence_id])
    if not items:
        near = [r[0] for r in con.execute(
            "SELECT id FROM evidence ORDER BY jaro_winkler_similarity(id, ?) DESC LIMIT 3", [evidence_id]).fetchall()]
        raise NotFound(f"no evidence item {evidence_id!r}; nearest ids: {', '.join(near)}")
    item = items[0]
    for link in item["links"]:
        before, after = con.execute(
            'SELECT substr(text, greatest(1, ? - ? + 1), least(?, ?)), substr(text, ? + 1, ?) FROM document WHERE id = ?',
            [link["start"], context, context, link["start"], link["end"], context, link["document_id"]]).fetchall()[0]
        link["before"], link["after"] = before, after
    return {"kb_version": store.kb_version(con), "evidence": item}
