"""The SQL of cohort scoring (`kb score`): DuckDB reads the cohort file, nothing is loaded into Python.

Values are bound ($path, $delim, $columns, $class_k); model numbers are DOUBLE literals made from floats
with repr; the only other text spliced in is identifiers, quoted by quote_ident.
"""
from __future__ import annotations

import duckdb

from kb.core.progress import track_query_progress

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
    track_query_progress(con)
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
                  centroids, sd, log_priors, min_genes: int, text_out: bool = False) -> duckdb.DuckDBPyRelation:
    """A relation of one row per sample: sample_id, delta_<class>..., posterior_<class>..., call, n_genes.

    δ_k = Σ_i (x_i − c_ik)² / sd_i² − 2 log π_k over the genes present (NULL cells are skipped and not
    counted in n_genes); a row with fewer than ``min_genes`` genes gets NULL scores and no call.
    Posteriors are softmax(−δ/2) with the minimum δ subtracted before exponentiating. ``text_out``: the
    rows go to CSV/TSV, so a sample id a spreadsheet would run as a formula gets a leading ' (as
    kb.core.escape.csv_cell does for every other CSV writer).
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
    sample = f"CAST({quote_ident(id_column)} AS VARCHAR)"
    if text_out:
        sample = (f"CASE WHEN left({sample}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
                  f"THEN chr(39) || {sample} ELSE {sample} END")
    sql = (f"WITH x AS (SELECT {sample} AS sample_id, {', '.join(values)} "
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


def posterior_histogram(con, path: str, kind: str, columns: list[str], bins: int) -> list[list[int]]:
    """Counts of each posterior column of a score file in ``bins`` equal bins over [0, 1] (NULLs skipped)."""
    types = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': 'DOUBLE'" for c in columns) + "}"
    reader = "read_parquet($path)" if kind == "parquet" else f"read_csv($path, delim = $delim, header = true, types = {types})"
    params = {"path": path, "bins": bins} if kind == "parquet" else \
        {"path": path, "bins": bins, "delim": "\t" if kind == "tsv" else ","}
    out = []
    for column in columns:
        c = quote_ident(column)
        rows = con.execute(f"SELECT least(floor({c} * $bins), $bins - 1)::INTEGER AS b, count(*) FROM {reader} "
                           f"WHERE {c} IS NOT NULL GROUP BY 1", params).fetchall()
        counts = [0] * bins
        for b, n in rows:
            counts[b] += n
        out.append(counts)
    return out
