"""The HTTP API against a real uvicorn server: bodies equal the CLI's JSON, errors are problem+json with
the CLI's message, concurrency, ETag, headers, and the `kb serve` start-up."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from cli.main import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def cli_json(runner, built_db, *args):
    result = runner.invoke(app, [*args, "--db", str(built_db), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].startswith("tag:biomarker-kb") and body["title"]
    assert "Traceback" not in response.text and "\n" not in body["detail"]
    return body


# ---- the same JSON as the CLI ---------------------------------------------------------------------

@pytest.mark.parametrize("params, args", [
    ({"marker": "LDH"}, ["--marker", "LDH"]),
    ({"marker": "lactate dehydrogenase", "disease": "LBCL", "direction": "unfavorable"},
     ["--marker", "lactate dehydrogenase", "--disease", "LBCL", "--direction", "unfavorable"]),
    ({"marker": "IL-6", "status": "all"}, ["--marker", "IL-6", "--status", "all"]),
    ({"marker": "14 gene", "type": "predictive"}, ["--marker", "14 gene", "--type", "predictive"]),
    ({"marker": "TP53", "therapy": "CD19 CAR-T"}, ["--marker", "TP53", "--therapy", "CD19 CAR-T"]),
    ({"marker": "LDH", "disease": "DLBCL", "broader": "true"}, ["--marker", "LDH", "--disease", "DLBCL", "--broader"]),
    ({"marker": "LDH", "context": "background"}, ["--marker", "LDH", "--context", "background"]),
])
def test_evidence_equals_kb_query(api, runner, built_db, params, args):
    response = api.get("/v1/evidence", params=params)
    assert response.status_code == 200
    assert response.json() == cli_json(runner, built_db, "query", *args)


@pytest.mark.parametrize("evidence_id, window", [("xu2023-tmtv-early-progression", None),
                                                 ("shao2022-ldh-efs-adult-all", 40)])
def test_show_equals_kb_show(api, runner, built_db, evidence_id, window):
    args = ["--window", str(window)] if window is not None else []
    params = {"window": window} if window is not None else {}
    assert api.get(f"/v1/evidence/{evidence_id}", params=params).json() == cli_json(runner, built_db, "show", evidence_id, *args)


@pytest.mark.parametrize("search", [None, "interleukin", "lactate dehydrogenase", "ferriten"])
def test_markers_equal_kb_markers(api, runner, built_db, search):
    args = ["--search", search] if search else []
    body = api.get("/v1/markers", params={"search": search} if search else {}).json()
    assert body == cli_json(runner, built_db, "markers", *args)
    if search:
        assert body["markers"] and all(m["match"]["score"] >= 75 for m in body["markers"])


def test_search_finds_by_alias_and_typo(api):
    names = lambda text: [m["name"] for m in api.get("/v1/markers", params={"search": text}).json()["markers"]]  # noqa: E731
    assert names("lactate dehydrogenase")[0] == "LDH"
    assert names("ferriten")[0] == "Ferritin"
    assert {"IL-6", "IL-10", "IL-12", "IL-8"} <= set(names("interleukin"))
    assert names("zzzzqqq") == []


def test_sources_and_pam_show_equal_the_cli(api, runner, built_db):
    assert api.get("/v1/sources").json() == cli_json(runner, built_db, "sources")
    models = api.get("/v1/pam/models").json()
    assert [m["id"] for m in models["models"]] == ["shao2022-14gene"]
    assert models["models"][0]["n_genes"] == len(models["models"][0]["genes"]) == 14
    assert api.get("/v1/pam/models/shao2022-14gene").json() == cli_json(runner, built_db, "pam", "show", "shao2022-14gene")


@pytest.mark.parametrize("name, media", [("P001.json", "application/json"), ("B001.yaml", "application/yaml"),
                                         ("B001.yaml", "application/x-yaml"), ("fhir/P002.bundle.json", "application/fhir+json"),
                                         ("fhir/P002.cases.bundle.json", "application/fhir+json"),
                                         ("P002.phenopacket.json", "application/json")])
def test_evaluate_equals_kb_evaluate(api, runner, built_db, name, media):
    path = EXAMPLES / name
    response = api.post("/v1/evaluate", content=path.read_bytes(), headers={"Content-Type": media},
                        params={"label": str(path)})
    assert response.status_code == 200, response.text
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "--format", "json"])
    assert response.json() == json.loads(result.stdout)


def test_evaluate_list_and_jsonl(api, runner, built_db, tmp_path):
    records = [json.loads((EXAMPLES / "P001.json").read_text()), {**json.loads((EXAMPLES / "P001.json").read_text()), "id": "P002"}]
    listed = api.post("/v1/evaluate", json=records).json()
    assert [s["patient"]["id"] for s in listed] == ["P001", "P002"] and listed[0]["patient"]["source"] == "body[0]"
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    (tmp_path / "two.jsonl").write_text(lines)
    response = api.post("/v1/evaluate", content=lines, headers={"Content-Type": "application/x-ndjson"},
                        params={"label": str(tmp_path / "two.jsonl")})
    assert response.headers["content-type"] == "application/x-ndjson"
    result = runner.invoke(app, ["evaluate", str(tmp_path / "two.jsonl"), "--db", str(built_db), "--format", "json"])
    assert [json.loads(x) for x in response.text.splitlines()] == [json.loads(x) for x in result.stdout.splitlines()]
    as_json = api.post("/v1/evaluate", content=lines, headers={"Content-Type": "application/x-ndjson", "Accept": "application/json"})
    assert [s["patient"]["id"] for s in as_json.json()] == ["P001", "P002"]


def test_score_summary_equals_kb_score_plus_rows(api, runner, built_db, tmp_path, con):
    from kb.pam.model import load_published

    model = load_published(con)
    genes = list(model.genes)
    rows = [["S1"] + [f"{v:.4f}" for v in model.shrunken_centroids[0]], ["S2"] + [f"{v:.4f}" for v in model.shrunken_centroids[1]]]
    text = "\n".join([",".join(["sample"] + genes)] + [",".join(r) for r in rows]) + "\n"
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(text)
    body = api.post("/v1/score", content=text, headers={"Content-Type": "text/csv"}).json()
    result = runner.invoke(app, ["score", str(cohort), "--out", str(tmp_path / "s.parquet"), "--db", str(built_db), "--format", "json"])
    cli = json.loads(result.stdout)
    assert (body["cohort"], body["out"], body["format"]) == ("body", None, "json")
    for key in ("cohort", "out", "seconds", "format"):
        cli.pop(key), body.pop(key)
    scored = body.pop("rows")
    assert body == cli
    assert [r["sample_id"] for r in scored] == ["S1", "S2"]
    assert all(r["call"] == min(r["delta"], key=r["delta"].get) for r in scored)
    assert abs(sum(scored[0]["posterior"].values()) - 1) < 1e-9 and scored[0]["n_genes"] == 14
    tsv = api.post("/v1/score", content=text.replace(",", "\t"), headers={"Content-Type": "text/tab-separated-values",
                                                                            "Accept": "text/csv"})
    assert tsv.headers["content-type"].startswith("text/csv") and tsv.text.splitlines()[0].startswith("sample_id,delta_CR")
    parquet = api.post("/v1/score", content=text, headers={"Content-Type": "text/csv", "Accept": "application/vnd.apache.parquet"})
    assert parquet.content[:4] == b"PAR1"


def test_version_health_and_documents(api, con):
    from kb.core import store

    version = store.kb_version(con)
    assert api.get("/health").json() == {"status": "ok", "kb_version": version}
    assert api.get("/v1/version").json()["kb_version"] == version
    link = api.get("/v1/evidence/xu2023-tmtv-early-progression").json()["evidence"]["links"][0]
    doc = api.get(f"/v1/documents/{link['document_id']}", params={"start": link["start"], "end": link["end"]}).json()["document"]
    assert doc["text"] == link["quote"] and doc["sha256"] == link["sha256"] and (doc["start"], doc["end"]) == (link["start"], link["end"])
    whole = api.get(f"/v1/documents/{link['document_id']}").json()["document"]
    assert len(whole["text"]) == whole["n_chars"] and whole["text"][link["start"]:link["end"]] == link["quote"]
    marker = api.get("/v1/markers/ldh").json()["marker"]
    assert marker["name"] == "LDH" and "lactate dehydrogenase" in marker["aliases"]
    assert marker["n_evidence_by_status"]["accepted"] == marker["n_evidence"] > 0 and marker["loinc"] == "2532-0"


def test_limit_and_offset_page_a_list_in_its_order(api):
    full = api.get("/v1/evidence", params={"marker": "LDH"}).json()
    page = api.get("/v1/evidence", params={"marker": "LDH", "limit": 2, "offset": 1}).json()
    assert page["evidence"] == full["evidence"][1:3]
    assert page["page"] == {"offset": 1, "limit": 2, "total": len(full["evidence"])}
    assert "page" not in full
    every = api.get("/v1/evidence").json()["evidence"]
    assert len(every) > len(full["evidence"]) and every == api.get("/v1/evidence").json()["evidence"]  # stable


# ---- errors ----------------------------------------------------------------------------------------

def test_unknown_marker_is_404_with_the_nearest(api, runner, built_db):
    body = problem(api.get("/v1/evidence", params={"marker": "interleukin 2"}), 404)
    result = runner.invoke(app, ["query", "--marker", "interleukin 2", "--db", str(built_db)])
    assert f"kb: error: {body['detail']}" == result.stderr.strip()
    assert body["nearest"] == ["IL-12", "IL-6", "IL-8"]


def test_ambiguous_marker_is_400_with_the_candidates(api, con):
    from kb.query.resolve import AmbiguousMarker, MarkerIndex

    text = next(t for t in ("CD8 T cells", "alteration", "CAR-T", "T cells", "CD19")
                if isinstance(_raises(lambda: MarkerIndex(con).resolve(t)), AmbiguousMarker))
    body = problem(api.get("/v1/evidence", params={"marker": text}), 400)
    assert "ambiguous" in body["detail"] and len(body["candidates"]) >= 2
    assert all(set(c) == {"name", "score"} for c in body["candidates"])


def _raises(run):
    try:
        run()
    except Exception as exc:  # noqa: BLE001
        return exc
    return None


def test_known_marker_without_items_is_200_and_empty(api):
    body = api.get("/v1/evidence", params={"marker": "LDH", "status": "rejected"})
    assert body.status_code == 200 and body.json()["evidence"] == []


def test_bad_patient_record_is_422_naming_the_field(api, runner, built_db):
    path = EXAMPLES / "bad" / "units.json"
    body = problem(api.post("/v1/evaluate", content=path.read_bytes(), headers={"Content-Type": "application/json"},
                            params={"label": str(path)}), 422)
    result = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db)])
    assert result.stderr.strip() == f"kb: error: {body['detail']}"
    assert "observations[2].unit" in body["detail"]
    broken = problem(api.post("/v1/evaluate", content=b"{", headers={"Content-Type": "application/json"}), 422)
    assert broken["detail"].startswith("body: expected a JSON patient record; not valid JSON")
    binary = problem(api.post("/v1/evaluate", content=b"\xff\xfe", headers={"Content-Type": "application/json"}), 422)
    assert "UTF-8" in binary["detail"]


def test_bad_batch_is_422_listing_every_bad_record(api, runner, built_db, tmp_path):
    """A list or JSONL with bad records: one problem+json naming each, the lines `kb evaluate` prints."""
    good = json.loads((EXAMPLES / "P001.json").read_text())
    no_therapy = {k: v for k, v in good.items() if k != "therapy"}
    bad_unit = {**good, "id": "P9", "observations": [{"marker": "LDH", "value": 300, "unit": "mL"}]}
    lines = "\n".join([json.dumps(no_therapy), json.dumps(good), "{nope", json.dumps(bad_unit)]) + "\n"
    path = tmp_path / "batch.jsonl"
    path.write_text(lines)
    cli = runner.invoke(app, ["evaluate", str(path), "--db", str(built_db), "--format", "json"])
    assert cli.exit_code == 2 and cli.stdout == ""
    for media in ("application/x-ndjson", "application/json"):
        content = lines if media.endswith("ndjson") else json.dumps([no_therapy, good, "not a record", bad_unit])
        body = problem(api.post("/v1/evaluate", content=content, headers={"Content-Type": media},
                                params={"label": str(path)}), 422)
        records = [p["record"] for p in body["problems"]]
        if media.endswith("ndjson"):
            assert records == [f"{path}:1", f"{path}:3", f"{path}:4"]
            assert [f"kb: error: {p['message']}" for p in body["problems"]] + [f"kb: {body['summary']}"] == \
                cli.stderr.strip().splitlines()
        else:
            assert records == [f"{path}[0]", f"{path}[2]", f"{path}[3]"]
        assert body["detail"] == f"{body['problems'][0]['message']} (and 2 more problems: see `problems`)"
        assert body["summary"].startswith("3 bad records of 4;")


@pytest.mark.parametrize("path, status, words", [
    ("/v1/evidence/no-such-item", 404, "nearest ids"),
    ("/v1/markers/no-such-marker", 404, "no marker with id"),
    ("/v1/documents/nope.md", 404, "expected one of"),
    ("/v1/documents/xu2023.md?start=10&end=5", 422, "end: expected an offset"),
    ("/v1/pam/models/nope", 404, "unknown PAM model"),
    ("/v1/pam/models/etc.passwd.json", 404, "unknown PAM model"),
    ("/v1/evidence?marker=LDH&direction=up", 422, "--direction"),
    ("/v1/evidence?marker=LDH&context=mice", 422, "--context"),
    ("/v1/evidence?marker=LDH&disease=flu", 422, "unknown disease"),
    ("/v1/evidence?marker=LDH&limit=x", 422, "limit"),
    ("/v1/markers?search=%20-%20", 422, "search"),
    ("/v1/nothing-here", 404, "Not Found"),
])
def test_every_error_is_a_problem(api, path, status, words):
    assert words in problem(api.get(path), status)["detail"]


def test_media_type_body_size_and_record_limits(api):
    assert "Content-Type" in problem(api.post("/v1/evaluate", content=b"{}", headers={"Content-Type": "text/plain"}), 415)["detail"]
    problem(api.post("/v1/score", content=b"a,b", headers={"Content-Type": "application/json"}), 415)
    problem(api.post("/v1/evaluate", content=b"{}", headers={"Content-Type": "application/json; charset=latin-1"}), 415)
    big = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    assert "--max-body" in problem(api.post("/v1/evaluate", content=big, headers={"Content-Type": "application/json"}), 413)["detail"]

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        for _ in range(11):
            yield b" " * (1024 * 1024)
    problem(api.post("/v1/evaluate", content=chunks(), headers={"Content-Type": "application/json"}), 413)
    many = b"{}\n" * 10_001
    assert "at most 10000" in problem(api.post("/v1/evaluate", content=many, headers={"Content-Type": "application/x-ndjson"}), 413)["detail"]
    problem(api.post("/v1/evaluate", params={"priors": "flat"}, json={}), 422)


def test_model_files_are_never_read_over_http(api, tmp_path):
    model = tmp_path / "model.json"
    model.write_text("{}")
    record = {"id": "X", "disease": "B-ALL", "therapy": "tisa-cel", "timepoint": "before lymphodepletion",
              "expression": {"genes": {"IGF2BP1": 5.0}}, "model": str(model)}
    body = problem(api.post("/v1/evaluate", json=record), 422)
    assert "unknown PAM model" in body["detail"] and str(model) in body["detail"]
    scored = problem(api.post("/v1/score", params={"model": str(model)}, content=b"s,IGF2BP1\na,1\n",
                              headers={"Content-Type": "text/csv"}), 404)
    assert "unknown PAM model" in scored["detail"]


# ---- serving ----------------------------------------------------------------------------------------

def test_fifty_concurrent_requests_all_answered_correctly(api_server):
    urls = [("/v1/evidence", {"marker": m}) for m in ("LDH", "IL-6", "TMTV", "TP53", "CRP")] + \
           [("/v1/markers", {"search": "interleukin"}), ("/v1/sources", {}), ("/v1/evidence/xu2023-tmtv-early-progression", {}),
            ("/v1/pam/models/shao2022-14gene", {}), ("/v1/markers/ldh", {})]
    with httpx.Client(base_url=api_server.url, timeout=60) as client:
        expected = {i: client.get(u, params={**p, "nocache": "warm"}).json() for i, (u, p) in enumerate(urls)}
    record = (EXAMPLES / "P001.json").read_bytes()

    def call(i):
        with httpx.Client(base_url=api_server.url, timeout=60) as client:  # a connection each: 50 at once
            if i % 5 == 4:
                r = client.post("/v1/evaluate", content=record, headers={"Content-Type": "application/json"})
                return r.status_code, r.json()["patient"]["id"] == "P001"
            url, params = urls[i % len(urls)]
            r = client.get(url, params={**params, "nocache": str(i)})  # distinct URLs: computed, not cached
            return r.status_code, r.json() == expected[i % len(urls)]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert results == [(200, True)] * 50


def test_etag_and_if_none_match(api, con):
    from kb.core import store

    first = api.get("/v1/evidence", params={"marker": "LDH"})
    tag = first.headers["etag"]
    assert store.kb_version(con)["content"] in tag
    again = api.get("/v1/evidence", params={"marker": "LDH"}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert api.get("/v1/evidence", params={"marker": "LDH"}, headers={"If-None-Match": '"other"'}).status_code == 200
    assert api.get("/v1/evidence", params={"marker": "zzzz"}, headers={"If-None-Match": tag}).status_code == 404
    assert "etag" not in api.get("/health").headers


def test_security_headers_and_no_cors_by_default(api):
    r = api.get("/v1/markers", headers={"Origin": "https://elsewhere.example"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in r.headers
    docs = api.get("/docs")
    assert docs.status_code == 200 and "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_access_log_has_a_line_per_request(api, api_server):
    api.get("/v1/markers/ldh", params={"logged": "yes"})
    import time

    for _ in range(50):
        lines = [line for line in api_server.log.read_text().splitlines() if "logged=yes" in line]
        if lines:
            break
        time.sleep(0.05)
    assert lines and lines[-1].split()[-3:-1] == ["/v1/markers/ldh?logged=yes", "200"] and lines[-1].endswith("ms")
    assert " GET " in lines[-1]


def test_openapi_has_a_schema_for_every_response(api):
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    expected = {"/v1/evidence", "/v1/evidence/{evidence_id}", "/v1/markers", "/v1/markers/{marker_id}", "/v1/sources",
                "/v1/documents/{document_id}", "/v1/pam/models", "/v1/pam/models/{model_id}", "/v1/evaluate",
                "/v1/score", "/v1/version", "/health"}
    assert expected <= set(spec["paths"])
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status, answer in op["responses"].items():
                content = answer.get("content", {})
                assert content, (path, method, status)
                for media, entry in content.items():
                    assert entry.get("schema"), (path, method, status, media)
                    if status[0] in "45":
                        assert media == "application/problem+json", (path, status)


def test_kb_help_does_not_import_the_web_stack():
    code = ("import sys\nfrom cli.main import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('LOADED=' + ','.join(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().endswith("LOADED="), result.stderr


def test_every_endpoint_is_documented(api):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    for path, operations in api.get("/openapi.json").json()["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}" in doc, f"{method.upper()} {path} is not in docs/api.md"


def test_kb_markers_search_in_the_terminal(runner, built_db):
    table = runner.invoke(app, ["markers", "--search", "interleukin", "--db", str(built_db), "--format", "csv"])
    assert table.exit_code == 0 and table.stdout.splitlines()[0].startswith("match,score,id,name")
    none = runner.invoke(app, ["markers", "--search", "zzzzqqq", "--db", str(built_db)])
    assert none.exit_code == 1 and "no marker matches 'zzzzqqq'" in none.stderr
    empty = runner.invoke(app, ["markers", "--search", " - ", "--db", str(built_db)])
    assert empty.exit_code == 2 and "search: expected letters or digits" in empty.stderr
