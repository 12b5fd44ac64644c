"""The pages' own assets (package data of the wheel, so the pages work offline): a fixed list, never a path
taken from the request."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png",
         ".svg": "image/svg+xml"}


@lru_cache(maxsize=None)
def _assets() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, media type) of every file under web/pages/static/ (read once)."""
    out = {}
    stack = [(resources.files("web.pages") / "static", "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                stack.append((entry, name + "/"))
            elif "." + entry.name.rsplit(".", 1)[-1] in TYPES:
                out[name] = (entry.read_bytes(), TYPES["." + entry.name.rsplit(".", 1)[-1]])
    return out


@router.get("/static/pages/{name:path}")
def asset(name: str) -> Response:
    found = _assets().get(name)
    if found is None:
        raise HTTPException(404)
    body, media = found
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=3600",
                                                      "X-Content-Type-Options": "nosniff"})
