"""Errors as RFC 9457 problem details (`application/problem+json`), mapped in this one place.

The `detail` is the line the CLI prints after `kb: error: `. The library's error classes map to statuses
as the CLI maps them to exit codes: nothing found -> 404 (with `nearest` where the CLI names them), an
ambiguous marker -> 400 (with `candidates`), any other bad value -> 422 (with `problems`, one each, when a
curation file or a batch of records has several), more records than a request may
carry -> 413, a database that cannot be opened -> 503. The web layer adds 401, 413 (body size), 415 and
504 (timeout). A 500 is a bug: it is logged with its traceback and answered without one.
"""
from __future__ import annotations

import json
import logging
from http import HTTPStatus

from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "tag:biomarker-kb,2026:problem:"
log = logging.getLogger("kb.web")


class Problem(Exception):
    """An HTTP error raised by the web layer itself (media type, size, auth, timeout)."""

    def __init__(self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers, self.extra = status, kind, detail, headers or {}, extra


def body(status: int, kind: str, detail: str, **extra) -> bytes:
    payload = {"type": TYPE_PREFIX + kind, "title": HTTPStatus(status).phrase, "status": status, "detail": detail,
               **extra}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def response(status: int, kind: str, detail: str, headers: dict[str, str] | None = None, **extra) -> Response:
    return Response(body(status, kind, detail, **extra), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def from_library(exc: Exception) -> Response:
    """The problem for an error the library raised on purpose (kb.core.errors)."""
    from kb.core.errors import CurationProblems, NotFound, RecordProblems, StoreError
    from kb.evaluate.records import TooManyRecords
    from kb.query.resolve import AmbiguousMarker, UnknownMarker

    detail = str(exc)
    if isinstance(exc, UnknownMarker):
        return response(404, "unknown-marker", detail, nearest=exc.nearest)
    if isinstance(exc, NotFound):
        return response(404, "not-found", detail)
    if isinstance(exc, AmbiguousMarker):
        return response(400, "ambiguous-marker", detail,
                        candidates=[{"name": name, "score": round(score, 1)} for name, score in exc.candidates])
    if isinstance(exc, TooManyRecords):
        return response(413, "too-many-records", detail)
    if isinstance(exc, StoreError):
        return response(503, "database-unavailable", detail)
    if isinstance(exc, CurationProblems):  # every problem of the file, as `kb curate validate` reports them
        return response(422, "invalid-input", _first(exc.problems[0].message, len(exc.problems)),
                        problems=[p.as_json() for p in exc.problems])
    if isinstance(exc, RecordProblems):  # every bad record of the batch, as `kb evaluate` reports them
        return response(422, "invalid-input", _first(exc.problems[0][1], len(exc.problems)),
                        problems=[{"record": label, "message": message} for label, message in exc.problems],
                        summary=exc.summary)
    return response(422, "invalid-input", detail)


def _first(message: str, n: int) -> str:
    """`detail` stays one line (the first problem, as before several were reported); `problems` has them all."""
    return message if n == 1 else f"{message} (and {n - 1} more problem{'' if n == 2 else 's'}: see `problems`)"


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def from_validation(exc) -> Response:
    """FastAPI's own parameter checks (an integer that is not one), worded like the library's errors."""
    err = exc.errors()[0]
    got = err.get("input")
    detail = f"{_field(err.get('loc', ()))}: {err['msg'][0].lower()}{err['msg'][1:]}"
    if got is not None:
        detail += f", got {json.dumps(got, default=str)[:60]}"
    return response(422, "invalid-input", detail)


def from_http(exc) -> Response:
    """Starlette's errors (no such route, method not allowed) as problems."""
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).description
    kind = {404: "no-such-route", 405: "method-not-allowed"}.get(status, "http-error")
    return response(status, kind, detail, headers=getattr(exc, "headers", None))


def install(app) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from kb.core.errors import KBError

    async def on_library(request, exc):
        return from_library(exc)

    async def on_problem(request, exc: Problem):
        return response(exc.status, exc.kind, exc.detail, headers=exc.headers, **exc.extra)

    async def on_validation(request, exc):
        return from_validation(exc)

    async def on_http(request, exc):
        return from_http(exc)

    async def on_bug(request, exc):
        # Last resort: a bug. Log it whole; answer without internals. The tests assert none happens.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return response(500, "internal-error", "internal error; the server log has the details")

    app.add_exception_handler(KBError, on_library)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
