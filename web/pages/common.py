"""What every page handler shares: the footer's knowledge-base version, error pages, form parameters."""
from __future__ import annotations

from web.pages.render import page


def base(site) -> dict:
    """Context every template expects (and the reference-list spans the evidence cards link to)."""
    return {"kb_version": site.kb_version, "cited_spans": site.cited_spans}


def error_page(site, status: int, title: str, message: str, **extra):
    """A page for a 4xx: the library's one-line message, never a traceback."""
    return page("error.html", status=status, title=title, message=message, **base(site), **extra)


def clean(**params) -> dict:
    """Query parameters with the empty ones dropped (a form submits every field)."""
    return {k: v.strip() for k, v in params.items() if v is not None and v.strip()}
