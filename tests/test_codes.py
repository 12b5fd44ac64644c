"""Codes on markers, diseases and therapies: formats and LOINC check digits of every seeded code, resolution
of markers by LOINC / HGNC and of diseases by ICD-10 / DOID / NCIt and common names, typo suggestions,
and --broader (evidence recorded at an ancestor, labelled as broader)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import app
from kb import query
from kb.core.paths import bundled_seeds
from kb.query.resolve import AmbiguousMarker, MarkerIndex, UnknownMarker
from kb.query.vocab import UnknownTerm, Vocabulary
from schemas.codes import check_format, loinc_check_digit, parse_code, valid_loinc
from schemas.curation import MarkerIn

SEEDS = bundled_seeds()
EXAMPLE_BUNDLE = Path(__file__).resolve().parent.parent / "examples" / "fhir" / "P002.bundle.json"


def _seeded_codes():
    """(system, code, where) of every code in the marker dictionary and the vocabulary."""
    out = []
    for path in sorted((SEEDS / "markers").glob("*.yaml")):
        for m in yaml.safe_load(path.read_text(encoding="utf-8"))["markers"]:
            for code in filter(None, [m.get("loinc"), *m.get("loinc_alt", [])]):
                out.append(("LOINC", code, f"{path.name}:{m['id']}"))
            if m.get("hgnc_id"):
                out.append(("HGNC", m["hgnc_id"], f"{path.name}:{m['id']}"))
    vocab = yaml.safe_load((SEEDS / "vocabulary.yaml").read_text(encoding="utf-8"))
    for d in vocab["diseases"]:
        out += [(s.upper(), d[s], d["name"]) for s in ("doid", "ncit") if d.get(s)]
        out += [("ICD10", c, d["name"]) for c in d.get("icd10", [])]
        out += [("SNOMED", d["snomed"], d["name"])] if d.get("snomed") else []
    for t in vocab["therapies"]:
        out += [("NCIT", t["ncit"], t["name"])] if t.get("ncit") else []
        out += [("RXNORM", c, t["name"]) for c in ([t["rxnorm"]] if isinstance(t.get("rxnorm"), str) else t.get("rxnorm") or [])]
    return out


def test_every_seeded_code_is_well_formed_and_every_loinc_passes_its_check_digit():
    codes = _seeded_codes()
    assert sum(1 for s, _, _ in codes if s == "LOINC") >= 15 and sum(1 for s, _, _ in codes if s == "HGNC") >= 25
    bad = [(s, c, where, check_format(s, c)) for s, c, where in codes if check_format(s, c)]
    assert bad == []


@pytest.mark.parametrize("code, ok", [("2532-0", True), ("2160-0", True), ("38483-4", True), ("17861-6", True),
                                      ("2000-8", True), ("1742-6", True), ("2276-4", True), ("2532-1", False),
                                      ("2160-9", False), ("26881-4", False), ("2532", False), ("x-0", False)])
def test_loinc_check_digit(code, ok):
    assert valid_loinc(code) is ok


def test_check_digit_catches_every_single_digit_change():
    body = "26881"
    digit = loinc_check_digit(body)
    for i in range(len(body)):
        for d in "0123456789":
            changed = body[:i] + d + body[i + 1:]
            if changed != body:
                assert loinc_check_digit(changed) != digit, changed


def test_a_bad_code_in_the_dictionary_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="mod-10"):
        MarkerIn(id="x", name="X", kind="lab", loinc="2532-1")
    with pytest.raises(ValueError, match="not a HGNC code"):
        MarkerIn(id="x", name="X", kind="genomic", hgnc_symbol="TP53", hgnc_id="11998")


@pytest.mark.parametrize("text, parsed", [("2532-0", ("LOINC", "2532-0")), ("LOINC:2532-0", ("LOINC", "2532-0")),
                                          ("HGNC:11998", ("HGNC", "HGNC:11998")), ("C83.3", ("ICD10", "C83.3")),
                                          ("ncit:c8851", ("NCIT", "NCIT:C8851")), ("DOID:0050745", ("DOID", "DOID:0050745")),
                                          ("LDH", None), ("CD19", None), ("IL-6", None)])
def test_parse_code(text, parsed):
    assert parse_code(text) == parsed


def test_markers_resolve_by_code(con):
    index = MarkerIndex(con)
    assert index.resolve("2532-0").id == "ldh" and index.resolve("LOINC:2532-0").how == "code"
    assert index.resolve("HGNC:11998").id == "tp53"
    assert index.resolve("38483-4").id == index.resolve("2160-0").id == "creatinine"  # alternative LOINC codes
    assert index.resolve("2000-8").id == index.resolve("17861-6").id == "calcium"
    with pytest.raises(UnknownMarker, match="1742-6"):
        index.resolve("1742-6")  # ALT: no marker in the knowledge base
    with pytest.raises(AmbiguousMarker, match="HGNC:1633"):
        index.resolve("HGNC:1633")  # CD19: several markers concern the gene


def test_kb_markers_json_carries_codes(con):
    by_id = {m["id"]: m for m in query.markers(con=con)["markers"]}
    assert {"system": "LOINC", "code": "38483-4", "primary": False} in by_id["creatinine"]["codes"]
    assert by_id["creatinine"]["codes"][0] == {"system": "LOINC", "code": "2160-0", "primary": True}
    assert by_id["tp53"]["hgnc_id"] == "HGNC:11998"


@pytest.mark.parametrize("text, name", [
    ("C83.3", "DLBCL"), ("C83.30", "DLBCL"), ("DOID:0050745", "DLBCL"), ("NCIT:C8851", "DLBCL"),
    ("lymphoma", "lymphoma"), ("NHL", "NHL"), ("non-Hodgkin lymphoma", "NHL"), ("leukemia", "leukemia"),
    ("ALL", "ALL"), ("acute lymphoblastic leukemia", "ALL"), ("C91.00", "ALL"), ("B-ALL", "B-ALL"),
    ("large B-cell lymphoma", "LBCL"), ("diffuse large B-cell lymphoma", "DLBCL"), ("C85.2", "PMBCL")])
def test_diseases_as_users_name_them(con, text, name):
    assert Vocabulary(con, "disease").resolve(text)["name"] == name


def test_hierarchy_has_lymphoma_and_leukemia_nodes(con):
    v = Vocabulary(con, "disease")
    assert {"DLBCL", "LBCL", "B-NHL", "FL", "MCL"} <= set(v.descendants("lymphoma"))
    assert {"B-ALL", "ALL", "CLL"} <= set(v.descendants("leukemia")) and "DLBCL" not in v.descendants("leukemia")
    assert v.ancestors("B-ALL")[:2] == ["B-ALL", "ALL"] and "B-cell malignancy" in v.ancestors("B-ALL")


def test_typos_get_suggestions_and_negations_do_not(con):
    v = Vocabulary(con, "disease")
    with pytest.raises(UnknownTerm) as exc:
        v.resolve("lymfoma", "--disease")
    assert exc.value.suggestions[0] == "lymphoma" and "did you mean lymphoma" in str(exc.value)
    with pytest.raises(UnknownTerm) as exc:
        v.resolve("Hodgkin lymphoma", "--disease")
    assert "NHL" not in exc.value.suggestions  # non-Hodgkin is not a spelling of Hodgkin
    with pytest.raises(UnknownTerm, match="ICD10 code 'C99.9'"):
        v.resolve("C99.9", "--disease")


def test_broader_includes_ancestors_labelled(con):
    # TP53 has DLBCL items only; ALC one item the text records for "lymphoma" (an ancestor of DLBCL)
    narrow = query.evidence("TP53", disease="DLBCL", con=con)["evidence"]
    assert {e["disease"] for e in narrow} == {"DLBCL"} and "disease_match" not in narrow[0]
    same = query.evidence("TP53", disease="DLBCL", broader=True, con=con)["evidence"]
    assert [e["id"] for e in same] == [e["id"] for e in narrow] and {e["disease_match"] for e in same} == {"same"}
    assert query.evidence("ALC", disease="DLBCL", con=con)["evidence"] == []
    wide = query.evidence("ALC", disease="DLBCL", broader=True, con=con)["evidence"]
    assert wide and all(e["disease_match"] == "broader" for e in wide)
    assert {e["disease"] for e in wide} <= {"LBCL", "B-NHL", "NHL", "lymphoma", "B-cell malignancy"}


def test_cli_query_by_codes(runner, built_db):
    for marker, disease in [("HGNC:11998", "C83.3"), ("TP53", "DOID:0050745"), ("p53", "NCIT:C8851")]:
        res = runner.invoke(app, ["query", "--marker", marker, "--disease", disease, "--db", str(built_db), "-f", "json"])
        assert res.exit_code == 0, res.output
        assert {e["disease"] for e in json.loads(res.stdout)["evidence"]} == {"DLBCL"}
    res = runner.invoke(app, ["query", "--marker", "HGNC:11998", "--db", str(built_db), "-f", "json"])
    assert res.exit_code == 0 and {e["marker_id"] for e in json.loads(res.stdout)["evidence"]} == {"tp53"}
    res = runner.invoke(app, ["query", "--marker", "2532-0", "--disease", "lymphoma", "--db", str(built_db), "-f", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["evidence"]  # LDH, by its LOINC code
    res = runner.invoke(app, ["query", "--marker", "LDH", "--broader", "--db", str(built_db)])
    assert res.exit_code == 2 and "--broader" in res.stderr


@pytest.mark.parametrize("coding, therapy", [
    ({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1987402"}, "axi-cel"),
    ({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2387347"}, "brexu-cel"),
    ({"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "code": "C102758"}, "tisa-cel"),
    ({"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "code": "C62528"}, "blinatumomab")])
def test_a_fhir_therapy_coded_by_rxnorm_or_ncit_alone_resolves(con, tmp_path, coding, therapy):
    """Confirmed codes (seeds/vocabulary.yaml, with their sources): no text or display to fall back on."""
    from kb.evaluate.evaluator import evaluate_path

    bundle = json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "MedicationAdministration":
            e["resource"]["medicationCodeableConcept"] = {"coding": [coding]}
    path = tmp_path / "coded.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    summaries, _ = evaluate_path(path, con=con)
    assert summaries[0]["patient"]["therapy"] == therapy


def test_an_unknown_rxnorm_code_is_not_guessed(con, tmp_path):
    from kb.evaluate.evaluator import evaluate_path

    bundle = json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "MedicationAdministration":
            e["resource"]["medicationCodeableConcept"] = {"coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1"}]}
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(Exception, match="therapy: expected a medication or procedure"):
        evaluate_path(path, con=con)


def test_il12_resolves_by_its_loinc_code(con):
    assert MarkerIndex(con).resolve("41760-0").name == "IL-12"


@pytest.mark.parametrize("code, ok", [("277571004", True), ("92814006", True), ("277571005", False), ("92814007", False),
                                      ("012345", False), ("12345", False), ("1234567890123456789", False)])
def test_snomed_format_and_verhoeff_check_digit(code, ok):
    assert (check_format("SNOMED", code) is None) is ok


def test_a_fhir_condition_coded_by_snomed_alone_resolves(con, tmp_path):
    """SNOMED CT 277571004 is B-cell ALL: a lineage-specific code, so B-ALL (not the ALL node) from the code alone."""
    from kb.evaluate.evaluator import evaluate_path

    bundle = json.loads(EXAMPLE_BUNDLE.read_text(encoding="utf-8"))
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "Condition":
            e["resource"]["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "277571004"}]}
    path = tmp_path / "ball.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    summaries, _ = evaluate_path(path, con=con)
    assert summaries[0]["patient"]["disease"] == "B-ALL"


def test_disease_resolves_by_snomed_code(con):
    vocab = Vocabulary(con, "disease")
    assert vocab.resolve("SNOMED:92814006")["name"] == "CLL"
    assert vocab.resolve("SCTID:277571004")["name"] == "B-ALL"
