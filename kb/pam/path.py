"""pamr's discriminant at every threshold of a grid at once, and the centroid conventions it depends on.

A gene contributes to the linear discriminant only while |d| > threshold, and its contribution is a
quadratic in the threshold.  Binning genes by how many thresholds they survive and taking suffix sums of
the quadratic's coefficients gives the discriminant at all thresholds in one pass over the genes.
"""
from __future__ import annotations

import numpy as np

from kb.core.errors import InputError

SIGN_CONTRASTS = ("both", "positive", "negative")

# Elements of the largest (samples × classes × genes) temporary: 2 MB of float64.  Small blocks stay
# in cache and in malloc's heap; 10 MB ones are page-faulted in afresh on every operation.
_CHUNK_ELEMENTS = 250_000


def one_blas_thread(func):
    """Run ``func`` with BLAS on one thread (threadpoolctl). Fitting, CV, adaptive scales and FDR do matrix
    products of a few hundred million multiply-adds: big enough for OpenBLAS to use every core, too small
    to gain from it, and on a shared machine its threads' busy-waiting made them 5-10x slower than one
    thread (0.63 s against 0.09 s for 100 × 20,000 by 20,000 × 124 under load)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


def sign_contrast_mask(d, sign_contrast):
    """pamr's ``sign.contrast``: keep the deviations of d of one sign only ("both" keeps all).

    Parameters
    ----------
    d : ndarray of shape (..., n_classes, n_genes)
        Standardised centroid deviations.
    sign_contrast : {"both", "positive", "negative"}

    Returns
    -------
    ndarray of the shape of d (d itself for "both")
    """
    if sign_contrast == "both":
        return d
    if sign_contrast == "positive":
        return d * (d > 0)
    if sign_contrast == "negative":
        return d * (d < 0)
    raise InputError(f"sign_contrast must be one of {', '.join(SIGN_CONTRASTS)}; got {sign_contrast!r}")


def _any_order(scores):
    """Let a path function take a grid in any order (pamr takes explicit grids as given): it is computed
    on the sorted grid and returned in the given order."""
    import functools

    @functools.wraps(scores)
    def wrapper(z, d, se_scale, thresholds, log_prior):
        order = np.argsort(thresholds, kind="stable")
        if not (np.diff(order) != 1).any():
            return scores(z, d, se_scale, thresholds, log_prior)
        out = np.empty(z.shape[:1] + se_scale.shape + thresholds.shape)
        out[..., order] = scores(z, d, se_scale, thresholds[order], log_prior)
        return out
    return wrapper


@_any_order
def path_scores(z, d, se_scale, thresholds, log_prior):
    """Linear discriminant at every threshold of soft-thresholded standardised centroids.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_genes)
        (x − overall) / sd.
    d : ndarray of shape (n_samples, n_classes, n_genes) or (n_classes, n_genes)
        Unshrunken d_ik (per sample when each sample has its own fitted model).
    se_scale, log_prior : ndarray of shape (n_classes,)
        ``se_scale`` is the factor m_k of the shrinkage, c = sign(d)(|d| − t)·m_k: pamr's
        ``threshold.scale × se.scale``.
    thresholds : ndarray of shape (n_thresholds,)
        Any order (pamr takes explicit grids as given); computed on the sorted grid.

    Returns
    -------
    ndarray of shape (n_samples, n_classes, n_thresholds)
    """
    S = z.shape[0]
    K, T = se_scale.size, thresholds.size
    m = se_scale[:, None]
    md = np.broadcast_to(d * m, (S,) + d.shape[-2:])
    # Bins from |d| itself (not |md|/m), so survival is exactly pamr's |d| − t > 0; computed once
    # when all samples share one model.
    idx = (np.arange(S * K) * (T + 1)).reshape(S, K, 1) + _count_below(np.abs(d), thresholds)
    idx = idx.ravel()
    zb = z[:, None, :]
    # Gene term while |d| > t: z·c − c²/2 with c = sign(d)(|d| − t)m, a quadratic α + βt − (m²/2)t²:
    # α = md(z − md/2), β = sign(d)·m·(md − z).
    alpha = md * 0.5
    np.subtract(zb, alpha, out=alpha)
    alpha *= md
    beta = md - zb
    beta *= m
    beta *= np.sign(md)
    size = S * K * (T + 1)
    n_in = _suffix(np.bincount(idx, minlength=size), S, K, T)
    a = _suffix(np.bincount(idx, weights=alpha.ravel(), minlength=size), S, K, T)
    b = _suffix(np.bincount(idx, weights=beta.ravel(), minlength=size), S, K, T)
    t = thresholds[None, None, :]
    return a + t * b - (0.5 * se_scale**2)[None, :, None] * (t * t * n_in) + log_prior[None, :, None]


@_any_order
def shared_path_scores(z, d, se_scale, thresholds, log_prior):
    """:func:`path_scores` for samples that share one model (training predictions): the per-bin sums
    of the quadratic's sample-dependent coefficients are one matrix product per class.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_genes)
    d : ndarray of shape (n_classes, n_genes)
    se_scale, log_prior : ndarray of shape (n_classes,)
    thresholds : ndarray of shape (n_thresholds,)

    Returns
    -------
    ndarray of shape (n_samples, n_classes, n_thresholds)
    """
    g = z.shape[1]
    K, T = se_scale.size, thresholds.size
    B = T + 1
    bins = _count_below(np.abs(d), thresholds)  # gene i of class k enters at thresholds j < bins[k, i]
    md = d * se_scale[:, None]
    idx = (np.arange(K)[:, None] * B + bins).ravel()
    const_a = np.bincount(idx, weights=(-0.5 * md * md).ravel(), minlength=K * B).reshape(K, B)
    const_b = np.bincount(idx, weights=(se_scale[:, None] * np.abs(md)).ravel(), minlength=K * B).reshape(K, B)
    n_in = _suffix(np.bincount(idx, minlength=K * B), 1, K, T)[0]
    genes = np.arange(g)
    a = np.empty((z.shape[0], K, B))
    beta = np.empty((z.shape[0], K, B))
    for k in range(K):
        # α = md·z − md²/2 and β = m·|md| − m·sign(md)·z summed by bin: the z terms are z @ W (bin 0,
        # genes that never enter, falls out of the suffix sums below).
        W = np.zeros((g, 2 * B))
        W[genes, bins[k]] = md[k]
        W[genes, B + bins[k]] = -se_scale[k] * np.sign(md[k])
        zw = z @ W
        a[:, k] = zw[:, :B] + const_a[k]
        beta[:, k] = zw[:, B:] + const_b[k]
    a, beta = _suffix(a.ravel(), z.shape[0], K, T), _suffix(beta.ravel(), z.shape[0], K, T)
    t = thresholds[None, None, :]
    return a + t * beta - (0.5 * se_scale**2)[None, :, None] * (t * t * n_in) + log_prior[None, :, None]


def _count_below(u, thresholds):
    """Exact number of thresholds strictly below each value of u (genes survive those thresholds).

    searchsorted is the slowest step of leave-one-out on 20,000 genes; on a uniform grid an
    estimate from u/h is off by at most one and two lookups correct it exactly.
    """
    T = thresholds.size
    h = thresholds[1] if T > 2 else 0.0
    uniform = (T > 2 and h > 0 and np.isfinite(1.0 / h) and thresholds[0] == 0
               and np.allclose(thresholds, np.arange(T) * h, rtol=1e-12, atol=0))
    if not uniform:
        return np.searchsorted(thresholds, u, side="left")
    c = u * (1.0 / h)
    np.minimum(c, T - 1, out=c)  # before the cast, so huge ratios cannot overflow
    c = c.astype(np.intp)  # floor, as u >= 0
    c += 1
    ext = np.append(thresholds, np.inf)
    c -= np.take(ext, c - 1, mode="clip") >= u  # "clip" skips bounds checks; indices are in range
    c += np.take(ext, c, mode="clip") < u
    return c


def _suffix(binned, rows, K, T):
    """Sum over bins b > j for each threshold j: (rows·K·(T+1),) -> (rows, K, T)."""
    binned = binned.reshape(rows, K, T + 1)
    tail = np.cumsum(binned[..., ::-1], axis=-1)[..., ::-1]
    return tail[..., 1:]
