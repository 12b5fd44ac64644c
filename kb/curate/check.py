"""`kb check`: re-verify every piece of provenance stored in a knowledge base.

A link is sound when its quote is exactly document.text[start:end]: evidence links, the spans of the
reference-list entries (cited works), dismissed candidate sentences, licence sentences and PAM model
links alike. A document is sound when its text still has the sha256 recorded at ingest (and, where the
seeds file is present, the file does too).
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


def check(con: duckdb.DuckDBPyConnection, seeds: Path | None = None) -> CheckReport:
    report = CheckReport()
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
