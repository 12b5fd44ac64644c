"""Optional token authentication (KB_API_TOKEN): a bearer token for programs, a session cookie for people.

`POST /login` takes the token once (the login form of the pages posts it) and sets an HttpOnly,
SameSite=Strict cookie that carries no secret: `<issued>.<HMAC-SHA256(token, issued)>`, valid for
SESSION_SECONDS. It needs no server-side state, so every worker and replica sharing the token accepts it.
Tokens and signatures are compared in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from web.problems import Problem

COOKIE = "kb_session"
SESSION_SECONDS = 12 * 3600


def _sign(token: str, issued: int) -> str:
    return hmac.new(token.encode(), f"kb-session:{issued}".encode(), hashlib.sha256).hexdigest()


def session_value(token: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_sign(token, issued)}"


def valid_session(token: str, value: str | None, now: float | None = None) -> bool:
    if not value or "." not in value:
        return False
    issued_text, signature = value.split(".", 1)
    if not issued_text.isdigit():
        return False
    issued, now = int(issued_text), time.time() if now is None else now
    if not issued <= now + 60 or now - issued > SESSION_SECONDS:
        return False
    return hmac.compare_digest(signature.encode(), _sign(token, issued).encode())


def valid_token(token: str, given: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def authorized(token: str, headers: dict[str, str], cookies: dict[str, str]) -> bool:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given and valid_token(token, given.strip()):
        return True
    return valid_session(token, cookies.get(COOKIE))


def is_open(path: str) -> bool:
    """Reachable without the token: the health check, the login itself and static assets."""
    return path in ("/health", "/login", "/logout") or path.startswith("/static/")


def is_api(path: str) -> bool:
    """Answered with a 401 problem when unauthenticated; any other path is a page (redirected to /login)."""
    return path.startswith("/v1/") or path == "/v1" or path in ("/openapi.json", "/redoc") or path.startswith("/docs")


def safe_next(target: str | None) -> str:
    """A local path to return to after login; anything else (another host, a scheme) becomes '/'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


router = APIRouter(include_in_schema=False)


@router.post("/login")
async def login(request: Request) -> Response:
    """The login form posts `token` (and `next`) as application/x-www-form-urlencoded."""
    token = request.app.state.settings.token
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given, target = form.get("token", [""])[0], safe_next(form.get("next", ["/"])[0])
    if token is None:
        return Response(status_code=303, headers={"Location": target})
    if not valid_token(token, given):
        if "text/html" in request.headers.get("accept", ""):
            return Response(status_code=303, headers={"Location": f"/login?error=invalid&next={quote(target)}"})
        raise Problem(401, "unauthorized", "token: the token is not the server's KB_API_TOKEN",
                      headers={"WWW-Authenticate": "Bearer"})
    response = Response(status_code=303, headers={"Location": target})
    response.set_cookie(COOKIE, session_value(token), max_age=SESSION_SECONDS, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = Response(status_code=303, headers={"Location": "/login"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
