"""`/pam`: a PAM model of the knowledge base: its genes and centroids (table and plot), its priors and what
they do, its reported performance with the passages that state it, and a trained model's CV curve."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from web.pages.common import base, error_page
from web.pages.deps import connection, site
from web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/pam")
def pam_page(model: str | None = None, con=Depends(connection), site=Depends(site)):
    from kb.core.errors import NotFound
    from kb.figures.pam import profile_svg
    from kb.pam.model import describe
    from kb.pam.open import models, open_model

    listed = models(con=con)["models"]
    try:
        chosen, _ = open_model(model or None, con=con, files=False)
    except NotFound as exc:
        return error_page(site, 404, "No such model", str(exc))
    d = describe(chosen)
    classes = list(chosen.classes)
    svg = site.figures.get(("pam", chosen.id))
    if svg is None:  # the model's centroids only: the same drawing for every request
        svg = site.figures[("pam", chosen.id)] = profile_svg(
            list(chosen.genes), {c: chosen.shrunken_centroids[k].tolist() for k, c in enumerate(classes)},
            chosen.sd.tolist(), None)
    doc_ids = {link["document"]: link["document_id"] for link in d["model"]["links"]}
    return page("pam.html", nav="/pam", models=listed, d=d, classes=classes, svg=svg, doc_ids=doc_ids, **base(site))
