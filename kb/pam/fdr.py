"""False discovery rates of the genes a threshold keeps, by permuting the labels, as pamr's ``pamr.fdr``.

For each permutation of the labels the unshrunken standardised deviations d* are recomputed (with the
permuted classes' centroids and s_i, the model's s0, m_k and threshold scales); at each threshold the
number of genes with some |d*| above it is a null count. The FDR is the median (and 90th percentile)
null count over the number of genes the real labels keep, times pi0, the share of real d that fall
between the quartiles of all d*, capped at 1. pamr's sign contrast does not enter (it uses the
unshrunken d of both signs) but its threshold grid does.

pamr draws its permutations itself with ``sample(y)``; ``permutations=`` takes them (the fixtures
record them by replaying ``set.seed(s); sample(y)``), so the numbers are pamr's exactly. Otherwise
``seed`` seeds numpy's generator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.errors import InputError
from kb.pam.path import one_blas_thread

# float64 elements of one block of permuted statistics (permutations × classes × genes): 32 MB.
_BLOCK = 4_000_000
COLUMNS = ("threshold", "n_significant", "median_null", "median_fdr", "fdr_90")


@dataclass(frozen=True, eq=False)
class FDRResult:
    """pamr.fdr's table, one row per threshold (thresholds whose FDR is 0/0 are dropped, as in pamr).

    Attributes
    ----------
    thresholds : ndarray of shape (n_rows,)
    n_significant : ndarray of shape (n_rows,)
        Genes with some |d| above the threshold under the real labels.
    median_null : ndarray of shape (n_rows,)
        ``median_fdr × n_significant`` (pamr's "Median number of null genes").
    median_fdr, fdr_90 : ndarray of shape (n_rows,)
        pi0 × (median, 90th percentile) of the null counts / n_significant, capped at 1.
    pi0 : float
        Estimated share of null genes.
    permutations : ndarray of shape (n_perms, n_samples)
        0-based indices: permutation p labels sample i with ``y[permutations[p, i]]``.
    """

    thresholds: np.ndarray
    n_significant: np.ndarray
    median_null: np.ndarray
    median_fdr: np.ndarray
    fdr_90: np.ndarray
    pi0: float
    permutations: np.ndarray

    def rows(self) -> list[dict]:
        return [dict(zip(COLUMNS, (float(t), int(n), float(m), float(f), float(f9))))
                for t, n, m, f, f9 in zip(self.thresholds, self.n_significant, self.median_null, self.median_fdr,
                                          self.fdr_90)]


def draw_permutations(n: int, n_perms: int, seed: int = 0) -> np.ndarray:
    """``n_perms`` permutations of ``range(n)`` from ``numpy.random.default_rng(seed)``, shape (n_perms, n)."""
    if not isinstance(n_perms, (int, np.integer)) or isinstance(n_perms, bool) or n_perms < 1:
        raise InputError(f"n_perms must be an integer >= 1; got {n_perms!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be an integer >= 0; got {seed!r}")
    rng = np.random.default_rng(int(seed))
    return np.stack([rng.permutation(n) for _ in range(int(n_perms))])


def _check_permutations(permutations, n: int) -> np.ndarray:
    perms = np.asarray(permutations)
    if perms.ndim != 2 or perms.shape[1] != n or perms.shape[0] < 1 or not np.issubdtype(perms.dtype, np.integer):
        raise InputError(f"permutations must be integer arrays of shape (n_perms, {n}) (0-based sample indices); "
                         f"got shape {perms.shape} of {perms.dtype}")
    bad = np.flatnonzero((np.sort(perms, axis=1) != np.arange(n)).any(axis=1))
    if bad.size:
        raise InputError(f"permutation {int(bad[0])} is not a permutation of 0..{n - 1}; expected each sample once")
    return perms.astype(np.intp)


@one_blas_thread
def fdr(est, X, y, n_perms: int = 100, seed: int = 0, permutations=None) -> FDRResult:
    """pamr.fdr(fit, data, nperms) for a `NearestShrunkenCentroid` fitted on (X, y).

    Parameters
    ----------
    est : NearestShrunkenCentroid
    X : ndarray or DataFrame of shape (n_samples, n_genes)
    y : array-like of shape (n_samples,)
    n_perms : int
        Permutations to draw (ignored when ``permutations`` is given).
    seed : int
        Seed of numpy's generator for the permutations.
    permutations : array-like of shape (n_perms, n_samples), optional
        Explicit permutations (0-based): reproduce pamr's with the indices its ``sample(y)`` drew.

    Returns
    -------
    FDRResult
    """
    est._check_trained("an FDR estimate")
    arr = est._prepare(X)
    n, g = arr.shape
    codes = est._codes_of(y, n)
    perms = draw_permutations(n, n_perms, seed) if permutations is None else _check_permutations(permutations, n)
    K = est.classes_.size
    m = est._m
    # pamr: the unshrunken d of both signs, whatever the sign contrast.
    tt = (est.centroids_ - est.overall_centroid_) / est.sd_ / m[:, None]
    if est.hetero is None:
        null = _null_deviations(arr, codes, perms, K, m, est.s0_, est.scale_sd)
    else:
        h = [str(c) for c in est.classes_].index(str(est.hetero))
        null = _null_deviations_hetero(arr, codes, perms, K, m, est.s0_, est.scale_sd, h)
    grid = est.thresholds_
    nobs = np.array([np.count_nonzero((np.abs(tt) - t > 0).any(axis=0)) for t in grid])
    top = np.sort(np.abs(null).max(axis=1), axis=1)  # (n_perms, genes), ascending per permutation
    nnull = np.stack([g - np.searchsorted(row, grid, side="right") for row in top])  # genes with |d*| > t
    q1, q2 = _quantiles(null.ravel(), (0.25, 0.75))
    pi0 = min(np.count_nonzero((tt > q1) & (tt < q2)) / (0.5 * g * K), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        med = np.median(nnull, axis=0) / nobs * pi0
        f90 = np.quantile(nnull, 0.9, axis=0) / nobs * pi0
    med, f90 = np.minimum(med, 1.0), np.minimum(f90, 1.0)
    keep = ~np.isnan(med)
    return FDRResult(thresholds=grid[keep].copy(), n_significant=nobs[keep], median_null=(med * nobs)[keep],
                     median_fdr=med[keep], fdr_90=f90[keep], pi0=float(pi0), permutations=perms)


def _quantiles(values, probs):
    """R's default (type 7) quantiles of a large array with one partial sort for all of them."""
    n = values.size
    h = [(n - 1) * p for p in probs]
    lows = [int(np.floor(x)) for x in h]
    kth = sorted({k for lo in lows for k in (lo, min(lo + 1, n - 1))})
    part = np.partition(values, kth)
    return [part[lo] + (x - lo) * (part[min(lo + 1, n - 1)] - part[lo]) for x, lo in zip(h, lows)]


def _permuted_sd(s_i, s0, scale_sd):
    if not scale_sd:  # pamr stops with an error here (its fit has no offset); the model's own sd is 1
        return np.ones_like(s_i)
    # pamr refits with offset.percent = 50 and then swaps that offset for the model's: sd − s0* + s0.
    off = np.quantile(s_i, 0.5, axis=-1)[..., None]
    return (s_i + off) - off + s0


def _null_deviations(X, codes, perms, K, m, s0, scale_sd):
    """d* of every permutation, shape (n_perms, n_classes, n_genes), from class sums of centred values."""
    n, g = X.shape
    counts = np.bincount(codes, minlength=K).astype(float)
    # The overall centroid does not depend on the labels; about it the class sums are small.
    Xc = X - X.sum(axis=0) / n
    total = (Xc * Xc).sum(axis=0)
    column_sums = Xc.sum(axis=0)
    out = np.empty((perms.shape[0], K, g))
    step = max(1, _BLOCK // (K * g))
    for s in range(0, perms.shape[0], step):
        labels = codes[perms[s:s + step]]  # (P, n)
        P = labels.shape[0]
        # Class sums of the first K − 1 classes by one product; the last class has the rest.
        indicator = (labels[:, None, :] == np.arange(K - 1)[None, :, None]).reshape(P * (K - 1), n).astype(float)
        sums = np.empty((P, K, g))
        sums[:, :K - 1] = (indicator @ Xc).reshape(P, K - 1, g)
        sums[:, K - 1] = column_sums - sums[:, :K - 1].sum(axis=1)
        dev = sums / counts[None, :, None]  # class centroid − overall
        within = total - np.einsum("pkg,pkg,k->pg", dev, dev, counts)
        s_i = np.sqrt(np.maximum(within, 0.0) / (n - K))
        out[s:s + P] = dev / _permuted_sd(s_i, s0, scale_sd)[:, None, :] / m[None, :, None]
    return out


def _null_deviations_hetero(X, codes, perms, K, m, s0, scale_sd, hetero):
    """d* with pamr's hetero transform, which depends on the permuted labels: one refit per permutation."""
    n, g = X.shape
    out = np.empty((perms.shape[0], K, g))
    for p, perm in enumerate(perms):
        labels = codes[perm]
        A = np.abs(X - X[labels == hetero].sum(axis=0) / np.count_nonzero(labels == hetero))
        counts = np.bincount(labels, minlength=K)
        cent = np.stack([A[labels == k].sum(axis=0) / counts[k] for k in range(K)])
        resid = A - cent[labels]
        s_i = np.sqrt((resid * resid).sum(axis=0) / (n - K))
        out[p] = (cent - A.sum(axis=0) / n) / _permuted_sd(s_i, s0, scale_sd) / m[:, None]
    return out


def fdr_files(expr, labels, *, n_perms: int = 100, seed: int = 0, sign_contrast: str = "both") -> dict:
    """The `kb pam fdr EXPR LABELS` payload: pamr's fit (30 thresholds) of the files, then its FDR table."""
    from kb.pam.cohort import read_labels, read_matrix
    from kb.pam.engine import NearestShrunkenCentroid

    ids, genes, X = read_matrix(expr)
    y = read_labels(labels, ids, genes, expr)
    est = NearestShrunkenCentroid(sign_contrast=sign_contrast).fit(X, y)
    result = fdr(est, X, y, n_perms=n_perms, seed=seed)
    return {"expr": str(expr), "labels": str(labels), "n_samples": len(ids), "n_genes": len(genes),
            "classes": [str(c) for c in est.classes_], "n_per_class": dict(zip(map(str, est.classes_),
                                                                             map(int, est.n_per_class_))),
            "sign_contrast": sign_contrast, "perms": int(n_perms), "seed": int(seed), "pi0": result.pi0,
            "rows": result.rows()}
