"""Evidence items as every reader sees them: the filters of a query and the rendering of rows as JSON.

Both the query path (`kb.query`) and the build's read model (`ingest.build.derive_read_model`) render
items here, so the two cannot disagree; this module sits below both. Values are always bound parameters.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

_EVIDENCE_SQL = "SELECT e.* FROM evidence e WHERE {where}"
# Links are fetched by marker, the clustered key both tables are stored in, then matched by id in Python.
_LINKS_SQL = """
SELECT evidence_id, document_id, start, "end", quote FROM evidence_link
WHERE {where}
ORDER BY evidence_id, document_id, start
"""


def rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


@dataclass(frozen=True)
class Filters:
    """The filters of an evidence query, already resolved against the vocabularies (`kb.query.filters`);
    they apply either as SQL (`sql`) or to rendered items (`matches`), with one meaning."""

    marker_id: str | None = None
    diseases: tuple[str, ...] | None = None  # the disease and its subtypes
    therapy: str | None = None
    therapy_class: str | None = None
    direction: str | None = None
    evidence_type: str | None = None
    status: str = "accepted"
    source: str | None = None
    context: str | None = None

    def _checks(self) -> list[tuple[str, object]]:
        return [(column, value) for column, value in (
            ("marker_id", self.marker_id), ("therapy", self.therapy), ("therapy_class", self.therapy_class),
            ("direction", self.direction), ("evidence_type", self.evidence_type),
            ("status", None if self.status == "all" else self.status), ("source_id", self.source),
            ("context", self.context)) if value is not None]

    def sql(self) -> tuple[str, list]:
        """A WHERE clause over `evidence e` and its parameters (values are bound, never interpolated)."""
        clauses, params = ["TRUE"], []
        for column, value in self._checks():
            clauses.append(f"e.{column} = ?")
            params.append(value)
        if self.diseases is not None:
            clauses.append("e.disease IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.diseases))
        return " AND ".join(clauses), params

    def matches(self, item: dict) -> bool:
        """The same test on an item as rendered by `fetch_evidence`."""
        values = {**item, "source_id": item["source"]["id"]}
        return all(values[column] == value for column, value in self._checks()) and \
            (self.diseases is None or item["disease"] in self.diseases)


def strength(item: dict) -> tuple:
    """Strongest first: level A..E, then more patients, then id (a stable, total order)."""
    return item["level"], -(item["n_patients"] or 0), item["id"]


def fetch_evidence(con: duckdb.DuckDBPyConnection, where: str, params: list,
                   names: dict[str, str] | None = None) -> list[dict]:
    """Evidence items matching a WHERE clause over `evidence e`, strongest first, with their links."""
    # Sorting 50 rows in Python is cheaper than an ORDER BY on a computed key in the scan.
    items = sorted(rows(con.execute(_EVIDENCE_SQL.format(where=where), params)), key=strength)
    if not items:
        return []
    marker_ids = sorted({i["marker_id"] for i in items})
    wanted = {i["id"] for i in items}
    if names is None or not set(marker_ids) <= set(names):
        names = dict(con.execute("SELECT id, name FROM marker WHERE id IN (SELECT unnest(?::VARCHAR[]))", [marker_ids]).fetchall())
    sources = {row[0]: row for row in con.execute("SELECT id, title, doi, year, license FROM source").fetchall()}
    documents = {row[0]: row for row in con.execute("SELECT id, path, sha256 FROM document").fetchall()}
    cited = cited_works(con, sorted(wanted))
    links: dict[str, list[dict]] = {}
    # An equality filter (one marker, the common case) lets DuckDB use the index; a list cannot.
    where, param = ("marker_id = ?", marker_ids[0]) if len(marker_ids) == 1 else \
        ("marker_id IN (SELECT unnest(?::VARCHAR[]))", marker_ids)
    for eid, doc_id, start, end, quote in con.execute(_LINKS_SQL.format(where=where), [param]).fetchall():
        if eid in wanted:
            _, path, sha = documents[doc_id]
            links.setdefault(eid, []).append({"document": path, "document_id": doc_id, "sha256": sha,
                                              "start": start, "end": end, "quote": quote})
    return [_evidence_json(item, names[item["marker_id"]], sources[item["source_id"]], links.get(item["id"], []),
                           cited.get(item["id"], [])) for item in items]


_CITED_SQL = """
SELECT c.evidence_id, c.number, w.id, w.short_authors, w.authors, w.title, w.journal, w.year, w.volume, w.issue,
       w.pages, w.doi, w.pmid, w.partial, e.source_id
FROM evidence_citation c JOIN evidence e ON e.id = c.evidence_id LEFT JOIN cited_work w ON w.id = c.cited_work_id
WHERE c.evidence_id IN (SELECT unnest(?::VARCHAR[]))
ORDER BY c.evidence_id, c.position
"""


def cited_works(con: duckdb.DuckDBPyConnection, evidence_ids: list[str]) -> dict[str, list[dict]]:
    """evidence id -> the works it reports, in the order of its cited_reference, each with a citation label."""
    out: dict[str, list[dict]] = {}
    for (eid, number, wid, short, authors, title, journal, year, volume, issue, pages, doi, pmid, partial,
         source_id) in con.execute(_CITED_SQL, [evidence_ids]).fetchall():
        work = {"number": number, "id": wid, "in_text": wid is not None, "authors": authors, "title": title,
                "journal": journal, "year": year, "volume": volume, "issue": issue, "pages": pages, "doi": doi,
                "pmid": pmid, "partial": bool(partial) if wid is not None else None}
        work["citation"] = citation_label(work, source_id, short)
        out.setdefault(eid, []).append(work)
    return out


def citation_label(work: dict, source_id: str, short_authors: str | None = None) -> str:
    """'Nastoupil et al., 2020, J Clin Oncol (ref. 53 in xu2023)': only the parts the entry prints."""
    where = f"ref. {work['number']} in {source_id}"
    if not work.get("in_text", True):
        return f"{where}: not in the text's reference list"
    parts = [p for p in (short_authors, work.get("year"), work.get("journal")) if p]
    note = "; the beginning of the entry is not in the text" if work.get("partial") else ""
    return f"{', '.join(str(p) for p in parts)} ({where}{note})" if parts else f"{where}{note}"


def _evidence_json(e: dict, marker_name: str, source: tuple, links: list[dict], cited: list[dict]) -> dict:
    rule = None
    if e["rule_operator"]:
        rule = {"operator": e["rule_operator"], "value": _num(e["rule_value"]), "value_high": _num(e["rule_value_high"]),
                "unit": e["rule_unit"], "reference": e["rule_reference"], "category": e["rule_category"]}
    effect = None
    if e["effect_measure"]:
        ci = [_num(e["effect_ci_low"]), _num(e["effect_ci_high"])] if e["effect_ci_low"] is not None else None
        effect = {"measure": e["effect_measure"], "value": _num(e["effect_value"]), "ci": ci, "p": e["effect_p"],
                  "p_text": e["effect_p_text"], "text": e["effect_text"], "groups": json.loads(e["effect_groups"])}
    return {
        "id": e["id"], "marker": marker_name, "marker_id": e["marker_id"], "evidence_type": e["evidence_type"],
        "direction": e["direction"], "context": e["context"], "disease": e["disease"], "therapy": e["therapy"],
        "therapy_class": e["therapy_class"], "timepoint": e["timepoint"], "specimen": e["specimen"],
        "outcome": e["outcome"], "rule": rule, "effect": effect,
        "n_patients": e["n_patients"], "level": e["level"], "cited_reference": e["cited_reference"],
        "cited_works": cited, "statement": e["statement"], "note": e["note"], "status": e["status"],
        "curator": e["curator"], "curated_at": e["curated_at"].isoformat() if e["curated_at"] else None,
        "source": {"id": source[0], "title": source[1], "doi": source[2], "year": source[3], "license": source[4]},
        "links": links,
    }


def _num(value):
    """Integral floats print as integers (80, not 80.0): thresholds read as the paper wrote them."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def marker_items(con: duckdb.DuckDBPyConnection, marker_id: str, name: str) -> list[dict]:
    """Every evidence item of one marker (all statuses) as `kb query` renders them: the read model's rows."""
    return fetch_evidence(con, *Filters(marker_id=marker_id, status="all").sql(), {marker_id: name})


