"""`/pam`: a PAM model of the knowledge base: its genes and centroids (table and plot), its priors and what
they do, its reported performance with the passages that state it. `POST /pam` shows a model file written
by `kb pam train` the same way, with its cross-validation curve (plot and table); the file is read in
memory and never stored, as a patient record on /patients."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from web.pages.common import base, error_page
from web.pages.deps import connection, site
from web.pages.render import page

router = APIRouter(include_in_schema=False)
MAX_MODEL = 20_000_000  # bytes of an uploaded model file


@router.get("/pam")
def pam_page(model: str | None = None, con=Depends(connection), site=Depends(site)):
    from kb.core.errors import NotFound

    try:
        return page("pam.html", **_context(model, con, site))
    except NotFound as exc:
        return error_page(site, 404, "No such model", str(exc))


def _context(model: str | None, con, site, problem: str | None = None) -> dict:
    """The page of a knowledge-base model (the published one by default)."""
    from kb.figures.pam import profile_svg
    from kb.pam.model import describe
    from kb.pam.open import models, open_model

    listed = models(con=con)["models"]
    chosen, _ = open_model(model or None, con=con, files=False)
    d = describe(chosen)
    classes = list(chosen.classes)
    svg = site.figures.get(("pam", chosen.id))
    if svg is None:  # the model's centroids only: the same drawing for every request
        svg = site.figures[("pam", chosen.id)] = profile_svg(
            list(chosen.genes), {c: chosen.shrunken_centroids[k].tolist() for k, c in enumerate(classes)},
            chosen.sd.tolist(), None)
    doc_ids = {link["document"]: link["document_id"] for link in d["model"]["links"]}
    return {"nav": "/pam", "models": listed, "d": d, "classes": classes, "svg": svg, "doc_ids": doc_ids,
            "uploaded": None, "problem": problem, **base(site)}


@router.post("/pam")
async def pam_file_page(request: Request, con=Depends(connection), site=Depends(site)):
    from starlette.concurrency import run_in_threadpool

    from kb.core.errors import KBError

    try:
        name, text = await _upload(request)
        return await run_in_threadpool(_file_page, con, site, name, text)
    except KBError as exc:  # the published model's page again, with the one-line message, as on /patients
        return page("pam.html", **await run_in_threadpool(_context, None, con, site, str(exc)))


async def _upload(request: Request) -> tuple[str, str]:
    from kb.core.errors import InputError

    form = await request.form(max_files=1, max_fields=2, max_part_size=MAX_MODEL + 1024)
    upload = form.get("model_file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise InputError("model_file: expected a model file written by kb pam train (JSON)")
    data = await upload.read(MAX_MODEL + 1)
    if len(data) > MAX_MODEL:
        raise InputError(f"{upload.filename}: larger than {MAX_MODEL // 1_000_000} MB; expected a PAM model file")
    try:
        return upload.filename, data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{upload.filename}: expected a PAM model file (UTF-8 JSON), got binary data") from None


def _file_page(con, site, name: str, text: str):
    from kb.figures.pam import cv_curve_svg, profile_svg
    from kb.pam.model import describe
    from kb.pam.model_file import model_from_text
    from kb.pam.open import models

    model = model_from_text(text, name)
    d = describe(model)
    classes = list(model.classes)
    svg = profile_svg(list(model.genes), {c: model.shrunken_centroids[k].tolist() for k, c in enumerate(classes)},
                      model.sd.tolist(), None)
    curve = cv_curve_svg(d["training"], model.threshold) if d["training"] else None
    return page("pam.html", nav="/pam", models=models(con=con)["models"], d=d, classes=classes, svg=svg, doc_ids={},
                uploaded={"name": name, "curve": curve}, problem=None, **base(site))
