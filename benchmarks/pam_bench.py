"""PAM benchmarks, registered as sections of benchmarks/run.py (which imports this module):

    python benchmarks/run.py pam-score pam-train pam-throughput

(a) pam-score: `kb score` of a generated 1,000,000-sample × 14-gene Parquet cohort against a DuckDB copy
    of the same file (read + write Parquet) in the same run; peak memory at 100,000 and 1,000,000 samples.
(b) pam-train: fit + leave-one-out CV over the 30-threshold grid on a generated 31 × 20,000 matrix
    (22/9 classes), against a naive refit-per-fold loop, and against pamr itself (Rscript, the same CSV)
    when R and pamr are installed; otherwise it says pamr was skipped.
(c) pam-throughput: in-process scoring throughput, NearestShrunkenCentroid.predict_proba on a numpy batch
    and the DuckDB path, in samples per second.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import common as run  # the shared registry, scratch directory and report line
from pam_common import median as _median, pamr_available

PAMR_LOOCV = r"""
suppressPackageStartupMessages(library(pamr))
args <- commandArgs(trailingOnly = TRUE)
x <- t(as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE)))
d <- list(x = x, y = factor(read.csv(args[2])$label))
quiet <- function(e) { sink(nullfile()); on.exit(sink()); e }
t <- system.time(quiet({fit <- pamr.train(d); cv <- pamr.cv(fit, d, folds = as.list(seq_len(ncol(x))))}))
cat(sprintf('{"seconds": %.4f, "error": [%s]}\n', t["elapsed"], paste(sprintf("%.17g", cv$error), collapse = ",")))
"""


def _published():
    from kb.query.database import connect
    from kb.pam.model import load_published

    con = connect(run.seeds_db())
    try:
        return load_published(con)
    finally:
        con.close()


def _cohort(model, n: int, path: Path) -> Path:
    """n profiles drawn around the class centroids (class by the published priors), as Parquet, made by DuckDB."""
    import duckdb

    if path.exists():
        return path
    cr, nr = model.shrunken_centroids.tolist()
    p_cr = model.prior_values()["CR"]
    cols = ", ".join(
        f"CASE WHEN u < {p_cr!r} THEN {c!r} ELSE {d!r} END + {s!r} * (random() + random() + random() - 1.5) * 2 "
        f"AS \"{g}\"" for g, c, d, s in zip(model.genes, cr, nr, model.sd.tolist()))
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 'S' || lpad(i::VARCHAR, 7, '0') AS sample_id, {cols} "
                f"FROM (SELECT i, random() AS u FROM range({int(n)}) t(i))) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def _peak_rss_mb(cmd: list[str], env: dict) -> float:
    """Peak resident memory of a command (its own children accounting, via a wrapper process)."""
    code = ("import resource, subprocess, sys\n"
            f"subprocess.run({cmd!r}, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.strip()) / 1024


@run.section("pam-score")
def score_cohort_bench() -> None:
    """(a) kb score on 1,000,000 samples × 14 genes against a DuckDB Parquet copy of the same file."""
    import duckdb

    from kb.pam.cohort import score_cohort

    model = _published()
    cohort = _cohort(model, 1_000_000, run.WORK / "cohort-1m.parquet")
    out = run.WORK / "scores.parquet"
    copy = run.WORK / "copy.parquet"
    con = duckdb.connect()

    def baseline():
        con.execute("COPY (SELECT * FROM read_parquet($p)) TO '" + str(copy) + "' (FORMAT parquet)", {"p": str(cohort)})

    score_cohort(cohort, out, model)  # warm the file cache for both
    baseline()
    base = _median(baseline, 5)
    value = _median(lambda: score_cohort(cohort, out, model), 5)
    print(f"(a) kb score, 1,000,000 samples × 14 genes (Parquet in, Parquet out), median of 5, {os.cpu_count()} cores")
    run.report("score_cohort (checks + δ/posteriors in SQL + write)", value, base, "s", "<= 2x a DuckDB copy")
    rows = con.execute("SELECT call, count(*) FROM read_parquet($p) GROUP BY 1 ORDER BY 1", {"p": str(out)}).fetchall()
    print(f"  calls: {dict(rows)}")
    kb = str(Path(sys.executable).with_name("kb"))
    env = dict(os.environ, KB_DB=str(run.seeds_db()))
    cli = [kb, "score", str(cohort), "--out", str(out), "--format", "json"]
    copy_cli = [sys.executable, "-c", f"import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_parquet('{cohort}')) "
                                      f"TO '{copy}' (FORMAT parquet)\")"]
    run.report("`kb score` command, end to end (process start, DB open)", run.timed_runs(cli, 3, env),
               run.timed_runs(copy_cli, 3, env), "s", "<= 2x a DuckDB copy")
    peaks = []
    for n in (100_000, 1_000_000, 3_000_000, 10_000_000):  # issue 12: peak RSS reported up to 10M
        path = _cohort(model, n, run.WORK / f"cohort-{n}.parquet") if n != 1_000_000 else cohort
        peaks.append((n, _peak_rss_mb([kb, "score", str(path), "--out", str(out)], env),
                      _peak_rss_mb(copy_cli[:2] + [copy_cli[2].replace(str(cohort), str(path))], env)))
    print("  peak memory (RSS), `kb score` vs the DuckDB copy: "
          + "; ".join(f"{n:,} samples {a:.0f} MB vs {b:.0f} MB" for n, a, b in peaks))
    con.close()


@run.section("pam-train")
def train_bench() -> None:
    """(b) fit + leave-one-out CV at every threshold on 31 × 20,000 (22 CR / 9 NR)."""
    import numpy as np

    from kb.pam.engine import NearestShrunkenCentroid, choose_threshold, leave_one_out_folds

    rng = np.random.default_rng(2022)
    y = np.array(["CR"] * 22 + ["NR"] * 9)
    X = rng.normal(6.0, 1.5, (31, 20_000))
    X[22:, :40] += rng.normal(2.0, 0.3, 40)  # 40 informative genes
    X = np.round(X, 4)  # the numbers of the CSV that the command and pamr read

    def fast():
        model = NearestShrunkenCentroid().fit(X, y)
        errors = model.cross_validate(X, y, leave_one_out_folds(31))
        return choose_threshold(errors, model.thresholds_)

    def naive():
        """pamr's nsccv as a loop: refit centroids, s_i and s0 per fold, predict at every threshold."""
        model = NearestShrunkenCentroid().fit(X, y)
        codes = np.searchsorted(model.classes_, y)
        m = model.se_scale_[:, None]
        wrong = np.zeros(model.thresholds_.size)
        for i in range(31):
            train = np.arange(31) != i
            Xt, ct = X[train], codes[train]
            cent = np.stack([Xt[ct == k].mean(axis=0) for k in range(2)])
            s = np.sqrt(((Xt - cent[ct]) ** 2).sum(axis=0) / (30 - 2))
            sd = s + np.median(s)
            overall = Xt.mean(axis=0)
            d = (cent - overall) / sd / m
            for j, t in enumerate(model.thresholds_):
                shrunk = overall + np.sign(d) * np.maximum(np.abs(d) - t, 0) * m * sd
                delta = (((X[i] - shrunk) / sd) ** 2).sum(axis=1) - 2 * np.log(model.priors_)
                wrong[j] += delta.argmin() != codes[i]
        return choose_threshold(wrong / 31, model.thresholds_)

    assert fast() == naive()
    value, base = _median(fast, 7), _median(naive, 3)
    print("(b) fit + leave-one-out CV over 30 thresholds, 31 samples × 20,000 genes, median")
    run.report("NearestShrunkenCentroid fit + LOOCV + choose_threshold", value, base, "s", "< 0.4 s")
    expr, labels = run.WORK / "x31.csv", run.WORK / "y31.csv"
    with open(expr, "w") as f:
        f.write("sample," + ",".join(f"G{j:05d}" for j in range(X.shape[1])) + "\n")
        for i, row in enumerate(X):
            f.write(f"S{i:02d}," + ",".join(f"{v:.4f}" for v in row) + "\n")
    labels.write_text("sample,label\n" + "".join(f"S{i:02d},{c}\n" for i, c in enumerate(y)))
    why = pamr_available()
    if why is None:
        script = run.WORK / "pamr_loocv.R"
        script.write_text(PAMR_LOOCV)
        r = json.loads(subprocess.run(["Rscript", str(script), str(expr), str(labels)], capture_output=True,
                                      text=True, check=True).stdout.strip().splitlines()[-1])
        model = NearestShrunkenCentroid().fit(X, y)
        np.testing.assert_allclose(model.cross_validate(X, y, leave_one_out_folds(31)), r["error"], rtol=1e-12)
        run.report("the same, against pamr 1.57 (pamr.train + pamr.cv, one run)", value, r["seconds"], "s",
                   f"<= 0.1x pamr ({r['seconds'] / value:.0f}x faster; same CV errors)")
    else:
        print(f"  pamr skipped: {why}")
    # End to end: the command reads the CSV, trains, cross-validates and writes the model file.
    kb = str(Path(sys.executable).with_name("kb"))
    cmd = [kb, "pam", "train", str(expr), str(labels), "--out", str(run.WORK / "m31.json"), "--format", "json"]
    read = [sys.executable, "-c", f"import pandas; pandas.read_csv({str(expr)!r}, index_col=0)"]
    run.report("`kb pam train` command on the 31 × 20,000 CSV, end to end", run.timed_runs(cmd, 3),
               run.timed_runs(read, 3), "s", "(baseline: pandas.read_csv of the file)")
    kept = json.loads((run.WORK / "m31.json").read_text())
    print(f"  chosen threshold {kept['threshold']:.3f}, {len(kept['genes'])} genes kept")


@run.section("pam-throughput")
def throughput_bench() -> None:
    """(c) samples scored per second, in process: numpy batch and the DuckDB path."""
    import numpy as np

    from kb.pam.cohort import score_cohort

    model = _published()
    n = 1_000_000
    rng = np.random.default_rng(0)
    X = model.shrunken_centroids[rng.integers(0, 2, n)] + rng.normal(0, 1, (n, 14)) * model.sd
    C, sd, logp = model.shrunken_centroids, model.sd, np.log(list(model.prior_values().values()))

    def bare():  # the arithmetic alone, no validation: δ, then softmax
        d = (((X[:, None, :] - C) / sd) ** 2).sum(axis=2) - 2 * logp
        e = np.exp(-(d - d.min(axis=1, keepdims=True)) / 2)
        return e / e.sum(axis=1, keepdims=True)

    model.predict_proba(X[:10])
    numpy_s, bare_s = _median(lambda: model.predict_proba(X), 5), _median(bare, 5)
    cohort = _cohort(model, n, run.WORK / "cohort-1m.parquet")
    duck_s = _median(lambda: score_cohort(cohort, run.WORK / "scores.parquet", model), 3)
    print(f"(c) scoring throughput, {n:,} samples × 14 genes, median")
    run.report("PamModel.predict_proba (numpy), million samples/s", n / numpy_s / 1e6, n / bare_s / 1e6, "M/s",
               "(baseline: bare numpy δ + softmax)")
    run.report("score_cohort (DuckDB, Parquet to Parquet), million samples/s", n / duck_s / 1e6, n / numpy_s / 1e6,
               "M/s", "(baseline: the numpy path, in memory)")


import pam_pamr_bench  # noqa: E402,F401  (registers the pam-pamr section)
