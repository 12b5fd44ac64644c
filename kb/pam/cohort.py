"""`kb score`: a cohort scored against a PAM model inside DuckDB; and the expression files `kb pam train` reads.

The cohort never enters Python, so memory does not grow with it: the checks are aggregate queries, the
discriminant δ_k = Σ_i (x_i − c_ik)²/sd_i² − 2 log π_k and the posteriors are SQL expressions over the gene
columns (kb/pam/cohort_sql.py builds them), and DuckDB streams the result into the output file. The cohort is
checked before anything is written; a bad file is an InputError naming the column or sample at fault.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kb.core.errors import InputError, KBError
from kb.core.progress import while_duckdb_works
from kb.pam.expression import LOG2_FLOOR, MIN_CALL_GENES, RAW_COUNT_LOG2

if TYPE_CHECKING:
    import numpy as np

MIN_GENES = MIN_CALL_GENES
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def input_kind(path, what: str = "COHORT") -> tuple[str, str | None]:
    """("csv", delimiter) or ("parquet", None) from a file name: .csv, .tsv/.tab/.txt (optionally .gz), .parquet/.pq."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    if suffix in (".parquet", ".pq") and not str(path).lower().endswith(".gz"):
        return "parquet", None
    if suffix == ".csv":
        return "csv", ","
    if suffix in (".tsv", ".tab", ".txt"):
        return "csv", "\t"
    raise InputError(f"{what} {path}: expected a .csv, .tsv or .parquet file; got {suffix or 'no extension'!r}")


def _open_text(path: Path):
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _csv_header(path: Path, delim: str) -> list[str]:
    try:
        with _open_text(path) as f:
            header = next(csv.reader(f, delimiter=delim), None)
    except UnicodeDecodeError:
        raise InputError(f"{path}: expected UTF-8 text; got undecodable bytes") from None
    except csv.Error as exc:  # e.g. a header cell above the csv module's field limit (128 KB)
        raise InputError(f"{path}: header row: {exc}; expected a header of column names") from None
    except (OSError, EOFError) as exc:  # gzip: a plain file named .gz, or a file cut short
        raise InputError(f"{path}: cannot read as {'gzip' if path.name.lower().endswith('.gz') else 'text'}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    if not header:
        raise InputError(f"{path}: empty file; expected a header row (sample id column, then gene columns)")
    # An unnamed column (R's write.csv leaves the row-name column unnamed) gets DuckDB's name for it.
    header = [name if name else f"column{i}" for i, name in enumerate(header)]
    seen = set()
    for name in header:
        if name in seen:
            raise InputError(f"{path}: column {name!r} appears twice in the header; expected distinct column names")
        seen.add(name)
    return header


def _unreadable(path: Path, exc: BaseException) -> InputError:
    """csv.Error (a cell above the field limit), gzip's OSError/EOFError (not gzip, cut short) as one line."""
    how = "gzip" if path.name.lower().endswith(".gz") else "CSV/TSV"
    return InputError(f"{path}: cannot read as {how}: {getattr(exc, 'strerror', None) or exc}")


# ---- reading a training matrix and its labels (in memory: a matrix of tens of samples) ------------

def read_matrix(path) -> tuple[list[str], list[str], np.ndarray]:
    """(sample ids, gene names, float ndarray of shape (n_samples, n_genes)) of a samples × genes file
    whose first column is the sample id; log2, finite, no duplicate samples."""
    import numpy as np

    path = Path(path)
    kind, delim = input_kind(path, "EXPR")
    if not path.is_file():
        raise InputError(f"EXPR {path}: no such file")
    if kind == "parquet":
        ids, genes, X = _read_parquet_matrix(path)
    else:
        header = _csv_header(path, delim)
        try:
            with _open_text(path) as f:
                rows = [r for r in csv.reader(f, delimiter=delim) if r][1:]
        except UnicodeDecodeError:
            raise InputError(f"{path}: expected UTF-8 text; got undecodable bytes") from None
        except (csv.Error, OSError, EOFError) as exc:
            raise _unreadable(path, exc) from None
        for r in rows:
            if len(r) != len(header):
                raise InputError(f"{path}: sample {r[0]!r} has {len(r)} cells; expected {len(header)} (the header's)")
        ids, genes = [r[0] for r in rows], header[1:]
        try:
            X = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), len(genes))
        except ValueError:
            for r in rows:
                for gene, cell in zip(genes, r[1:]):
                    try:
                        float(cell)
                    except ValueError:
                        raise InputError(f"{path}: column {gene!r}: expected log2 expression numbers; got {cell!r} "
                                         f"for sample {r[0]!r}") from None
            raise
    if not genes:
        raise InputError(f"{path}: expected a sample id column and gene columns; got only {len(genes) + 1} column")
    if not ids:
        raise InputError(f"{path}: no samples; expected one row per sample")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{path}: column {genes[c]!r}: expected a finite log2 value for every sample; got {X[r, c]} "
                         f"(missing or not finite) for sample {ids[r]!r}")
    low = X < LOG2_FLOOR
    if low.any():
        r, c = np.argwhere(low)[0]
        raise InputError(f"{path}: column {genes[c]!r}: expected log2 expression values >= {LOG2_FLOOR}; got {X[r, c]:g} "
                         f"for sample {ids[r]!r}")
    high = X > RAW_COUNT_LOG2
    if high.any():
        c = int(np.argwhere(high)[0][1])
        raise InputError(f"{path}: column {genes[c]!r} has values up to {X[:, c].max():g}, above {RAW_COUNT_LOG2}: "
                         "these look like raw counts, not log2 expression; expected log2 values (transform counts "
                         "with log2(x + 1))")
    seen = set()
    for s in ids:
        if s in seen:
            raise InputError(f"{path}: sample id {s!r} appears more than once; expected one row per sample")
        seen.add(s)
    return ids, genes, X


def _read_parquet_matrix(path: Path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read Parquet: {str(exc).splitlines()[0]}") from None
    names = table.column_names
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{path}: column {dup!r} appears twice; expected distinct column names")
    ids = [str(v) for v in table.column(0).to_pylist()]
    cols = []
    for name in names[1:]:
        col = table.column(name)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
            raise InputError(f"{path}: column {name!r}: expected log2 expression numbers; got a column of {col.type}")
        cols.append(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
    X = np.column_stack(cols) if cols else np.empty((len(ids), 0))
    return ids, names[1:], np.asarray(X, dtype=float)


def two_column_rows(path: Path, what: str, cells: str) -> list[tuple[int, list[str]]]:
    """(line number, [first, second]) of each non-blank row of a two-column CSV/TSV (`what` names the
    argument in errors, `cells` the two columns)."""
    kind, delim = input_kind(path, what)
    if kind != "csv":
        raise InputError(f"{what} {path}: expected a two-column .csv or .tsv file; got Parquet")
    if not path.is_file():
        raise InputError(f"{what} {path}: no such file")
    try:
        with _open_text(path) as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f, delimiter=delim), 1) if any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise InputError(f"{path}: expected UTF-8 text; got undecodable bytes") from None
    except (csv.Error, OSError, EOFError) as exc:
        raise _unreadable(path, exc) from None
    for n, r in rows:
        if len(r) != 2 or not r[0].strip() or not r[1].strip():
            raise InputError(f"{path}: line {n}: expected two non-empty cells ({cells}); got {r!r}")
    return [(n, [r[0].strip(), r[1].strip()]) for n, r in rows]


def read_labels(path, ids: list[str], genes: list[str] | None = None, expr=None) -> list[str]:
    """The class of each sample of ``ids``, from a two-column CSV/TSV (sample, label; header optional).

    The first row is a header when its sample is not one of ``ids`` and its label is no other row's label.
    Samples are matched by id: a sample without a label, or a label for an unknown sample, is an error.
    """
    path = Path(path)
    rows = two_column_rows(path, "LABELS", "sample, label")
    known = set(ids)
    if rows and rows[0][1][0].strip() not in known and rows[0][1][1].strip() not in {r[1].strip() for _, r in rows[1:]}:
        rows = rows[1:]
    labels: dict[str, str] = {}
    for n, r in rows:
        sample, label = r[0].strip(), r[1].strip()
        if sample in labels:
            raise InputError(f"{path}: line {n}: sample {sample!r} is labelled twice; expected one label per sample")
        labels[sample] = label
    missing = [s for s in ids if s not in labels]
    extra = [s for s in labels if s not in known]
    where = f" of {expr}" if expr else ""
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no label for {len(missing)} sample(s){where}: {', '.join(missing[:5])}"
                         f"{', ...' if len(missing) > 5 else ''}")
        if extra:
            parts.append(f"{len(extra)} labelled sample(s) not in the expression file: {', '.join(extra[:5])}"
                         f"{', ...' if len(extra) > 5 else ''}")
        hint = ""
        if genes and len(missing) == len(ids) and sum(s in set(genes) for s in labels) > len(labels) / 2:
            hint = "; the labelled ids are the expression file's column names: expected samples as rows (samples × genes)"
        raise InputError(f"{path}: {'; '.join(parts)}{hint}")
    return [labels[s] for s in ids]


# ---- scoring a cohort -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreReport:
    cohort: str
    out: str
    format: str
    n_samples: int
    columns: dict[str, str]  # model gene -> cohort column
    incomplete: int  # samples with some of the model's genes missing (scored over the rest)
    calls: dict[str | None, int]  # None: no call (fewer than min_genes genes present)
    seconds: float


def output_kind(out) -> str:
    name = Path(out).name.lower()
    for ext, kind in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"), (".tsv", "tsv")):
        if name.endswith(ext):
            return kind
    raise InputError(f"--out {out}: expected a .parquet, .csv or .tsv file name; got {Path(out).suffix or 'no extension'!r}")


def _match(model_genes, columns: list[str]) -> tuple[dict[str, str], list[str]]:
    """Model gene -> cohort column (exact name, else the one column equal ignoring case), and the missing genes."""
    exact = set(columns)
    folded: dict[str, list[str]] = {}
    for c in columns:
        folded.setdefault(c.casefold(), []).append(c)
    found, missing = {}, []
    for g in model_genes:
        if g in exact:
            found[g] = g
        elif len(folded.get(g.casefold(), [])) == 1:
            found[g] = folded[g.casefold()][0]
        else:
            missing.append(g)
    return found, missing


def score_cohort(cohort, out, model, *, priors: str = "published", min_genes: int = MIN_GENES,
                 progress: Callable[[str, float], None] | None = None, memory_limit_mb: int | None = None) -> ScoreReport:
    """Score every sample of ``cohort`` (CSV, TSV or Parquet: sample id first, then gene columns) with
    ``model`` and write one row per sample to ``out`` (Parquet, CSV or TSV by extension): sample_id,
    delta_<class>..., posterior_<class>..., call, n_genes.

    ``progress(stage, fraction)`` is called about five times a second while DuckDB works, with stage
    "checking" (the one pass of checks) then "scoring" (computing and writing) and the fraction done (0-1).
    DuckDB's memory is capped (default_memory_mb: a quarter of physical memory, at least 1 GB); the duplicate-id check
    spills to a temporary directory beyond it, so memory stays flat as the cohort grows.
    """
    from kb.pam import cohort_sql

    started = time.perf_counter()
    cohort, out = Path(cohort), Path(out)
    kind, delim = input_kind(cohort)
    out_kind = output_kind(out)
    log_priors = [math.log(p) for p in model.prior_values(priors).values()]
    if not cohort.is_file():
        raise InputError(f"COHORT {cohort}: no such file")
    if out.exists() and out.resolve() == cohort.resolve():
        raise InputError(f"--out {out}: is the cohort file itself; expected another file")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    scratch = tempfile.mkdtemp(prefix="kb-score-")
    con = cohort_sql.scoring_connection(memory_limit_mb or default_memory_mb(), scratch)
    try:
        if kind == "csv":
            header = _csv_header(cohort, delim)
            params = {"path": str(cohort), "delim": delim, "columns": {name: "VARCHAR" for name in header}}
            types = dict.fromkeys(header, "VARCHAR")
        else:
            params = {"path": str(cohort)}
            types = dict(_duck(lambda: cohort_sql.cohort_columns(con, "parquet", params), cohort))
        names = list(types)
        if len(names) < 2:
            raise InputError(f"{cohort}: expected a sample id column and gene columns; got {len(names)} column(s)")
        id_column = names[0]
        found, missing = _match(model.genes, names[1:])
        if missing:
            hint = f" (the first column, {id_column!r}, is read as the sample id)" if id_column in model.genes else ""
            raise InputError(f"{cohort}: missing {len(missing)} of the model's {model.n_genes} gene columns: "
                             f"{', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}{hint}")
        genes = [(found[g], types[found[g]].startswith(_NUMERIC)) for g in model.genes]
        for column, numeric in genes:
            # TRY_CAST would read a BOOLEAN column as 1.0/0.0 and a DATE as NULL: only numbers and text are cells
            if not numeric and types[column] != "VARCHAR":
                raise InputError(f"{cohort}: column {column!r}: expected log2 expression numbers; got a column of "
                                 f"{types[column]}")
        reader = "csv" if kind == "csv" else "parquet"
        profile = while_duckdb_works(con, progress, "checking",
                                 lambda: _duck(lambda: cohort_sql.cohort_profile(con, reader, params, id_column, genes), cohort))
        _check(profile, cohort, con, reader, params, id_column, genes)
        rel = cohort_sql.cohort_scores(con, reader, params, id_column, genes, list(model.classes),
                                  model.shrunken_centroids.tolist(), model.sd.tolist(), log_priors,
                                  min(min_genes, model.n_genes), text_out=out_kind != "parquet")
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            while_duckdb_works(con, progress, "scoring", lambda: _duck(lambda: _write(rel, tmp, out_kind), cohort))
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
        calls, incomplete = cohort_sql.score_summary(con, str(out), out_kind, model.n_genes)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return ScoreReport(str(cohort), str(out), out_kind, profile["rows"], {g: c for g, (c, _) in zip(model.genes, genes)},
                       incomplete, calls, time.perf_counter() - started)


def default_memory_mb() -> int:
    """DuckDB's memory cap for scoring: a quarter of physical memory, at least 1 GB. A 256 MB cap made
    3,000,000 × 14 fail with "Out of Memory" in half the runs (issue 12); sorting and aggregates spill to
    the scratch directory beyond the cap, so it bounds memory without being the thing that fails."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        total = 4096
    return max(1024, total // 4)


def _duck(run, cohort):
    """Run a DuckDB step; a DuckDB error reading the cohort becomes a one-line InputError."""
    import duckdb

    try:
        return run()
    except duckdb.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = "; ".join(lines[:2])[:300]
        out_of_memory = "out of memory" in str(exc).lower()
    if out_of_memory:  # not the input's fault: say what happened
        raise KBError(f"{cohort}: DuckDB ran out of memory while scoring ({detail}); free memory and retry")
    raise InputError(f"{cohort}: cannot read the file: {detail}")


def _check(profile: dict, cohort, con, reader, params, id_column, genes) -> None:
    from kb.pam import cohort_sql

    if profile["rows"] == 0:
        raise InputError(f"{cohort}: empty cohort (no sample rows); expected one row per sample")
    if profile["ids"] < profile["rows"]:
        raise InputError(f"{cohort}: {profile['rows'] - profile['ids']} row(s) have no sample id (first column "
                         f"{id_column!r}); expected an id for every sample")
    for column, _ in genes:
        g = profile["genes"][column]
        if g["non_numeric"]:
            sample, cell = cohort_sql.cohort_non_numeric(con, reader, params, id_column, column)
            raise InputError(f"{cohort}: column {column!r} holds {g['non_numeric']} non-numeric value(s), e.g. {cell!r} "
                             f"for sample {sample!r}; expected log2 expression numbers (empty or NA for missing)")
    for column, _ in genes:
        lo, hi = profile["genes"][column]["min"], profile["genes"][column]["max"]
        if hi is not None and (math.isnan(hi) or math.isinf(hi) or math.isinf(lo)):
            raise InputError(f"{cohort}: column {column!r} holds NaN or infinite values; expected finite log2 "
                             "expression numbers (empty or NA for missing)")
    for column, _ in genes:
        lo, hi = profile["genes"][column]["min"], profile["genes"][column]["max"]
        if lo is not None and lo < LOG2_FLOOR:
            raise InputError(f"{cohort}: column {column!r} has values down to {lo:g}; expected log2 expression values "
                             f">= {LOG2_FLOOR}")
        if hi is not None and hi > RAW_COUNT_LOG2:
            raise InputError(f"{cohort}: column {column!r} has values up to {hi:g}, above {RAW_COUNT_LOG2}: these look "
                             "like raw counts, not log2 expression; expected log2 values (transform counts with "
                             "log2(x + 1))")
    if profile["distinct_ids"] < profile["ids"]:
        dup = cohort_sql.cohort_duplicate_id(con, reader, params, id_column)
        raise InputError(f"{cohort}: sample id {dup!r} appears more than once (first column {id_column!r}); "
                         "expected one row per sample")


def _write(rel, path: Path, kind: str) -> None:
    if kind == "parquet":
        rel.write_parquet(str(path))
    else:
        rel.write_csv(str(path), sep="\t" if kind == "tsv" else ",", header=True)


def score_path(cohort, out, *, model: str | None = None, priors: str = "published", db=None, con=None,
               progress: Callable[[str, float], None] | None = None, model_files: bool = True) -> dict:
    """The `kb score` payload: open the model (a model file or a knowledge-base model id, default the
    published one), score the cohort into ``out`` and report what was done."""
    from kb.pam.open import open_model

    if priors not in ("published", "equal"):
        raise InputError(f"--priors: expected published or equal; got {priors!r}")
    output_kind(out)
    pam, version = open_model(model, db=db, con=con, files=model_files)
    report = score_cohort(cohort, out, pam, priors=priors, progress=progress)
    return {"kb_version": version, "cohort": report.cohort, "out": report.out, "format": report.format,
            "model": {"id": pam.id, "name": pam.name, "kind": pam.kind, "source": pam.source,
                      "classes": list(pam.classes), "n_genes": pam.n_genes},
            "priors": priors, "priors_used": pam.prior_values(priors), "n_samples": report.n_samples,
            "columns": report.columns, "incomplete": report.incomplete,
            "min_genes": min(MIN_GENES, pam.n_genes),
            "calls": {("no call" if k is None else k): v for k, v in report.calls.items()},
            "seconds": round(report.seconds, 3)}


def posterior_counts(out, classes: list[str], bins: int = 50) -> tuple[list[float], list[str], list[list[int]]]:
    """(bin edges, classes shown, counts per class) of the posteriors in a score file written by
    `score_cohort`; with two classes only the first class's posterior (the other mirrors it)."""
    from kb.pam import cohort_sql

    shown = list(classes[:1]) if len(classes) == 2 else list(classes)
    import duckdb

    con = duckdb.connect()
    try:
        counts = cohort_sql.posterior_histogram(con, str(out), output_kind(out), [f"posterior_{c}" for c in shown], bins)
    finally:
        con.close()
    return [i / bins for i in range(bins + 1)], shown, counts
