"""The knowledge base a query reads: the managed default database, built on first use.

`connect` is the one place where reading may build: the managed default database (no --db, no KB_DB) is
built from the bundled seeds when it is missing, and rebuilt whenever it was built from the bundled seeds
and their content hash (or the schema version) differs, so an upgrade never serves stale knowledge. A
managed database built from another seeds directory (`kb build --seeds DIR`, as `kb curate add-paper`
suggests) is never replaced by the bundled seeds: it is used as it is, with a note saying so. An explicit
database is used as it is; one of another schema version is refused with a message that says to rebuild
it; a missing one is built from the bundled seeds. The query side sits above `ingest`, so this call goes
down the layers, never up.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from kb.core.errors import StoreError
from kb.core.paths import bundled_seeds, resolve_db
from kb.core.store import meta, open_readonly
from schemas.enums import SCHEMA_VERSION


def _build(path: Path, reason: str) -> None:
    from ingest.build import build

    print(f"kb: {reason}; building {path} from the bundled seeds ...", file=sys.stderr)
    report = build(bundled_seeds(), path, managed=True, wait=True)
    print(f"kb: built in {report.seconds:.1f} s ({report.counts['evidence']} evidence items)", file=sys.stderr)


def connect(db: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the knowledge base, building it first when needed."""
    path, managed = resolve_db(db)
    if not path.parent.is_dir():
        if not managed:
            raise StoreError(f"cannot use database {path}: directory {path.parent} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_file():
        raise StoreError(f"cannot use database {path}: not a regular file; expected a biomarker-kb database")
    if not path.exists():
        _build(path, "no database yet")
        return open_readonly(path)
    con = open_readonly(path)
    values = meta(con)
    schema = values.get("schema_version")
    origin = values.get("seeds", "bundled")
    if managed and origin == "bundled":
        from ingest.seedfiles import content_hash

        reason = (f"the database has schema {schema}, this kb reads schema {SCHEMA_VERSION}"
                  if schema != str(SCHEMA_VERSION) else
                  "the bundled seeds changed" if values.get("content_hash") != content_hash(bundled_seeds()) else None)
        if reason is not None:
            con.close()
            _build(path, reason)
            con = open_readonly(path)
        return con
    if schema != str(SCHEMA_VERSION):
        con.close()
        how = f"kb build --db {path}" + ("" if origin == "bundled" else f" --seeds {origin}")
        raise StoreError(f"database {path} has schema version {schema}; this kb reads schema {SCHEMA_VERSION}: "
                         f"rebuild it with `{how}`")
    if managed:
        print(f"kb: note: {path} was built from {origin}, not the bundled seeds; using it as it is "
              "(`kb build` without --seeds goes back to the bundled ones)", file=sys.stderr)
    return con
