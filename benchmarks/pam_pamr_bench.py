"""PAM against pamr itself, in the same run: a section of benchmarks/run.py (registered by pam_bench.py).

    python benchmarks/run.py pam-pamr

(d) pam-pamr: on a generated 100 × 20,000 matrix (60/40 classes, 50 informative genes), kb.pam and
    pamr 1.57 (through Rscript, on the same numbers read from the same CSV) time: the fit over 30
    thresholds, 10-fold CV with the same folds, FDR with 100 permutations (pamr.fdr; kb.pam replays
    pamr's permutations, so the tables must agree) and adaptive threshold scales (pamr.adaptthresh, 10
    tries). Each pamr time is one run (system.time, elapsed; R's start-up and reading excluded); each
    kb.pam time the median of 3. The results are compared before the times are printed.
    Without Rscript or pamr the section says that pamr was skipped and prints kb.pam's times alone.

pamr is GPL and not a dependency: install it into a private library (docs/pam.md) and point R_LIBS at it.
"""
from __future__ import annotations

import json
import os
import subprocess

import common as run

N, G, N_A = 100, 20_000, 60

R_SCRIPT = r"""
suppressPackageStartupMessages(library(pamr))
args <- commandArgs(trailingOnly = TRUE)
x <- t(as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE)))
y <- factor(read.csv(args[2])$label)
folds <- lapply(split(seq_along(y), read.csv(args[3])$fold), as.integer)
bench_data <<- list(x = x, y = y, geneid = rownames(x))
quiet <- function(e) { sink(nullfile()); on.exit(sink()); e }
elapsed <- function(e) unname(system.time(quiet(e))["elapsed"])
t_fit <- elapsed(fit <- pamr.train(bench_data))
t_cv <- elapsed(cv <- pamr.cv(fit, bench_data, folds = folds))
set.seed(7)
perms <- t(vapply(1:100, function(i) sample.int(length(y)), integer(length(y))))
set.seed(7)
t_fdr <- elapsed(f <- pamr.fdr(fit, bench_data, nperms = 100))
t_adapt <- elapsed(a <- pamr.adaptthresh(fit))
num <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ","), "]")
cat(sprintf('{"version": "%s", "fit": %.4f, "cv10": %.4f, "fdr100": %.4f, "adapt": %.4f, ',
            packageVersion("pamr"), t_fit, t_cv, t_fdr, t_adapt))
cat(sprintf('"cv_error": %s, "fdr_median": %s, "pi0": %.17g, "opt_scale": %s, ', num(cv$error),
            num(f$results[, 4]), f$pi0, num(a)))
cat(sprintf('"perms": [%s]}\n', paste(apply(perms, 1, function(r) num(r - 1)), collapse = ",")))
"""


@run.section("pam-pamr")
def pamr_bench() -> None:
    """(d) kb.pam and pamr on the same 100 × 20,000 data: fit, 10-fold CV, FDR (100 permutations), adaptthresh."""
    import numpy as np

    from kb.pam.adaptive import adaptive_threshold_scales
    from kb.pam.engine import NearestShrunkenCentroid, balanced_folds
    from kb.pam.fdr import fdr
    from pam_common import median as _median, pamr_available

    rng = np.random.default_rng(2002)
    y = np.array(["A"] * N_A + ["B"] * (N - N_A))
    X = np.round(rng.normal(6.0, 1.5, (N, G)), 6)
    X[N_A:, :50] += 1.0  # 50 informative genes
    folds = balanced_folds(y, 10, seed=1)
    expr, labels, fold_file = run.WORK / "x100.csv", run.WORK / "y100.csv", run.WORK / "f100.csv"
    with open(expr, "w") as f:
        f.write("sample," + ",".join(f"G{j:05d}" for j in range(G)) + "\n")
        for i, row in enumerate(X):
            f.write(f"S{i:03d}," + ",".join(repr(float(v)) for v in row) + "\n")
    labels.write_text("sample,label\n" + "".join(f"S{i:03d},{c}\n" for i, c in enumerate(y)))
    fold_of = np.empty(N, dtype=int)
    for k, fold in enumerate(folds, 1):
        fold_of[fold] = k
    fold_file.write_text("sample,fold\n" + "".join(f"S{i:03d},{k}\n" for i, k in enumerate(fold_of)))

    est = NearestShrunkenCentroid().fit(X, y)
    ours = {
        "fit": _median(lambda: NearestShrunkenCentroid().fit(X, y), 3),
        "cv10": _median(lambda: est.cross_validation(X, y, folds), 3),
        "fdr100": _median(lambda: fdr(est, X, y, n_perms=100, seed=7), 3),
        "adapt": _median(lambda: adaptive_threshold_scales(est, X, y), 3),
    }
    labels_of = {"fit": "fit, 30 thresholds (pamr.train)", "cv10": "10-fold CV, same folds (pamr.cv)",
                 "fdr100": "FDR, 100 permutations (pamr.fdr)", "adapt": "adaptive threshold scales (pamr.adaptthresh)"}
    print(f"(d) kb.pam against pamr on {N} samples × {G:,} genes ({N_A}/{N - N_A}), {os.cpu_count()} cores")
    why = pamr_available()
    if why is not None:
        print(f"  pamr skipped: {why}")
        for key, label in labels_of.items():
            print(f"  {label:<58} {ours[key]:10.3f} s")
        return
    script = run.WORK / "pamr_bench.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(["Rscript", str(script), str(expr), str(labels), str(fold_file)], capture_output=True,
                         text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # Same answers first: CV errors, FDR with pamr's own permutations, the adaptive scales.
    cv = est.cross_validation(X, y, folds)
    np.testing.assert_allclose(cv.errors, r["cv_error"], rtol=1e-12)
    f = fdr(est, X, y, permutations=np.array(r["perms"], dtype=np.intp))
    np.testing.assert_allclose(f.median_fdr, r["fdr_median"], rtol=1e-9)
    assert abs(f.pi0 - r["pi0"]) < 1e-12
    np.testing.assert_allclose(adaptive_threshold_scales(est, X, y).opt_scale, r["opt_scale"], rtol=1e-12)
    print(f"  same results as pamr {r['version']} (CV errors, FDR table with its permutations, opt.scale); "
          "baseline: pamr's time")
    for key, label in labels_of.items():
        run.report(label, ours[key], r[key], "s", f"<= 0.1x pamr ({r[key] / ours[key]:.0f}x faster)")
