"""Opening the knowledge base: read-only DuckDB on the query path, built on first use, versioned.

The managed default database (no --db, no KB_DB) is rebuilt whenever the bundled seeds' content hash
differs from the one it was built from, so an upgrade never serves stale knowledge. An explicit
database is used as it is (it may have been built from another seeds directory); a missing one is built
from the bundled seeds.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from kb.errors import StoreError
from kb.paths import bundled_seeds, resolve_db


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        return dict(con.execute("SELECT key, value FROM kb_meta").fetchall())
    except duckdb.Error as exc:
        raise StoreError(f"not a biomarker-kb database (no kb_meta table): {str(exc).splitlines()[0]}") from None


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreError(f"database {path} is locked by another process; close it and retry") from None
        raise StoreError(f"cannot open database {path}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None


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
        return _open(path)
    con = _open(path)
    if managed:
        from ingest.seedfiles import content_hash

        if _meta(con).get("content_hash") != content_hash(bundled_seeds()):
            con.close()
            _build(path, "the bundled seeds changed")
            con = _open(path)
    return con


def kb_version(con: duckdb.DuckDBPyConnection) -> dict:
    meta = _meta(con)
    return {"schema": int(meta.get("schema_version", 0)), "content": meta.get("content_hash")}


# ---- small lookups shared by resolution and evaluation ---------------------------------------------

def marker_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT id, name FROM marker").fetchall())


def markers_by_norm(con: duckdb.DuckDBPyConnection, key: str, spelling: str) -> list[tuple[str, bool]]:
    """(marker id, is this exact spelling) for every alias with normalised form `key` (an indexed lookup)."""
    return con.execute("SELECT marker_id, alias = ? FROM marker_alias WHERE norm = ?", [spelling, key]).fetchall()


def marker_name(con: duckdb.DuckDBPyConnection, marker_id: str) -> str:
    return con.execute("SELECT name FROM marker WHERE id = ?", [marker_id]).fetchone()[0]


def marker_aliases(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("SELECT marker_id, alias, norm FROM marker_alias ORDER BY marker_id, alias").fetchall()


def terms(con: duckdb.DuckDBPyConnection, vocabulary: str) -> list[dict]:
    cur = con.execute(
        "SELECT name, full_name, parent, doid, therapy_class, phase FROM term WHERE vocabulary = ? ORDER BY name",
        [vocabulary])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def term_aliases(con: duckdb.DuckDBPyConnection, vocabulary: str) -> dict[str, str]:
    return dict(con.execute("SELECT norm, name FROM term_alias WHERE vocabulary = ?", [vocabulary]).fetchall())


def documents(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int, str]]:
    """(id, path, sha256, n_chars, text) of every document."""
    return con.execute("SELECT id, path, sha256, n_chars, text FROM document ORDER BY id").fetchall()


def links(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int, str]]:
    """(evidence_id, document_id, start, end, quote) of every evidence link."""
    return con.execute('SELECT evidence_id, document_id, start, "end", quote FROM evidence_link '
                       'ORDER BY evidence_id, document_id, start').fetchall()


def pam_provenance(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(model id, provenance JSON) of every PAM model."""
    return con.execute("SELECT id, provenance FROM pam_model ORDER BY id").fetchall()


def pam_models(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every PAM model row (JSON columns still encoded)."""
    cur = con.execute("SELECT * FROM pam_model ORDER BY id")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def pam_genes(con: duckdb.DuckDBPyConnection, model_id: str) -> list[tuple[str, str, float]]:
    """(symbol, centroids JSON, sd) of a model's genes in table order."""
    return con.execute("SELECT symbol, centroids, sd FROM pam_gene WHERE model_id = ? ORDER BY position", [model_id]).fetchall()


def document_texts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(id, source_id, path, text) of every document, by source then path."""
    return con.execute("SELECT id, source_id, path, text FROM document ORDER BY source_id, path").fetchall()


def marker_info(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """id -> {name, kind, unit} of every marker (evaluation checks units and value types against it)."""
    return {mid: {"name": name, "kind": kind, "unit": unit}
            for mid, name, kind, unit in con.execute("SELECT id, name, kind, unit FROM marker ORDER BY id").fetchall()}


def write_parquet(path, columns: list[tuple[str, str]], rows: list[list]) -> None:
    """Write `rows` as a Parquet file with the given (name, DuckDB type) columns (an in-memory DuckDB)."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE export (" + ", ".join(f'"{name}" {kind}' for name, kind in columns) + ")")
        if rows:
            con.executemany("INSERT INTO export VALUES (" + ", ".join("?" for _ in columns) + ")", rows)
        con.table("export").write_parquet(str(path))
    finally:
        con.close()
