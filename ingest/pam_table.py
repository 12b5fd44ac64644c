"""Parse a published PAM parameter table (gene, shrunken centroid per class, s_i + s0) from paper text.

The table arrives flattened differently in each rendition: loose space-separated lines with blank lines
between them (PDF text) or tab-separated rows (Markdown). Both are parsed by the same row grammar and
must agree number for number; class sizes, performance and validation come from quoted sentences,
so nothing about the model is typed in by hand.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ingest import spans
from ingest.curation import Texts
from ingest.models import Located
from schemas.curation import PamModelIn
from schemas.tables import Document, PamGene, PamModel

_HEADER = re.compile(r"^.*Gene symbol.*Shrunken centroid in class.*$", re.MULTILINE)
_CLASS = re.compile(r"Shrunken centroid in class\s+(\S+)")
_NUM = r"(-?\d+(?:\.\d+)?)"
_SIZES = re.compile(r"(\d+)\s+(?:achieved|showed|had|were)\b[^()]*?\(([A-Za-z][\w-]*)\)")
_TOTAL = re.compile(r"Of the (\d+) patients")
_PERF = re.compile(r"(Accuracy|Sensitivity|Specificity)\s*:\s*(\d+(?:\.\d+)?)\s*%\s*\((\d+)\s*/\s*(\d+)\)")


@dataclass(frozen=True)
class ParsedTable:
    document_id: str
    classes: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float, ...], float], ...]  # symbol, centroid per class, sd
    start: int
    end: int


def parse_table(doc: Document) -> ParsedTable | None:
    header = _HEADER.search(doc.text)
    if header is None:
        return None
    classes = tuple(_CLASS.findall(header.group(0)))
    row = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9.-]*)" + r"[ \t]+" .join([""] + [_NUM] * (len(classes) + 1)) + r"[ \t]*$")
    rows = []
    end = header.end()
    pos = header.end()
    for line in doc.text[header.end():].split("\n")[1:]:
        pos += 1
        if line.strip():
            m = row.match(line)
            if m is None:
                break
            values = [float(v) for v in m.groups()[1:]]
            rows.append((m.group(1), tuple(values[:-1]), values[-1]))
            end = pos + len(line)
        pos += len(line)
    return ParsedTable(doc.id, classes, tuple(rows), header.start(), end)


def _quote(located: Located, loc: tuple, quote: str, documents: list[Document], texts: Texts, what: str) -> list[dict]:
    found = []
    for doc in documents:
        span = spans.find(quote, texts.folded(doc), doc.text)
        if span is not None:
            found.append({"what": what, "document": doc.path, "document_id": doc.id, "start": span.start,
                          "end": span.end, "quote": doc.text[span.start:span.end]})
    if not found:
        raise located.error(loc, f"quote not found in any rendition: {quote!r}")
    return found


def build_model(located: Located, loc: tuple, spec: PamModelIn, source_id: str, marker_id: str | None,
                texts: Texts) -> tuple[PamModel, list[PamGene]]:
    documents = texts.of_source(source_id)
    parses = [p for p in (parse_table(d) for d in documents) if p is not None and p.rows]
    if not parses:
        raise located.error(loc + ("table_caption",), f"no PAM parameter table (header 'Gene symbol ... Shrunken centroid in class ...') in any rendition of {source_id}")
    first = parses[0]
    for other in parses[1:]:
        if (other.classes, other.rows) != (first.classes, first.rows):
            diff = next((f"{a[0]}: {a[1:]} vs {b[0]}: {b[1:]}" for a, b in zip(first.rows, other.rows) if a != b),
                        f"{len(first.rows)} rows vs {len(other.rows)} rows; classes {first.classes} vs {other.classes}")
            raise located.error(loc + ("table_caption",), f"{spec.table_caption} differs between {first.document_id} and {other.document_id}: {diff}")
    symbols = [r[0] for r in first.rows]
    if len(set(symbols)) != len(symbols):
        raise located.error(loc + ("table_caption",), f"{spec.table_caption} lists a gene twice")

    provenance = []
    for p in parses:
        doc = next(d for d in documents if d.id == p.document_id)
        provenance.append({"what": "table", "document": doc.path, "document_id": doc.id, "start": p.start,
                           "end": p.end, "quote": doc.text[p.start:p.end]})
    provenance += _quote(located, loc + ("table_caption",), spec.table_caption + ".", documents, texts, "caption")
    provenance += _quote(located, loc + ("scale_quote",), spec.scale_quote, documents, texts, "scale")

    size_links = _quote(located, loc + ("class_sizes_quote",), spec.class_sizes_quote, documents, texts, "class sizes")
    provenance += size_links
    sizes = {label: int(n) for n, label in _SIZES.findall(spec.class_sizes_quote)}
    if sorted(sizes) != sorted(first.classes):
        raise located.error(loc + ("class_sizes_quote",), f"the quote gives sizes for {sorted(sizes)}, the table has classes {list(first.classes)}")
    total = _TOTAL.search(spec.class_sizes_quote)
    if total and int(total.group(1)) != sum(sizes.values()):
        raise located.error(loc + ("class_sizes_quote",), f"class sizes {sizes} do not add up to {total.group(1)}")
    n = sum(sizes.values())

    performance = []
    if spec.performance_quote:
        links = _quote(located, loc + ("performance_quote",), spec.performance_quote, documents, texts, "performance")
        provenance += links
        for metric, percent, num, den in _PERF.findall(spec.performance_quote):
            if abs(100 * int(num) / int(den) - float(percent)) > 0.051:
                raise located.error(loc + ("performance_quote",), f"{metric} {percent}% is not {num}/{den}")
            performance.append({"metric": metric.lower(), "percent": float(percent), "numerator": int(num),
                                "denominator": int(den)})
        if not performance:
            raise located.error(loc + ("performance_quote",), "expected 'Metric: P% (a/b)' statements in the quote")
    validation = None
    if spec.validation_quote:
        provenance += _quote(located, loc + ("validation_quote",), spec.validation_quote, documents, texts, "validation")
        validation = "LOOCV" if re.search(r"leave-one-out|LOOCV", spec.validation_quote, re.I) else spec.validation_quote

    model = PamModel(
        id=spec.id, source_id=source_id, marker_id=marker_id, name=spec.name, classes=json.dumps(list(first.classes)),
        n_per_class=json.dumps({c: sizes[c] for c in first.classes}),
        priors=json.dumps({c: sizes[c] / n for c in first.classes}), scale=spec.scale, validation=validation,
        performance=json.dumps(performance), provenance=json.dumps(provenance, ensure_ascii=False),
    )
    genes = [PamGene(model_id=spec.id, symbol=sym, position=i, centroids=json.dumps(dict(zip(first.classes, cents))), sd=sd)
             for i, (sym, cents, sd) in enumerate(first.rows)]
    return model, genes
