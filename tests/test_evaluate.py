"""`kb evaluate`: patient records against every applicable marker, the PAM signature, bad input, outputs."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import app
from kb.evaluate.applicability import Populations
from kb.evaluate.evaluator import DISCLAIMER, Evaluator, evaluate
from kb.evaluate.records import Record, parse_record
from kb.evaluate.verdict import VERDICTS, Observed, category_met, judge

GENES14 = ["IGF2BP1", "KCNK3", "NKAIN4", "GREB1", "LAMB4", "ADAMTS7", "KIF26B", "NETO1", "TRIM9", "RAB6C", "TYRO3",
           "KCNN1", "HAP1", "CCDC155"]
OPPOSITE = {"unfavorable": "favorable", "favorable": "unfavorable"}


def record(**fields) -> dict:
    base = {"id": "P001", "disease": "DLBCL", "therapy": "axi-cel", "timepoint": "baseline", "observations": []}
    base.update(fields)
    return base


def obs(marker, value, unit=None, uln=None) -> dict:
    o = {"marker": marker, "value": value}
    if unit is not None:
        o["unit"] = unit
    if uln is not None:
        o["upper_limit_normal"] = uln
    return o


def verdicts(summary: dict, marker_id: str | None = None) -> dict[str, str]:
    return {f["evidence_id"]: f["verdict"] for f in summary["findings"] if marker_id is None or f["marker_id"] == marker_id}


def write(tmp_path: Path, data, name="patient.json") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data), encoding="utf-8")
    elif name.endswith(".jsonl"):
        path.write_text("\n".join(json.dumps(d) for d in data) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def invoke(runner, db, *args):
    return runner.invoke(app, ["evaluate", *map(str, args), "--db", str(db)])


def rule_items(db_con, marker_id: str, numeric: bool | None = None) -> list[dict]:
    from kb.core.items import fetch_evidence
    from kb.query.filters import evidence_filters

    items = [i for i in fetch_evidence(db_con, *evidence_filters(db_con, marker_id)) if i["rule"]]
    if numeric is not None:
        items = [i for i in items if (i["rule"]["operator"] != "category") == numeric]
    return items


def add_rule(seeds: Path, db: Path, marker_id: str, rule: dict, **overrides) -> str:
    """Give a copy of an existing evidence item of the marker (its quotes verify) a rule; rebuild; return its id."""
    from ingest.build import build

    for path in sorted((seeds / "curation").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data.get("evidence") or []:
            if item["marker"] == marker_id:
                new = copy.deepcopy(item)
                new.update(id=f"{item['id']}-test-rule", rule=rule, status="accepted", **overrides)
                data["evidence"].append(new)
                path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
                build(seeds, db)
                return new["id"]
    raise AssertionError(f"no evidence item for {marker_id} to copy quotes from")


@pytest.fixture()
def rules_for(con, seeds_copy, tmp_path):
    """Evidence items with a rule for a marker: from the bundled seeds, or a temporary seeds copy with one added."""
    from kb.query.database import connect

    opened = []

    def get(marker_id: str, numeric: bool, fallback_rule: dict, **overrides):
        items = rule_items(con, marker_id, numeric)
        if items:
            return con, items
        db = tmp_path / f"{marker_id}.duckdb"
        add_rule(seeds_copy, db, marker_id, fallback_rule, **overrides)
        extra = connect(db)
        opened.append(extra)
        return extra, rule_items(extra, marker_id, numeric)

    yield get
    for c in opened:
        c.close()


def expected_verdict(item: dict, met: bool) -> str:
    if item["direction"] in ("none", "mixed"):
        return "neutral"
    return item["direction"] if met else OPPOSITE[item["direction"]]


def meets(value: float, rule: dict) -> bool:
    op, v = rule["operator"], rule["value"]
    return {">": value > v, ">=": value >= v, "<": value < v, "<=": value <= v, "=": value == v,
            "between": v <= value <= (rule.get("value_high") or v)}[op]


# ---- the record format ------------------------------------------------------------------------------

def test_schema_file_equals_the_models_schema():
    from schemas.patient import SCHEMA_PATH, Patient

    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == Patient.model_json_schema()


def test_json_and_yaml_records_give_the_same_summary(runner, built_db, tmp_path):
    data = record(observations=[obs("LDH", 410, "U/L", 250), obs("TP53", "altered")])
    a = invoke(runner, built_db, write(tmp_path, data, "p.json"), "-f", "json")
    b = invoke(runner, built_db, write(tmp_path, data, "p.yaml"), "-f", "json")
    assert a.exit_code == 0 and b.exit_code == 0, a.stderr + b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert verdicts(ja) == verdicts(jb) and ja["findings"]


def test_json_contract(con, runner, built_db, tmp_path):
    from kb.core import store

    res = invoke(runner, built_db, write(tmp_path, record(observations=[obs("lactate dehydrogenase", 410, "U/L", 250)])), "-f", "json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"kb_version", "patient", "findings", "pam", "summary", "input", "disclaimer"}
    assert out["kb_version"] == store.kb_version(con)
    assert out["disclaimer"].startswith("For research use only. Not for clinical decision-making.")
    assert out["patient"]["id"] == "P001" and out["pam"] is None
    assert out["patient"]["observations"][0]["resolved"]["id"] == "ldh"
    for f in out["findings"]:
        assert {"marker", "evidence_id", "applicability", "observed", "rule", "verdict", "explanation", "effect", "level",
                "n_patients", "links"} <= set(f)
        assert f["observed"]["value"] == 410 and f["observed"]["unit"] == "U/L"
        assert f["links"] and all({"document", "start", "end", "quote"} <= set(link) for link in f["links"])
    order = [(["clinical", "preclinical", "background"].index(f["context"]),
              ["direct", "extrapolated", "not_applicable"].index(f["applicability"]["level"]), "ABCDE".index(f["level"]),
              -(f["n_patients"] or 0)) for f in out["findings"]]
    assert order == sorted(order)
    s = out["summary"]
    assert s["n_findings"] == len(out["findings"]) == sum(s["by_verdict"].values()) == sum(s["by_applicability"].values())
    assert sum(s["by_context"].values()) == s["n_findings"] and s["by_context"]["background"] >= 1


def test_preclinical_and_background_findings_give_no_verdict(con, runner, built_db, tmp_path, monkeypatch):
    """Evidence not learned from patients is shown, with its context, but never decides anything for one."""
    ldh = evaluate(record(observations=[obs("LDH", 410, "U/L", 250)]), con=con)
    background = [f for f in ldh["findings"] if f["context"] == "background"]
    assert {f["evidence_id"] for f in background} >= {"cart19-ball-cases-ldh-tls", "shao2022-ldh-immunosuppressive-tme"}
    assert all(f["verdict"] == "indeterminate" and "background statement" in f["verdict_reason"] for f in background)
    # a preclinical item whose rule the patient meets: the rule is read, the verdict withheld
    cd19 = evaluate(record(disease="B-ALL", therapy="blinatumomab", timepoint="at relapse",
                           observations=[obs("CD19 mutation", "mutated")]), con=con)
    (cells,) = [f for f in cd19["findings"] if f["evidence_id"] == "blina-ball-2021-cd19-mutation-functional"]
    assert cells["context"] == "preclinical" and cells["rule_met"] is True
    assert cells["verdict"] == "indeterminate" and "preclinical evidence" in cells["verdict_reason"]
    assert "no patient verdict" in cells["explanation"]
    clinical = [f for f in cd19["findings"] if f["context"] == "clinical" and f["applicability"]["level"] == "direct"]
    assert clinical and all(f["verdict"] == "unfavorable" for f in clinical if f["rule"])
    # the reports put them under a heading of their own, after the clinical findings
    path = write(tmp_path, record(observations=[obs("LDH", 410, "U/L", 250)]))
    md = invoke(runner, built_db, path, "-f", "md").stdout
    heading = md.index("## Preclinical and background evidence")
    assert md.index("## Findings") < md.index("xu2023-ldh-cr12-nastoupil") < heading < md.index("cart19-ball-cases-ldh-tls")
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no evidence id wraps in the table
    table = invoke(runner, built_db, path, "-f", "table").stdout
    assert table.index("xu2023-ldh-cr12-nastoupil") < table.index("Preclinical and background evidence") \
        < table.index("cart19-ball-cases-ldh-tls")


# ---- LBCL: LDH, TMTV, TP53 above and below their rules ---------------------------------------------

LDH_RULE = {"operator": ">", "value": 1, "unit": "ULN", "reference": "ULN"}
TMTV_RULE = {"operator": ">", "value": 80, "unit": "mL", "reference": "absolute"}
TP53_RULE = {"operator": "category", "reference": "category", "category": "altered"}
LBCL = {"disease": "DLBCL", "therapy": "axi-cel", "timepoint": "baseline"}


def _value_for(rule: dict, above: bool) -> float:
    v = rule["value_high"] if rule["operator"] == "between" and above else rule["value"]
    return v * 2 + 1 if above else v / 2


@pytest.mark.parametrize("above", [True, False])
def test_ldh_above_and_below_uln_rules(rules_for, above):
    db, items = rules_for("ldh", True, LDH_RULE, disease="LBCL", therapy="axi-cel", timepoint="baseline")
    uln_items = [i for i in items if i["rule"]["reference"] == "ULN"]
    assert uln_items
    for item in uln_items:
        ratio = _value_for(item["rule"], above)
        summary = evaluate(record(**LBCL, observations=[obs("LDH", ratio * 250, "U/L", 250)]), con=db)
        assert verdicts(summary)[item["id"]] == expected_verdict(item, meets(ratio, item["rule"])), item["id"]
        # the same patient in µkat/L (1 µkat/L = 60 U/L), the ULN in the value's unit
        again = evaluate(record(**LBCL, observations=[obs("LDH", ratio * 250 / 60, "µkat/L", 250 / 60)]), con=db)
        assert verdicts(again) == verdicts(summary)
        finding = next(f for f in summary["findings"] if f["evidence_id"] == item["id"])
        assert finding["observed"]["converted_unit"] == "ULN"
        assert finding["observed"]["converted_value"] == pytest.approx(ratio)
        assert "× ULN" in finding["explanation"] and str(int(ratio * 250)) in finding["explanation"]


def test_ldh_without_uln_is_indeterminate(rules_for):
    db, items = rules_for("ldh", True, LDH_RULE, disease="LBCL", therapy="axi-cel", timepoint="baseline")
    summary = evaluate(record(**LBCL, observations=[obs("LDH", 410, "U/L")]), con=db)
    for item in (i for i in items if i["rule"]["reference"] == "ULN" and i["direction"] in OPPOSITE):
        finding = next(f for f in summary["findings"] if f["evidence_id"] == item["id"])
        assert finding["verdict"] == "indeterminate"
        assert "upper_limit_normal" in finding["verdict_reason"]


@pytest.mark.parametrize("above", [True, False])
def test_tmtv_above_and_below_in_any_volume_unit(rules_for, above):
    from kb.core.units import convert

    db, items = rules_for("tmtv", True, TMTV_RULE, disease="DLBCL", timepoint="baseline")
    for item in items:
        value = _value_for(item["rule"], above)  # in the rule's unit
        ml = convert(value, item["rule"]["unit"], "mL")
        results = [verdicts(evaluate(record(**LBCL, observations=[obs("total metabolic tumor volume", v, u)]), con=db))
                   for v, u in ((ml, "mL"), (ml / 1000, "L"), (ml, "cm³"))]
        assert results[0][item["id"]] == expected_verdict(item, meets(value, item["rule"])), item["id"]
        assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("category, met", [("altered", True), ("wild-type", False), ("not altered", False), ("WT", False)])
def test_tp53_categories(rules_for, category, met):
    db, items = rules_for("tp53", False, TP53_RULE, disease="DLBCL", timepoint="baseline")
    for item in items:
        value = item["rule"]["category"] if met else category
        summary = evaluate(record(**LBCL, observations=[obs("TP53", value)]), con=db)
        assert verdicts(summary)[item["id"]] == expected_verdict(item, met), (item["id"], value)


def test_a_rule_added_by_a_curator_is_used_in_any_cytokine_unit(seeds_copy, tmp_path):
    """IL-6 > 40 pg/mL on a copy of the seeds: the same patient in pg/mL, ng/L and ng/mL gets the same verdicts."""
    from kb.query.database import connect

    db = tmp_path / "il6.duckdb"
    eid = add_rule(seeds_copy, db, "il-6", {"operator": ">", "value": 40, "unit": "pg/mL", "reference": "absolute"},
                   direction="unfavorable", disease="LBCL", therapy="axi-cel", timepoint="baseline")
    c = connect(db)
    try:
        for value_pg, want in ((50, "unfavorable"), (30, "favorable"), (40, "favorable")):
            got = [verdicts(evaluate(record(**LBCL, observations=[obs("interleukin-6", v, u)]), con=c))[eid]
                   for v, u in ((value_pg, "pg/mL"), (value_pg, "ng/L"), (value_pg / 1000, "ng/mL"))]
            assert got == [want] * 3, value_pg
    finally:
        c.close()


# ---- B-ALL, blinatumomab: CD19 ex2part > 25% ----------------------------------------------------------

EX2PART_RULE = {"operator": ">", "value": 25, "unit": "%", "reference": "absolute"}
BALL_BLINA = {"disease": "B-ALL", "therapy": "blinatumomab", "timepoint": "baseline"}


@pytest.mark.parametrize("value, unit, met", [(30, "%", True), (10, "%", False), (25, "%", False), (0.30, "fraction", True),
                                              (0.25, "1", False), (25.5, "percent", True)])
def test_blinatumomab_cd19_ex2part(rules_for, value, unit, met):
    db, items = rules_for("cd19-ex2part", True, EX2PART_RULE, therapy="blinatumomab", disease="B-ALL", timepoint="baseline")
    items = [i for i in items if i["therapy_class"] == "blinatumomab" and i["rule"]["unit"] == "%" and i["rule"]["value"] == 25]
    assert items
    summary = evaluate(record(**BALL_BLINA, observations=[obs("CD19 ex2part", value, unit)]), con=db)
    for item in items:
        finding = next(f for f in summary["findings"] if f["evidence_id"] == item["id"])
        assert finding["verdict"] == expected_verdict(item, met)
        assert finding["observed"]["converted_unit"] == "%"
        assert finding["applicability"]["level"] in ("direct", "not_applicable")  # not_applicable only for post-phase items
        if item["timepoint"] == "baseline":
            assert finding["applicability"]["level"] == "direct"


# ---- applicability ----------------------------------------------------------------------------------

def _ev(disease, therapy, timepoint, therapy_class=None) -> dict:
    classes = {"blinatumomab": "blinatumomab", None: None}
    return {"disease": disease, "therapy": therapy,
            "therapy_class": therapy_class or classes.get(therapy, "CD19 CAR-T"), "timepoint": timepoint}


@pytest.mark.parametrize("patient, evidence, level, words", [
    (("DLBCL", "axi-cel", "at conditioning"), ("LBCL", "axi-cel", "baseline"), "direct", ["DLBCL within LBCL"]),
    (("DLBCL", "axi-cel", "baseline"), ("B-cell malignancy", "CD19 CAR-T unspecified", "unspecified"), "direct", ["same population"]),
    (("DLBCL", "tisa-cel", "baseline"), ("DLBCL", "axi-cel", "baseline"), "extrapolated", ["axi-cel", "product"]),
    (("DLBCL", "axi-cel", "baseline"), ("B-ALL", "CD19 CAR-T unspecified", "baseline"), "extrapolated", ["B-ALL", "B-cell malignancy"]),
    (("LBCL", "axi-cel", "baseline"), ("DLBCL", "axi-cel", "baseline"), "extrapolated", ["subtype"]),
    (("B-ALL", "tisa-cel", "baseline"), ("B-ALL", "blinatumomab", "baseline"), "not_applicable", ["blinatumomab", "class"]),
    (("DLBCL", "axi-cel", "baseline"), ("B-cell malignancy", "CD19 CAR-T unspecified", "peak expansion"), "not_applicable", ["after infusion"]),
    (("DLBCL", "axi-cel", "at conditioning"), ("DLBCL", "CD19 CAR-T unspecified", "day 28"), "not_applicable", ["after infusion", "day 28"]),
    (("DLBCL", "axi-cel", "day 28"), ("DLBCL", "axi-cel", "baseline"), "not_applicable", ["before treatment"]),
    # the text names no disease or no therapy: never direct
    (("DLBCL", "axi-cel", "baseline"), (None, "CD19 CAR-T unspecified", "baseline"), "extrapolated", ["names no disease"]),
    (("B-ALL", "tisa-cel", "baseline"), ("B-ALL", None, "baseline"), "extrapolated", ["names no therapy"]),
    (("B-ALL", "tisa-cel", "baseline"), (None, None, "unspecified"), "extrapolated", ["no disease", "no therapy"]),
])
def test_applicability_levels(con, patient, evidence, level, words):
    pops = Populations(con)
    result = pops.judge(pops.patient(*patient), _ev(*evidence))
    assert result["level"] == level, result
    assert all(w in result["reason"] for w in words), result["reason"]


def test_blinatumomab_evidence_is_not_applicable_to_a_cart_patient(con):
    summary = evaluate(record(disease="B-ALL", therapy="tisa-cel", timepoint="baseline",
                              observations=[obs("CD19 ex2part", 30, "%")]), con=con)
    blina = [f for f in summary["findings"] if f["population"]["therapy_class"] == "blinatumomab"]
    assert blina
    for f in blina:
        assert f["applicability"]["level"] == "not_applicable"
        assert "blinatumomab" in f["applicability"]["reason"] and "tisa-cel" in f["applicability"]["reason"]


def test_post_infusion_markers_are_not_applicable_to_a_pre_treatment_record(con):
    pops = Populations(con)
    summary = evaluate(record(disease="DLBCL", therapy="axi-cel", timepoint="baseline",
                              observations=[obs("peak CAR-T expansion", 50, "cells/uL")]), con=con)
    post = [f for f in summary["findings"] if pops.timepoints.terms[f["population"]["timepoint"]]["phase"] == "post"]
    assert post
    for f in post:
        assert f["applicability"]["level"] == "not_applicable"
        assert "after infusion" in f["applicability"]["reason"]


# ---- verdict rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, rule, met", [
    ("altered", "altered", True), ("mutated", "altered", True), ("TP53 mutation", "altered", None),
    ("wild-type", "altered", False), ("Wild type", "mutated", False), ("not altered", "altered", False),
    ("non-rearranged", "rearranged", False), ("rearranged", "rearranged", True), ("positive", "rearranged", True),
    ("deleted", "mutated", None), ("PD", "SD or PD", True), ("progressive disease", "SD or PD", True),
    ("CR", "SD or PD", False), ("CD28", "4-1BB", False), ("4-1BB", "4-1BB", True), ("Stage 4", "stage IV", True),
    ("stage III", "stage IV", False), ("blue", "stage IV", None), ("humanized", "human-derived", True),
    ("murine", "human-derived", False),
])
def test_category_matching(value, rule, met):
    assert category_met(value, rule)[0] is met


def _item(direction="unfavorable", rule=None, outcome="progression-free survival"):
    return {"direction": direction, "rule": rule, "outcome": outcome, "effect": {"measure": "HR", "value": 2.1, "ci": None,
                                                                                  "p_text": None, "text": None}}


def test_verdict_rules():
    ldh = Observed("LDH", 410.0, "U/L", "U/L", 250.0)
    uln = {"operator": ">", "value": 1, "value_high": None, "unit": "ULN", "reference": "ULN", "category": None}
    j = judge(_item(rule=uln), ldh)
    assert (j.verdict, j.met, j.converted_unit) == ("unfavorable", True, "ULN")
    assert j.explanation == "LDH 410 U/L = 1.64 × ULN > 1 × ULN: unfavorable for progression-free survival (HR 2.1)."
    assert judge(_item("favorable", uln), ldh).verdict == "favorable"
    low = Observed("LDH", 200.0, "U/L", "U/L", 250.0)
    j = judge(_item(rule=uln), low)
    assert j.verdict == "favorable" and "not > 1 × ULN" in j.explanation
    assert judge(_item("none", uln), ldh).verdict == "neutral"
    mixed = judge(_item("mixed", uln), ldh)
    assert mixed.verdict == "neutral" and "mixed" in mixed.reason
    none = judge(_item(rule=None), ldh)
    assert none.verdict == "indeterminate" and none.reason == "no threshold stated"
    no_uln = judge(_item(rule=uln), Observed("LDH", 410.0, "U/L", "U/L", None))
    assert no_uln.verdict == "indeterminate" and "upper_limit_normal" in no_uln.reason
    as_ratio = judge(_item(rule=uln), Observed("LDH", 1.64, "x ULN", "ULN", None))
    assert as_ratio.verdict == "unfavorable"
    no_unit = {"operator": ">=", "value": 11, "value_high": None, "unit": None, "reference": "absolute", "category": None}
    crp = judge(_item(rule=no_unit), Observed("CRP", 31.0, "mg/L", "mg/L", None), "mg/L")
    assert crp.verdict == "indeterminate" and "no unit" in crp.reason  # never guess a threshold's unit
    ecog = judge(_item("favorable", {**no_unit, "operator": "<=", "value": 1}), Observed("ECOG PS", 1.0, None, None, None))
    assert ecog.verdict == "favorable" and ecog.explanation.startswith("ECOG PS 1 <= 1: favorable")
    category_vs_number = judge(_item(rule={"operator": "category", "reference": "category", "category": "altered"}), ldh)
    assert category_vs_number.verdict == "indeterminate"


def test_a_rule_without_a_direction_decides_nothing():
    item = {"id": "x", "marker": "LDH", "direction": None, "outcome": "response", "effect": None,
            "rule": {"operator": ">", "value": 1, "value_high": None, "unit": "ULN", "reference": "ULN", "category": None}}
    j = judge(item, Observed("LDH", 410, "U/L", "U/L", 250))
    assert j.met is True and j.verdict == "indeterminate" and j.reason == "the text gives no direction"


def test_between_and_inclusive_operators():
    obs_ = Observed("Platelet count", 100.0, "10*9/L", "10*9/L", None)
    base = {"value_high": None, "unit": "10*9/L", "reference": "absolute", "category": None}
    assert judge(_item(rule={**base, "operator": ">=", "value": 100}), obs_).met is True
    assert judge(_item(rule={**base, "operator": "<", "value": 100}), obs_).met is False
    assert judge(_item(rule={**base, "operator": "between", "value": 50, "value_high": 150}), obs_).met is True
    per_ul = Observed("Platelet count", 100000.0, "cells/uL", "/uL", None)
    assert judge(_item(rule={**base, "operator": "<=", "value": 100}), per_ul).met is True


# ---- the PAM signature -------------------------------------------------------------------------------

def _model(con):
    from kb.core import store

    (row,) = [m for m in store.pam_models(con) if m["id"] == "shao2022-14gene"]
    genes = [(s, json.loads(c), sd) for s, c, sd in store.pam_genes(con, row["id"])]
    return json.loads(row["classes"]), json.loads(row["priors"]), genes


def _expected(genes, x: dict, priors: dict) -> tuple[dict, dict]:
    """δ_k = Σ (x_i − c_ik)² / sd_i² − 2 log π_k over the genes in x; posterior softmax(−δ/2), from the table."""
    delta = {k: sum((x[g] - c[k]) ** 2 / sd ** 2 for g, c, sd in genes if g in x) - 2 * math.log(p) for k, p in priors.items()}
    low = min(delta.values())
    w = {k: math.exp(-(d - low) / 2) for k, d in delta.items()}
    return delta, {k: v / sum(w.values()) for k, v in w.items()}


def _ball(genes: dict, **fields) -> dict:
    return record(disease="B-ALL", therapy="tisa-cel", timepoint="before lymphodepletion",
                  expression={"scale": "log2", "genes": genes}, **fields)


def test_pam_at_the_cr_centroid(con):
    classes, priors, genes = _model(con)
    x = {g: c["CR"] for g, c, _ in genes}
    pam = evaluate(_ball(x), con=con)["pam"]
    delta, post = _expected(genes, x, priors)
    assert [g for g, _, _ in genes] == GENES14 and classes == ["CR", "NR"]
    for k in classes:
        assert round(pam["delta"][k], 4) == round(delta[k], 4)
        assert round(pam["posterior"][k], 4) == round(post[k], 4)
    # the published facts (docs/design.md, "PAM"): δ_CR 0.6859, δ_NR 3.2004, P(CR) 0.7786
    assert round(pam["delta"]["CR"], 4) == 0.6859 and round(pam["delta"]["NR"], 4) == 3.2004
    assert round(pam["posterior"]["CR"], 4) == 0.7786
    assert pam["call"] == "CR" and pam["status"] == "called" and not pam["partial"]
    assert pam["applicability"]["level"] == "direct"
    assert pam["genes_used"] == GENES14 and pam["genes_missing"] == []


def test_pam_at_the_nr_centroid_shows_the_prior(con):
    classes, priors, genes = _model(con)
    x = {g: c["NR"] for g, c, _ in genes}
    pam = evaluate(_ball(x), con=con)["pam"]
    delta, post = _expected(genes, x, priors)
    delta_eq, post_eq = _expected(genes, x, {"CR": 0.5, "NR": 0.5})
    assert round(pam["posterior"]["CR"], 4) == round(post["CR"], 4)
    assert pam["posterior"]["CR"] == pytest.approx(0.63, abs=0.005)  # still called CR under the published priors
    assert pam["call"] == "CR" and pam["priors_used"] == pytest.approx(priors)
    eq = pam["by_priors"]["equal"]
    assert round(eq["posterior"]["CR"], 4) == round(post_eq["CR"], 4)
    assert eq["posterior"]["CR"] == pytest.approx(0.41, abs=0.005) and eq["call"] == "NR"
    assert {k: round(v, 4) for k, v in eq["delta"].items()} == {k: round(v, 4) for k, v in delta_eq.items()}
    # the prior term 2 log(22/9) exceeds the whole distance between the centroids
    c = pam["contributions"]
    assert c["of"] == "delta_NR - delta_CR" and set(c["genes"]) == set(GENES14)
    assert sum(c["genes"].values()) + c["prior_term"] == pytest.approx(pam["delta"]["NR"] - pam["delta"]["CR"])
    assert c["prior_term"] == pytest.approx(2 * math.log(22 / 9))
    assert -sum(c["genes"].values()) < c["prior_term"]


def test_pam_with_equal_priors_option(runner, built_db, con, tmp_path):
    _, _, genes = _model(con)
    path = write(tmp_path, _ball({g: c["NR"] for g, c, _ in genes}))
    out = json.loads(invoke(runner, built_db, path, "-f", "json", "--priors", "equal").stdout)
    assert out["pam"]["priors"] == "equal" and out["pam"]["call"] == "NR"
    assert out["pam"]["posterior"]["CR"] == pytest.approx(0.41, abs=0.005)
    assert out["pam"]["by_priors"]["published"]["call"] == "CR"


def test_pam_partial_and_missing_genes(con):
    classes, priors, genes = _model(con)
    x = {g: c["CR"] + 0.3 for g, c, _ in genes}
    partial = {g: v for g, v in x.items() if g not in ("HAP1", "KCNN1", "TYRO3")}  # 11 genes
    pam = evaluate(_ball(partial), con=con)["pam"]
    delta, _ = _expected(genes, partial, priors)
    assert pam["status"] == "partial" and pam["partial"] and pam["call"] in classes
    assert sorted(pam["genes_missing"]) == ["HAP1", "KCNN1", "TYRO3"] and len(pam["genes_used"]) == 11
    assert {k: round(v, 4) for k, v in pam["delta"].items()} == {k: round(v, 4) for k, v in delta.items()}
    nine = dict(list(x.items())[:9])
    pam = evaluate(_ball({**nine, "MADEUP1": 3.0}), con=con)["pam"]
    assert pam["status"] == "indeterminate" and pam["call"] is None and "9 of" in pam["reason"]
    assert pam["genes_ignored"] == ["MADEUP1"]


def test_pam_counts_scale_and_negative_log2(con):
    _, priors, genes = _model(con)
    x = {g: c["NR"] - 6 for g, c, _ in genes}  # negative log2 values are legitimate
    pam = evaluate(_ball(x), con=con)["pam"]
    assert pam["delta"]["CR"] == pytest.approx(_expected(genes, x, priors)[0]["CR"])
    y = {g: c["NR"] for g, c, _ in genes}
    counts = record(disease="B-ALL", therapy="tisa-cel", timepoint="before lymphodepletion",
                    expression={"scale": "counts", "genes": {g: 2 ** v - 1 for g, v in y.items()}})
    assert evaluate(counts, con=con)["pam"]["delta"] == pytest.approx(evaluate(_ball(y), con=con)["pam"]["delta"])


@pytest.mark.parametrize("fields, level", [
    ({"disease": "B-ALL", "therapy": "tisa-cel", "timepoint": "before lymphodepletion"}, "direct"),
    ({"disease": "DLBCL", "therapy": "axi-cel", "timepoint": "baseline"}, "extrapolated"),
    ({"disease": "B-ALL", "therapy": "blinatumomab", "timepoint": "baseline"}, "not_applicable"),
    ({"disease": "B-ALL", "therapy": "tisa-cel", "timepoint": "day 28"}, "not_applicable"),
])
def test_pam_applicability(con, fields, level):
    _, _, genes = _model(con)
    pam = evaluate(record(**fields, expression={"genes": {g: c["CR"] for g, c, _ in genes}}), con=con)["pam"]
    assert pam["applicability"]["level"] == level


# ---- bad input: exit 2, one line naming the file, the field and what was expected -----------------------

def _bad(tmp_path, data, name="bad.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _ambiguous_marker(con) -> str:
    from kb.query.resolve import AmbiguousMarker, MarkerIndex

    index = MarkerIndex(con)
    for text in ("CD8 T cells", "alteration", "CAR-T", "T cells", "CD19"):
        try:
            index.resolve(text)
        except AmbiguousMarker:
            return text
    raise AssertionError("no ambiguous marker spelling among the candidates")


BAD = [
    ("not json", '{"id": "B1", "observations": [', "bad.json", ["bad.json", "JSON"]),
    ("not yaml", "id: [unclosed\n", "bad.yaml", ["bad.yaml", "YAML"]),
    ("not a record", "[1]", "bad.json", ["bad.json[0]", "expected a patient record"]),  # several: test_every_bad_record_is_reported
    ("missing field", {k: v for k, v in record().items() if k != "timepoint"}, "bad.json", ["bad.json: timepoint", "required"]),
    ("missing field 2", {k: v for k, v in record().items() if k != "disease"}, "bad.json", ["disease", "required"]),
    ("unknown field", record(observatons=[]), "bad.json", ["observatons", "unknown field", "expected one of"]),
    ("non-numeric", record(observations=[obs("TMTV", 1, "mL"), obs("LDH", "high", "U/L")]), "bad.json",
     ["observations[1].value", "expected a number", "'high'"]),
    ("non-numeric no unit", record(observations=[obs("LDH", "elevated")]), "bad.json", ["observations[0].value", "expected a number"]),
    ("negative", record(observations=[obs("TMTV", -3, "mL")]), "bad.json", ["observations[0].value", "cannot be negative", "-3"]),
    ("negative uln", record(observations=[obs("LDH", 300, "U/L", -250)]), "bad.json",
     ["observations[0].upper_limit_normal", "greater than 0"]),
    ("unknown marker", record(observations=[obs("frobnicase", 3)]), "bad.json", ["observations[0].marker", "frobnicase"]),
    ("unit mismatch", record(observations=[obs("TP53", "altered"), obs("TMTV", 3, "mL"), obs("LDH", 300, "mL")]), "bad.json",
     ["observations[2].unit", "'mL'", "does not fit LDH", "U/L"]),
    ("unknown unit", record(observations=[obs("LDH", 300, "furlongs")]), "bad.json", ["observations[0].unit", "furlongs", "U/L"]),
    ("missing unit", record(observations=[obs("LDH", 300)]), "bad.json", ["observations[0].unit", "expected the unit"]),
    ("duplicate marker", record(observations=[obs("LDH", 300, "U/L"), obs("lactate dehydrogenase", 3, "ukat/L")]), "bad.json",
     ["observations[1].marker", "already observed"]),
    ("raw counts", record(expression={"genes": {"IGF2BP1": 812.0}}), "bad.json",
     ["expression.genes.IGF2BP1", "raw count", '"scale": "counts"']),
    ("negative counts", record(expression={"scale": "counts", "genes": {"IGF2BP1": -1}}), "bad.json", ["expression.genes.IGF2BP1", ">= 0"]),
    ("bad scale", record(expression={"scale": "log10", "genes": {"IGF2BP1": 1}}), "bad.json", ["expression.scale", "log2"]),
    ("unknown disease", record(disease="Hodgkin lymphoma"), "bad.yaml", ["bad.yaml", "disease", "expected one of"]),
    ("unknown timepoint", record(timepoint="whenever"), "bad.json", ["timepoint", "expected one of"]),
    ("unknown model", record(expression={"genes": {"IGF2BP1": 5}}, model="nope"), "bad.json", ["model", "nope"]),
    ("value type", record(observations=[{"marker": "LDH", "value": [1, 2], "unit": "U/L"}]), "bad.json",
     ["observations[0].value", "expected a number or a category string"]),
]


@pytest.mark.parametrize("case, data, name, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_with_one_line(runner, built_db, tmp_path, case, data, name, words):
    if name.endswith(".yaml") and not isinstance(data, str):
        data = yaml.safe_dump(data)
    res = invoke(runner, built_db, _bad(tmp_path, data, name), "-f", "json")
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stdout == ""
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_ambiguous_marker_is_refused(runner, built_db, con, tmp_path):
    text = _ambiguous_marker(con)
    res = invoke(runner, built_db, _bad(tmp_path, record(observations=[obs(text, 3)])), "-f", "json")
    assert res.exit_code == 2
    assert "observations[0].marker" in res.stderr and "ambiguous" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_bad_record_in_a_batch_names_its_line(runner, built_db, tmp_path):
    good = record(id="A", observations=[obs("LDH", 300, "U/L", 250)])
    bad = record(id="B", observations=[obs("LDH", 300, "mL")])
    res = invoke(runner, built_db, write(tmp_path, [good, bad], "cohort.jsonl"), "-f", "json")
    assert res.exit_code == 2 and "cohort.jsonl:2: observations[0].unit" in res.stderr and res.stdout == ""


def _two_bad_one_good(tmp_path: Path) -> Path:
    """A directory: a.json without a timepoint, b.json good, c.json not JSON, d.yaml with a unit of another dimension."""
    records = tmp_path / "records"
    records.mkdir()
    write(records, {k: v for k, v in record(id="A").items() if k != "timepoint"}, "a.json")
    write(records, record(id="B", observations=[obs("LDH", 300, "U/L", 250)]), "b.json")
    (records / "c.json").write_text('{"id": "C", ', encoding="utf-8")
    write(records, record(id="D", observations=[obs("TMTV", 3, "mL"), obs("LDH", 300, "mL")]), "d.yaml")
    return records


def test_every_bad_record_is_reported(runner, built_db, tmp_path):
    """Every bad file of a directory, one line each in file order, then the count; no summary printed."""
    records = _two_bad_one_good(tmp_path)
    res = invoke(runner, built_db, records, "-f", "json")
    assert res.exit_code == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert lines[0] == f"kb: error: {records / 'a.json'}: timepoint: required field is missing"
    assert lines[1].startswith(f"kb: error: {records / 'c.json'}: expected a JSON patient record; not valid JSON: ")
    assert lines[2].startswith(f"kb: error: {records / 'd.yaml'}: observations[1].unit: 'mL' (volume) does not fit LDH")
    assert lines[3:] == ["kb: 3 bad records of 4; nothing was evaluated or written (a batch is all or nothing)"]
    # JSONL: every bad line, by its number
    path = tmp_path / "cohort.jsonl"
    path.write_text("\n".join([json.dumps(record(id="G")), "{not json", json.dumps(record(id="H", disease="flu")), ""]))
    lines = invoke(runner, built_db, path, "-f", "json").stderr.strip().splitlines()
    assert [line.split(": ", 3)[2] for line in lines[:-1]] == [f"{path}:2", f"{path}:3"]
    assert "disease" in lines[1] and lines[-1].startswith("kb: 2 bad records of 3;")


def test_out_is_all_or_nothing_with_bad_records(runner, built_db, tmp_path):
    records = _two_bad_one_good(tmp_path)
    res = invoke(runner, built_db, records, "-f", "json", "--out", tmp_path / "new")
    assert res.exit_code == 2 and not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "B.json").write_text("before", encoding="utf-8")
    res = invoke(runner, built_db, records, "-f", "json", "--out", existing)
    assert res.exit_code == 2 and [p.name for p in existing.iterdir()] == ["B.json"]
    assert (existing / "B.json").read_text(encoding="utf-8") == "before"
    (records / "a.json").unlink(), (records / "c.json").unlink(), (records / "d.yaml").unlink()
    res = invoke(runner, built_db, records, "-f", "json", "--out", existing)
    assert res.exit_code == 0 and json.loads((existing / "B.json").read_text())["patient"]["id"] == "B"


def test_missing_path_and_empty_directory(runner, built_db, tmp_path):
    res = invoke(runner, built_db, tmp_path / "nope.json")
    assert res.exit_code == 2 and "nope.json" in res.stderr
    (tmp_path / "empty").mkdir()
    res = invoke(runner, built_db, tmp_path / "empty")
    assert res.exit_code == 2 and "no patient records" in res.stderr


def test_unsupported_format_and_priors(runner, built_db, tmp_path):
    path = write(tmp_path, record())
    assert invoke(runner, built_db, path, "-f", "csv").exit_code == 2
    res = invoke(runner, built_db, path, "--priors", "flat")
    assert res.exit_code == 2 and "--priors" in res.stderr


# ---- outputs ---------------------------------------------------------------------------------------

def _cohort():
    return [record(id="P1", observations=[obs("LDH", 410, "U/L", 250), obs("TMTV", 120, "mL"), obs("TP53", "altered")]),
            record(id="P2", disease="B-ALL", therapy="blinatumomab", observations=[obs("CD19 ex2part", 30, "%")])]


def test_table_and_markdown_carry_version_and_disclaimer(runner, built_db, con, tmp_path):
    from kb.core import store

    path = write(tmp_path, _cohort()[0])
    content = store.kb_version(con)["content"]
    table = invoke(runner, built_db, path, "-f", "table")
    assert table.exit_code == 0, table.stderr
    assert "LDH" in table.stdout and "TMTV" in table.stdout and content in table.stdout
    assert DISCLAIMER in table.stdout and "For research use only. Not for clinical decision-making." in table.stdout
    md = invoke(runner, built_db, path, "-f", "md")
    assert md.exit_code == 0, md.stderr
    assert md.stdout.startswith("# Risk summary: P1") and "## Findings" in md.stdout and "### LDH" in md.stdout
    assert "> " in md.stdout and content in md.stdout and DISCLAIMER in md.stdout


def test_directory_jsonl_and_out(runner, built_db, tmp_path):
    records = tmp_path / "records"
    records.mkdir()
    for r in _cohort():
        write(records, r, f"{r['id']}.yaml")
    res = invoke(runner, built_db, records, "-f", "json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert [s["patient"]["id"] for s in out] == ["P1", "P2"]
    assert all(s["disclaimer"] == DISCLAIMER and s["kb_version"]["content"] for s in out)

    res = invoke(runner, built_db, write(tmp_path, _cohort(), "cohort.jsonl"), "-f", "json")
    lines = res.stdout.strip().splitlines()
    assert res.exit_code == 0 and [json.loads(line)["patient"]["id"] for line in lines] == ["P1", "P2"]

    for fmt, ext in (("json", "json"), ("md", "md"), ("table", "txt")):
        target = tmp_path / f"out-{fmt}"
        res = invoke(runner, built_db, records, "-f", fmt, "--out", target)
        assert res.exit_code == 0, res.stderr
        assert sorted(p.name for p in target.iterdir()) == [f"P1.{ext}", f"P2.{ext}"]
        assert all(DISCLAIMER in p.read_text(encoding="utf-8") for p in target.iterdir())
    assert json.loads((tmp_path / "out-json" / "P2.json").read_text())["patient"]["id"] == "P2"


def test_duplicate_ids_with_out_are_refused(runner, built_db, tmp_path):
    path = write(tmp_path, [record(id="X"), record(id="X")], "dup.jsonl")
    res = invoke(runner, built_db, path, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "unique patient ids" in res.stderr and not (tmp_path / "o").exists()


def test_marker_lists_in_the_summary(con):
    from kb.core import store

    info = store.marker_info(con)
    ev = Evaluator(con)
    without = next(m for m in sorted(info) if not ev.evidence.get(m) and info[m]["unit"] in ("mg/L", "ng/mL", "10*9/L", None)
                   and info[m]["kind"] == "lab")
    unit = {"mg/L": "mg/L", "ng/mL": "ng/mL", "10*9/L": "x10^9/L", None: None}[info[without]["unit"]]
    s = evaluate(record(observations=[obs("LDH", 300, "U/L", 250), obs(info[without]["name"], 5, unit)]), con=con)["summary"]
    assert s["observed_without_evidence"] == [info[without]["name"]]
    assert s["markers_observed"] == ["LDH", info[without]["name"]]
    assert "LDH" not in s["not_observed"] and s["not_observed"]
    with_evidence = {info[m]["name"] for m in ev.evidence}
    assert set(s["not_observed"]) <= with_evidence


# ---- properties ---------------------------------------------------------------------------------------

MARKERS = {
    "LDH": (st.floats(0, 5000), ["U/L", "µkat/L", "IU/L"], True),
    "TMTV": (st.floats(0, 3000), ["mL", "L", "cm3"], False),
    "CD19 ex2part": (st.floats(0, 100), ["%", "fraction"], False),
    "IL-6": (st.floats(0, 1e4), ["pg/mL", "ng/L"], True),
    "Platelet count": (st.floats(0, 1000), ["10*9/L", "x10^3/uL", "cells/uL"], False),
    "CAR-T Cmax": (st.floats(0, 1e5), ["/uL", "cells/µL", "x10^9/L"], False),
    "Bone marrow blasts": (st.floats(0, 100), ["%"], False),
}
CATEGORIES = {"TP53": ["altered", "wild-type", "mutated", "deleted", "unknown", "yes", "no"],
              "CRLF2 rearrangement": ["rearranged", "not rearranged", "positive"],
              "Ann Arbor stage": ["stage IV", "stage II", "4"], "ECOG PS": [0, 1, 2, 3]}


@st.composite
def observations(draw):
    out = []
    for name in draw(st.lists(st.sampled_from(sorted(MARKERS) + sorted(CATEGORIES)), unique=True, max_size=6)):
        if name in MARKERS:
            values, unit_list, uln = MARKERS[name]
            o = obs(name, draw(values), draw(st.sampled_from(unit_list)))
            if uln and draw(st.booleans()):
                o["upper_limit_normal"] = draw(st.floats(1, 1000))
        else:
            o = obs(name, draw(st.sampled_from(CATEGORIES[name])))
        out.append(o)
    return out


@pytest.fixture(scope="module")
def evaluator(built_db):
    from kb.query.database import connect

    c = connect(built_db)
    yield Evaluator(c)
    c.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(disease=st.sampled_from(["LBCL", "DLBCL", "B-ALL", "FL", "B-cell malignancy", "large B-cell lymphoma"]),
       therapy=st.sampled_from(["axi-cel", "tisa-cel", "blinatumomab", "CD19 CAR-T", "Kymriah"]),
       timepoint=st.sampled_from(["baseline", "at conditioning", "day 28", "peak expansion", "unspecified"]),
       observed=observations(),
       genes=st.none() | st.dictionaries(st.sampled_from(GENES14), st.floats(-5, 20), max_size=14),
       priors=st.sampled_from(["published", "equal"]))
def test_random_valid_records_never_crash(evaluator, disease, therapy, timepoint, observed, genes, priors):
    data = record(disease=disease, therapy=therapy, timepoint=timepoint, observations=observed)
    if genes:
        data["expression"] = {"scale": "log2", "genes": genes}
    patient = parse_record(Record("random.json", data))
    summary = evaluator.evaluate(patient, "random.json", priors)
    assert summary["disclaimer"] == DISCLAIMER and summary["kb_version"]
    for f in summary["findings"]:
        assert f["links"], f["evidence_id"]
        assert f["verdict"] in VERDICTS and f["applicability"]["level"] in ("direct", "extrapolated", "not_applicable")
        assert f["explanation"] and f["applicability"]["reason"]
    if genes:
        pam = summary["pam"]
        assert (pam["call"] is None) == (len(genes) < 10)
        if pam["call"] is not None:
            assert sum(pam["posterior"].values()) == pytest.approx(1)
    json.dumps(summary)  # serialisable


def test_evaluate_scores_expression_with_a_trained_model_file(runner, built_db, tmp_path):
    """--model takes a file from `kb pam train`; the summary equals the model's own scoring of the genes given."""
    import csv

    from cli.main import app as kb_app
    from kb.pam.model_file import load_model_file

    fixtures = Path(__file__).parent / "fixtures" / "pamr"
    model_file = tmp_path / "model.json"
    trained = runner.invoke(kb_app, ["pam", "train", str(fixtures / "pub14_x.csv"), str(fixtures / "pub14_y.csv"),
                                     "--out", str(model_file), "--format", "json"])
    assert trained.exit_code == 0, trained.output
    model = load_model_file(model_file)
    with open(fixtures / "pub14_xtest.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    genes = {g: float(row[g]) for g in model.genes[:12]}
    record = tmp_path / "T1.json"
    record.write_text(json.dumps({"id": "T1", "disease": "B-ALL", "therapy": "tisa-cel",
                                  "timepoint": "before lymphodepletion", "observations": [],
                                  "expression": {"scale": "log2", "genes": genes}}))
    result = runner.invoke(kb_app, ["evaluate", str(record), "--model", str(model_file), "--db", str(built_db),
                                    "--format", "json"])
    assert result.exit_code == 0, result.output
    pam = json.loads(result.stdout)["pam"]
    assert pam["model"]["kind"] == "trained" and pam["genes_used"] == list(model.genes[:12])
    assert pam["partial"] is True and pam["status"] == "partial"
    expected = model.subset(model.genes[:12]).predict_proba([[genes[g] for g in model.genes[:12]]])[0]
    assert [pam["posterior"][c] for c in model.classes] == pytest.approx(list(expected), rel=1e-12)
    missing = runner.invoke(kb_app, ["evaluate", str(record), "--model", str(tmp_path / "nope.json"), "--db", str(built_db)])
    assert missing.exit_code == 2 and "nope.json" in missing.stderr
