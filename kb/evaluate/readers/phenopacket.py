"""GA4GH Phenopacket v2 input (JSON). Parsed with the `phenopackets` protobuf bindings (which accept an empty
object, so the required fields `id`, `subject`, `metaData` and the types this reader uses are checked here,
naming the field of any error). The mapping, part by part, is in docs/evaluate.md.
"""
from __future__ import annotations

import json

from kb.core.errors import InputError
from kb.evaluate.readers.standard import Candidate, Coding, Concept, Pending, parse_when

_PREFIXES = {"NCIT": "NCIT", "DOID": "DOID", "MONDO": "MONDO", "ICD10": "ICD10", "ICD10CM": "ICD10", "LOINC": "LOINC",
             "HGNC": "HGNC", "RXNORM": "RXNORM", "UCUM": "UCUM", "SNOMEDCT": "SNOMED", "SNOMED": "SNOMED"}
# genomic interpretation / variant statuses that mean "this gene is altered in the patient"
_ALTERED = ("CAUSATIVE", "CONTRIBUTORY", "PATHOGENIC", "LIKELY_PATHOGENIC", "UNKNOWN_STATUS", "CANDIDATE")


def looks_like_phenopacket(data) -> bool:
    return isinstance(data, dict) and "resourceType" not in data and ("metaData" in data or "meta_data" in data
                                                                       or isinstance(data.get("subject"), dict))


def _term(t: dict, where: str) -> Coding:
    if not isinstance(t, dict) or not isinstance(t.get("id"), str):
        raise InputError(f"{where}: expected an ontology class {{id: 'PREFIX:code', label}}, got {json.dumps(t)[:60]}")
    prefix, _, code = t["id"].partition(":")
    system = _PREFIXES.get(prefix.upper(), prefix)
    if system in ("NCIT", "DOID", "HGNC"):
        code = f"{system}:{code}"
    return Coding(system, code, t.get("label"))


def read(data: dict, label: str) -> Pending:
    from google.protobuf.json_format import ParseDict, ParseError
    from phenopackets import Phenopacket

    from schemas.numbers import bad_number

    for key in ("id", "subject", "metaData"):
        if key not in data:
            raise InputError(f"{label}: {key}: required field is missing (a Phenopacket has id, subject and metaData)")
    if not isinstance(data["subject"], dict) or not isinstance(data["subject"].get("id"), str) or not data["subject"]["id"]:
        raise InputError(f"{label}: subject.id: expected the patient id (a non-empty string)")
    bad = bad_number(data)  # before the bindings and float() see them: 1e400, NaN, a 400-digit integer
    if bad is not None:
        raise InputError(f"{label}: {bad[0].lstrip('.')}: {bad[1]}")
    try:
        ParseDict(data, Phenopacket())
    except ParseError as exc:
        raise InputError(f"{label}: not a valid Phenopacket v2: {str(exc).splitlines()[0]}") from None

    p = Pending("phenopacket", data["subject"]["id"])
    for i, d in enumerate(data.get("diseases") or []):
        where = f"diseases[{i}]"
        coding = _term(d.get("term"), f"{label}: {where}.term")
        if d.get("excluded"):
            p.unused.append({"where": where, "what": coding.label(), "why": "excluded"})
            continue
        p.diseases.append(Concept(where, [coding], coding.display))
    for i, a in enumerate(data.get("medicalActions") or []):
        where = f"medicalActions[{i}]"
        treatment = a.get("treatment")
        if not isinstance(treatment, dict):
            kinds = ", ".join(k for k in a if k != "treatmentTarget") or "nothing"
            p.unused.append({"where": where, "what": kinds, "why": "only treatment actions name a therapy"})
            continue
        coding = _term(treatment.get("agent"), f"{label}: {where}.treatment.agent")
        start = None
        for interval in (treatment.get("doseIntervals") or []):
            start = parse_when((interval.get("interval") or {}).get("start"))
            if start:
                break
        p.therapies.append(Concept(where, [coding], coding.display, start))
    for i, m in enumerate(data.get("measurements") or []):
        where = f"measurements[{i}]"
        concept = Concept(where, [_term(m.get("assay"), f"{label}: {where}.assay")])
        concept.when = parse_when((m.get("timeObserved") or {}).get("timestamp"))
        value = m.get("value") or {}
        c = Candidate(concept, None)
        if "quantity" in value:
            q = value["quantity"]
            if isinstance(q.get("value"), bool) or not isinstance(q.get("value"), (int, float)):
                raise InputError(f"{label}: {where}.value.quantity.value: expected a number, got {json.dumps(q.get('value'))}")
            c.value = float(q["value"])
            unit = _term(q.get("unit"), f"{label}: {where}.value.quantity.unit")
            c.unit = unit.code if unit.system == "UCUM" else (unit.display or unit.code)
            high = (q.get("referenceRange") or {}).get("high")
            if high is not None and (isinstance(high, bool) or not isinstance(high, (int, float))):
                raise InputError(f"{label}: {where}.value.quantity.referenceRange.high: expected a number, got {json.dumps(high)[:40]}")
            c.uln = float(high) if high is not None else None
        elif "ontologyClass" in value:
            c.value = _term(value["ontologyClass"], f"{label}: {where}.value.ontologyClass").display
        p.candidates.append(c)
    for i, interp in enumerate(data.get("interpretations") or []):
        _interpretation(p, interp, f"interpretations[{i}]", label)
    return p


def _interpretation(p: Pending, interp: dict, where: str, label: str) -> None:
    """A genomic interpretation that names a gene with a (likely) pathogenic or candidate status reads as
    '<gene> altered' (TP53 variant -> TP53 altered); REJECTED and BENIGN ones are not used."""
    diagnosis = interp.get("diagnosis") or {}
    for j, gi in enumerate(diagnosis.get("genomicInterpretations") or []):
        w = f"{where}.diagnosis.genomicInterpretations[{j}]"
        status = gi.get("interpretationStatus", "UNKNOWN_STATUS")
        gene = gi.get("gene") or ((gi.get("variantInterpretation") or {}).get("variationDescriptor") or {}).get("geneContext")
        if gene is None:
            p.unused.append({"where": w, "what": "genomic interpretation", "why": "names no gene"})
            continue
        gid = gene.get("valueId") or ""
        symbol = gene.get("symbol")
        if status not in _ALTERED:
            p.unused.append({"where": w, "what": symbol or gid, "why": f"interpretationStatus {status}"})
            continue
        codings = [Coding("HGNC", gid if gid.upper().startswith("HGNC:") else None, symbol)]
        p.candidates.append(Candidate(Concept(w, codings, symbol), "altered"))
