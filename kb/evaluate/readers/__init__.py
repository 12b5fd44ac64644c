"""Patient records in every form `kb evaluate` and `POST /v1/evaluate` accept, as one kind of record.

- our own JSON / YAML / JSONL (`kb.evaluate.records`, the native reader);
- FHIR R4 / R4B: Bundle, single resource, NDJSON, a bulk-export directory (`fhir`);
- GA4GH Phenopacket v2 JSON (`phenopacket`).

`load(path)` and `from_text(text, fmt, label)` detect the form (FHIR by `resourceType`, a Phenopacket by
`metaData` / `subject`) and return `(records, kind)`; a standard-form record carries a `pending` record
that `kb.evaluate.readers.standard.Binder` maps against the knowledge base.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from kb.core.errors import InputError
from kb.core.safeparse import ParseProblem, json_loads
from kb.evaluate.records import Record, TooManyRecords, load_records, parse_text

# format names a caller may declare (the HTTP API maps media types to these)
FORMATS = ("json", "yaml", "jsonl", "fhir", "fhir-ndjson", "phenopacket")


def _standard(data, label: str):
    """Pending records when `data` is a FHIR resource or a Phenopacket, else None."""
    from kb.evaluate.readers import fhir, phenopacket

    if fhir.looks_like_fhir(data):
        return [Record(label, None, p) for p in fhir.read_objects([(data, f"{label}: {data['resourceType']}")], label)]
    if phenopacket.looks_like_phenopacket(data):
        return [Record(label, None, phenopacket.read(data, label))]
    return None


def _detect(records: list[Record], kind: str) -> tuple[list[Record], str]:
    out: list[Record] = []
    for r in records:
        if r.problem is not None:
            out.append(r)
            continue
        try:
            standard = _standard(r.data, r.label)
        except InputError as exc:
            if kind == "single":
                raise
            standard = [Record(r.label, None, problem=str(exc))]  # one bad record of a batch: the rest is still checked
        out += standard if standard is not None else [r]
    if kind == "single" and len(out) > 1:
        kind = "many"
    return out, kind


def _standard_document(text: str):
    """The JSON document when `text` is one FHIR resource or Phenopacket, else None. Numbers that have no
    finite float are kept (schemas.numbers.OutOfRange) so that the reader names their place in the
    document; anything else is read again by the native reader, which words its own errors."""
    from kb.evaluate.readers import fhir, phenopacket

    try:
        data = json_loads(text, keep_out_of_range=True)
    except ParseProblem:
        return None
    return data if fhir.looks_like_fhir(data) or phenopacket.looks_like_phenopacket(data) else None


def load(path: str | os.PathLike) -> tuple[list[Record], str]:
    """The records at `path`: a record file, JSONL, a FHIR JSON or NDJSON file, a Phenopacket, or a directory
    (of records, or of NDJSON files as a FHIR bulk export writes them)."""
    from kb.evaluate.readers import fhir

    p = Path(path)
    if p.is_dir() and any(f.suffix.lower() == ".ndjson" for f in p.iterdir()):
        objects = fhir.read_directory(p)
        return [Record(str(p), None, x) for x in fhir.read_objects(objects, str(p))], "many"
    if p.is_file() and p.suffix.lower() == ".ndjson":
        text = _read(p)
        pend = fhir.read_objects(fhir.parse_ndjson(text, str(p)), str(p))
        return [Record(str(p), None, x) for x in pend], "many" if len(pend) > 1 else "single"
    if p.is_dir():
        records, kind = load_records(p)
        return _detect(records, kind)
    if p.is_file() and p.suffix.lower() == ".json":
        data = _standard_document(_read(p))
        if data is not None:
            records = _standard(data, str(p))
            return records, "many" if len(records) > 1 else "single"
    if p.is_file() and p.suffix.lower() == ".jsonl":  # FHIR resources one per line: read as NDJSON
        text = _read(p)
        first = next((line for line in text.split("\n") if line.strip()), "")
        if _standard_document(first) is not None and fhir.looks_like_fhir(_standard_document(first)):
            pend = fhir.read_objects(fhir.parse_ndjson(text, str(p)), str(p))
            return [Record(str(p), None, x) for x in pend], "many" if len(pend) > 1 else "single"
    records, kind = load_records(p)
    return _detect(records, kind)


def from_text(text: str, fmt: str, label: str, max_records: int | None = None) -> tuple[list[Record], str]:
    """The records of a text declared as `fmt` (one of FORMATS)."""
    from kb.evaluate.readers import fhir, phenopacket

    if fmt not in FORMATS:
        raise InputError(f"{label}: format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "fhir-ndjson":
        pend = fhir.read_objects(fhir.parse_ndjson(text, label), label)
        records, kind = [Record(label, None, x) for x in pend], "many" if len(pend) > 1 else "single"
    elif fmt in ("fhir", "phenopacket"):
        try:
            data = json_loads(text, keep_out_of_range=True)
        except ParseProblem as exc:
            raise InputError(f"{label}: expected {'a FHIR resource' if fmt == 'fhir' else 'a Phenopacket'} (JSON); "
                             f"not valid JSON at line {exc.line}: {exc.problem.removeprefix('invalid JSON: ')}") from None
        ok = fhir.looks_like_fhir(data) if fmt == "fhir" else phenopacket.looks_like_phenopacket(data)
        if not ok:
            raise InputError(f"{label}: expected {'a FHIR resource (an object with resourceType)' if fmt == 'fhir' else 'a Phenopacket (an object with id, subject, metaData)'}")
        records = _standard(data, label)
        kind = "many" if len(records) > 1 else "single"
    else:
        data = _standard_document(text) if fmt == "json" else None
        if data is not None:
            records = _standard(data, label)
            kind = "many" if len(records) > 1 else "single"
        else:
            records, kind = _detect(*parse_text(text, fmt, label))
    if max_records is not None and len(records) > max_records:
        raise TooManyRecords(f"{label}: {len(records)} records; expected at most {max_records} per request")
    return records, kind


def from_upload(text: str, name: str, label: str, max_records: int | None = None) -> tuple[list[Record], str]:
    """The records of a text that came as a file called `name` (an upload; "" when pasted), read as `load`
    reads a file of that name: `.ndjson` is FHIR NDJSON, `.jsonl` JSONL (FHIR NDJSON when its first line is
    a FHIR resource), `.json` JSON and `.yaml`/`.yml` YAML, with FHIR and Phenopackets detected inside JSON.
    Without one of these suffixes the text decides: JSON when it parses as JSON, JSONL (or FHIR NDJSON)
    when its first line is a JSON object on its own, YAML when it does not start like JSON."""
    from kb.evaluate.readers.fhir import looks_like_fhir

    suffix = Path(name).suffix.lower() if name else ""
    fmt = {".ndjson": "fhir-ndjson", ".jsonl": "jsonl", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix)
    if fmt is None:
        fmt = _sniff(text)
    if fmt == "jsonl" and looks_like_fhir(_first_line(text)):
        fmt = "fhir-ndjson"
    return from_text(text, fmt, label, max_records=max_records)


def _first_line(text: str):
    line = next((x for x in text.split("\n") if x.strip()), "")
    try:
        return json.loads(line)
    except ValueError:
        return None


def _sniff(text: str) -> str:
    if text.lstrip()[:1] not in ("{", "["):
        return "yaml"
    try:
        json.loads(text)
        return "json"
    except ValueError:
        return "jsonl" if isinstance(_first_line(text), dict) else "json"  # "json": its parse error is the one to show


def _read(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: expected UTF-8 text, got binary data") from None
