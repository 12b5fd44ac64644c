"""Cited works: each source's numbered reference list as rows, and an evidence item's `cited_reference`
checked against it.

A source whose rendition declares its reference list (sources.yaml `references:`) cites by number:
`cited_reference` is "53", "53,77", "7-9" or "12, 15-17", and every number must be an entry of the list
(a build error otherwise), unless the manifest says the text holds only part of the list
(`complete: false`): then a number outside it is recorded as "not in the text's list". A source without a
numbered list cites by name ("Lee et al., 2014"): each `;`-separated part must be stated in its text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest import references, spans
from ingest.models import Located
from schemas.curation import Manifest
from schemas.tables import CitedWork, CitedWorkLink, Document

_NUMBERS = re.compile(r"^\s*\d+(?:\s*[-–]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-–]\s*\d+)?)*\s*$")


@dataclass
class ReferenceLists:
    works: list[CitedWork] = field(default_factory=list)
    links: list[CitedWorkLink] = field(default_factory=list)
    numbered: dict[str, bool] = field(default_factory=dict)  # source id -> the text holds the whole list
    by_number: dict[tuple[str, int], str] = field(default_factory=dict)  # (source, number) -> cited work id

    def of_source(self, source_id: str) -> list[CitedWork]:
        return [w for w in self.works if w.source_id == source_id]


def load(located: Located, manifest: Manifest, documents: list[Document], texts) -> ReferenceLists:
    """Parse every declared reference list; errors name the manifest line of the `references` entry."""
    out = ReferenceLists()
    doc_by_path = {d.path: d for d in documents}
    for si, src in enumerate(manifest.sources):
        for di, spec in enumerate(src.documents):
            if spec.references is None:
                continue
            loc = ("sources", si, "documents", di, "references")
            doc = doc_by_path[spec.path]
            folded = texts.folded(doc)
            start = _locate(located, loc + ("start",), spec.references.start, doc, folded)
            end = _locate(located, loc + ("end",), spec.references.end, doc, folded) if spec.references.end else len(doc.text)
            if end <= start:
                raise located.error(loc + ("end",), f"the end of the reference list comes before its start in {doc.path}")
            try:
                entries = references.entries(doc.text, start, end)
            except references.ReferenceListError as exc:
                raise located.error(loc, f"{doc.path}: {exc}") from None
            if not entries:
                raise located.error(loc, f"no numbered entries found in {doc.path} after {spec.references.start!r}")
            complete = out.numbered.get(src.id, True) and spec.references.complete
            out.numbered[src.id] = complete
            for entry in entries:
                _add(out, located, loc, src.id, doc, entry, spec.references.style)
    return out


def _locate(located: Located, loc: tuple, quote: str, doc: Document, folded) -> int:
    found = spans.find_all(quote, folded, doc.text, limit=2)
    if not found:
        raise located.error(loc, f"{quote!r} is not in {doc.path}")
    if len(found) > 1:
        raise located.error(loc, f"{quote!r} occurs more than once in {doc.path}; quote more of the text")
    return found[0].start


def _add(out: ReferenceLists, located: Located, loc: tuple, source_id: str, doc: Document, entry, style: str) -> None:
    cleaned = references.clean(entry.raw(doc.text), doc.format == "pdf-text")
    parsed = references.parse(cleaned, style, entry.partial)
    bad = references.check_fields(parsed, cleaned)
    if bad is not None:  # a parser fault, never the curator's: refuse rather than store an invented field
        raise located.error(loc, f"{doc.path}: entry {entry.number}: the parsed {bad} is not in the entry's text")
    work_id = f"{source_id}-ref{entry.number}"
    key = (source_id, entry.number)
    if key not in out.by_number:  # a second rendition of the same list adds its spans
        out.by_number[key] = work_id
        out.works.append(CitedWork(
            id=work_id, source_id=source_id, number=entry.number, authors=parsed.authors,
            short_authors=parsed.short_authors, title=parsed.title, journal=parsed.journal, year=parsed.year,
            volume=parsed.volume, issue=parsed.issue, pages=parsed.pages, doi=parsed.doi, pmid=parsed.pmid,
            partial=entry.partial, text=references.clean(cleaned.replace("*", ""), False),
        ))
    for start, end in entry.pieces:
        out.links.append(CitedWorkLink(cited_work_id=work_id, document_id=doc.id, start=start, end=end,
                                       quote=doc.text[start:end]))


def parse_numbers(cited: str) -> list[int] | None:
    """[53, 77] for "53,77", [7, 8, 9] for "7-9"; None when the text is not a list of numbers."""
    if not _NUMBERS.match(cited):
        return None
    numbers: list[int] = []
    for part in cited.split(","):
        lo, _, hi = part.replace("–", "-").partition("-")
        a, b = int(lo), int(hi or lo)
        if b < a or b - a > 200:
            return None
        numbers.extend(range(a, b + 1))
    return list(dict.fromkeys(numbers))
