"""The read-only knowledge base behind every request, handed to routes by a dependency.

One DuckDB database is opened read-only when the app starts (built first when the managed default is
missing, as `kb query` does). A DuckDB connection is not safe to share between threads, and FastAPI runs
routes in a thread pool, so each thread gets its own cursor of that database (`con.cursor()`: a
connection to the same database instance, cheap, reused for every request the thread serves).

The database cannot change under a running server: it is opened read-only, and `kb build` writes a new
file and renames it over the old path, which leaves this process reading the file it opened (its
`kb_version`, ETags and everything loaded from it stay true together). So what is loaded from it once,
such as the shared `Evaluator`, stays correct for the life of this object; a new build is served by a
restarted server.
"""
from __future__ import annotations

import threading

import duckdb
from starlette.requests import Request

from kb.core import store


class Database:
    def __init__(self, db: str | None):
        from kb.query.database import connect

        self.con = connect(db)
        self.kb_version = store.kb_version(self.con)
        self.model_ids = frozenset(row["id"] for row in store.pam_models(self.con))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._free: list[duckdb.DuckDBPyConnection] = []  # cursors of lease(), not in use
        self.shared = store.immutable(ThreadCursor(self))  # read-only like its cursors: lookups memoised
        self._evaluators: dict = {}
        self._evaluators_lock = threading.Lock()  # not _lock: building an Evaluator makes cursors, which takes _lock

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = store.cursor(self.con)
                self._cursors.append(cur)
            self._local.cursor = cur
        return cur

    def evaluator(self, model: str | None = None):
        """The `kb.evaluate.evaluator.Evaluator` for `model`, one per database, shared by every thread: the
        evidence, vocabularies and markers it loads are most of the cost of evaluating one record, and they
        never change (see the module docstring). It reads the database through `shared`, so each thread's
        queries go to that thread's own cursor, and what it holds is only read after loading. Model files
        are never read: `model` is a knowledge-base id."""
        from kb.evaluate.evaluator import Evaluator

        if model is not None and model not in self.model_ids:
            return Evaluator(self.shared, model, model_files=False)  # an unknown id fails per record: never kept
        found = self._evaluators.get(model)
        if found is None:
            with self._evaluators_lock:
                found = self._evaluators.get(model)
                if found is None:
                    found = self._evaluators[model] = Evaluator(self.shared, model, model_files=False)
        return found

    def lease(self):
        """A cursor for one request whose code may run on several threads (a sync dependency and its route
        run on different pool threads): taken from a free list, or made, and put back afterwards, so no two
        requests ever hold the same cursor at once."""
        from contextlib import contextmanager

        @contextmanager
        def leased():
            with self._lock:
                cur = self._free.pop() if self._free else None
                if cur is None:
                    cur = store.cursor(self.con)
                    self._cursors.append(cur)
            try:
                yield cur
            finally:
                with self._lock:
                    self._free.append(cur)
        return leased()

    def close(self) -> None:
        with self._lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
            self._free.clear()
            self.con.close()

    async def run(self, work):
        """`work(cursor)` in the thread pool, with that thread's own cursor: DuckDB waits there, not the event loop."""
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(lambda: work(self.cursor()))

    async def json(self, request, work):
        """The JSON body of `work(cursor)`, computed in the thread pool (the middleware caches GET bodies)."""
        from web.responses import json_response

        return json_response(await self.run(work))


class ThreadCursor:
    """Stands in for a DuckDB connection: every attribute is that of the calling thread's own cursor of the
    database (`Database.cursor`), so an object built once from it (the shared Evaluator, whose marker index
    and vocabularies query on demand) can be used by several threads at once, each on its own cursor.
    A statement and its fetch run in one call on one thread, so they always meet the same cursor."""

    def __init__(self, database: Database):
        self._database = database

    def __getattr__(self, name):
        return getattr(self._database.cursor(), name)


async def database(request: Request) -> Database:
    """The dependency every route takes: the app's read-only database."""
    return request.app.state.database
