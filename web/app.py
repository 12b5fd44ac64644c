"""The FastAPI app: `create_app(settings)`; `kb serve` runs it under uvicorn (workers import
`web.app:create_app` as a factory and read their settings from the environment).

What is where: the /v1 routers (web/routes/), errors as problem+json (web/problems.py), token, body
limit, timeout, ETag, security headers and the access log (web/middleware.py), the login endpoint
(web/auth.py), the read-only database (web/database.py). The server-rendered pages (web/pages.py, the
pages issue) are included when that module exists.
"""
from __future__ import annotations

import importlib.util
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from web import auth, problems
from web.database import Database
from web.middleware import Guard
from web.responses import BodyCache
from web.routes import evaluate, evidence, markers, pam, score, service, sources
from web.settings import Settings

DESCRIPTION = ("The biomarker-kb knowledge base over HTTP: evidence on biomarkers of response to CD19-directed "
               "immunotherapy, patient risk summaries and PAM scoring. Every body equals the JSON the `kb` command "
               "prints for the same request; errors are RFC 9457 problem details. For research use only; not for "
               "clinical decision-making.")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    database = Database(settings.db)  # opened (and built if missing) before the first request

    @asynccontextmanager
    async def lifespan(app):
        yield
        database.close()

    from web.routes.service import package_version

    app = FastAPI(title="biomarker-kb", version=package_version(), description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs is the pages' vendored Swagger UI (web/pages/docs.py): no CDN
    app.state.settings = settings
    app.state.database = database
    problems.install(app)
    for module in (evidence, markers, sources, pam, evaluate, score, service):
        app.include_router(module.router)
    app.include_router(auth.router)
    if importlib.util.find_spec("web.pages") is not None:
        from web import curate_api, pages

        app.include_router(curate_api.router)
        app.include_router(pages.router)
    app.openapi = lambda: _openapi(app)
    if settings.cors:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "If-None-Match"], expose_headers=["ETag"])
    kv = database.kb_version
    etag = f'"{kv["content"]}-{kv["schema"]}-{package_version()}"'
    app.add_middleware(Guard, settings=settings, etag=etag, cache=BodyCache() if settings.cache else None)
    _access_log()
    return app


def _access_log() -> None:
    """One line per request on stderr: client, method, path and query, status, latency."""
    log = logging.getLogger("kb.access")
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s kb.access %(message)s"))
        log.addHandler(handler)
        log.propagate = False


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, with the patient record's schema in the components and every error response
    declared as application/problem+json."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(evaluate.patient_schema())
        for path in schema["paths"].values():
            for operation in path.values():
                for status, answer in operation.get("responses", {}).items():
                    if status[0] in "45" and "application/json" in answer.get("content", {}):
                        answer["content"] = {problems.PROBLEM_JSON: answer["content"]["application/json"]}
        app.openapi_schema = schema
    return app.openapi_schema
