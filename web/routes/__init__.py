"""The /v1 routers, one module per resource; each route parses, calls one kb/ function, returns its body."""
from fastapi import Query

from schemas.api import Problem

PROBLEMS = {status: {"model": Problem, "description": text} for status, text in (
    (400, "Bad request (an ambiguous marker lists its `candidates`)"),
    (401, "The token is missing or wrong (only when the server has KB_API_TOKEN)"),
    (404, "Not found (an unknown marker lists the `nearest` markers)"),
    (413, "Body or record count above the server's limits"),
    (422, "A value is not what was expected; `detail` names the field"),
    (503, "The database cannot be opened, or the request exceeded the server's timeout"))}
BODY_PROBLEMS = {**PROBLEMS, 415: {"model": Problem, "description": "Unsupported Content-Type"}}


def limit_query():
    return Query(None, ge=0, description="At most this many items (default: all; then the body equals the CLI's).")


def offset_query():
    return Query(None, ge=0, description="Skip this many items first (default 0).")
