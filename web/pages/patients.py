"""`/patients`: a patient record (JSON or YAML, uploaded or pasted) evaluated in memory, never stored.

The result page shows the disclaimer first, the findings grouped by marker with the numbers and quotes
behind each verdict, and the PAM panel. The downloads (JSON, Markdown) post the same record again: the
server keeps nothing between requests, and no patient data ever goes into a URL (or an access log).
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from web.pages.common import base
from web.pages.deps import connection, site
from web.pages.render import HEADERS, page

router = APIRouter(include_in_schema=False)
MAX_RECORD = 2_000_000  # bytes of one uploaded or pasted record


@router.get("/patients")
def patients_form(site=Depends(site)):
    return page("patients.html", nav="/patients", result=None, problem=None, text="", priors="published", **base(site))


async def _form(request: Request) -> tuple[str, str, str, str, str | None]:
    """(record text, its format, its label, priors, download format) from the multipart or urlencoded form."""
    from kb.core.errors import InputError

    form = await request.form(max_files=1, max_fields=8)
    upload = form.get("record")
    text, label = (form.get("text") or ""), "pasted record"
    if upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read(MAX_RECORD + 1)
        label = upload.filename
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{label}: expected a JSON or YAML patient record (UTF-8 text), got binary data") from None
    if len(text.encode("utf-8")) > MAX_RECORD:
        raise InputError(f"{label}: larger than {MAX_RECORD // 1_000_000} MB; expected one patient record")
    if not text.strip():
        raise InputError("record: expected a patient record: choose a file or paste JSON or YAML")
    suffix = label.rsplit(".", 1)[-1].lower() if "." in label else ""
    fmt = {"json": "json", "jsonl": "jsonl", "yaml": "yaml", "yml": "yaml"}.get(suffix)
    if fmt is None:
        fmt = "json" if text.lstrip()[:1] in "{[" else "yaml"
    priors = form.get("priors") or "published"
    return text, fmt, label, priors, form.get("download")


@router.post("/patients")
async def patients_result(request: Request, con=Depends(connection), site=Depends(site)):
    from starlette.concurrency import run_in_threadpool

    from kb.core.errors import KBError

    text, priors = "", "published"
    try:
        text, fmt, label, priors, download = await _form(request)
        summary, panel = await run_in_threadpool(_evaluate, con, site, text, fmt, label, priors)
    except KBError as exc:
        return page("patients.html", nav="/patients", result=None, problem=str(exc), text=text,
                    priors=priors, **base(site))
    if download in ("json", "md"):
        return _download(summary, download)
    return page("patients.html", nav="/patients", result=summary, groups=_groups(summary["findings"]), panel=panel,
                problem=None, text=text, priors=priors, doc_ids=site.doc_ids, **base(site))


def _evaluate(con, site, text: str, fmt: str, label: str, priors: str) -> tuple[dict, dict | None]:
    from kb.core.errors import InputError
    from kb.evaluate.evaluator import evaluate_records
    from kb.evaluate.records import parse_record, records_from_text

    records, kind = records_from_text(text, fmt, label, max_records=1)
    if kind != "single":
        raise InputError(f"{label}: expected one patient record on this page, got {len(records)}; "
                         "POST /v1/evaluate takes many")
    patient = parse_record(records[0])
    # model_files=False: a record's `model` names a knowledge-base model, never a file on the server
    summary = evaluate_records(records, con=con, priors=priors, model_files=False)[0]
    return summary, _pam_panel(con, site, summary, patient) if summary["pam"] else None


def _pam_panel(con, site, summary: dict, patient) -> dict:
    """The PAM figure and its numbers: the patient's log2 values against each class centroid. The model's
    part of the figure is drawn once per x range; the patient's points are a layer drawn per request."""
    from kb.figures.pam import axis_limit, patient_layer_svg, profile_svg, standardized
    from kb.pam.expression import log2_values
    from kb.pam.open import open_model

    pam = summary["pam"]
    model, _ = open_model(pam["model"]["id"], con=con, files=False)
    values = log2_values(patient.expression.genes, patient.expression.scale, summary["patient"]["source"])
    genes = list(model.genes)
    centroids = {c: model.shrunken_centroids[k].tolist() for k, c in enumerate(model.classes)}
    sd = model.sd.tolist()
    z, standard = standardized(genes, centroids, sd, values)
    limit = axis_limit(standard, *z.values())
    missing = tuple(pam["genes_missing"])
    key = ("pam-base", model.id, limit, missing)
    base = site.figures.get(key)
    if base is None:
        base = site.figures[key] = profile_svg(genes, centroids, sd, None, "this patient", limit=limit,
                                               missing=missing, overlay=True)
    rows = [{"gene": g, "value": values.get(g.upper()), "sd": sd[i], "patient_z": standard[i],
             **{f"z_{c}": z[c][i] for c in model.classes}} for i, g in enumerate(genes)]
    return {"base": base, "layer": patient_layer_svg(genes, centroids, sd, values, limit, summary["patient"]["id"]),
            "rows": rows, "classes": list(model.classes),
            "label": f"{summary['patient']['id']}'s gene values against the {' and '.join(model.classes)} centroids "
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
    if fmt == "json":
        body = json.dumps(summary, ensure_ascii=False, indent=2, allow_nan=False, default=str) + "\n"
        media = "application/json"
    else:
        body, media = render_md(summary) + "\n", "text/markdown; charset=utf-8"
    return Response(body, media_type=media, headers={**HEADERS, "Cache-Control": "no-store",
                                                     "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})
