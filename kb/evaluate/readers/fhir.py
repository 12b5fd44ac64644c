"""FHIR R4 / R4B input: a Bundle (any type), a single resource, NDJSON (one resource or Bundle per line) or a
directory of NDJSON files as a bulk-data export writes it. Every resource is validated by fhir.resources'
R4B models; an invalid one is an InputError naming the place in FHIRPath style
(`Bundle.entry[3].resource.valueQuantity.value`). The mapping, resource by resource, is in docs/evaluate.md.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

from kb.core.errors import InputError
from kb.core.safeparse import ParseProblem, json_loads
from kb.evaluate.readers.standard import Candidate, Coding, Concept, Pending, parse_when, system_name

THERAPY_TYPES = ("MedicationStatement", "MedicationRequest", "MedicationAdministration", "Procedure")
IGNORED_CONDITION = ("refuted", "entered-in-error")
IGNORED_OBSERVATION = ("entered-in-error", "cancelled")


def looks_like_fhir(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def _validate(resource: dict, where: str) -> None:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    kind = resource.get("resourceType")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, AttributeError):
        raise InputError(f"{where}.resourceType: unknown FHIR R4B resource type {kind!r}") from None
    try:
        model.model_validate(resource)
        return
    except ValidationError as exc:
        err = exc.errors()[0]
    path = where
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    msg = err["msg"].removeprefix("Value error, ")
    raise InputError(f"{path}: {msg} (got {json.dumps(err.get('input'), default=str)[:60]})")


def check_numbers(data, where: str) -> None:
    """Every number of a resource finite and within schemas.numbers.MAGNITUDE, else an InputError naming it in
    FHIRPath style (`Bundle.entry[3].resource.valueQuantity.value`); run before the models see the numbers."""
    from schemas.numbers import bad_number

    bad = bad_number(data)
    if bad is not None:
        raise InputError(f"{where}{bad[0]}: {bad[1]}")


def resources(data: dict, where: str, full_url: Optional[str] = None) -> Iterable[tuple[dict, str, Optional[str]]]:
    """(resource, FHIRPath-style location, the entry's fullUrl) of a resource or of every entry of a Bundle,
    validated."""
    if full_url is None:  # the outermost call: one walk over every number of the document
        check_numbers(data, where)
    _validate(data, where)
    if data["resourceType"] == "Bundle":
        for i, entry in enumerate(data.get("entry") or []):
            if isinstance(entry.get("resource"), dict):
                w, url = f"{where}.entry[{i}].resource", entry.get("fullUrl") or ""
                yield from resources(entry["resource"], w, url) if entry["resource"].get("resourceType") == "Bundle" \
                    else [(entry["resource"], w, url or None)]
    else:
        yield data, where, full_url or None


def reference(r: dict, full_url: Optional[str]) -> Optional[str]:
    """How another resource refers to `r`: `Type/id`, else the entry's fullUrl, else None."""
    if r.get("id"):
        return f"{r['resourceType']}/{r['id']}"
    return full_url


PATIENT_IDENTITY = ("resourceType", "id", "identifier")


def identity(patient: dict) -> dict:
    """The part of a Patient resource that is kept: what identifies it (id, identifiers), never the
    demographics (name, birth date, address, telecom, ...). The summaries carry it and the FHIR output
    returns it as the subject of its RiskAssessments; a research summary has no use for the rest."""
    return {k: patient[k] for k in PATIENT_IDENTITY if k in patient}


def read_objects(objects: list[tuple[dict, str]], label: str) -> list[Pending]:
    """Pending records, one per Patient (or one for the input when it names no Patient)."""
    flat = [(r, w, u) for data, where in objects for r, w, u in resources(data, where)]
    pendings: dict = {}
    for r, w, u in flat:
        if r["resourceType"] == "Patient":
            pid = str(r.get("id") or u or w)
            pendings[pid] = Pending("fhir", pid, patient={"reference": reference(r, u), "where": w,
                                                          "resource": identity(r)})
    if not pendings:
        pendings = {None: Pending("fhir", Path(label).stem or "patient")}
    for r, w, u in flat:
        kind = r["resourceType"]
        if kind in ("Patient", "Bundle"):
            continue
        target = _subject(r, pendings, w, label)
        if target is None:
            continue
        p = pendings[target]
        if kind == "Condition":
            status = _code_of(r.get("verificationStatus"))
            if status in IGNORED_CONDITION:
                p.unused.append({"where": w, "what": _concept(r.get("code"), w).label(), "why": f"verificationStatus {status}"})
            else:
                p.diseases.append(_concept(r.get("code"), w))
        elif kind in THERAPY_TYPES:
            status = r.get("status")
            if status in ("entered-in-error", "cancelled", "not-done", "stopped") and kind != "MedicationStatement" or \
                    status in ("entered-in-error", "not-taken"):
                p.unused.append({"where": w, "what": kind, "why": f"status {status}"})
                continue
            code = r.get("medicationCodeableConcept") if kind != "Procedure" else r.get("code")
            concept = _concept(code, w)
            concept.when = _start(r)
            if not concept.codings and not concept.text:
                p.unused.append({"where": w, "what": kind, "why": "no medication code or text (medicationReference is not followed)"})
                continue
            p.therapies.append(concept)
        elif kind == "Observation":
            if r.get("status") in IGNORED_OBSERVATION:
                p.unused.append({"where": w, "what": _concept(r.get("code"), w).label(), "why": f"status {r['status']}"})
                continue
            p.candidates.extend(_observations(r, w, reference(r, u)))
        else:
            p.unused.append({"where": w, "what": kind, "why": f"{kind} resources are not used"})
    return list(pendings.values())


def _subject(r: dict, pendings: dict, where: str, label: str):
    ref = (r.get("subject") or r.get("patient") or {}).get("reference")
    if None in pendings:
        return None
    if ref is None:
        if len(pendings) == 1:
            return next(iter(pendings))
        raise InputError(f"{where}.subject: expected a reference to one of the Patients ({', '.join(pendings)}), got none")
    pid = ref.rsplit("/", 1)[-1]
    if pid not in pendings:
        raise InputError(f"{where}.subject.reference: {ref!r} names no Patient of {label}; expected one of "
                         + ", ".join(f"Patient/{p}" for p in pendings))
    return pid


def _code_of(concept: Optional[dict]) -> Optional[str]:
    for c in (concept or {}).get("coding") or []:
        if c.get("code"):
            return c["code"]
    return None


def _concept(concept: Optional[dict], where: str) -> Concept:
    concept = concept or {}
    codings = [Coding(system_name(c.get("system")), c.get("code"), c.get("display")) for c in concept.get("coding") or []]
    return Concept(where, codings, concept.get("text"))


def _start(r: dict):
    for key in ("effectiveDateTime", "occurrenceDateTime", "performedDateTime", "authoredOn", "dateAsserted"):
        if r.get(key):
            return parse_when(r[key])
    for key in ("effectivePeriod", "performedPeriod"):
        if (r.get(key) or {}).get("start"):
            return parse_when(r[key]["start"])
    return None


def _observations(r: dict, where: str, ref: Optional[str]) -> list[Candidate]:
    when = parse_when(r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start") or r.get("issued"))
    out = []
    parts = [(r, where)] if (r.get("code") and (any(k.startswith("value") for k in r) or r.get("dataAbsentReason")
                                                or not r.get("component"))) else []
    parts += [(c, f"{where}.component[{i}]") for i, c in enumerate(r.get("component") or [])]
    for part, w in parts:
        concept = _concept(part.get("code"), w)
        concept.when = when
        c = Candidate(concept, None, ref=ref)  # a component's basis is the Observation that holds it
        q = part.get("valueQuantity")
        if q is not None:
            c.value = _number(q["value"], f"{w}.valueQuantity.value") if q.get("value") is not None else None
            c.unit = q.get("code") or q.get("unit")
            c.comparator = q.get("comparator")
        elif part.get("valueCodeableConcept") is not None:
            v = part["valueCodeableConcept"]
            c.value = v.get("text") or next((k.get("display") or k.get("code") for k in v.get("coding") or []), None)
        elif part.get("valueString") is not None:
            c.value = part["valueString"]
        elif part.get("valueBoolean") is not None:
            c.value = "yes" if part["valueBoolean"] else "no"
        if part.get("dataAbsentReason"):
            c.absent = _code_of(part["dataAbsentReason"]) or part["dataAbsentReason"].get("text") or "unknown"
        ranges = [(f"{w}.referenceRange[{i}]", rr) for i, rr in enumerate(part.get("referenceRange") or [])] or \
            [(f"{where}.referenceRange[{i}]", rr) for i, rr in enumerate(r.get("referenceRange") or [])]
        for rw, rr in ranges:
            high = rr.get("high") or {}
            if high.get("value") is not None:
                c.uln = _number(high["value"], f"{rw}.high.value")
                break
        out.append(c)
    return out


def _number(value, where: str) -> float:
    """A FHIR decimal as a finite float. JSON numbers were checked on reading (check_numbers); a decimal may
    also arrive as a string the FHIR models accept ("1e400" matches the decimal pattern), so check again."""
    from schemas.numbers import finite, number_in_text

    try:
        number = number_in_text(value) if isinstance(value, str) else finite(value)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    if number is None:
        raise InputError(f"{where}: expected a number, got {json.dumps(value)[:40]}")
    return number


# ---- files -------------------------------------------------------------------------------------------

def parse_ndjson(text: str, label: str) -> list[tuple[dict, str]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json_loads(line, keep_out_of_range=True)  # check_numbers names any non-finite one
        except ParseProblem as exc:
            raise InputError(f"{label}:{n}: expected one FHIR resource per line (NDJSON); {exc.problem}") from None
        if not looks_like_fhir(data):
            raise InputError(f"{label}:{n}: expected a FHIR resource (an object with resourceType)")
        out.append((data, f"{label}:{n}: {data['resourceType']}"))
    if not out:
        raise InputError(f"{label}: expected FHIR resources, one per line, got an empty file")
    return out


def read_directory(path: Path) -> list[tuple[dict, str]]:
    files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() == ".ndjson")
    out = []
    for f in files:
        out += parse_ndjson(f.read_text(encoding="utf-8"), str(f))
    return out
