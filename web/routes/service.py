"""GET /v1/version and GET /health (always open: load balancers probe it)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from schemas.api import Health, Version
from web.database import Database, database
from web.responses import json_response

router = APIRouter(tags=["service"])


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("biomarker-kb")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@router.get("/v1/version", response_model=Version)
async def version(db: Database = Depends(database)):
    """The package version and the knowledge base's version (schema and content hash)."""
    return json_response({"package": package_version(), "kb_version": db.kb_version})


@router.get("/health", response_model=Health)
async def health(db: Database = Depends(database)):
    """Liveness and the data version this replica serves."""
    return json_response({"status": "ok", "kb_version": db.kb_version})
