"""What every request passes through, as one plain ASGI middleware: the token check, the body-size limit,
the GET body cache, the timeout, ETag / If-None-Match, security headers, and one access log line (method,
path, status, latency).

The body cache answers a GET /v1/* it has seen before without routing it: the database is immutable while
the server runs, so a body depends on the URL alone (path and query string), and only 200
answers that the route itself produced (its parameters validated) are kept.
"""
from __future__ import annotations

import asyncio
import logging
import time
from http.cookies import SimpleCookie

from web import auth, problems

access = logging.getLogger("kb.access")

CSP_PAGES = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# /docs is FastAPI's Swagger UI, whose script and style come from its CDN
CSP_DOCS = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
            "style-src 'self' https://cdn.jsdelivr.net; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
NOT_CACHED = ("/health", "/login", "/logout")


def cache_key(path: str, query: bytes) -> str:
    # The raw query: two spellings of one query are two entries, each computed and correct (no parsing
    # on the fast path).
    return path + "?" + query.decode("latin-1")


class Guard:
    def __init__(self, app, settings, etag: str, cache=None):
        self.app, self.settings, self.etag, self.cache = app, settings, etag, cache

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        state = {"status": 0, "started": False, "dropped": False, "not_modified": False}
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        conditional = method in ("GET", "HEAD") and path not in NOT_CACHED and \
            self.etag in [t.strip() for t in headers.get("if-none-match", "").split(",")]

        key = cache_key(path, scope.get("query_string", b"")) \
            if self.cache is not None and method == "GET" and path.startswith("/v1/") else None
        captured: list[bytes] | None = None

        async def guarded_send(message):
            nonlocal captured
            if state["dropped"]:
                return
            if key is not None:
                if message["type"] == "http.response.start":
                    captured = [] if message["status"] == 200 else None
                elif captured is not None:
                    captured.append(message.get("body", b""))
            if message["type"] == "http.response.start":
                status = message["status"]
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))
                         if k not in names]
                content_type = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    extra.append((b"x-frame-options", b"DENY"))
                    if b"content-security-policy" not in names:
                        csp = CSP_DOCS if path.startswith(("/docs", "/redoc")) else CSP_PAGES
                        extra.append((b"content-security-policy", csp.encode()))
                if status == 200 and method in ("GET", "HEAD") and path not in NOT_CACHED:
                    extra.append((b"etag", self.etag.encode()))
                    if conditional:
                        state["not_modified"] = True
                        status = 304
                        message = {"type": "http.response.start", "status": 304,
                                   "headers": [(k, v) for k, v in message.get("headers", [])
                                               if k.lower() not in (b"content-length", b"content-type")] + extra}
                        state["status"], state["started"] = 304, True
                        await send(message)
                        await send({"type": "http.response.body", "body": b""})
                        return
                state["status"], state["started"] = status, True
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            elif state["not_modified"]:
                return
            await send(message)

        try:
            refusal = self._refuse(method, path, headers)
            hit = self.cache.get(key) if refusal is None and key is not None else None
            if refusal is not None:
                await refusal(scope, receive, guarded_send)
            elif hit is not None:
                from starlette.responses import Response

                key = None  # already cached
                await Response(hit, media_type="application/json")(scope, receive, guarded_send)
            else:
                await self._run(scope, self._limited(receive, headers), guarded_send, state)
                if key is not None and captured is not None and state["status"] in (200, 304) and not state["dropped"]:
                    if state["status"] == 200:
                        self.cache.put(key, b"".join(captured))
        finally:
            ms = (time.perf_counter() - started) * 1000
            query = scope.get("query_string", b"").decode("latin-1")
            client = (scope.get("client") or ("-",))[0]
            access.info("%s %s %s%s %d %.1fms", client, method, path, f"?{query}" if query else "", state["status"], ms)

    def _refuse(self, method: str, path: str, headers: dict[str, str]):
        """A response for a request that may not go further (unauthenticated, declared too large), or None."""
        token = self.settings.token
        if token and not auth.is_open(path):
            cookies = {}
            if "cookie" in headers:
                jar = SimpleCookie()
                try:
                    jar.load(headers["cookie"])
                except Exception:  # a malformed Cookie header is no session  # noqa: BLE001
                    jar = SimpleCookie()
                cookies = {k: m.value for k, m in jar.items()}
            if not auth.authorized(token, headers, cookies):
                if not auth.is_api(path) and method in ("GET", "HEAD"):
                    from urllib.parse import quote

                    from starlette.responses import Response

                    return Response(status_code=303, headers={"Location": f"/login?next={quote(path)}"})
                return problems.response(401, "unauthorized",
                                         "authorization: expected 'Authorization: Bearer <token>' (the server's "
                                         "KB_API_TOKEN) or a session from POST /login",
                                         headers={"WWW-Authenticate": "Bearer"})
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return problems.response(400, "bad-request", f"Content-Length: expected a number of bytes, got {length!r}")
            if int(length) > self.settings.max_body:
                return self._too_large()
        return None

    def _too_large_detail(self) -> str:
        return f"body: larger than the server's limit of {self.settings.max_body} bytes (--max-body)"

    def _too_large(self):
        return problems.response(413, "body-too-large", self._too_large_detail())

    def _limited(self, receive, headers):
        limit, seen = self.settings.max_body, [0]

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:  # a chunked body that outgrew the limit: the route's exception handler answers
                    raise problems.Problem(413, "body-too-large", self._too_large_detail())
            return message
        return counted

    async def _run(self, scope, receive, send, state):
        task = asyncio.ensure_future(self.app(scope, receive, send))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.settings.timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done:
            task.result()
            return
        # Too slow: answer now. The route's thread cannot be stopped; its late response is dropped.
        state_started = state["started"]
        state["dropped"] = True
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        task.cancel()
        if not state_started:
            state["dropped"] = False
            response = problems.response(503, "timeout", f"the request took longer than the server's limit of "
                                                         f"{self.settings.timeout:g} s (--timeout)")
            await response(scope, receive, send)
            state["dropped"] = True
