"""Standard inputs: FHIR R4/R4B (Bundle, NDJSON, bulk directory) and Phenopacket v2 give the same findings as
our JSON; every unused resource, conflict, superseded observation, comparator and absent value is reported;
bad FHIR is exit 2 with a FHIRPath-style location."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cli.main import app
from kb.evaluate.evaluator import evaluate_path, evaluate_text
from kb.evaluate.verdict import bound_met

FIX = Path(__file__).parent / "fixtures"
BUNDLE = FIX / "fhir" / "P002.bundle.json"
CASES = FIX / "fhir" / "P002.cases.bundle.json"
NATIVE = FIX / "fhir" / "P002.native.json"
PHENO = FIX / "phenopackets" / "P002.phenopacket.json"


def _findings(summary: dict) -> set[tuple]:
    return {(f["marker"], f["evidence_id"], f["verdict"], f["applicability"]["level"]) for f in summary["findings"]}


def _one(path, con, **kw) -> dict:
    summaries, _ = evaluate_path(path, con=con, **kw)
    assert len(summaries) == 1
    return summaries[0]


def test_fixtures_are_valid_for_their_libraries():
    from fhir.resources.R4B.bundle import Bundle
    from google.protobuf.json_format import ParseDict
    from phenopackets import Phenopacket

    for path in (FIX / "fhir").glob("P002*.bundle.json"):
        Bundle.model_validate_json(path.read_text(encoding="utf-8"))
    for path in (FIX / "fhir" / "bulk").glob("*.ndjson"):
        from fhir.resources.R4B import get_fhir_model_class

        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            get_fhir_model_class(data["resourceType"]).model_validate(data)
    packet = ParseDict(json.loads(PHENO.read_text(encoding="utf-8")), Phenopacket())
    assert packet.subject.id == "P002" and len(packet.measurements) == 3


def test_same_patient_same_findings_in_every_form(con):
    native = _one(NATIVE, con)
    assert native["findings"] and native["input"]["format"] == "native"
    for path in (BUNDLE, PHENO, FIX / "fhir" / "bulk"):
        other = _one(path, con)
        assert other["input"]["format"] in ("fhir", "phenopacket")
        assert {k: other["patient"][k] for k in ("id", "disease", "therapy", "timepoint", "phase")} == \
               {k: native["patient"][k] for k in ("id", "disease", "therapy", "timepoint", "phase")}, path
        assert _findings(other) == _findings(native), path
        assert other["input"]["unused"] == [] and other["input"]["conflicts"] == []


def test_every_unused_conflict_and_superseded_case_is_reported(con):
    s = _one(CASES, con)
    facts = s["input"]
    why = {(u["what"].split(" (")[0], u["why"]) for u in facts["unused"]}
    assert ("LOINC 1742-6", "no marker in the knowledge base") in why  # ALT
    assert ("ICD10 C91.00", "verificationStatus refuted") in why
    assert ("LOINC 1988-5", "status entered-in-error") in why
    assert ("LOINC 777-3", "no value: dataAbsentReason not-performed") in why
    assert any(u["why"].startswith("not a therapy") and "fludarabine" in u["what"] for u in facts["unused"])
    assert any(u["why"] == "measured 2024-03-20, after the evaluation time 2024-03-10" for u in facts["unused"])
    assert [(c["code"], c["display"]) for c in facts["conflicts"]] == [("LOINC 2276-4", "Gamma glutamyl transferase")]
    assert [(x["marker"], x["date"], x["value"]) for x in facts["superseded"]] == [("LDH", "2024-02-20", 300.0)]
    assert "Ferritin" not in s["summary"]["markers_observed"]  # a conflict is never used silently
    assert s["patient"]["disease"] == "DLBCL" and s["patient"]["phase"] == "pre"
    ldh = {o["marker"]: o for o in s["patient"]["observations"]}
    assert set(ldh) == {"LDH", "IL-6", "CRP"}
    il6 = [f for f in s["findings"] if f["marker"] == "IL-6"]
    assert il6 and all(f["observed"]["comparator"] == "<" for f in il6)
    crp = [f for f in s["findings"] if f["marker"] == "CRP"]
    assert {f["observed"]["value"] for f in crp} == {12}  # not the entered-in-error 999
    assert "Bundle.entry[8].resource" in next(u["where"] for u in facts["unused"] if "1742-6" in u["what"])


def test_at_chooses_the_latest_observation_at_or_before_it_and_sets_the_phase(con):
    s = _one(CASES, con, at="2024-03-25")
    ldh = [f for f in s["findings"] if f["marker"] == "LDH"]
    assert {f["observed"]["value"] for f in ldh} == {500}
    assert s["patient"]["phase"] == "post" and s["input"]["evaluated_at"] == "2024-03-25"
    assert sorted(x["date"] for x in s["input"]["superseded"] if x["marker"] == "LDH") == ["2024-02-20", "2024-03-05"]
    early = _one(CASES, con, at="2024-02-25")
    assert {f["observed"]["value"] for f in early["findings"] if f["marker"] == "LDH"} == {300}


@pytest.mark.parametrize("bound, comparator, rule, met", [
    (200, "<", {"operator": ">", "value": 250}, False), (300, "<", {"operator": ">", "value": 250}, None),
    (300, ">", {"operator": ">", "value": 250}, True), (250, ">", {"operator": ">", "value": 250}, True),
    (250, ">=", {"operator": ">", "value": 250}, None), (1, "<=", {"operator": "<=", "value": 1}, True),
    (1, ">", {"operator": "<=", "value": 1}, False), (5, "<", {"operator": "between", "value": 6, "value_high": 9}, False)])
def test_a_bound_gives_a_verdict_only_when_it_decides_the_rule(bound, comparator, rule, met):
    assert bound_met(bound, comparator, rule) is met


def test_comparator_in_our_json_too(con):
    from kb.evaluate.evaluator import evaluate

    record = json.loads(NATIVE.read_text(encoding="utf-8"))
    record["observations"] = [{"marker": "LDH", "value": 100, "unit": "U/L", "upper_limit_normal": 250, "comparator": "<"}]
    s = evaluate(record, con=con)
    uln_rules = [f for f in s["findings"] if f["rule"] and f["rule"]["reference"] == "ULN" and f["direction"] in ("favorable", "unfavorable")]
    assert uln_rules and all(f["rule_met"] is False for f in uln_rules if f["rule"]["operator"] == ">")


def test_ndjson_file_and_text(con, tmp_path):
    lines = [json.dumps(e["resource"]) for e in json.loads(BUNDLE.read_text(encoding="utf-8"))["entry"]]
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _findings(_one(path, con)) == _findings(_one(BUNDLE, con))
    summaries, kind = evaluate_text("\n".join(lines), "fhir-ndjson", con=con)
    assert kind == "single" and _findings(summaries[0]) == _findings(_one(BUNDLE, con))


def test_several_patients_in_one_bundle_give_several_records(con, tmp_path):
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    second = copy.deepcopy(bundle["entry"])
    for e in second:
        r = e["resource"]
        if r["resourceType"] == "Patient":
            r["id"] = "P003"
        else:
            r["id"] += "-3"
            r["subject"] = {"reference": "Patient/P003"}
        e["fullUrl"] += "-3"
    bundle["entry"] += second
    path = tmp_path / "two.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    summaries, kind = evaluate_path(path, con=con)
    assert kind == "many" and [s["patient"]["id"] for s in summaries] == ["P002", "P003"]


def test_bad_fhir_is_exit_2_with_its_fhirpath_location(runner, built_db):
    res = runner.invoke(app, ["evaluate", str(FIX / "fhir" / "bad.bundle.json"), "--db", str(built_db), "-f", "json"])
    assert res.exit_code == 2 and res.stdout == ""
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "Bundle.entry[3].resource.valueQuantity.value" in line and "four hundred" in line


def test_fhir_without_a_known_therapy_names_what_it_found(con, tmp_path):
    bundle = json.loads(BUNDLE.read_text(encoding="utf-8"))
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationAdministration"]
    path = tmp_path / "no-therapy.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(Exception, match="therapy: expected a medication or procedure"):
        evaluate_path(path, con=con)


def test_phenopacket_required_fields_and_statuses(con, tmp_path):
    base = json.loads(PHENO.read_text(encoding="utf-8"))
    for key in ("id", "subject", "metaData"):
        broken = {k: v for k, v in base.items() if k != key}
        with pytest.raises(Exception, match=f"{key}: required field is missing"):
            evaluate_text(json.dumps(broken), "phenopacket", con=con)
    packet = copy.deepcopy(base)
    packet["diseases"].append({"term": {"id": "NCIT:C3209", "label": "Follicular Lymphoma"}, "excluded": True})
    packet["interpretations"] = [
        {"id": "i1", "progressStatus": "SOLVED", "diagnosis": {"disease": {"id": "NCIT:C8851", "label": "DLBCL"},
         "genomicInterpretations": [
             {"subjectOrBiosampleId": "P002", "interpretationStatus": "CONTRIBUTORY",
              "gene": {"valueId": "HGNC:11998", "symbol": "TP53"}},
             {"subjectOrBiosampleId": "P002", "interpretationStatus": "REJECTED",
              "gene": {"valueId": "HGNC:3765", "symbol": "FLT3"}}]}}]
    summaries, _ = evaluate_text(json.dumps(packet), "phenopacket", con=con)
    s = summaries[0]
    assert {"TP53": "altered"} == {o["marker"]: o["value"] for o in
                                   [{"marker": f["marker"], "value": f["observed"]["value"]} for f in s["findings"]]
                                   if o["marker"] == "TP53"}
    whys = {u["why"] for u in s["input"]["unused"]}
    assert {"excluded", "interpretationStatus REJECTED"} <= whys
    assert s["patient"]["disease"] == "DLBCL"


def test_fhir_output_is_a_valid_collection_bundle_with_the_disclaimer_first(runner, built_db):
    from fhir.resources.R4B.bundle import Bundle

    from kb.evaluate.evaluator import DISCLAIMER

    for path in (NATIVE, CASES, FIX.parent.parent / "examples" / "B001.yaml"):
        res = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "fhir"])
        assert res.exit_code == 0, res.stderr
        bundle = json.loads(res.stdout)
        Bundle.model_validate(bundle)
        assert bundle["type"] == "collection"
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert kinds[0] == "Patient" and "RiskAssessment" in kinds
        risks = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]
        assert all(r["note"][0]["text"] == DISCLAIMER for r in risks)
        assert "left out" in risks[0]["note"][1]["text"]
        assert all(r["subject"]["reference"] == f"Patient/{kinds and bundle['entry'][0]['resource']['id']}" for r in risks)
    pam = [r for r in risks if r["id"] == "pam"]  # B001 has expression: a probability per class
    assert pam and abs(sum(p["probabilityDecimal"] for p in pam[0]["prediction"]) - 1) < 1e-6
