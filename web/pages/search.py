"""`/` (search a marker, filter by disease and therapy) and `/markers/{marker_id}` (its evidence as cards)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from web.pages.common import base, clean, error_page
from web.pages.deps import connection, site
from web.pages.render import HEADERS, page

router = APIRouter(include_in_schema=False)
TOP = 15  # markers with the most evidence offered on the search page


@router.get("/")
def home(marker: str | None = None, disease: str | None = None, therapy: str | None = None,
         con=Depends(connection), site=Depends(site)):
    from kb.query.resolve import AmbiguousMarker, MarkerIndex, UnknownMarker

    params = clean(marker=marker, disease=disease, therapy=therapy)
    markers = site.markers
    context = dict(**base(site), **site.choices, params=params, markers=markers,
                   top=sorted((m for m in markers if m["n_evidence"]), key=lambda m: (-m["n_evidence"], m["name"]))[:TOP])
    if "marker" not in params:
        return page("home.html", **context)
    by_name = {m["name"]: m for m in markers}
    try:
        resolved = MarkerIndex(con).resolve(params["marker"])
    except AmbiguousMarker as exc:
        found = [by_name[name] for name, _ in exc.candidates if name in by_name]
        return page("home.html", status=400, problem=str(exc), suggestions=found, **context)
    except UnknownMarker as exc:
        found = [by_name[name] for name in exc.nearest if name in by_name]
        return page("home.html", status=404, problem=str(exc), suggestions=found, **context)
    rest = {k: v for k, v in params.items() if k != "marker"}
    target = f"/markers/{resolved.id}" + (f"?{urlencode(rest)}" if rest else "")
    return RedirectResponse(target, status_code=303, headers=HEADERS)


@router.get("/markers/{marker_id}")
def marker_page(marker_id: str, disease: str | None = None, therapy: str | None = None, direction: str | None = None,
                type: str | None = None, con=Depends(connection), site=Depends(site)):
    from kb.core.errors import InputError, NotFound
    from kb.figures.forest import forest_svg, ratio_items
    from kb.query import api
    from kb.query.resolve import MarkerIndex
    from web.pages.documents import with_context

    params = clean(disease=disease, therapy=therapy, direction=direction, type=type)
    info = site.by_id.get(marker_id)
    if info is None:  # a name or alias in the URL: send the reader to the marker's own address
        try:
            resolved = MarkerIndex(con).resolve(marker_id)
        except InputError as exc:
            return error_page(site, 400, "Ambiguous marker", str(exc))
        except NotFound as exc:
            return error_page(site, 404, "No such marker", str(exc))
        target = f"/markers/{resolved.id}" + (f"?{urlencode(params)}" if params else "")
        return RedirectResponse(target, status_code=301, headers=HEADERS)
    context = dict(**base(site), **site.choices, marker=info, params=params)
    try:
        result = api.evidence(marker_id, params.get("disease"), params.get("therapy"), params.get("direction"),
                              params.get("type"), con=con)
    except InputError as exc:
        return page("marker.html", status=400, problem=str(exc), groups=[], items=[], forest=None, ratios=[], **context)
    items = result["evidence"]
    with_context(site.documents, items)
    groups: dict[str, list[dict]] = {}
    for item in items:  # strongest first, so each group's order and the groups' order follow strength
        groups.setdefault(item["disease"] or "No disease named", []).append(item)
    return page("marker.html", items=items, groups=list(groups.items()), forest=forest_svg(items),
                ratios=ratio_items(items), problem=None, **context)
