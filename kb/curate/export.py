"""`kb export`: the whole knowledge base as JSON, CSV, Parquet, or a CIViC-style evidence TSV.

Every format exports the same evidence items (all of them with their `status` by default, or one status)
in the order of `kb query`:

- ``json``: ``{"kb_version", "sources", "markers", "evidence"}``; evidence items have the `kb query` shape.
- ``csv``: one row per evidence item, flat columns (`CSV_COLUMNS`): the rule and the effect as ``rule_*``
  and ``effect_*`` columns, the effect's groups and the evidence links as JSON strings.
- ``parquet``: the CSV columns, typed (numbers as DOUBLE/INTEGER, curated_at as DATE); needs ``--out``.
- ``civic-tsv``: the columns of CIViC's ClinicalEvidenceSummaries release (`CIVIC_COLUMNS`) with the
  marker in place of the molecular profile; a field the knowledge base does not hold stays empty.

CIViC mapping (``civic-tsv``):

- ``evidence_type``: ours, capitalised (Predictive, Prognostic, Diagnostic, Monitoring, Safety, Response,
  Susceptibility, Mechanistic). The first three are CIViC types; the others have no CIViC counterpart.
- ``evidence_direction``: ``Supports``, except direction ``none`` (a reported null result): ``Does Not Support``;
  empty when the text gives no direction.
- ``significance`` from type and direction (what a high / present marker means):

  - prognostic: favorable -> Better Outcome, unfavorable -> Poor Outcome;
  - predictive, response, monitoring, mechanistic (the outcome of the therapy): favorable ->
    Sensitivity/Response, unfavorable -> Resistance;
  - safety: unfavorable -> Adverse Response (favorable -> N/A);
  - diagnostic: favorable or unfavorable -> Positive;
  - susceptibility: favorable -> Protectiveness, unfavorable -> Predisposition;
  - direction mixed or none, whatever the type: N/A (the knowledge base does not record which effect a
    null result failed to show, so none is guessed).

- ``doid``: the number of the disease's Disease Ontology id from the disease vocabulary (``DOID:0080638``
  -> ``0080638``, as CIViC writes it); empty when the vocabulary gives none (the parent's id is not used).
- ``therapies``: the therapy term (``axi-cel``, ``blinatumomab``, ``CD19 CAR-T unspecified``).
- ``citation_id`` / ``source_type`` / ``citation``: the primary study, when the item reports exactly one
  cited work and its reference-list entry gives a DOI (``DOI``) or PMID (``PubMed``): its citation label
  (``Nastoupil et al., 2020, J Clin Oncol (ref. 53 in xu2023)``). Otherwise the source: its DOI, else
  its PMID, else both empty, and ``<first author's surname> et al., <year>, <journal>`` from what the
  source records.
- ``rating``: empty (the knowledge base has no trust rating). ``evidence_status``: our status.
- ``evidence_id``: our evidence slug. ``last_review_date``: ``curated_at``.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kb import query as q
from kb.core import store
from kb.core.escape import csv_cell, json_text
from kb.core.errors import InputError
from kb.core.items import fetch_evidence
from kb.query.database import connect
from kb.query.filters import evidence_filters

FORMATS = ("json", "csv", "parquet", "civic-tsv")
BINARY = ("parquet",)

# (column, DuckDB type) of the flat evidence table shared by csv and parquet
FLAT = [
    ("id", "VARCHAR"), ("marker_id", "VARCHAR"), ("marker", "VARCHAR"), ("evidence_type", "VARCHAR"),
    ("direction", "VARCHAR"), ("context", "VARCHAR"), ("disease", "VARCHAR"), ("therapy", "VARCHAR"), ("therapy_class", "VARCHAR"),
    ("timepoint", "VARCHAR"), ("specimen", "VARCHAR"), ("outcome", "VARCHAR"),
    ("rule_operator", "VARCHAR"), ("rule_value", "DOUBLE"), ("rule_value_high", "DOUBLE"), ("rule_unit", "VARCHAR"),
    ("rule_reference", "VARCHAR"), ("rule_category", "VARCHAR"),
    ("effect_measure", "VARCHAR"), ("effect_value", "DOUBLE"), ("effect_ci_low", "DOUBLE"), ("effect_ci_high", "DOUBLE"),
    ("effect_p", "DOUBLE"), ("effect_p_text", "VARCHAR"), ("effect_text", "VARCHAR"), ("effect_groups", "VARCHAR"),
    ("n_patients", "INTEGER"), ("level", "VARCHAR"), ("cited_reference", "VARCHAR"), ("cited_works", "VARCHAR"),
    ("statement", "VARCHAR"), ("note", "VARCHAR"), ("status", "VARCHAR"), ("curator", "VARCHAR"), ("curated_at", "DATE"),
    ("source_id", "VARCHAR"), ("source_title", "VARCHAR"), ("source_doi", "VARCHAR"), ("source_year", "INTEGER"),
    ("source_license", "VARCHAR"), ("links", "VARCHAR"),
]
CSV_COLUMNS = [name for name, _ in FLAT]
CIVIC_COLUMNS = [
    "marker", "disease", "doid", "therapies", "evidence_type", "evidence_direction", "evidence_level", "significance",
    "evidence_statement", "citation_id", "source_type", "citation", "rating", "evidence_status", "evidence_id",
    "last_review_date",
]

_OUTCOME_SCALE = {"favorable": "Sensitivity/Response", "unfavorable": "Resistance"}
SIGNIFICANCE = {
    "prognostic": {"favorable": "Better Outcome", "unfavorable": "Poor Outcome"},
    "predictive": _OUTCOME_SCALE, "response": _OUTCOME_SCALE, "monitoring": _OUTCOME_SCALE, "mechanistic": _OUTCOME_SCALE,
    "safety": {"unfavorable": "Adverse Response"},
    "diagnostic": {"favorable": "Positive", "unfavorable": "Positive"},
    "susceptibility": {"favorable": "Protectiveness", "unfavorable": "Predisposition"},
}


@dataclass
class Exported:
    format: str
    items: int  # evidence items exported
    text: str | None = None  # the output of a text format written to stdout
    path: Path | None = None  # the file written with --out


def export(fmt: str, out: str | os.PathLike | None = None, status: str = "all", *, con=None, db=None) -> Exported:
    """Export every evidence item (of `status`) in `fmt`; to `out` when given, else returned as text."""
    if fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt in BINARY and out is None:
        raise InputError(f"--format {fmt} writes a binary file: pass --out FILE")
    path = _target(out) if out is not None else None
    con = con if con is not None else connect(db)
    where, params = evidence_filters(con, status=status)
    items = fetch_evidence(con, where, params)
    if fmt == "parquet":
        try:
            store.write_parquet(path, FLAT, [flat_row(e) for e in items])
        except (duckdb.Error, OSError) as exc:  # one line, no traceback
            raise InputError(f"--out: cannot write {path}: {str(exc).splitlines()[0]}") from None
        return Exported(fmt, len(items), path=path)
    if fmt == "json":
        payload = {"kb_version": store.kb_version(con), "sources": q.sources(con=con)["sources"],
                   "markers": q.markers(con=con)["markers"], "evidence": items}
        text = json_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str, allow_nan=False)) + "\n"
    elif fmt == "csv":
        text = _delimited(CSV_COLUMNS, [flat_row(e) for e in items], ",")
    else:
        text = _civic_tsv(con, items)
    if path is None:
        return Exported(fmt, len(items), text=text)
    try:
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"--out: cannot write {path}: {exc.strerror}") from None
    return Exported(fmt, len(items), path=path)


def _target(out: str | os.PathLike) -> Path:
    """Refuse an --out that cannot be written before any work (a directory, a missing or read-only parent)."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise InputError(f"--out: {path} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"--out: cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"--out: cannot write {path}: permission denied")
    return path


def flat_row(e: dict) -> list:
    """One evidence item (the `kb query` shape) as the values of `CSV_COLUMNS`."""
    rule, effect, source = e["rule"] or {}, e["effect"] or {}, e["source"]
    ci = effect.get("ci") or [None, None]
    return [
        e["id"], e["marker_id"], e["marker"], e["evidence_type"], e["direction"], e["context"], e["disease"], e["therapy"],
        e["therapy_class"], e["timepoint"], e["specimen"], e["outcome"],
        rule.get("operator"), rule.get("value"), rule.get("value_high"), rule.get("unit"), rule.get("reference"),
        rule.get("category"),
        effect.get("measure"), effect.get("value"), ci[0], ci[1], effect.get("p"), effect.get("p_text"),
        effect.get("text"), json.dumps(effect.get("groups") or [], ensure_ascii=False),
        e["n_patients"], e["level"], e["cited_reference"],
        json.dumps([{k: w[k] for k in ("number", "citation", "title", "doi", "pmid")} for w in e["cited_works"]],
                   ensure_ascii=False),
        e["statement"], e["note"], e["status"], e["curator"], e["curated_at"],
        source["id"], source["title"], source["doi"], source["year"], source.get("license"),
        json.dumps([{k: v for k, v in link.items() if k != "document_id"} for link in e["links"]], ensure_ascii=False),
    ]


def _delimited(columns: list[str], rows: list[list], delimiter: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else csv_cell(v) for v in row] for row in rows])  # no formula injection
    return buf.getvalue()


def significance(evidence_type: str, direction: str) -> str:
    return SIGNIFICANCE.get(evidence_type, {}).get(direction, "N/A")


def citation(source: dict) -> str:
    """'Shao et al., 2022, Sci Rep' from the parts the source records; '' when it records none."""
    authors = source.get("authors") or []
    surnames = [a.split()[-1] for a in authors if a.strip()]
    who = (surnames[0] if len(surnames) == 1 else f"{surnames[0]} and {surnames[1]}" if len(surnames) == 2
           else f"{surnames[0]} et al." if surnames else None)
    return ", ".join(str(p) for p in (who, source.get("year"), source.get("journal")) if p)


def cited_study(item: dict, source: dict) -> tuple[str, str, str]:
    """(citation_id, source_type, citation) for CIViC: the primary study when the item reports exactly one
    cited work whose entry gives a DOI or PMID, else the source itself (a review's synthesis of several
    studies is the review's claim)."""
    works = [w for w in item.get("cited_works") or [] if w.get("in_text")]
    if len(item.get("cited_works") or []) == 1 and len(works) == 1 and (works[0]["doi"] or works[0]["pmid"]):
        w = works[0]
        cid, ctype = (w["doi"], "DOI") if w["doi"] else (w["pmid"], "PubMed")
        return cid, ctype, w["citation"]
    cid, ctype = (source["doi"], "DOI") if source.get("doi") else (source["pmid"], "PubMed") if source.get("pmid") else ("", "")
    return cid, ctype, citation(source)


def _civic_tsv(con, items: list[dict]) -> str:
    doids = {t["name"]: (t["doid"] or "").removeprefix("DOID:") for t in store.terms(con, "disease")}
    sources = {s["id"]: s for s in q.sources(con=con)["sources"]}
    lines = ["\t".join(CIVIC_COLUMNS)]
    for e in items:
        src = sources[e["source"]["id"]]
        cid, ctype, cited = cited_study(e, src)
        direction = {"none": "Does Not Support", None: ""}.get(e["direction"], "Supports")
        row = [
            e["marker"], e["disease"], doids.get(e["disease"], ""), e["therapy"], e["evidence_type"].capitalize(),
            direction, e["level"], significance(e["evidence_type"], e["direction"]), e["statement"], cid, ctype, cited,
            "", e["status"], e["id"], e["curated_at"],
        ]
        lines.append("\t".join(csv_cell(" ".join(str(v).split())) if v is not None else "" for v in row))
    return "\n".join(lines) + "\n"
