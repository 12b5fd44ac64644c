"""A summary as FHIR R4B (`kb evaluate --format fhir`): a Bundle of type collection holding the Patient, a
RiskAssessment for the PAM prediction (a probability per class) and one per applicable, decided finding.
The research-use disclaimer is the first note of every RiskAssessment; context items (preclinical,
background) are not predictions: they are left out, and the first RiskAssessment says how many were.
The Bundle is validated with fhir.resources before it is returned.
"""
from __future__ import annotations

import re

from kb.core.errors import InputError
from schemas.codes import LOINC_SYSTEM, UCUM_SYSTEM


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text)[:64].strip("-") or "x"


def _observations(summary: dict, codes: dict[str, str]) -> list[dict]:
    """Contained Observations for our own record's values (the basis of each RiskAssessment)."""
    out, seen = [], set()
    for f in summary["findings"]:
        if f["marker_id"] in seen:
            continue
        seen.add(f["marker_id"])
        o = f["observed"]
        obs = {"resourceType": "Observation", "id": _id(f"obs-{f['marker_id']}"), "status": "final",
               "code": {"text": f["marker"]}}
        if codes.get(f["marker_id"]):
            obs["code"]["coding"] = [{"system": LOINC_SYSTEM, "code": codes[f["marker_id"]]}]
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
        out.append(obs)
    return out


def to_bundle(summary: dict, loinc: dict[str, str] | None = None) -> dict:
    """The FHIR Bundle of one summary; `loinc`: marker id -> primary LOINC code."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    pid = _id(summary["patient"]["id"])
    subject = {"reference": f"Patient/{pid}"}
    disclaimer = {"text": summary["disclaimer"]}
    contained = _observations(summary, loinc or {})
    basis = {o["code"]["text"]: {"reference": f"#{o['id']}"} for o in contained}
    decided = [f for f in summary["findings"] if f["applicability"]["level"] != "not_applicable"
               and f["verdict"] in ("favorable", "unfavorable", "neutral")]
    clinical = [f for f in decided if f.get("context", "clinical") == "clinical"]
    left_out = len(decided) - len(clinical)
    resources: list[dict] = [{"resourceType": "Patient", "id": pid, "identifier": [{"value": summary["patient"]["id"]}]}]
    counted = {"text": f"{left_out} context item(s) (preclinical or background evidence) are not predictions and are left out"}
    pam = summary.get("pam")
    if pam and pam.get("posterior"):
        resources.append({
            "resourceType": "RiskAssessment", "id": "pam", "status": "final", "subject": subject,
            "method": {"text": f"PAM {pam['model']['name']} ({pam['model']['id']})"},
            "prediction": [{"outcome": {"text": c}, "probabilityDecimal": round(float(p), 6)}
                           for c, p in pam["posterior"].items()],
            "note": [disclaimer, counted, {"text": f"call {pam['call']}; applicability {pam['applicability']['level']}: "
                                                   f"{pam['applicability']['reason']}"}]})
    for i, f in enumerate(clinical):
        quote = " ".join(f["links"][0]["quote"].split()) if f["links"] else ""
        notes = [disclaimer] + ([counted] if i == 0 and len(resources) == 1 else [])
        notes.append({"text": f"evidence {f['evidence_id']}: “{quote}” ({f['links'][0]['document']})" if quote
                      else f"evidence {f['evidence_id']}"})
        resources.append({
            "resourceType": "RiskAssessment", "id": _id(f"f{i}-{f['evidence_id']}"), "status": "final", "subject": subject,
            "method": {"text": f"published evidence {f['evidence_id']} ({f['applicability']['level']})"},
            "basis": [basis[f["marker"]]] if f["marker"] in basis else [],
            "contained": [o for o in contained if o["code"]["text"] == f["marker"]],
            "prediction": [{"outcome": {"text": f"{f['outcome']}: {f['verdict']}"}, "rationale": f["explanation"]}],
            "note": notes})
    if len(resources) == 1:  # nothing decided: still say what was left out, with the disclaimer
        resources.append({"resourceType": "RiskAssessment", "id": "none", "status": "final", "subject": subject,
                          "note": [disclaimer, counted, {"text": "no applicable, decided finding"}]})
    for r in resources:
        if r["resourceType"] == "RiskAssessment" and not r.get("basis"):
            r.pop("basis", None)
            r.pop("contained", None)
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": f"urn:uuid:{r['resourceType'].lower()}-{r['id']}", "resource": r} for r in resources]}
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"FHIR output: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return bundle
