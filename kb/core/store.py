"""The read-only store: opening a knowledge base file and the small SQL lookups the library shares.

This module never builds a database (that is `kb.query.database.connect`, above ingest); it opens an
existing file read-only and reads it. SQL text of the query side lives here and in `kb.core.items`.
"""
from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import duckdb

from kb.core.errors import StoreError


# ---- memoised lookups on read-only connections --------------------------------------------------------
# A database opened read-only cannot change under its connection (a rebuild writes a new file and renames
# it; the open connection keeps reading the old one), so the small lookups every query repeats (kb_version,
# a marker's name, an alias, a marker's rendered items) are kept per connection. DuckDB's per-statement
# overhead, not the work, is most of a query's time (docs/benchmarks.md, api). Connections that may be
# written (the build's) are never registered, so nothing is memoised for them. Bounded: keys come from
# user input.

_MEMO_SIZE = 4096
_memos: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, OrderedDict]" = weakref.WeakKeyDictionary()
_memo_lock = threading.Lock()


def immutable(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Register a read-only connection (or a cursor of one) for memoised lookups; returns it."""
    with _memo_lock:
        _memos.setdefault(con, OrderedDict())
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of `con` (for another thread), memoised like `con` when `con` is read-only."""
    cur = con.cursor()
    return immutable(cur) if con in _memos else cur


def _memo(con: duckdb.DuckDBPyConnection, key: tuple, compute: Callable):
    cache = _memos.get(con)
    if cache is None:
        return compute()
    with _memo_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = compute()
    with _memo_lock:
        cache[key] = value
        if len(cache) > _MEMO_SIZE:
            cache.popitem(last=False)
    return value


def meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(_memo(con, ("meta",), lambda: tuple(_meta(con).items())))


def _meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        return dict(con.execute("SELECT key, value FROM kb_meta").fetchall())
    except duckdb.Error as exc:
        raise StoreError(f"not a biomarker-kb database (no kb_meta table): {str(exc).splitlines()[0]}") from None


# ---- recognising a database before touching it ------------------------------------------------------

_opened: list[Path] = []  # the databases this process opened: names the file in a late driver error


def last_opened() -> Path | None:
    """The database most recently opened by this process (for error lines raised far from the open)."""
    return _opened[-1] if _opened else None


def is_kb_database(path: Path) -> str | None:
    """None when `path` is a biomarker-kb database; otherwise what it is instead (one phrase). Opened
    read-only, never read-write, and only when it is a regular file (a FIFO would block the open)."""
    if not path.is_file():
        return "not a regular file"
    with open(path, "rb") as fh:
        head = fh.read(16)
    if len(head) < 16 or head[8:12] != b"DUCK":
        return "not a DuckDB database file"
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            return "locked by another process"
        return f"cannot be opened as a database ({text.splitlines()[0][:120]})"
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "kb_meta" not in tables:
            return f"a DuckDB database of something else ({len(tables)} table(s), no kb_meta)"
        keys = {r[0] for r in con.execute("SELECT key FROM kb_meta").fetchall()}
        if "schema_version" not in keys:
            return "a DuckDB database with a kb_meta table but no schema version"
    except duckdb.Error as exc:
        return f"a damaged database ({str(exc).splitlines()[0][:120]})"
    finally:
        con.close()
    return None


def open_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    if path.exists() and not path.is_file():  # a FIFO or a device would block the open or be read as a database
        raise StoreError(f"cannot open database {path}: not a regular file")
    _opened.append(Path(path))
    try:
        return immutable(duckdb.connect(str(path), read_only=True))
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreError(f"database {path} is locked by another process; close it and retry") from None
        raise StoreError(f"cannot open database {path}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None


def kb_version(con: duckdb.DuckDBPyConnection) -> dict:
    values = meta(con)
    return {"schema": int(values.get("schema_version", 0)), "content": values.get("content_hash")}


def rows_digest(con: duckdb.DuckDBPyConnection) -> str:
    """sha256 of every row of every table but kb_meta, in a canonical order: recorded at build, recomputed
    by `kb check`, so an edit of any stored row (and of its read model alongside) shows."""
    import hashlib

    digest = hashlib.sha256()
    tables = sorted(r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = 'main'").fetchall() if r[0] != "kb_meta")
    for table in tables:
        digest.update(f"table {table}\n".encode())
        cur = con.execute(f'SELECT * FROM "{table}" ORDER BY ALL')
        while batch := cur.fetchmany(4096):
            for row in batch:
                digest.update(repr(row).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def write_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """One more kb_meta entry (build path, on the not yet published database file)."""
    con.execute("INSERT INTO kb_meta (key, value) VALUES (?, ?)", [key, value])


# ---- small lookups shared by resolution and evaluation ---------------------------------------------

def marker_evidence(con: duckdb.DuckDBPyConnection, marker_id: str) -> str | None:
    """The read model's rendered items (JSON) of one marker; None when the marker has none."""
    def fetch():
        rows = con.execute("SELECT items FROM marker_evidence WHERE marker_id = ?", [marker_id]).fetchall()
        return rows[0][0] if rows else None

    return _memo(con, ("marker_evidence", marker_id), fetch)


def marker_evidence_all(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(marker id, marker name, rendered items JSON or NULL) of every marker, for `kb check`."""
    return con.execute("SELECT m.id, m.name, r.items FROM marker m LEFT JOIN marker_evidence r ON r.marker_id = m.id "
                       "ORDER BY m.id").fetchall()


def write_marker_evidence(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, int, str]]) -> None:
    """Store the read model (build path, on the not yet published database file)."""
    con.executemany("INSERT INTO marker_evidence (marker_id, n_items, items) VALUES (?, ?, ?)", rows)


def marker_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT id, name FROM marker").fetchall())


def markers_by_norm(con: duckdb.DuckDBPyConnection, key: str, spelling: str) -> list[tuple[str, bool]]:
    """(marker id, is this exact spelling) for every alias with normalised form `key` (an indexed lookup)."""
    return list(_memo(con, ("markers_by_norm", key, spelling), lambda: tuple(
        con.execute("SELECT marker_id, alias = ? FROM marker_alias WHERE norm = ?", [spelling, key]).fetchall())))


def markers_by_code(con: duckdb.DuckDBPyConnection, system: str, code: str) -> list[str]:
    """The markers a code identifies (one for a LOINC code; possibly several for a gene's HGNC id)."""
    return [r[0] for r in con.execute("SELECT marker_id FROM marker_code WHERE system = ? AND code = ? ORDER BY marker_id",
                                      [system, code]).fetchall()]


def marker_codes(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    """marker id -> its codes [{system, code, primary}], primary LOINC first."""
    out: dict[str, list[dict]] = {}
    for mid, system, code, primary in con.execute(
            "SELECT marker_id, system, code, primary_code FROM marker_code ORDER BY marker_id, system DESC, NOT primary_code, code"
    ).fetchall():
        out.setdefault(mid, []).append({"system": system, "code": code, "primary": primary})
    return out


def marker_name(con: duckdb.DuckDBPyConnection, marker_id: str) -> str:
    return _memo(con, ("marker_name", marker_id),
                 lambda: con.execute("SELECT name FROM marker WHERE id = ?", [marker_id]).fetchall()[0][0])


def marker_aliases(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, bool]]:
    """(marker id, alias, normalised alias, exact only) of every spelling; exact-only ones are never fuzzy targets."""
    return con.execute("SELECT marker_id, alias, norm, exact_only FROM marker_alias ORDER BY marker_id, alias").fetchall()


def terms(con: duckdb.DuckDBPyConnection, vocabulary: str) -> list[dict]:
    """Every term of a vocabulary (fresh dicts: callers may change them, the memo keeps its own)."""
    kept = _memo(con, ("terms", vocabulary), lambda: _terms(con, vocabulary))
    return [dict(t, parents=list(t["parents"]), icd10=list(t["icd10"])) for t in kept]


def _terms(con: duckdb.DuckDBPyConnection, vocabulary: str) -> list[dict]:
    cur = con.execute(
        "SELECT name, full_name, parent, parents, doid, ncit, icd10, snomed, rxnorm, therapy_class, phase FROM term "
        "WHERE vocabulary = ? ORDER BY name", [vocabulary])
    cols = [d[0] for d in cur.description]
    out = [dict(zip(cols, row)) for row in cur.fetchall()]
    for term in out:
        term["parents"], term["icd10"] = json.loads(term["parents"]), json.loads(term["icd10"])
        term["rxnorm"] = json.loads(term["rxnorm"]) if term["rxnorm"] else []
    return out


def term_aliases(con: duckdb.DuckDBPyConnection, vocabulary: str) -> dict[str, str]:
    return dict(_memo(con, ("term_aliases", vocabulary), lambda: tuple(
        con.execute("SELECT norm, name FROM term_alias WHERE vocabulary = ?", [vocabulary]).fetchall())))


def cited_work_links(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int, str]]:
    """(cited work id, document_id, start, end, quote) of every span of a reference-list entry."""
    return con.execute('SELECT cited_work_id, document_id, start, "end", quote FROM cited_work_link '
                       'ORDER BY cited_work_id, document_id, start').fetchall()


def dismissals(con: duckdb.DuckDBPyConnection, source_id: str | None = None) -> list[dict]:
    """Every dismissed candidate sentence (source, document, span, quote, reason, curation file and line)."""
    cur = con.execute('SELECT source_id, document_id, start, "end", quote, reason, curation_file, curation_line '
                      'FROM dismissal WHERE ? IS NULL OR source_id = ? ORDER BY source_id, document_id, start',
                      [source_id, source_id])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def licence_spans(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int, str]]:
    """(source id, document_id, start, end, quote) of each source's licence sentence."""
    return con.execute('SELECT id, license_document_id, license_start, license_end, license_quote FROM source '
                       'WHERE license_quote IS NOT NULL ORDER BY id').fetchall()


def cited_works_of(con: duckdb.DuckDBPyConnection, source_id: str | None = None) -> list[dict]:
    """Every cited work (of one source), in reference-list order."""
    cur = con.execute("SELECT * FROM cited_work WHERE ? IS NULL OR source_id = ? ORDER BY source_id, number",
                      [source_id, source_id])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def term_spellings(con: duckdb.DuckDBPyConnection, vocabulary: str) -> list[tuple[str, str]]:
    """(term name, spelling as written) of every spelling of a vocabulary."""
    return con.execute("SELECT name, alias FROM term_alias WHERE vocabulary = ? AND alias IS NOT NULL ORDER BY norm",
                       [vocabulary]).fetchall()


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


def document_links(con: duckdb.DuckDBPyConnection, document_id: str) -> list[tuple[str, int, int, str, str, str]]:
    """(evidence_id, start, end, marker name, direction, status) of every link into one document, in text order."""
    return con.execute('SELECT l.evidence_id, l.start, l."end", m.name, e.direction, e.status FROM evidence_link l '
                       'JOIN evidence e ON e.id = l.evidence_id JOIN marker m ON m.id = e.marker_id '
                       'WHERE l.document_id = ? ORDER BY l.start, l."end" DESC, l.evidence_id', [document_id]).fetchall()
