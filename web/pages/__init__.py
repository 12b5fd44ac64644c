"""The server-rendered pages of `kb serve`: search, marker, evidence, document, patients, curation, PAM.

`router` holds every page route and the pages' static assets; the app includes it beside the /v1 API.
Pages call the kb library directly (a thin skin like the CLI), render Jinja2 templates with everything
escaped, and work without JavaScript: the one script only adds typeahead suggestions and copy buttons.
"""
from fastapi import APIRouter

from web.pages import curation, docs, evidence, pam, patients, search, static

router = APIRouter(include_in_schema=False)
for module in (search, evidence, patients, curation, pam, docs, static):
    router.include_router(module.router)
