"""The knowledge base a query reads: the managed default database, built on first use.

`connect` is the one place where reading may build: the managed default database (no --db, no KB_DB) is
built from the bundled seeds when it is missing and rebuilt whenever the bundled seeds' content hash
differs from the one it was built from, so an upgrade never serves stale knowledge. An explicit database
is used as it is (it may have been built from another seeds directory); a missing one is built from the
bundled seeds. The query side sits above `ingest`, so this call goes down the layers, never up.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from kb.core.errors import StoreError
from kb.core.paths import bundled_seeds, resolve_db
from kb.core.store import check_schema, meta, open_readonly


def _build(path: Path, reason: str) -> None:
    from ingest.build import build

    print(f"kb: {reason}; building {path} from the bundled seeds ...", file=sys.stderr)
    report = build(bundled_seeds(), path)
    print(f"kb: built in {report.seconds:.1f} s ({report.counts['evidence']} evidence items)", file=sys.stderr)


def connect(db: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the knowledge base, building it first when needed."""
    path, managed = resolve_db(db)
    if not path.parent.is_dir():
        if not managed:
            raise StoreError(f"cannot use database {path}: directory {path.parent} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _build(path, "no database yet")
        return open_readonly(path)
    con = open_readonly(path)
    if managed:
        from ingest.seedfiles import content_hash

        if meta(con).get("content_hash") != content_hash(bundled_seeds()):
            con.close()
            _build(path, "the bundled seeds changed")
            con = open_readonly(path)
    check_schema(con, path)
    return con
