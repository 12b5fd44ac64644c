"""A cohort that arrives as bytes (the HTTP API's `POST /v1/score`), scored by `kb.pam.cohort.score_path`.

The bytes go to a private temporary directory (DuckDB streams files, not buffers), are scored there and
removed; the answer is the `kb score` summary plus one row per sample, or the scores file's bytes.
Model ids name models of the knowledge base only, never files.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kb.core.errors import InputError

COHORT_KINDS = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet"}
OUTPUT_KINDS = {"json": ".parquet", "parquet": ".parquet", "csv": ".csv"}


def score_bytes(data: bytes, kind: str, *, con, model: str | None = None, priors: str = "published",
                output: str = "json", label: str = "body") -> tuple[dict, bytes | None]:
    """(summary, file bytes): for ``output`` json the summary carries ``rows`` (sample_id, delta and
    posterior per class, call, n_genes) and the bytes are None; for parquet or csv the bytes are the
    scores file `kb score --out` writes. ``kind`` is the cohort's format: csv, tsv or parquet."""
    from kb.pam.cohort import score_path

    if kind not in COHORT_KINDS:
        raise InputError(f"{label}: expected a cohort as one of {', '.join(COHORT_KINDS)}, got {kind!r}")
    if output not in OUTPUT_KINDS:
        raise InputError(f"output: expected one of {', '.join(OUTPUT_KINDS)}, got {output!r}")
    scratch = Path(tempfile.mkdtemp(prefix="kb-upload-"))
    try:
        cohort = scratch / f"cohort{COHORT_KINDS[kind]}"
        cohort.write_bytes(data)
        out = scratch / f"scores{OUTPUT_KINDS[output]}"
        try:
            payload = score_path(cohort, out, model=model, priors=priors, con=con, model_files=False)
        except InputError as exc:  # name the upload as the caller knows it, never the server's temporary path
            message = str(exc).replace(str(cohort), label).replace(str(out), "the scores file")
        else:
            message = None
        if message is not None:
            raise InputError(message)
        payload = {**payload, "cohort": label, "out": None, "format": output}
        if output != "json":
            return payload, out.read_bytes()
        payload["rows"] = _rows(out, payload["model"]["classes"])
        return payload, None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _rows(path: Path, classes: list[str]) -> list[dict]:
    import duckdb

    mem = duckdb.connect()
    try:
        cur = mem.execute("SELECT * FROM read_parquet(?)", [str(path)])
        names = [d[0] for d in cur.description]
        out = []
        for values in cur.fetchall():
            row = dict(zip(names, values))
            out.append({"sample_id": row["sample_id"],
                        "delta": {c: row[f"delta_{c}"] for c in classes},
                        "posterior": {c: row[f"posterior_{c}"] for c in classes},
                        "call": row["call"], "n_genes": row["n_genes"]})
        return out
    finally:
        mem.close()
