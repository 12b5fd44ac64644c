"""The query layer: evidence by marker and filters, markers, sources, one item with its quotes in context.

Every function takes an open read-only connection (or opens the default one) and returns plain dicts in
the JSON shapes of DESIGN §5; the CLI only renders them. Values are always bound parameters.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import duckdb

from kb import store
from kb.errors import InputError, NotFound
from kb.resolve import MarkerIndex
from kb.vocab import Vocabulary

STATUS_FILTERS = ("accepted", "submitted", "rejected", "all")
DIRECTIONS = ("unfavorable", "favorable", "mixed", "none")

_EVIDENCE_SQL = "SELECT e.* FROM evidence e WHERE {where}"
# Links are fetched by marker, the clustered key both tables are stored in, then matched by id in Python.
_LINKS_SQL = """
SELECT evidence_id, document_id, start, "end", quote FROM evidence_link
WHERE {where}
ORDER BY evidence_id, document_id, start
"""


def _con(con: duckdb.DuckDBPyConnection | None, db: str | os.PathLike | None) -> duckdb.DuckDBPyConnection:
    return con if con is not None else store.connect(db)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


@dataclass(frozen=True)
class Filters:
    """The filters of an evidence query, resolved against the vocabularies once; they apply either as SQL
    (`sql`) or to rendered items (`matches`), with one meaning."""

    marker_id: str | None = None
    diseases: tuple[str, ...] | None = None  # the disease and its subtypes
    therapy: str | None = None
    therapy_class: str | None = None
    direction: str | None = None
    evidence_type: str | None = None
    status: str = "accepted"
    source: str | None = None

    @classmethod
    def resolve(cls, con, marker_id=None, disease=None, therapy=None, direction=None, evidence_type=None,
                status="accepted", source=None) -> "Filters":
        diseases = therapy_name = therapy_class = None
        if disease:
            names = Vocabulary(con, "disease")
            diseases = tuple(names.descendants(names.resolve(disease, "--disease")["name"]))
        if therapy:
            therapies = Vocabulary(con, "therapy")
            if therapy in {t["therapy_class"] for t in therapies.terms.values()}:
                therapy_class = therapy
            else:
                therapy_name = therapies.resolve(therapy, "--therapy")["name"]
        if direction and direction not in DIRECTIONS:
            raise InputError(f"--direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if status not in STATUS_FILTERS:
            raise InputError(f"--status: expected one of {', '.join(STATUS_FILTERS)}, got {status!r}")
        return cls(marker_id, diseases, therapy_name, therapy_class, direction or None, evidence_type or None,
                   status, source or None)

    def _checks(self) -> list[tuple[str, object]]:
        return [(column, value) for column, value in (
            ("marker_id", self.marker_id), ("therapy", self.therapy), ("therapy_class", self.therapy_class),
            ("direction", self.direction), ("evidence_type", self.evidence_type),
            ("status", None if self.status == "all" else self.status), ("source_id", self.source)) if value is not None]

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


def evidence_filters(con, marker_id=None, disease=None, therapy=None, direction=None, evidence_type=None,
                     status="accepted", source=None) -> tuple[str, list]:
    """A WHERE clause and its parameters for the given filters (see Filters)."""
    return Filters.resolve(con, marker_id, disease, therapy, direction, evidence_type, status, source).sql()


def strength(item: dict) -> tuple:
    """Strongest first: level A..E, then more patients, then id (a stable, total order)."""
    return item["level"], -(item["n_patients"] or 0), item["id"]


def fetch_evidence(con: duckdb.DuckDBPyConnection, where: str, params: list,
                   names: dict[str, str] | None = None) -> list[dict]:
    """Evidence items matching a WHERE clause over `evidence e`, strongest first, with their links."""
    # Sorting 50 rows in Python is cheaper than an ORDER BY on a computed key in the scan.
    items = sorted(_rows(con.execute(_EVIDENCE_SQL.format(where=where), params)), key=strength)
    if not items:
        return []
    marker_ids = sorted({i["marker_id"] for i in items})
    wanted = {i["id"] for i in items}
    if names is None or not set(marker_ids) <= set(names):
        names = dict(con.execute("SELECT id, name FROM marker WHERE id IN (SELECT unnest(?::VARCHAR[]))", [marker_ids]).fetchall())
    sources = {row[0]: row for row in con.execute("SELECT id, title, doi, year FROM source").fetchall()}
    documents = {row[0]: row for row in con.execute("SELECT id, path, sha256 FROM document").fetchall()}
    links: dict[str, list[dict]] = {}
    # An equality filter (one marker, the common case) lets DuckDB use the index; a list cannot.
    where, param = ("marker_id = ?", marker_ids[0]) if len(marker_ids) == 1 else \
        ("marker_id IN (SELECT unnest(?::VARCHAR[]))", marker_ids)
    for eid, doc_id, start, end, quote in con.execute(_LINKS_SQL.format(where=where), [param]).fetchall():
        if eid in wanted:
            _, path, sha = documents[doc_id]
            links.setdefault(eid, []).append({"document": path, "document_id": doc_id, "sha256": sha,
                                              "start": start, "end": end, "quote": quote})
    return [_evidence_json(item, names[item["marker_id"]], sources[item["source_id"]], links.get(item["id"], []))
            for item in items]


def _evidence_json(e: dict, marker_name: str, source: tuple, links: list[dict]) -> dict:
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
        "direction": e["direction"], "disease": e["disease"], "therapy": e["therapy"], "therapy_class": e["therapy_class"],
        "timepoint": e["timepoint"], "specimen": e["specimen"], "outcome": e["outcome"], "rule": rule, "effect": effect,
        "n_patients": e["n_patients"], "level": e["level"], "cited_reference": e["cited_reference"],
        "statement": e["statement"], "status": e["status"], "curator": e["curator"],
        "curated_at": e["curated_at"].isoformat() if e["curated_at"] else None,
        "source": {"id": source[0], "title": source[1], "doi": source[2], "year": source[3]},
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


def evidence(marker: str | None = None, disease: str | None = None, therapy: str | None = None,
             direction: str | None = None, evidence_type: str | None = None, status: str = "accepted",
             source: str | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
             db: str | os.PathLike | None = None) -> dict:
    """Evidence items for a marker (resolved fuzzily) and optional filters, as the `kb query` JSON."""
    con = _con(con, db)
    resolved = MarkerIndex(con).resolve(marker) if marker is not None else None
    filters = Filters.resolve(con, resolved.id if resolved else None, disease, therapy, direction, evidence_type,
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
