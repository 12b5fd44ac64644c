"""FHIR output (`kb evaluate --format fhir`): what each RiskAssessment rests on. For FHIR input, `basis` and
`subject` reference the input's own Observations and Patient (`Type/id`, or the entry's fullUrl when the
resource has no id); for our JSON and Phenopackets, contained Observations and a Patient made from the record
id. Every Bundle is validated with fhir.resources."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from cli.main import app
from kb.evaluate.evaluator import evaluate_path
from kb.evaluate.fhir_out import loinc_codes, to_bundle

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUNDLE = EXAMPLES / "fhir" / "P002.bundle.json"
CASES = EXAMPLES / "fhir" / "P002.cases.bundle.json"


def _bundle(path: Path, con, **kw) -> dict:
    from fhir.resources.R4B.bundle import Bundle

    summaries, _ = evaluate_path(path, con=con, **kw)
    assert len(summaries) == 1
    bundle = to_bundle(summaries[0], loinc_codes(con))
    Bundle.model_validate(bundle)
    return bundle


def _risks(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]


def _write(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_fhir_input_basis_references_the_input_observation_used(con, runner, built_db):
    bundle = _bundle(CASES, con)
    findings = [r for r in _risks(bundle) if r["id"] != "pam"]
    assert findings and all("contained" not in r for r in findings)
    assert {b["reference"] for r in findings for b in r["basis"]} == {"Observation/ldh"}  # the latest before the infusion
    later = runner.invoke(app, ["evaluate", str(CASES), "--db", str(built_db), "-f", "fhir", "--at", "2024-02-25"])
    assert later.exit_code == 0, later.stderr
    basis = {b["reference"] for r in _risks(json.loads(later.stdout)) for b in r.get("basis", [])}
    assert basis == {"Observation/ldh-old"}  # the LDH of 2024-02-20, the latest at or before --at


def test_fhir_input_patient_is_the_inputs_own_without_its_demographics(con, tmp_path):
    doc = json.loads(BUNDLE.read_text(encoding="utf-8"))
    patient = doc["entry"][0]["resource"]
    patient.update(gender="female", birthDate="1961-04-02", name=[{"family": "Example", "given": ["Pat"]}],
                   identifier=[{"system": "urn:example:mrn", "value": "12345"}])
    path = _write(tmp_path, "p.json", doc)
    bundle = _bundle(path, con)
    assert bundle["entry"][0]["resource"] == {"resourceType": "Patient", "id": "P002",
                                              "identifier": [{"system": "urn:example:mrn", "value": "12345"}]}
    assert {r["subject"]["reference"] for r in _risks(bundle)} == {"Patient/P002"}
    summary = json.dumps(evaluate_path(path, con=con)[0][0])
    assert "1961-04-02" not in summary and "Example" not in summary and "12345" in summary


def test_without_ids_the_entry_full_urls_are_referenced(con, tmp_path):
    doc = json.loads(BUNDLE.read_text(encoding="utf-8"))
    by_id = {e["resource"].get("id"): e for e in doc["entry"]}
    del by_id["ldh"]["resource"]["id"]
    del by_id["P002"]["resource"]["id"]
    for e in doc["entry"]:
        if "subject" in e["resource"]:
            e["resource"]["subject"] = {"reference": by_id["P002"]["fullUrl"]}
    bundle = _bundle(_write(tmp_path, "no-ids.json", doc), con)
    ldh = [r for r in _risks(bundle) if "ldh" in r["id"]]
    assert ldh and {b["reference"] for r in ldh for b in r["basis"]} == {"urn:uuid:Observation-ldh"}
    assert bundle["entry"][0]["fullUrl"] == "urn:uuid:Patient-P002"
    assert {r["subject"]["reference"] for r in _risks(bundle)} == {"urn:uuid:Patient-P002"}


def test_a_component_rests_on_the_observation_that_holds_it(con, tmp_path):
    doc = json.loads(BUNDLE.read_text(encoding="utf-8"))
    for e in doc["entry"]:
        r = e["resource"]
        if r.get("id") == "ldh":
            r["component"] = [{"code": r["code"], "valueQuantity": r.pop("valueQuantity"),
                               "referenceRange": r.pop("referenceRange")}]
            r["id"], r["code"] = "panel", {"text": "chemistry panel"}
    bundle = _bundle(_write(tmp_path, "panel.json", doc), con)
    assert {b["reference"] for r in _risks(bundle) if "ldh" in r["id"] for b in r["basis"]} == {"Observation/panel"}


def test_an_observation_that_cannot_be_referred_to_is_contained(con, tmp_path):
    doc = json.loads(BUNDLE.read_text(encoding="utf-8"))
    lines = []
    for e in doc["entry"]:
        r = copy.deepcopy(e["resource"])
        if r["resourceType"] == "Observation":
            r.pop("id")  # NDJSON has no fullUrl: nothing to refer to
        lines.append(json.dumps(r))
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ldh = [r for r in _risks(_bundle(path, con)) if "ldh" in r["id"]]
    assert ldh and all(r["basis"] == [{"reference": f"#{r['contained'][0]['id']}"}] for r in ldh)
    assert ldh[0]["contained"][0]["valueQuantity"]["value"] == 410


def test_our_json_and_phenopackets_rest_on_contained_observations(con):
    for path in (EXAMPLES / "P001.json", EXAMPLES / "P002.phenopacket.json", EXAMPLES / "B001.yaml"):
        bundle = _bundle(path, con)
        patient = bundle["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient" and patient["identifier"][0]["value"] == patient["id"]
        for r in _risks(bundle):
            assert r["subject"]["reference"] == f"Patient/{patient['id']}"
            if "basis" in r:
                ids = {c["id"] for c in r["contained"]}
                assert {b["reference"] for b in r["basis"]} == {f"#{i}" for i in ids}, path
                assert all(not b["reference"].startswith("Observation/") for b in r["basis"])
    pam = [r for r in _risks(_bundle(EXAMPLES / "B001.yaml", con)) if r["id"] == "pam"][0]
    genes = pam["contained"][0]["component"]
    assert len(genes) == 14 and {g["code"]["text"] for g in genes} >= {"IGF2BP1", "KCNK3"}
    assert next(g for g in genes if g["code"]["text"] == "IGF2BP1")["valueQuantity"]["value"] == 6.43


def test_full_urls_are_uuids_and_unique(con):
    import uuid

    for path in (CASES, EXAMPLES / "B001.yaml"):
        urls = [e["fullUrl"] for e in _bundle(path, con)["entry"]]
        assert len(set(urls)) == len(urls)
        for url in urls:
            assert url.startswith("urn:uuid:") and uuid.UUID(url.removeprefix("urn:uuid:"))
