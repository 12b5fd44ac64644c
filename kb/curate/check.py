"""`kb check`: re-verify everything a knowledge base says.

A link is sound when its quote is exactly document.text[start:end]: evidence links, the spans of the
reference-list entries (cited works), dismissed candidate sentences, licence sentences and PAM model
links alike. A document is sound when its text still has the sha256 recorded at ingest (and, where the
seeds file is present, the file does too). Beyond provenance: the schema version; the digest of every row,
recomputed from the rows themselves and compared with the one recorded at build (kb_meta.rows_hash); and
every table row by row against a fresh build, in memory, of the seeds the database was built from
(kb_meta.seeds, or --seeds): PAM centroids, s_i + s0, priors and performance figures, term parents, marker
aliases, evidence rows and their read model.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kb.core import store


@dataclass
class CheckReport:
    documents: int = 0
    links: int = 0
    pam_links: int = 0
    cited_work_links: int = 0
    dismissals: int = 0
    licences: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {"ok": self.ok, "documents": self.documents, "links": self.links, "pam_links": self.pam_links,
                "cited_work_links": self.cited_work_links, "dismissals": self.dismissals, "licences": self.licences,
                "problems": self.problems}


def built_from(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The seeds directory a database records it was built from (None: an older build that did not say)."""
    from kb.core.paths import bundled_seeds

    origin = store.meta(con).get("seeds")
    if origin is None:
        return None
    return bundled_seeds() if origin == "bundled" else Path(origin)


def check(con: duckdb.DuckDBPyConnection, seeds: Path | None = None, *, against_seeds: bool = True) -> CheckReport:
    """Every check; `seeds` overrides the directory recorded in kb_meta (None: the recorded one)."""
    report = CheckReport()
    if against_seeds:
        seeds = seeds if seeds is not None else built_from(con)
    _check_meta(con, report, seeds if against_seeds else None)
    texts: dict[str, str] = {}
    for doc_id, path, sha, n_chars, text in store.documents(con):
        report.documents += 1
        texts[doc_id] = text
        actual = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if actual != sha:
            report.problems.append(f"document {path}: stored text has sha256 {actual}, recorded {sha}")
        if len(text) != n_chars:
            report.problems.append(f"document {path}: {len(text)} characters, recorded {n_chars}")
        if seeds is not None and (seeds / path).is_file():
            on_disk = hashlib.sha256((seeds / path).read_bytes()).hexdigest()
            if on_disk != sha:
                report.problems.append(f"document {path}: seeds file has sha256 {on_disk}, the database {sha}")
    for evidence_id, doc_id, start, end, quote in store.links(con):
        report.links += 1
        _check_span(report, f"evidence {evidence_id}", texts.get(doc_id), doc_id, start, end, quote)
    for work_id, doc_id, start, end, quote in store.cited_work_links(con):
        report.cited_work_links += 1
        _check_span(report, f"cited work {work_id}", texts.get(doc_id), doc_id, start, end, quote)
    for d in store.dismissals(con):
        report.dismissals += 1
        _check_span(report, f"dismissal at {d['curation_file']}:{d['curation_line']}", texts.get(d["document_id"]),
                    d["document_id"], d["start"], d["end"], d["quote"])
    for source_id, doc_id, start, end, quote in store.licence_spans(con):
        report.licences += 1
        _check_span(report, f"licence of {source_id}", texts.get(doc_id), doc_id, start, end, quote)
    from kb.core.items import marker_items

    for marker_id, name, rendered in store.marker_evidence_all(con):
        fresh = marker_items(con, marker_id, name)
        if (json.loads(rendered) if rendered else []) != fresh:
            report.problems.append(f"read model of marker {marker_id}: differs from the evidence and link tables")
    for model_id, provenance in store.pam_provenance(con):
        for item in json.loads(provenance):
            report.pam_links += 1
            _check_span(report, f"pam model {model_id} ({item['what']})", texts.get(item["document_id"]),
                        item["document_id"], item["start"], item["end"], item["quote"])
    return report


def _check_span(report: CheckReport, owner: str, text: str | None, doc_id: str, start: int, end: int, quote: str) -> None:
    if text is None:
        report.problems.append(f"{owner}: links to missing document {doc_id}")
    elif not (0 <= start < end <= len(text)):
        report.problems.append(f"{owner}: span [{start}, {end}) outside {doc_id} ({len(text)} characters)")
    elif text[start:end] != quote:
        report.problems.append(f"{owner}: quote differs from {doc_id}[{start}:{end}]")


def _check_meta(con, report: CheckReport, seeds: Path | None) -> None:
    from schemas.enums import SCHEMA_VERSION

    values = store.meta(con)
    if values.get("schema_version") != str(SCHEMA_VERSION):
        report.problems.append(f"kb_meta: schema version {values.get('schema_version')}, this kb writes {SCHEMA_VERSION}")
    recorded, actual = values.get("rows_hash"), store.rows_digest(con)
    if recorded is None:
        report.problems.append("kb_meta: no rows digest recorded (an older build): rebuild to make the rows checkable")
    elif recorded != actual:
        report.problems.append(f"rows: digest {actual} of the stored rows differs from {recorded} recorded at build: "
                               "rows were changed after the build")
    if seeds is None:
        return
    if not (seeds / "sources.yaml").is_file():
        report.problems.append(f"seeds {seeds}: the seeds directory the database was built from is missing; "
                               "its rows could not be compared with them (pass --seeds DIR)")
        return
    from ingest.seedfiles import content_hash

    current = content_hash(seeds)
    if current != values.get("content_hash"):
        report.problems.append(f"seeds {seeds}: content hash {current}, the database records {values.get('content_hash')}: "
                               "the seeds changed since the build (rebuild), or kb_meta was edited")
        return
    _compare_with_seeds(con, report, seeds, current)


_expected: dict[tuple[str, str], dict[str, dict]] = {}  # (seeds dir, content hash) -> table -> rows by key


def _expected_rows(seeds: Path, digest: str) -> dict[str, dict]:
    """Every table of a fresh in-memory build of the seeds (the same code as `kb build`), rows by primary key.
    Kept for the process: checking several databases of the same seeds (a notebook, the test suite) builds
    them once. The key is the content hash `_check_meta` has just computed from the seed files."""
    from ingest.build import derive_read_model, load_seeds
    from ingest.write import insert_rows, schema_ddl

    key = (str(seeds.resolve()), digest)
    if key in _expected:
        return _expected[key]
    bundle = load_seeds(seeds)
    fresh = duckdb.connect()
    try:
        for statement in schema_ddl():
            fresh.execute(statement)
        for rows in bundle.groups.values():
            insert_rows(fresh, rows)
        derive_read_model(fresh)
        tables = [r[0] for r in fresh.execute("SELECT table_name FROM information_schema.tables WHERE "
                                              "table_schema = 'main' AND table_name <> 'kb_meta' ORDER BY 1").fetchall()]
        expected = {}
        for table in tables:
            keys = [r[0] for r in fresh.execute(
                "SELECT unnest(constraint_column_names) FROM duckdb_constraints() WHERE table_name = ? "
                "AND constraint_type = 'PRIMARY KEY'", [table]).fetchall()]
            expected[table] = {"keys": keys, "rows": _rows(fresh, table, keys)}
    finally:
        fresh.close()
    _expected.clear()  # one set of seeds at a time is what a session checks
    _expected[key] = expected
    return expected


def _compare_with_seeds(con, report: CheckReport, seeds: Path, digest: str) -> None:
    """Compare every table with a fresh build of the seeds, row by row."""
    for table, fresh in _expected_rows(seeds, digest).items():
        expected = fresh["rows"]
        try:
            stored = _rows(con, table, fresh["keys"])
        except duckdb.Error as exc:
            report.problems.append(f"table {table}: cannot be read ({str(exc).splitlines()[0][:120]})")
            continue
        if stored == expected:
            continue
        changed = sorted((k for k in expected if k in stored and expected[k] != stored[k]), key=repr)
        missing = sorted((k for k in expected if k not in stored), key=repr)
        extra = sorted((k for k in stored if k not in expected), key=repr)
        what = (f"row {_key(changed[0])} differs from the seeds" if changed else
                f"row {_key(missing[0])} is missing" if missing else f"row {_key(extra[0])} is not in the seeds")
        report.problems.append(f"table {table}: {len(changed) + len(missing) + len(extra)} row(s) differ from "
                               f"seeds {seeds}; e.g. {what}")


def _rows(con, table: str, keys: list[str]) -> dict:
    cur = con.execute(f'SELECT * FROM "{table}"')
    names = [d[0] for d in cur.description]
    at = [names.index(k) for k in keys] if keys else list(range(len(names)))
    return {tuple(row[i] for i in at): row for row in cur.fetchall()}


def _key(key: tuple) -> str:
    text = ", ".join(str(k) for k in key)
    return text if len(text) <= 80 else text[:79] + "…"
