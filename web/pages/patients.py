"""`/patients`: a patient record evaluated in memory, never stored: our JSON or YAML, a FHIR R4 Bundle or
resource (JSON), FHIR NDJSON or a GA4GH Phenopacket v2, uploaded or pasted, read by the readers `kb evaluate`
uses (`kb.evaluate.readers.from_upload`, which chooses as `kb evaluate` does for a file of that name).

The result page shows the disclaimer first, the findings grouped by marker with the numbers and quotes
behind each verdict, the PAM panel, and for a standard form the reader's `input` block (what it did not
use and why, code/display conflicts, superseded observations). The downloads (JSON, Markdown) post the
same record again, base64-encoded in a hidden field (exact, and no raw control character in the page):
the server keeps nothing between requests, and no patient data ever goes into a URL (or an access log).
"""
from __future__ import annotations

import base64
import binascii
import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from web.pages.common import base
from web.pages.deps import connection, site
from web.pages.render import HEADERS, page

router = APIRouter(include_in_schema=False)
MAX_RECORD = 2_000_000  # bytes of one uploaded or pasted record
ACCEPT = ".json,.yaml,.yml,.jsonl,.ndjson,application/json,application/yaml,application/fhir+json,application/x-ndjson"


@router.get("/patients")
def patients_form(site=Depends(site)):
    return page("patients.html", nav="/patients", result=None, problem=None, text="", priors="published",
                accept=ACCEPT, **base(site))


async def _form(request: Request) -> tuple[str, str, str, str, str | None]:
    """(record text, its file name or "", its label, priors, download format) from the multipart or
    urlencoded form."""
    from kb.core.errors import InputError

    # a field may hold the whole record: pasted text, or the download's base64 (4/3 of its size)
    form = await request.form(max_files=1, max_fields=8, max_part_size=MAX_RECORD * 4 // 3 + 1024)
    upload = form.get("record")
    text, name, label = (form.get("text") or ""), "", "pasted record"
    if form.get("record_b64"):  # a download: the record of the result page, as it was read
        name, label = str(form.get("name") or ""), str(form.get("label") or "record")
        try:
            data = base64.b64decode(str(form["record_b64"]), validate=True)
        except (binascii.Error, ValueError):
            raise InputError("record_b64: expected the base64 of a patient record") from None
        text = _utf8(data[:MAX_RECORD + 1], label)
    elif upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read(MAX_RECORD + 1)
        name = label = upload.filename
        text = _utf8(data, label)
    if len(text.encode("utf-8")) > MAX_RECORD:
        raise InputError(f"{label}: larger than {MAX_RECORD // 1_000_000} MB; expected one patient record")
    if not text.strip():
        raise InputError("record: expected a patient record: choose a file or paste JSON, YAML, FHIR or a Phenopacket")
    priors = form.get("priors") or "published"
    return text, name, label, priors, form.get("download")


def _utf8(data: bytes, label: str) -> str:
    from kb.core.errors import InputError

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{label}: expected a patient record (UTF-8 text: JSON, YAML, FHIR or a Phenopacket), "
                         "got binary data") from None


@router.post("/patients")
async def patients_result(request: Request, con=Depends(connection), site=Depends(site)):
    from starlette.concurrency import run_in_threadpool

    from kb.core.errors import KBError

    text, priors = "", "published"
    try:
        text, name, label, priors, download = await _form(request)
        summary, panel = await run_in_threadpool(_evaluate, request.app.state.database, con, site, text, name, label,
                                                 priors)
    except KBError as exc:
        return page("patients.html", nav="/patients", result=None, problem=str(exc), text=text,
                    priors=priors, accept=ACCEPT, **base(site))
    if download in ("json", "md"):
        return _download(summary, download)
    return page("patients.html", nav="/patients", result=summary, groups=_groups(summary["findings"]), panel=panel,
                problem=None, text="", priors=priors, doc_ids=site.doc_ids, accept=ACCEPT, name=name, label=label,
                record_b64=base64.b64encode(text.encode("utf-8")).decode("ascii"), **base(site))


def _evaluate(database, con, site, text: str, name: str, label: str, priors: str) -> tuple[dict, dict | None]:
    """The summary of the one record in `text` (as `kb evaluate` makes it for a file called `name`), with
    the database's shared Evaluator, and the PAM panel's figure and numbers."""
    from kb.core.errors import InputError
    from kb.evaluate.evaluator import bind_records
    from kb.evaluate.readers import from_upload

    records, _ = from_upload(text, name, label, max_records=50)
    evaluator = database.evaluator(None)  # a record's own `model` names a knowledge-base model, never a file
    patients = bind_records(records, evaluator)
    if len(patients) != 1:
        raise InputError(f"{label}: expected one patient record on this page, got {len(patients)}; "
                         "POST /v1/evaluate takes many")
    patient, where, facts = patients[0]
    summary = evaluator.evaluate(patient, where, priors, facts)
    return summary, _pam_panel(con, site, summary, patient) if summary["pam"] else None


def _geometry(con, site, model_id: str) -> dict:
    """A model's genes, class centroids and s_i + s0, read once per model (the knowledge base never changes
    under a running server)."""
    key = ("pam-geometry", model_id)
    found = site.figures.get(key)
    if found is None:
        from kb.pam.open import open_model

        model, _ = open_model(model_id, con=con, files=False)
        found = site.figures[key] = {
            "genes": list(model.genes), "classes": list(model.classes), "sd": model.sd.tolist(),
            "centroids": {c: model.shrunken_centroids[k].tolist() for k, c in enumerate(model.classes)}}
    return found


def _pam_panel(con, site, summary: dict, patient) -> dict:
    """The PAM figure and its numbers: the patient's log2 values against each class centroid. The model's
    part of the figure is drawn once per x range; the patient's points are a layer drawn per request."""
    from kb.figures.pam import axis_limit, patient_layer_svg, profile_svg, standardized
    from kb.pam.expression import log2_values

    pam = summary["pam"]
    g = _geometry(con, site, pam["model"]["id"])
    genes, centroids, sd, classes = g["genes"], g["centroids"], g["sd"], g["classes"]
    values = log2_values(patient.expression.genes, patient.expression.scale, summary["patient"]["source"])
    z, standard = standardized(genes, centroids, sd, values)
    limit = axis_limit(standard, *z.values())
    missing = tuple(pam["genes_missing"])
    key = ("pam-base", pam["model"]["id"], limit, missing)
    base = site.figures.get(key)
    if base is None:
        base = site.figures[key] = profile_svg(genes, centroids, sd, None, "this patient", limit=limit,
                                               missing=missing, overlay=True)
    rows = [{"gene": gene, "value": values.get(gene.upper()), "sd": sd[i], "patient_z": standard[i],
             **{f"z_{c}": z[c][i] for c in classes}} for i, gene in enumerate(genes)]
    who = str(summary["patient"]["id"])
    return {"base": base, "layer": patient_layer_svg(genes, centroids, sd, values, limit, who),
            "rows": rows, "classes": classes,
            "label": f"{who}'s gene values against the {' and '.join(classes)} centroids "
                     "in units of s_i + s0; the table below gives the same numbers"}


def _groups(findings: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for f in findings:  # strongest first: a group's place is that of its strongest finding
        groups.setdefault(f["marker"], []).append(f)
    return list(groups.items())


def _download(summary: dict, fmt: str) -> Response:
    import json

    from kb.evaluate.report import render_md

    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(summary["patient"]["id"])).lstrip(".") or "patient"
    from kb.core.escape import json_text, printable

    if fmt == "json":  # as the CLI writes them: no raw control character in either file
        body = json_text(json.dumps(summary, ensure_ascii=False, indent=2, allow_nan=False, default=str)) + "\n"
        media = "application/json"
    else:
        body, media = printable(render_md(summary), keep="\n\t") + "\n", "text/markdown; charset=utf-8"
    return Response(body, media_type=media, headers={**HEADERS, "Cache-Control": "no-store",
                                                     "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})
