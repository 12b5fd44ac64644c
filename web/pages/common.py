"""What every page handler shares: the footer's knowledge-base version, error pages, filter choices."""
from __future__ import annotations

from kb.core import store
from web.pages.render import page


def base(con) -> dict:
    """Context every template expects."""
    return {"kb_version": store.kb_version(con)}


def error_page(con, status: int, title: str, message: str, **extra):
    """A page for a 4xx: the library's one-line message, never a traceback."""
    return page("error.html", status=status, title=title, message=message, **base(con), **extra)


def choices(con) -> dict:
    """The filter values a form offers: diseases, therapies (names and classes), directions, types."""
    from schemas.enums import DIRECTIONS, EVIDENCE_TYPES

    therapies = store.terms(con, "therapy")
    classes = sorted({t["therapy_class"] for t in therapies if t["therapy_class"]}, key=str.casefold)
    return {"diseases": [t["name"] for t in store.terms(con, "disease")],
            "therapies": [t["name"] for t in therapies], "therapy_classes": classes,
            "directions": list(DIRECTIONS), "types": list(EVIDENCE_TYPES)}


def clean(**params) -> dict:
    """Query parameters with the empty ones dropped (a form submits every field)."""
    return {k: v.strip() for k, v in params.items() if v is not None and v.strip()}
