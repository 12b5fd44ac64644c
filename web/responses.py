"""JSON bodies as the library returns them (serialized once, compact), the GET cache and pagination."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from starlette.requests import Request
from starlette.responses import Response

from web.problems import Problem


def json_bytes(payload) -> bytes:
    # allow_nan=False: a NaN would be invalid JSON; it is a bug to find, never something to send
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":")).encode()


def json_response(payload, status: int = 200) -> Response:
    return Response(json_bytes(payload), status_code=status, media_type="application/json")


class BodyCache:
    """Serialized GET bodies by URL (path and sorted query), least recently used out first. The database
    is immutable while the server runs, so a body depends on its URL only; errors are never cached."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        self.max_bytes, self.size = max_bytes, 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self.size += len(value)
            while self.size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.size -= len(old)


def paginate(payload: dict, key: str, limit: int | None, offset: int | None) -> dict:
    """The payload with its list `key` sliced; `page` says where ({offset, limit, total}). Without limit and
    offset the payload is returned as it is (equal to the CLI's)."""
    if limit is None and offset is None:
        return payload
    items = payload[key]
    start = offset or 0
    stop = None if limit is None else start + limit
    return {**payload, key: items[start:stop], "page": {"offset": start, "limit": limit, "total": len(items)}}


def media_type(request: Request, accepted: dict[str, str]) -> str:
    """The declared format of the request body from its Content-Type (parameters such as charset ignored);
    415 naming the accepted types otherwise."""
    raw = request.headers.get("content-type", "")
    mime = raw.split(";")[0].strip().lower()
    if mime not in accepted:
        got = f"{raw!r}" if raw else "no Content-Type"
        raise Problem(415, "unsupported-media-type",
                      f"Content-Type: expected one of {', '.join(accepted)}, got {got}")
    charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in raw.split(";")[1:]
                    if p.strip().lower().startswith("charset=")), "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise Problem(415, "unsupported-media-type", f"Content-Type: charset: expected utf-8, got {charset!r}")
    return accepted[mime]


def text_of(body: bytes, label: str = "body") -> str:
    from kb.core.errors import InputError

    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: expected UTF-8 text, got undecodable bytes at byte {exc.start}") from None


def negotiate(request: Request, offered: tuple[str, ...]) -> str | None:
    """The media type of `offered` the request's Accept header prefers (q-values honoured, parameters other
    than q ignored), or None when the client takes anything (no Accept, or only a wildcard matches): then
    the route answers in its default for the input. 406 naming the offered types when none is acceptable."""
    raw = request.headers.get("accept", "").strip()
    if not raw:
        return None
    ranges = []
    for part in raw.split(","):
        mime, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for p in params:
            key, _, value = p.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if mime:
            ranges.append((mime.lower(), q if 0 <= q <= 1 else 0.0))
    best, best_q, wildcard = None, 0.0, False
    for mime in offered:
        major = mime.split("/")[0]
        exact = [q for m, q in ranges if m == mime]
        loose = [q for m, q in ranges if m in (f"{major}/*", "*/*")]
        q, is_wild = (max(exact), False) if exact else ((max(loose), True) if loose else (0.0, False))
        if q > best_q:
            best, best_q, wildcard = mime, q, is_wild
    if best is None:
        raise Problem(406, "not-acceptable", f"Accept: expected one of {', '.join(offered)} (or */*), got {raw[:80]!r}")
    return None if wildcard else best
