"""`POST /v1/evaluate` with `Accept: application/fhir+json` against a real server: the body is the validated
FHIR Bundle `kb evaluate --format fhir` prints for the same input (one record: its Bundle; several: a
collection Bundle of the records' Bundles), served as application/fhir+json; an Accept the endpoint cannot
answer is a 406 problem."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FHIR = "application/fhir+json"


def _validate(bundle: dict):
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"


def _cli_fhir(runner, built_db, path: Path) -> dict:
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "--format", "fhir"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name, media", [("P001.json", "application/json"), ("B001.yaml", "application/yaml"),
                                         ("fhir/P002.bundle.json", FHIR), ("fhir/P002.cases.bundle.json", FHIR),
                                         ("P002.phenopacket.json", "application/json")])
def test_fhir_accept_equals_kb_evaluate_format_fhir(api, runner, built_db, name, media):
    path = EXAMPLES / name
    response = api.post("/v1/evaluate", content=path.read_bytes(), params={"label": str(path)},
                        headers={"Content-Type": media, "Accept": FHIR})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR
    body = response.json()
    _validate(body)
    assert body == _cli_fhir(runner, built_db, path)
    assert [e["resource"]["resourceType"] for e in body["entry"]][0] == "Patient"


def test_several_records_give_a_bundle_of_bundles_equal_to_the_cli(api, runner, built_db, tmp_path):
    record = json.loads((EXAMPLES / "P001.json").read_text(encoding="utf-8"))
    lines = "\n".join(json.dumps({**record, "id": pid}) for pid in ("P001", "P009")) + "\n"
    path = tmp_path / "two.jsonl"
    path.write_text(lines, encoding="utf-8")
    response = api.post("/v1/evaluate", content=lines, params={"label": str(path)},
                        headers={"Content-Type": "application/x-ndjson", "Accept": FHIR})
    assert response.status_code == 200 and response.headers["content-type"] == FHIR
    body = response.json()
    _validate(body)
    inner = [e["resource"] for e in body["entry"]]
    assert [b["resourceType"] for b in inner] == ["Bundle", "Bundle"]
    assert [b["entry"][0]["resource"]["id"] for b in inner] == ["P001", "P009"]
    assert len({e["fullUrl"] for e in body["entry"]}) == 2
    assert body == _cli_fhir(runner, built_db, path)
    # each inner Bundle is exactly the one record's Bundle on its own
    single = tmp_path / "P009.json"
    single.write_text(json.dumps({**record, "id": "P009"}), encoding="utf-8")
    alone = _cli_fhir(runner, built_db, single)
    assert [e["resource"]["resourceType"] for e in alone["entry"]] == \
           [e["resource"]["resourceType"] for e in inner[1]["entry"]]
    assert inner[1]["entry"][1]["resource"] == alone["entry"][1]["resource"]


@pytest.mark.parametrize("accept, expected", [
    ("application/json", "application/json"), ("*/*", "application/json"), ("application/*", "application/json"),
    (f"{FHIR};q=0.9, application/json;q=0.5", FHIR), (f"{FHIR};q=0.1, application/json;q=0.5", "application/json"),
    (f"{FHIR}; fhirVersion=4.3", FHIR), ("application/x-ndjson", "application/x-ndjson"),
    ("text/html, */*;q=0.1", "application/json")])
def test_accept_is_negotiated(api, accept, expected):
    response = api.post("/v1/evaluate", content=(EXAMPLES / "P001.json").read_bytes(),
                        headers={"Content-Type": "application/json", "Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == expected
    if expected == FHIR:
        _validate(response.json())


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/fhir+xml", f"{FHIR};q=0",
                                    "application/problem+json"])
def test_an_accept_it_cannot_answer_is_406_problem_json(api, accept):
    response = api.post("/v1/evaluate", content=(EXAMPLES / "P001.json").read_bytes(),
                        headers={"Content-Type": "application/json", "Accept": accept})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 406 and "Accept" in body["detail"] and FHIR in body["detail"]


def test_bad_input_with_fhir_accept_is_still_a_problem(api):
    bad = (EXAMPLES / "bad" / "fhir-bad-value.json").read_bytes()
    response = api.post("/v1/evaluate", content=bad, headers={"Content-Type": FHIR, "Accept": FHIR})
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "Bundle.entry[3].resource.valueQuantity.value" in response.json()["detail"]


def test_openapi_documents_the_fhir_answer_and_406(api):
    route = api.get("/openapi.json").json()["paths"]["/v1/evaluate"]["post"]
    assert FHIR in route["responses"]["200"]["content"]
    assert "406" in route["responses"]
    assert "fhir+json" in route["responses"]["200"]["description"]
