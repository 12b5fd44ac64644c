"""`/docs`: Swagger UI on `/openapi.json`, served from the wheel (swagger-ui-dist, vendored under
static/swagger-ui/), never from a CDN. The app turns FastAPI's own CDN-based /docs off."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from web.pages.render import environment

router = APIRouter(include_in_schema=False)
# Swagger UI sets inline styles and draws some icons as data: images; no inline or eval scripts.
CSP_DOCS = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    html = environment().get_template("docs.html").render()
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP_DOCS, "Referrer-Policy": "no-referrer"})
