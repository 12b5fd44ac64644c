"""The examples of docs/api.md: real requests to a running server, written by the cog block there.

`python docs/cogrun.py` regenerates them with every other generated block and `--check` (run by
tests/test_docs.py) fails when they are out of date. `write()` starts `kb serve` on a free loopback port (a
database built from the bundled seeds in a temporary directory), sends every request listed below, and
writes each request and its real response, normalised as every generated block is (`cogrun.normalise`:
the content hash, here also inside the ETag). Long lists in a body are cut to their first items (the cut
is marked), long strings too.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
P001 = (ROOT / "examples" / "P001.json").read_text()
BAD = (ROOT / "examples" / "bad" / "units.json").read_text()  # moved to examples/bad/ with the other bad inputs
FHIR_BUNDLE = (ROOT / "examples" / "fhir" / "P002.bundle.json").read_text()
FHIR = "application/fhir+json"
COHORT = "{cohort}"  # filled in with the published model's genes: two samples, on its two centroids

REQUESTS = [
    ("Evidence for a marker (= `kb query --marker LDH --format json`)", "GET", "/v1/evidence?marker=LDH&limit=1", None, None),
    ("Fuzzy resolution and filters", "GET", "/v1/evidence?marker=lactate%20dehydrogenase&disease=LBCL&direction=unfavorable&limit=1", None, None),
    ("One item with its quotes in context (= `kb show ID`)", "GET", "/v1/evidence/xu2023-tmtv-early-progression?window=60", None, None),
    ("Markers (= `kb markers`)", "GET", "/v1/markers?limit=2", None, None),
    ("Marker search (= `kb markers --search interleukin`)", "GET", "/v1/markers?search=interleukin&limit=3", None, None),
    ("One marker", "GET", "/v1/markers/ldh", None, None),
    ("Sources (= `kb sources`)", "GET", "/v1/sources?limit=1", None, None),
    ("A slice of a document (the span of a quote)", "GET", "/v1/documents/xu2023.md?start=9656&end=9833", None, None),
    ("PAM models", "GET", "/v1/pam/models", None, None),
    ("One PAM model (= `kb pam show shao2022-14gene`)", "GET", "/v1/pam/models/shao2022-14gene", None, None),
    ("A patient risk summary (= `kb evaluate examples/P001.json`)", "POST", "/v1/evaluate", "application/json", P001),
    ("A FHIR Bundle in, a FHIR Bundle out (`Accept: application/fhir+json`, = `kb evaluate --format fhir`)", "POST",
     "/v1/evaluate", FHIR, FHIR_BUNDLE, FHIR),
    ("A cohort scored (= `kb score`, plus rows)", "POST", "/v1/score", "text/csv", COHORT),
    ("Version", "GET", "/v1/version", None, None),
    ("Health", "GET", "/health", None, None),
    ("Unknown marker: 404 with the nearest", "GET", "/v1/evidence?marker=interleukin%202", None, None),
    ("Ambiguous marker: 400 with the candidates", "GET", "/v1/evidence?marker=CD8%20T%20cells", None, None),
    ("Bad patient record: 422 naming the field", "POST", "/v1/evaluate", "application/json", BAD),
    ("Unsupported media type: 415", "POST", "/v1/evaluate", "text/plain", "{}"),
    ("Not acceptable: 406", "POST", "/v1/evaluate", "application/json", P001, "application/xml"),
    ("A bad value: 422", "GET", "/v1/evidence?marker=LDH&direction=up", None, None),
]
HEADERS = ("content-type", "etag")


def _abridge(value, depth=0):
    if isinstance(value, list):
        keep = [_abridge(v, depth + 1) for v in value[:2]]
        return keep + ([f"... {len(value) - 2} more"] if len(value) > 2 else [])
    if isinstance(value, dict):
        items = list(value.items())
        out = {k: _abridge(v, depth + 1) for k, v in items[:24]}
        if len(items) > 24:
            out["..."] = f"{len(items) - 24} more fields"
        return out
    if isinstance(value, str) and len(value) > 160:
        return value[:157] + "..."
    return value


def write() -> None:
    """Write the examples into the document cog is processing."""
    import tempfile

    import cog
    import httpx

    from cogrun import normalise

    scratch = tempfile.mkdtemp(prefix="kb-api-examples-")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", "0", "--db", f"{scratch}/kb.duckdb"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"http://[0-9.:]+", proc.stdout.readline()).group(0)
        out = []
        with httpx.Client(base_url=url, timeout=60) as client:
            genes = client.get("/v1/pam/models/shao2022-14gene").json()["genes"]
            cohort = ",".join(["sample"] + [g["symbol"] for g in genes]) + "\n" + "".join(
                ",".join([f"S{k + 1}"] + [f"{g['centroids'][c]:.3f}" for g in genes]) + "\n"
                for k, c in enumerate(("CR", "NR")))
            for title, method, path, media, body, *accept in REQUESTS:
                body = cohort if body == COHORT else body
                headers = {"Content-Type": media} if media else {}
                if accept:
                    headers["Accept"] = accept[0]
                r = client.request(method, path, content=body, headers=headers)
                curl = f"curl -s {'-X POST ' if method == 'POST' else ''}"
                if media:
                    curl += f"-H 'Content-Type: {media}' --data-binary @FILE "
                if accept:
                    curl += f"-H 'Accept: {accept[0]}' "
                curl += f"'http://127.0.0.1:8000{path}'"
                shown = "\n".join(f"{h}: {r.headers[h]}" for h in HEADERS if h in r.headers)
                text = json.dumps(_abridge(r.json()), indent=2, ensure_ascii=False)
                out += [f"### {title}", "", "```", f"$ {curl}", f"HTTP {r.status_code}", shown, "", text, "```", ""]
    finally:
        proc.terminate()
        proc.wait(15)
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    text = "\n".join(out)
    text = re.sub(r'etag: "[0-9a-f]{16}-', 'etag: "‹content›-', text)
    cog.outl(normalise(text))
