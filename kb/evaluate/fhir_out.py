"""A summary as FHIR R4B (`kb evaluate --format fhir`, HTTP `Accept: application/fhir+json`): a Bundle of type
collection holding the Patient, a RiskAssessment for the PAM prediction (a probability per class) and one per
applicable, decided finding. The research-use disclaimer is the first note of every RiskAssessment; context
items (preclinical, background) are not predictions: they are left out, and the first RiskAssessment says how
many were. Every Bundle is validated with fhir.resources before it is returned.

What a RiskAssessment rests on (`basis`) and whom it is about (`subject`) depend on the input:
- FHIR input: the input's own resources. `basis` references the Observation each value came from
  (`Observation/<id>`, or the entry's fullUrl when it has no id) and the Patient is the input's Patient resource;
  a value whose Observation can be referred to by neither gets a contained copy instead.
- our JSON or a Phenopacket: nothing to refer to, so `basis` points to contained Observations holding the
  values (for PAM: one Observation with a component per gene), and the Patient is made from the record id.

Several records (a list, JSONL, several Patients) give one outer Bundle of type collection whose entries are
the records' Bundles, each exactly as it would be alone: a JSON list is not a FHIR resource, and merging the
records' resources into one Bundle would mix their Patients and RiskAssessments.
"""
from __future__ import annotations

import copy
import re
import uuid

from kb.core.errors import InputError
from schemas.codes import LOINC_SYSTEM, UCUM_SYSTEM

_NAMESPACE = uuid.UUID("5f0c8a52-8a4e-5d1e-9a8b-6b696f6d6b62")  # fixed: the same summary gives the same fullUrls


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text)[:64].strip("-") or "x"


def _urn(*parts: str) -> str:
    """A deterministic urn:uuid (a fullUrl must be a URI; urn:uuid needs a real UUID)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join(parts))}"


def _contained(finding: dict, codes: dict[str, str]) -> dict:
    """A contained Observation holding one finding's observed value, as given."""
    o = finding["observed"]
    obs = {"resourceType": "Observation", "id": _id(f"obs-{finding['marker_id']}"), "status": "final",
           "code": {"text": finding["marker"]}}
    if codes.get(finding["marker_id"]):
        obs["code"]["coding"] = [{"system": LOINC_SYSTEM, "code": codes[finding["marker_id"]]}]
    if isinstance(o["value"], (int, float)):
        q = {"value": o["value"]}
        if o.get("unit"):
            q["unit"] = o["unit"]
        if o.get("ucum") and o["ucum"] != "ULN":
            q.update(system=UCUM_SYSTEM, code=o["ucum"])
        if o.get("comparator"):
            q["comparator"] = o["comparator"]
        obs["valueQuantity"] = q
    else:
        obs["valueString"] = str(o["value"])
    return obs


def _expression(pam: dict) -> dict:
    """A contained Observation of the record's expression profile: one component per gene the model used."""
    return {"resourceType": "Observation", "id": "expression", "status": "final",
            "code": {"text": f"bone-marrow gene expression (log2) for {pam['model']['name']}"},
            "component": [{"code": {"text": g["gene"]}, "valueQuantity": {"value": g["log2"], "unit": "log2"}}
                          for g in pam.get("profile") or []]}


def _patient(summary: dict, facts: dict) -> tuple[dict, str, str]:
    """(the Patient resource, how RiskAssessments refer to it, its entry's fullUrl)."""
    given = facts.get("patient") if facts.get("format") == "fhir" else None
    if given and given.get("resource") and given.get("reference"):
        resource, ref = copy.deepcopy(given["resource"]), given["reference"]
        return resource, ref, ref if not resource.get("id") else _urn(summary["patient"]["id"], ref)
    pid = _id(summary["patient"]["id"])
    resource = {"resourceType": "Patient", "id": pid, "identifier": [{"value": summary["patient"]["id"]}]}
    return resource, f"Patient/{pid}", _urn(summary["patient"]["id"], f"Patient/{pid}")


def to_bundle(summary: dict, loinc: dict[str, str] | None = None) -> dict:
    """The FHIR Bundle of one summary; `loinc`: marker id -> primary LOINC code (for contained Observations)."""
    facts = summary.get("input") or {}
    patient, patient_ref, patient_url = _patient(summary, facts)
    subject = {"reference": patient_ref}
    disclaimer = {"text": summary["disclaimer"]}
    # FHIR input: each marker's value came from one Observation of the input (kb.evaluate.readers.standard)
    refs = {u["marker"]: u["reference"] for u in facts.get("used") or [] if u.get("reference")} \
        if facts.get("format") == "fhir" else {}
    decided = [f for f in summary["findings"] if f["applicability"]["level"] != "not_applicable"
               and f["verdict"] in ("favorable", "unfavorable", "neutral")]
    clinical = [f for f in decided if f.get("context", "clinical") == "clinical"]
    left_out = len(decided) - len(clinical)
    resources: list[dict] = []
    counted = {"text": f"{left_out} context item(s) (preclinical or background evidence) are not predictions and are left out"}
    pam = summary.get("pam")
    if pam and pam.get("posterior"):
        risk = {
            "resourceType": "RiskAssessment", "id": "pam", "status": "final", "subject": subject,
            "method": {"text": f"PAM {pam['model']['name']} ({pam['model']['id']})"},
            "prediction": [{"outcome": {"text": c}, "probabilityDecimal": round(float(p), 6)}
                           for c, p in pam["posterior"].items()],
            "note": [disclaimer, counted, {"text": f"call {pam['call']}; applicability {pam['applicability']['level']}: "
                                                   f"{pam['applicability']['reason']}"}]}
        if pam.get("profile"):  # expression only comes in our JSON: always contained
            risk["contained"] = [_expression(pam)]
            risk["basis"] = [{"reference": "#expression"}]
        resources.append(risk)
    for i, f in enumerate(clinical):
        quote = " ".join(f["links"][0]["quote"].split()) if f["links"] else ""
        notes = [disclaimer] + ([counted] if i == 0 and not resources else [])
        notes.append({"text": f"evidence {f['evidence_id']}: “{quote}” ({f['links'][0]['document']})" if quote
                      else f"evidence {f['evidence_id']}"})
        risk = {"resourceType": "RiskAssessment", "id": _id(f"f{i}-{f['evidence_id']}"), "status": "final",
                "subject": subject, "method": {"text": f"published evidence {f['evidence_id']} ({f['applicability']['level']})"},
                "prediction": [{"outcome": {"text": f"{f['outcome']}: {f['verdict']}"}, "rationale": f["explanation"]}],
                "note": notes}
        if f["marker"] in refs:
            risk["basis"] = [{"reference": refs[f["marker"]]}]
        else:
            obs = _contained(f, loinc or {})
            risk["contained"], risk["basis"] = [obs], [{"reference": f"#{obs['id']}"}]
        resources.append(risk)
    if not resources:  # nothing decided: still say what was left out, with the disclaimer
        resources.append({"resourceType": "RiskAssessment", "id": "none", "status": "final", "subject": subject,
                          "note": [disclaimer, counted, {"text": "no applicable, decided finding"}]})
    entries = [{"fullUrl": patient_url, "resource": patient}]
    entries += [{"fullUrl": _urn(summary["patient"]["id"], f"RiskAssessment/{r['id']}"), "resource": r} for r in resources]
    return _validated({"resourceType": "Bundle", "type": "collection", "entry": entries})


def to_document(summaries: list[dict], kind: str, loinc: dict[str, str] | None = None) -> dict:
    """What `kb evaluate --format fhir` prints and `POST /v1/evaluate` answers to `Accept: application/fhir+json`:
    the Bundle of the one record (`kind` single), else a collection Bundle of the records' Bundles."""
    bundles = [to_bundle(s, loinc) for s in summaries]
    if kind == "single" and len(bundles) == 1:
        return bundles[0]
    return _validated({"resourceType": "Bundle", "type": "collection",
                       "entry": [{"fullUrl": _urn(s["patient"]["id"], s["patient"]["source"], str(i), "Bundle"),
                                  "resource": b} for i, (s, b) in enumerate(zip(summaries, bundles))]})


def loinc_codes(con) -> dict[str, str]:
    """marker id -> its primary LOINC code, for the contained Observations."""
    from kb.core import store

    return {mid: codes[0]["code"] for mid, codes in store.marker_codes(con).items() if codes[0]["system"] == "LOINC"}


def _validated(bundle: dict) -> dict:
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"FHIR output: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return bundle
