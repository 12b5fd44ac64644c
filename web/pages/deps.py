"""The read-only connection a page reads: the app's database (`web.database`, a cursor leased for the
request: this sync dependency and the route may run on different pool threads) when the app has one; else (an app made of the pages alone, as in some tests) the database named by
`app.state.db`, opened once, with a cursor per request."""
from __future__ import annotations

import threading

from fastapi import Request

_lock = threading.Lock()


def connection(request: Request):
    state = request.app.state
    database = getattr(state, "database", None)
    if database is not None:
        with database.lease() as cursor:
            yield cursor
        return
    con = getattr(state, "con", None)
    if con is None:
        with _lock:
            con = getattr(state, "con", None)
            if con is None:
                from kb.query.database import connect

                con = state.con = connect(getattr(state, "db", None))
    cursor = con.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
