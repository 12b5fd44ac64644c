"""The server's settings: given to `create_app`, or read from the environment, which is how `kb serve`
(cli/serve.py sets KB_DB, KB_SERVE_MAX_BODY, KB_SERVE_MAX_RECORDS, KB_SERVE_TIMEOUT, KB_SERVE_CORS,
KB_SERVE_CACHE) hands them to its worker processes, which import the app by name."""
from __future__ import annotations

import os
from dataclasses import dataclass

from kb.core.errors import InputError

MAX_BODY = 10 * 1024 * 1024
MAX_RECORDS = 10_000
TIMEOUT = 30.0


@dataclass(frozen=True)
class Settings:
    db: str | None = None  # None: the managed default database (as `kb query`)
    token: str | None = None  # KB_API_TOKEN: required on /v1/*, /openapi.json and the pages when set
    max_body: int = MAX_BODY  # bytes
    max_records: int = MAX_RECORDS  # patient records per POST /v1/evaluate
    timeout: float = TIMEOUT  # seconds per request
    cors: tuple[str, ...] = ()  # allowed origins; none: no CORS headers at all
    cache: bool = True  # cache GET bodies (the database is immutable: a body depends on the URL only)

    @classmethod
    def from_env(cls, env=os.environ) -> Settings:
        def number(name, kind, default):
            text = env.get(name)
            if text in (None, ""):
                return default
            try:
                value = kind(text)
            except ValueError:
                raise InputError(f"{name}: expected a {kind.__name__}, got {text!r}") from None
            if not value > 0:
                raise InputError(f"{name}: expected a positive number, got {text!r}")
            return value

        cors = tuple(o.strip() for o in env.get("KB_SERVE_CORS", "").split(",") if o.strip())
        return cls(db=env.get("KB_DB") or None, token=env.get("KB_API_TOKEN") or None,
                   max_body=number("KB_SERVE_MAX_BODY", int, MAX_BODY),
                   max_records=number("KB_SERVE_MAX_RECORDS", int, MAX_RECORDS),
                   timeout=number("KB_SERVE_TIMEOUT", float, TIMEOUT), cors=cors,
                   cache=env.get("KB_SERVE_CACHE", "1") != "0")
