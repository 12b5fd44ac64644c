"""The read-only connection a page reads: a cursor of the app's database (`web.database`), leased for the
request (this sync dependency and the route may run on different pool threads)."""
from __future__ import annotations

from fastapi import Request


def connection(request: Request):
    with request.app.state.database.lease() as cursor:
        yield cursor
