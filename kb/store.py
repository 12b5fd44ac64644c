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

def marker_evidence(con: duckdb.DuckDBPyConnection, marker_id: str) -> str | None:
    """The read model's rendered items (JSON) of one marker; None when the marker has none."""
    rows = con.execute("SELECT items FROM marker_evidence WHERE marker_id = ?", [marker_id]).fetchall()
    return rows[0][0] if rows else None


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
    return con.execute("SELECT marker_id, alias = ? FROM marker_alias WHERE norm = ?", [spelling, key]).fetchall()


def marker_name(con: duckdb.DuckDBPyConnection, marker_id: str) -> str:
    return con.execute("SELECT name FROM marker WHERE id = ?", [marker_id]).fetchall()[0][0]


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


# ---- cohort files scored by `kb score` (kb/score.py): DuckDB reads them, nothing is loaded into Python --
# Values are bound ($path, $delim, $columns, $class_k); model numbers are DOUBLE literals made from floats
# with repr; the only other text spliced in is identifiers, quoted by quote_ident.

COHORT_READERS = {
    "parquet": "read_parquet($path)",
    # Header read by the caller, every column VARCHAR: the sniffer costs seconds on wide files, and
    # non-numeric cells are then counted with TRY_CAST instead of failing the read.
    "csv": "read_csv($path, auto_detect = false, header = true, delim = $delim, quote = '\"', escape = '\"', "
           "nullstr = ['', 'NA'], columns = $columns)",
}


def scoring_connection(memory_limit_mb: int, temp_directory: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a memory cap (aggregates spill to ``temp_directory`` beyond it) that tracks
    query progress without printing DuckDB's own bar (the CLI draws one on stderr)."""
    con = duckdb.connect(config={"memory_limit": f"{int(memory_limit_mb)}MB", "temp_directory": temp_directory})
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return con


def quote_ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def sql_double(value: float) -> str:
    """A DOUBLE literal for a finite float: repr, with an exponent so DuckDB does not read it as DECIMAL."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {value!r}")
    text = repr(value)
    return f"({text if 'e' in text else text + 'e0'})"


def cohort_columns(con: duckdb.DuckDBPyConnection, kind: str, params: dict) -> list[tuple[str, str]]:
    """(name, DuckDB type) of every column of a cohort file."""
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {COHORT_READERS[kind]}", params).fetchall()]


def _value(column: str, numeric: bool) -> str:
    return f"{'CAST' if numeric else 'TRY_CAST'}({quote_ident(column)} AS DOUBLE)"


def cohort_profile(con, kind: str, params: dict, id_column: str, genes: list[tuple[str, bool]]) -> dict:
    """One pass over the file: rows, sample ids (present, distinct) and per gene column the count of
    non-numeric cells, min and max (NaN sorts above every number in DuckDB, so max shows it)."""
    parts = ["count(*)", f"count({quote_ident(id_column)})", f"count(DISTINCT {quote_ident(id_column)})"]
    for column, numeric in genes:
        v = _value(column, numeric)
        parts += [f"count({quote_ident(column)}) - count({v})" if not numeric else "0", f"min({v})", f"max({v})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {COHORT_READERS[kind]}", params).fetchall()[0]
    return {"rows": row[0], "ids": row[1], "distinct_ids": row[2],
            "genes": {c: {"non_numeric": row[3 + 3 * i], "min": row[4 + 3 * i], "max": row[5 + 3 * i]}
                      for i, (c, _) in enumerate(genes)}}


def cohort_duplicate_id(con, kind: str, params: dict, id_column: str) -> str | None:
    ident = quote_ident(id_column)
    row = con.execute(f"SELECT {ident} FROM {COHORT_READERS[kind]} WHERE {ident} IS NOT NULL GROUP BY {ident} "
                      f"HAVING count(*) > 1 LIMIT 1", params).fetchall()
    return str(row[0][0]) if row else None


def cohort_non_numeric(con, kind: str, params: dict, id_column: str, column: str) -> tuple[str, str] | None:
    """(sample id, cell) of the first cell of a column that is not a number."""
    c = quote_ident(column)
    row = con.execute(f"SELECT CAST({quote_ident(id_column)} AS VARCHAR), CAST({c} AS VARCHAR) FROM "
                      f"{COHORT_READERS[kind]} WHERE {c} IS NOT NULL AND TRY_CAST({c} AS DOUBLE) IS NULL LIMIT 1",
                      params).fetchall()
    return (row[0][0], row[0][1]) if row else None


def _sum(terms: list[str]) -> str:
    """a + b + ... as a balanced tree: the parser's depth limit (1000) allows thousands of genes."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_sum(terms[:half])} + {_sum(terms[half:])})"


def cohort_scores(con, kind: str, params: dict, id_column: str, genes: list[tuple[str, bool]], classes: list[str],
                  centroids, sd, log_priors, min_genes: int) -> duckdb.DuckDBPyRelation:
    """A relation of one row per sample: sample_id, delta_<class>..., posterior_<class>..., call, n_genes.

    δ_k = Σ_i (x_i − c_ik)² / sd_i² − 2 log π_k over the genes present (NULL cells are skipped and not
    counted in n_genes); a row with fewer than ``min_genes`` genes gets NULL scores and no call.
    Posteriors are softmax(−δ/2) with the minimum δ subtracted before exponentiating.
    """
    K, G = len(classes), len(genes)
    values = [f"{_value(c, numeric)} AS g{i}" for i, (c, numeric) in enumerate(genes)]
    n_genes = _sum([f"(g{i} IS NOT NULL)::INTEGER" for i in range(G)])
    # (x_i − c_ik) / sd_i as columns of their own (0 when x_i is missing), squared in the next step:
    # DuckDB evaluates each once, three times faster than pow() over the repeated expression.
    z = [f"coalesce((g{i} - {sql_double(centroids[k][i])}) / {sql_double(sd[i])}, 0) AS z{k}_{i}"
         for k in range(K) for i in range(G)]
    deltas = [f"CASE WHEN n_genes >= {int(min_genes)} THEN "
              + _sum([f"z{k}_{i} * z{k}_{i}" for i in range(G)])
              + f" - {sql_double(2.0 * log_priors[k])} END AS d{k}" for k in range(K)]
    least = f"least({', '.join(f'd{k}' for k in range(K))})"
    exps = ", ".join(f"exp(-0.5 * (d{k} - dmin)) AS e{k}" for k in range(K))
    total = " + ".join(f"e{k}" for k in range(K))
    call = "CASE " + " ".join(f"WHEN d{k} = dmin THEN $class_{k}" for k in range(K)) + " END"
    out = (["sample_id"] + [f"d{k} AS {quote_ident('delta_' + c)}" for k, c in enumerate(classes)]
           + [f"e{k} / ({total}) AS {quote_ident('posterior_' + c)}" for k, c in enumerate(classes)]
           + [f"{call} AS {quote_ident('call')}", "n_genes"])
    sql = (f"WITH x AS (SELECT CAST({quote_ident(id_column)} AS VARCHAR) AS sample_id, {', '.join(values)} "
           f"FROM {COHORT_READERS[kind]}), "
           f"z AS (SELECT sample_id, {n_genes} AS n_genes, {', '.join(z)} FROM x), "
           f"d AS (SELECT sample_id, n_genes, {', '.join(deltas)} FROM z), "
           f"m AS (SELECT *, {least} AS dmin FROM d), "
           f"e AS (SELECT *, {exps} FROM m) "
           f"SELECT {', '.join(out)} FROM e")
    return con.sql(sql, params={**params, **{f"class_{k}": str(c) for k, c in enumerate(classes)}})


def score_summary(con, path: str, kind: str, n_genes: int) -> tuple[dict[str | None, int], int]:
    """(samples per call (None: no call), samples scored over fewer than ``n_genes`` genes) of a score file."""
    reader = "read_parquet($path)" if kind == "parquet" else \
        "read_csv($path, delim = $delim, header = true, types = {'call': 'VARCHAR', 'n_genes': 'INTEGER'})"
    params = {"path": path, "n": n_genes} if kind == "parquet" else \
        {"path": path, "n": n_genes, "delim": "\t" if kind == "tsv" else ","}
    rows = con.execute(f'SELECT "call", count(*), count(*) FILTER (WHERE n_genes < $n) FROM {reader} GROUP BY 1 '
                       "ORDER BY 1", params).fetchall()
    return {r[0]: r[1] for r in rows}, sum(r[2] for r in rows)
