"""Issue 12 item 1 at the standard entry points: every number of a FHIR resource or a Phenopacket is finite
and in range (schemas/numbers.py), or the input is refused with exit 2 (HTTP 422 problem+json) and one line
naming the place: FHIRPath style for FHIR, the field path for a Phenopacket. Regressions for each hostile
value, then generated Observations and measurements (hypothesis, bounded and derandomized)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUNDLE = json.loads((EXAMPLES / "fhir" / "P002.bundle.json").read_text(encoding="utf-8"))
PACKET = json.loads((EXAMPLES / "P002.phenopacket.json").read_text(encoding="utf-8"))
LDH = "Bundle.entry[3].resource"  # the LDH Observation of the example Bundle: value 410 U/L, high 250
BIG = "9" * 400


def _text(doc: dict, old: str, new: str) -> str:
    text = json.dumps(doc)
    assert old in text
    return text.replace(old, new, 1)


def _one_line_exit_2(result, where: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == "" and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: "), result.stderr
    assert where in lines[0], lines[0]
    return lines[0]


def _observation(doc: dict, **changes) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["entry"][3]["resource"].update(changes)
    return doc


FHIR_CASES = [
    ('"value": 410', '"value": 1e400', f"{LDH}.valueQuantity.value", "1e400"),
    ('"value": 410', f'"value": {BIG}', f"{LDH}.valueQuantity.value", "400 digits"),
    ('"value": 410', '"value": NaN', f"{LDH}.valueQuantity.value", "NaN"),
    ('"value": 410', '"value": -Infinity', f"{LDH}.valueQuantity.value", "Infinity"),
    ('"value": 410', '"value": "NaN"', f"{LDH}.valueQuantity.value", "NaN"),
    ('"value": 410', '"value": "inf"', f"{LDH}.valueQuantity.value", "inf"),
    ('"value": 410', '"value": "1e400"', f"{LDH}.valueQuantity.value", "1e400"),  # a decimal string FHIR accepts
    ('"value": 410', '"value": 1e300', f"{LDH}.valueQuantity.value", "1e+100"),
    ('"value": 250', '"value": 1e400', f"{LDH}.referenceRange[0].high.value", "1e400"),
    ('"value": 250', f'"value": {BIG}', f"{LDH}.referenceRange[0].high.value", "400 digits"),
    ('"value": 250', '"value": "1e999"', f"{LDH}.referenceRange[0].high.value", "1e999"),
]


@pytest.mark.parametrize("old, new, where, word", FHIR_CASES)
def test_hostile_fhir_values_are_exit_2_naming_the_fhirpath(runner, built_db, tmp_path, old, new, where, word):
    path = tmp_path / "b.json"
    path.write_text(_text(BUNDLE, old, new), encoding="utf-8")
    line = _one_line_exit_2(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"]), where)
    assert word in line and str(path) in line


def test_component_values_and_ranges(runner, built_db, tmp_path):
    ldh = BUNDLE["entry"][3]["resource"]
    for component, where in (({"code": ldh["code"], "valueQuantity": {"value": "__V__", "unit": "U/L"}},
                               f"{LDH}.component[0].valueQuantity.value"),
                              ({"code": ldh["code"], "valueQuantity": {"value": 300, "unit": "U/L"},
                                "referenceRange": [{"high": {"value": "__V__"}}]},
                               f"{LDH}.component[0].referenceRange[0].high.value")):
        doc = _observation(BUNDLE, component=[component])
        for value in ("1e400", BIG, "NaN"):
            path = tmp_path / "c.json"
            path.write_text(_text(doc, '"__V__"', value), encoding="utf-8")
            _one_line_exit_2(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)]), where)


def test_a_volume_that_would_overflow_on_conversion(runner, built_db, tmp_path):
    """TMTV 1e308 L is 1e311 mL, infinity as a float: refused at the input, never converted."""
    doc = _observation(BUNDLE, code={"text": "total metabolic tumor volume"},
                       valueQuantity={"value": "__V__", "unit": "L", "system": "http://unitsofmeasure.org", "code": "L"})
    doc["entry"][3]["resource"].pop("referenceRange")
    path = tmp_path / "t.json"
    path.write_text(_text(doc, '"__V__"', "1e308"), encoding="utf-8")
    _one_line_exit_2(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)]), f"{LDH}.valueQuantity.value")


def test_ndjson_lines_name_the_line_and_the_path(runner, built_db, tmp_path):
    lines = [json.dumps(e["resource"]) for e in BUNDLE["entry"]]
    lines[3] = lines[3].replace('"value": 410', '"value": 1e400')
    for name in ("export.ndjson", "export.jsonl"):  # a .jsonl file of resources is read as NDJSON too
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _one_line_exit_2(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)]),
                         f"{path}:4: Observation.valueQuantity.value")


PACKET_CASES = [
    ('"value": 410', '"value": 1e400', "measurements[0].value.quantity.value", "1e400"),
    ('"value": 410', f'"value": {BIG}', "measurements[0].value.quantity.value", "400 digits"),
    ('"value": 410', '"value": NaN', "measurements[0].value.quantity.value", "NaN"),
    ('"value": 410', '"value": "NaN"', "measurements[0].value.quantity.value", "NaN"),
    ('"value": 410', '"value": "inf"', "measurements[0].value.quantity.value", "inf"),
    ('"high": 250', '"high": 1e400', "measurements[0].value.quantity.referenceRange.high", "1e400"),
    ('"high": 250', f'"high": {BIG}', "measurements[0].value.quantity.referenceRange.high", "400 digits"),
    ('"high": 250', '"high": "inf"', "measurements[0].value.quantity.referenceRange.high", "inf"),
    ('"low": 0', '"low": -1e999', "measurements[0].value.quantity.referenceRange.low", "1e999"),
]


@pytest.mark.parametrize("old, new, where, word", PACKET_CASES)
def test_hostile_phenopacket_values_are_exit_2_naming_the_field(runner, built_db, tmp_path, old, new, where, word):
    path = tmp_path / "p.json"
    path.write_text(_text(PACKET, old, new), encoding="utf-8")
    line = _one_line_exit_2(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"]), where)
    assert word in line


@pytest.mark.parametrize("doc, old, new, media, where", [
    (BUNDLE, '"value": 410', '"value": 1e400', "application/fhir+json", f"{LDH}.valueQuantity.value"),
    (BUNDLE, '"value": 410', f'"value": {BIG}', "application/json", f"{LDH}.valueQuantity.value"),
    (BUNDLE, '"value": 250', '"value": NaN', "application/fhir+json", f"{LDH}.referenceRange[0].high.value"),
    (PACKET, '"value": 410', '"value": 1e400', "application/json", "measurements[0].value.quantity.value"),
    (PACKET, '"high": 250', '"high": Infinity', "application/json", "measurements[0].value.quantity.referenceRange.high"),
])
def test_the_same_over_http_is_a_422_problem(api, doc, old, new, media, where):
    for accept in ("application/json", "application/fhir+json"):
        response = api.post("/v1/evaluate", content=_text(doc, old, new).encode(),
                            headers={"Content-Type": media, "Accept": accept})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        assert where in detail and "\n" not in detail and detail.startswith("body: ")


def test_ndjson_over_http(api):
    lines = [json.dumps(e["resource"]) for e in BUNDLE["entry"]]
    lines[3] = lines[3].replace('"value": 410', '"value": 1e400')
    response = api.post("/v1/evaluate", content="\n".join(lines).encode(), headers={"Content-Type": "application/fhir+ndjson"})
    assert response.status_code == 422 and "body:4: Observation.valueQuantity.value" in response.json()["detail"]


# ---- generated ------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=25, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**400, max_value=10**400),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 1e100, 1e101, 410, 2.5, -1, 10**20]),
    st.sampled_from(["NaN", "inf", "-Infinity", "1e400", "1e-400", "12.5", "", "x", "\x1b]0;x\x07"]),
    st.booleans(), st.none())
codes = st.sampled_from(["2532-0", "1988-5", "26881-3", "777-3", "1742-6", "2276-4", "0-0"])
units = st.sampled_from(["U/L", "mg/L", "pg/mL", "L", "mL", "10*9/L", "%", "", "furlong"])


def _strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"{name} in JSON output")
    return json.loads(text, parse_constant=refuse)


def _valid_or_one_line(result) -> None:
    if result.exit_code == 0:
        _strict_json(result.stdout)
        return
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: ") and "\x1b" not in lines[0], result.stderr[:500]


def _dump(doc) -> str:
    # Python's json writes NaN, Infinity and integers of any length: the hostile inputs, as a file holds them
    return json.dumps(doc)


@SETTINGS
@given(data=st.data())
def test_generated_fhir_observations(runner, built_db, tmp_path_factory, data):
    obs = {"resourceType": "Observation", "id": "g", "status": "final", "subject": {"reference": "Patient/P002"},
           "code": {"coding": [{"system": "http://loinc.org", "code": data.draw(codes)}]},
           "effectiveDateTime": "2024-03-05",
           "valueQuantity": {"value": data.draw(numbers), "unit": data.draw(units)}}
    if data.draw(st.booleans()):
        obs["valueQuantity"]["comparator"] = data.draw(st.sampled_from(["<", ">=", "~", "="]))
    if data.draw(st.booleans()):
        obs["referenceRange"] = [{"high": {"value": data.draw(numbers)}, "low": {"value": data.draw(numbers)}}]
    if data.draw(st.booleans()):
        obs["component"] = [{"code": {"coding": [{"system": "http://loinc.org", "code": data.draw(codes)}]},
                             "valueQuantity": {"value": data.draw(numbers), "unit": data.draw(units)}}]
    doc = json.loads(json.dumps(BUNDLE))
    doc["entry"][3] = {"fullUrl": "urn:uuid:Observation-g", "resource": obs}
    path = tmp_path_factory.mktemp("f") / "b.json"
    path.write_text(_dump(doc), encoding="utf-8")
    fmt = data.draw(st.sampled_from(["json", "fhir"]))
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", fmt])
    _valid_or_one_line(result)
    if result.exit_code == 0 and fmt == "fhir":
        from fhir.resources.R4B.bundle import Bundle

        Bundle.model_validate_json(result.stdout)


@SETTINGS
@given(data=st.data())
def test_generated_phenopacket_measurements(runner, built_db, tmp_path_factory, data):
    quantity = {"unit": {"id": f"UCUM:{data.draw(units)}", "label": "u"}, "value": data.draw(numbers)}
    if data.draw(st.booleans()):
        quantity["referenceRange"] = {"unit": {"id": "UCUM:U/L", "label": "U/L"}, "low": data.draw(numbers),
                                      "high": data.draw(numbers)}
    measurement = {"assay": {"id": f"LOINC:{data.draw(codes)}", "label": "assay"}, "value": {"quantity": quantity},
                   "timeObserved": {"timestamp": "2024-03-05T08:00:00Z"}}
    doc = json.loads(json.dumps(PACKET))
    doc["measurements"][data.draw(st.integers(0, len(doc["measurements"]) - 1))] = measurement
    path = tmp_path_factory.mktemp("p") / "p.json"
    path.write_text(_dump(doc), encoding="utf-8")
    _valid_or_one_line(runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "-f", "json"]))
