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
from kb.core.errors import InputError, NotFound
from kb.core.items import fetch_evidence, rows as _rows
from kb.query.database import connect
from kb.query.filters import disease_scope, resolve_filters
from kb.query.resolve import MarkerIndex


def _con(con: duckdb.DuckDBPyConnection | None, db: str | os.PathLike | None) -> duckdb.DuckDBPyConnection:
    return con if con is not None else connect(db)


def evidence(marker: str | None = None, disease: str | None = None, therapy: str | None = None,
             direction: str | None = None, evidence_type: str | None = None, status: str = "accepted",
             source: str | None = None, broader: bool = False, context: str | None = None, *,
             con: duckdb.DuckDBPyConnection | None = None, db: str | os.PathLike | None = None) -> dict:
    """Evidence items for a marker (resolved fuzzily) and optional filters, as the `kb query` JSON.

    With `broader`, evidence recorded at the disease's ancestors is included too, and each item says how its
    disease relates to the query's (`disease_match`: same, narrower, or broader). `context` keeps clinical,
    preclinical or background items only (default: all three)."""
    con = _con(con, db)
    resolved = MarkerIndex(con).resolve(marker) if marker is not None else None
    filters = resolve_filters(con, resolved.id if resolved else None, disease, therapy, direction, evidence_type,
                              status, source, broader, context)
    rendered = store.marker_evidence(con, resolved.id) if resolved else None
    if rendered is not None:  # the build's read model: one row instead of two scans
        items = [item for item in json.loads(rendered) if filters.matches(item)]
    else:
        items = fetch_evidence(con, *filters.sql(), {resolved.id: resolved.name} if resolved else None)
    if disease and broader:
        scope = disease_scope(con, disease, broader)
        for item in items:
            item["disease_match"] = scope.get(item["disease"], "same")
    return {
        "kb_version": store.kb_version(con),
        "query": {"marker": marker, "resolved": resolved.as_json() if resolved else None, "disease": disease,
                  "therapy": therapy, "direction": direction, "type": evidence_type, "status": status,
                  "broader": broader, "context": context},
        "evidence": items,
    }


def markers(search: str | None = None, *, con=None, db=None) -> dict:
    """Every marker (by name), or with `search` the markers matching TEXT best first, each with its `match`."""
    con = _con(con, db)
    rows = _marker_rows(con)
    result: dict = {"kb_version": store.kb_version(con)}
    if search is not None:
        from kb.query.search import search_markers

        by_id = {m["id"]: m for m in rows}
        rows = [{**by_id[hit["marker_id"]], "match": {k: hit[k] for k in ("alias", "score", "how")}}
                for hit in search_markers(con, search)]
        result["query"] = {"search": search}
    result["markers"] = rows
    return result


def _marker_rows(con, marker_id: str | None = None) -> list[dict]:
    where, params = ("WHERE m.id = ?", [marker_id]) if marker_id is not None else ("", [])
    rows = _rows(con.execute(f"""
        WITH a AS (SELECT a.marker_id, list(a.alias ORDER BY lower(a.alias), a.alias) AS aliases
                   FROM marker_alias a JOIN marker m ON m.id = a.marker_id
                   WHERE a.alias <> m.name AND a.alias <> m.id GROUP BY a.marker_id),
             n AS (SELECT marker_id, count(*) AS n_evidence FROM evidence WHERE status = 'accepted' GROUP BY marker_id)
        SELECT m.id, m.name, m.full_name, m.kind, m.unit, m.loinc, m.hgnc_symbol, m.hgnc_id,
               coalesce(a.aliases, []) AS aliases, coalesce(n.n_evidence, 0) AS n_evidence
        FROM marker m LEFT JOIN a ON a.marker_id = m.id LEFT JOIN n ON n.marker_id = m.id {where}
        ORDER BY lower(m.name), m.id""", params))
    codes = store.marker_codes(con)
    for row in rows:
        row["codes"] = codes.get(row["id"], [])
    return rows


def marker(marker_id: str, *, con=None, db=None) -> dict:
    """One marker by id: its `kb markers` row, its description, and its items counted by status."""
    con = _con(con, db)
    found = _marker_rows(con, marker_id)
    if not found:
        from kb.query.resolve import MarkerIndex

        near = [mid for mid, _, _ in MarkerIndex(con)._nearest(marker_id)]
        hint = f"; nearest ids: {', '.join(near)}" if near else ""
        raise NotFound(f"no marker with id {marker_id!r}{hint}")
    row = found[0]
    row["description"] = con.execute("SELECT description FROM marker WHERE id = ?", [marker_id]).fetchall()[0][0]
    counts = dict(con.execute("SELECT status, count(*) FROM evidence WHERE marker_id = ? GROUP BY status",
                              [marker_id]).fetchall())
    row["n_evidence_by_status"] = {s: counts.get(s, 0) for s in ("accepted", "submitted", "rejected")}
    return {"kb_version": store.kb_version(con), "marker": row}


def sources(*, con=None, db=None) -> dict:
    con = _con(con, db)
    rows = _rows(con.execute("""
        SELECT s.*, (SELECT count(*) FROM evidence e WHERE e.source_id = s.id) AS n_evidence,
               (SELECT count(*) FROM cited_work w WHERE w.source_id = s.id) AS n_cited_works
        FROM source s ORDER BY s.id"""))
    docs = _rows(con.execute("SELECT id, source_id, path, original_name, sha256, format, n_chars FROM document ORDER BY path"))
    paths = {d["id"]: d["path"] for d in docs}
    for row in rows:
        row["authors"] = json.loads(row["authors"])
        doc_id, start, end, quote = (row.pop(k) for k in ("license_document_id", "license_start", "license_end",
                                                          "license_quote"))
        # the licence is shown with the sentence of the text that states it
        row["license_link"] = None if quote is None else {"document": paths[doc_id], "document_id": doc_id,
                                                          "start": start, "end": end, "quote": quote}
        row["documents"] = [{k: v for k, v in d.items() if k != "source_id"} for d in docs if d["source_id"] == row["id"]]
    return {"kb_version": store.kb_version(con), "sources": rows}


def cited_works(source: str | None = None, *, con=None, db=None) -> dict:
    """The numbered reference lists parsed from the sources' texts: each entry's fields as printed, its
    citation label and the span(s) of its entry."""
    from kb.core.items import citation_label

    con = _con(con, db)
    known = {r[0] for r in con.execute("SELECT id FROM source").fetchall()}
    if source is not None and source not in known:
        raise NotFound(f"no source {source!r}; sources: {', '.join(sorted(known))}")
    paths = dict(con.execute("SELECT id, path FROM document").fetchall())
    spans: dict[str, list[dict]] = {}
    for wid, doc_id, start, end, quote in store.cited_work_links(con):
        spans.setdefault(wid, []).append({"document": paths[doc_id], "document_id": doc_id, "start": start,
                                          "end": end, "quote": quote})
    works = []
    for w in store.cited_works_of(con, source):
        short = w.pop("short_authors")
        w["partial"] = bool(w["partial"])
        w["citation"] = citation_label({**w, "in_text": True}, w["source_id"], short)
        w["links"] = spans.get(w["id"], [])
        works.append(w)
    return {"kb_version": store.kb_version(con), "source": source, "cited_works": works}


def show(evidence_id: str, window: int = 200, *, con=None, db=None) -> dict:
    """One evidence item, each link with `window` characters of the document on either side."""
    con = _con(con, db)
    items = fetch_evidence(con, "e.id = ?", [evidence_id])
    if not items:
        near = [r[0] for r in con.execute(
            "SELECT id FROM evidence ORDER BY jaro_winkler_similarity(id, ?) DESC LIMIT 3", [evidence_id]).fetchall()]
        raise NotFound(f"no evidence item {evidence_id!r}; nearest ids: {', '.join(near)}")
    if window < 0:
        raise InputError(f"--window: expected a number of characters >= 0, got {window}")
    item = items[0]
    for link in item["links"]:
        before, after = con.execute(
            'SELECT substr(text, greatest(1, ? - ? + 1), least(?, ?)), substr(text, ? + 1, ?) FROM document WHERE id = ?',
            [link["start"], window, window, link["start"], link["end"], window, link["document_id"]]).fetchall()[0]
        link["before"], link["after"] = before, after
    return {"kb_version": store.kb_version(con), "evidence": item}


def document(document_id: str, start: int | None = None, end: int | None = None, *, con=None, db=None) -> dict:
    """A document's metadata, sha256 and text; with `start`/`end` only text[start:end] (character offsets, as
    evidence links give them), so a quote can be shown in its context."""
    con = _con(con, db)
    found = _rows(con.execute("SELECT id, source_id, path, original_name, sha256, format, n_chars, text FROM document "
                              "WHERE id = ?", [document_id]))
    if not found:
        ids = [r[0] for r in con.execute("SELECT id FROM document ORDER BY id").fetchall()]
        raise NotFound(f"no document {document_id!r}; expected one of {', '.join(ids)}")
    doc = found[0]
    n = doc["n_chars"]
    lo = 0 if start is None else start
    hi = n if end is None else end
    if not 0 <= lo <= n:
        raise InputError(f"start: expected an offset from 0 to {n} (the document's length), got {lo}")
    if not lo <= hi <= n:
        raise InputError(f"end: expected an offset from start ({lo}) to {n} (the document's length), got {hi}")
    if (lo, hi) != (0, n):
        doc["text"] = doc["text"][lo:hi]
    doc["start"], doc["end"] = lo, hi
    return {"kb_version": store.kb_version(con), "document": doc}
