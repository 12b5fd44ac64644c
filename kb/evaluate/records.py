"""Patient records as they arrive: one file (JSON or YAML), a list, JSONL or a directory, each validated
against `schemas.patient.Patient` with a one-line error naming the file and field.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kb.core.errors import InputError
from kb.core.escape import clip
from kb.core.safeparse import ParseProblem, json_loads, yaml_load

RECORD_SUFFIXES = (".json", ".yaml", ".yml", ".jsonl")


@dataclass(frozen=True)
class Record:
    label: str  # file, file:line (JSONL) or file[i] (a list): names the record in errors
    data: object
    # a record read from a standard form (FHIR, Phenopacket): what it holds before the knowledge base maps
    # its codes (kb.evaluate.readers.standard.Pending); `data` is then built from it
    pending: object = None
    # why a record of a batch (a file of a directory, a line of JSONL) could not be read: the batch goes on
    # being checked, so that every bad record is reported, and then fails as a whole
    problem: str | None = None


def load_records(path: str | os.PathLike) -> tuple[list[Record], str]:
    """The records at `path` and how they came: 'single' (one record), 'many' (directory, list) or 'jsonl'."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in RECORD_SUFFIXES)
        if not files:
            raise InputError(f"{p}: no patient records (*.json, *.yaml, *.yml, *.jsonl) in this directory")
        records: list[Record] = []
        for f in files:
            try:
                records += _load_file(f)[0]
            except InputError as exc:
                records.append(Record(str(f), None, problem=str(exc)))
        return records, "many"
    if not p.exists():
        raise InputError(f"{p}: no such file or directory; expected a patient record (JSON or YAML), a JSONL file or a directory")
    return _load_file(p)


TEXT_FORMATS = ("json", "yaml", "jsonl")


class TooManyRecords(InputError):
    """More records than a caller accepts at once (the HTTP API's limit per request)."""


def _load_file(p: Path) -> tuple[list[Record], str]:
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: expected a JSON or YAML patient record (UTF-8 text), got binary data") from None
    suffix = p.suffix.lower()
    return parse_text(text, "jsonl" if suffix == ".jsonl" else "json" if suffix == ".json" else "yaml", str(p))


def records_from_text(text: str, fmt: str, label: str, max_records: int | None = None) -> tuple[list[Record], str]:
    """The records of a text declared as `fmt` (json, yaml or jsonl), named `label` in errors; at most
    `max_records` of them (TooManyRecords beyond)."""
    if fmt not in TEXT_FORMATS:
        raise InputError(f"{label}: format: expected one of {', '.join(TEXT_FORMATS)}, got {fmt!r}")
    records, kind = parse_text(text, fmt, label)
    if max_records is not None and len(records) > max_records:
        raise TooManyRecords(f"{label}: {len(records)} records; expected at most {max_records} per request")
    return records, kind


def parse_text(text: str, fmt: str, label: str) -> tuple[list[Record], str]:
    """One text (a file's or a request body's) as records: 'single', 'many' (a list) or 'jsonl'."""
    p = label
    if "\x00" in text:
        raise InputError(f"{p}: expected a JSON or YAML patient record (text), got a NUL byte")
    if fmt == "jsonl":
        records = []
        # JSONL separates records by "\n" only: str.splitlines would also split inside a string at U+2028
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    records.append(Record(f"{p}:{n}", json_loads(line)))
                except ParseProblem as exc:
                    records.append(Record(f"{p}:{n}", None,
                                          problem=f"{p}:{n}: expected one JSON object per line (JSONL); {exc.problem}"))
        if not records:
            raise InputError(f"{p}: expected one JSON patient record per line, got an empty file")
        return records, "jsonl"
    try:
        data = json_loads(text) if fmt == "json" else yaml_load(text)
    except ParseProblem as exc:
        kind, lang = ("JSON", "JSON") if fmt == "json" else ("JSON or YAML", "YAML")
        detail = exc.problem.removeprefix(f"invalid {lang}: ")
        raise InputError(f"{p}: expected a {kind} patient record; not valid {lang}: {detail} at line {exc.line}") from None
    if isinstance(data, list):
        if not data:
            raise InputError(f"{p}: expected patient records, got an empty list")
        return [Record(f"{p}[{i}]", d) for i, d in enumerate(data)], "many"
    return [Record(str(p), data)], "single"


_FIELDS = {
    (): "id, disease, therapy, timepoint, observations, expression, model",
    ("observations",): "marker, value, unit, upper_limit_normal",
    ("expression",): "scale, genes",
}


def _field(loc) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else clip(str(part), 40).strip("'\"")  # keys can be input too
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "record"


def parse_record(record: Record):
    """The record as a validated `schemas.patient.Patient`; InputError `file: field: expected ...`."""
    from pydantic import ValidationError

    from schemas.patient import Patient

    if not isinstance(record.data, dict):
        got = "nothing" if record.data is None else f"a {type(record.data).__name__}"
        raise InputError(f"{record.label}: record: expected a patient record (an object with id, disease, therapy, "
                         f"timepoint, observations), got {got}")
    try:
        return Patient.model_validate(record.data)
    except ValidationError as exc:
        problem = _problem(exc.errors()[0])
    # raised outside the except block: a ValidationError kept as __context__ (pydantic-core objects are not
    # traversed by the garbage collector) would keep the frames, and an open connection, alive until exit
    raise InputError(f"{record.label}: {problem}")


def _problem(err: dict) -> str:
    """`field: what was expected` for one pydantic error."""
    loc = tuple(err["loc"])
    if "value" in loc:  # drop pydantic's union-member tags after observations[i].value
        loc = loc[: loc.index("value") + 1]
    kind, got = err["type"], err.get("input")
    if kind == "missing":
        msg = "required field is missing"
    elif kind == "extra_forbidden":
        parent = tuple(p for p in loc[:-1] if not isinstance(p, int))
        msg = "unknown field" + (f"; expected one of {_FIELDS[parent]}" if parent in _FIELDS else "")
    elif kind == "greater_than":
        msg = f"expected a number greater than {err['ctx']['gt']:g}, got {clip(got)}"
    elif kind in ("float_parsing", "float_type", "finite_number"):
        msg = f"expected a finite number, got {clip(got)}"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        if kind != "value_error":
            msg = f"{msg[0].lower()}{msg[1:]}, got {clip(got)}"
    return f"{_field(loc)}: {msg}"
