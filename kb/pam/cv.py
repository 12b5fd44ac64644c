"""Cross-validation of nearest shrunken centroids, vectorised over folds (pamr 1.57 ``nsccv`` semantics).

pamr refits every fold from scratch: class centroids, pooled within-class sd s_i and the offset s0
come from the training part, while the threshold grid, the priors and m_k (``se.scale``) come from
the model fitted on all samples.  Refitting in a loop costs n_folds × n_thresholds passes over a
(class × gene) matrix, too slow for leave-one-out on 20,000 genes.  Here instead:

* the fold statistics are *downdates* of the full-data ones: removing the held-out samples of class k
  subtracts their residual sum and sum of squares, so every fold's centroids and s_i come from a
  few segment sums over all folds at once (residuals are centred per class, so the downdate does not
  cancel catastrophically the way ``Σx² − (Σx)²/n`` would);
* a gene contributes to the linear discriminant only while |d| > threshold, and its contribution
  is a quadratic in the threshold.  Binning genes by how many thresholds they survive and taking
  suffix sums of the quadratic's coefficients gives the discriminant at all thresholds in one pass.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kb.core.errors import InputError

# Elements of the largest (samples × classes × genes) temporary: 2 MB of float64.  Small blocks stay
# in cache and in malloc's heap; 10 MB ones are page-faulted in afresh on every operation.
_CHUNK_ELEMENTS = 250_000


def leave_one_out_folds(n: int) -> list[np.ndarray]:
    """Folds for leave-one-out cross-validation.

    Parameters
    ----------
    n : int
        Number of samples.

    Returns
    -------
    list of ndarray, each of shape (1,)
        ``[array([0]), array([1]), ..., array([n - 1])]``.
    """
    if int(n) != n or n < 2:
        raise InputError(f"leave-one-out needs an integer number of samples >= 2; got {n!r}")
    return [np.array([i]) for i in range(int(n))]


def balanced_folds(y, n_folds: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """Random folds in which every class is spread as evenly as possible (like pamr's balanced.folds).

    Each class is shuffled and dealt round-robin over the folds, the dealing continuing from the
    fold where the previous class stopped so fold sizes differ by at most one.  pamr draws its folds
    with R's random generator, so its exact folds cannot be reproduced; these are deterministic
    for a given ``seed``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_folds : int, optional
        Number of folds; default ``min(smallest class size, 10)`` as in pamr.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    list of ndarray
        ``n_folds`` sorted arrays of 0-based sample indices that partition ``range(n_samples)``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size < 2:
        raise InputError(f"y must be a 1-D sequence of at least 2 labels; got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    sizes = np.bincount(codes)
    if n_folds is None:
        n_folds = int(min(sizes.min(), 10))
    if int(n_folds) != n_folds or not 2 <= n_folds <= y.size:
        raise InputError(f"n_folds must be an integer from 2 to {y.size} (the number of samples); got {n_folds!r}")
    rng = np.random.default_rng(seed)
    assignment = np.empty(y.size, dtype=np.intp)
    start = 0
    for k in range(classes.size):
        members = rng.permutation(np.flatnonzero(codes == k))
        assignment[members] = (start + np.arange(members.size)) % n_folds
        start = (start + members.size) % n_folds
    return [np.flatnonzero(assignment == f) for f in range(int(n_folds))]


def choose_threshold(errors, thresholds) -> float:
    """The threshold with the lowest cross-validated error; ties go to the larger threshold (fewer genes).

    Parameters
    ----------
    errors : array-like of shape (n_thresholds,)
        Error rate at each threshold.
    thresholds : array-like of shape (n_thresholds,)
        The threshold values.

    Returns
    -------
    float
    """
    errors = np.asarray(errors, dtype=float)
    thresholds = np.asarray(thresholds, dtype=float)
    if errors.ndim != 1 or errors.shape != thresholds.shape or errors.size == 0:
        raise InputError(f"errors and thresholds must be 1-D of the same non-zero length; "
                         f"got shapes {errors.shape} and {thresholds.shape}")
    if not (np.isfinite(errors).all() and np.isfinite(thresholds).all()):
        raise InputError("errors and thresholds must be finite numbers; got NaN or infinity")
    best = errors == errors.min()
    return float(thresholds[best].max())


def check_folds(folds: Sequence, n: int) -> list[np.ndarray]:
    """Validate that ``folds`` partition ``range(n)``; return them as integer arrays."""
    out = []
    seen = np.zeros(n, dtype=int)
    for f, fold in enumerate(folds):
        idx = np.asarray(fold)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise InputError(f"fold {f} must be a non-empty 1-D array of 0-based integer sample indices; "
                             f"got {fold!r}")
        if idx.min() < 0 or idx.max() >= n:
            bad = int(idx.max() if idx.max() >= n else idx.min())
            raise InputError(f"fold {f} has sample index {bad}; expected 0 to {n - 1}")
        np.add.at(seen, idx, 1)
        out.append(idx.astype(np.intp))
    if len(out) < 2 or (seen != 1).any():
        bad = np.flatnonzero(seen != 1)
        raise InputError(
            f"folds must be at least 2 disjoint index arrays covering every sample exactly once; got {len(out)} "
            f"folds, with sample(s) {bad[:5].tolist()} covered {seen[bad[:5]].tolist()} times"
        )
    return out


def cv_linear_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, classes=None):
    """pamr's linear discriminant for every sample while held out, at every threshold.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_genes)
    codes : ndarray of shape (n_samples,)
        Class index of each sample, 0 to n_classes - 1.
    folds : list of ndarray
        Partition of the samples (validated with :func:`check_folds`).
    thresholds : ndarray of shape (n_thresholds,)
        Ascending full-data threshold grid.
    se_scale : ndarray of shape (n_classes,)
        Full-data m_k.
    log_prior : ndarray of shape (n_classes,)
    offset_percent : float
    classes : sequence, optional
        Class labels, only for error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_classes, n_thresholds)
        ``z·c_k − |c_k|²/2 + log π_k`` with z and c_k standardised by the fold's overall centroid
        and sd; equal to ``−δ_k / 2`` up to a per-sample constant.
    """
    n, g = X.shape
    K, T = se_scale.size, thresholds.size
    counts = np.bincount(codes, minlength=K)
    centroids = np.stack([X[codes == k].sum(axis=0) / counts[k] for k in range(K)])
    resid = X - centroids[codes]
    resid2 = resid * resid
    within = resid2.sum(axis=0)
    overall = X.sum(axis=0) / n
    dev = X - overall
    spread = centroids - overall
    out = np.empty((n, K, T))

    chunk_start = 0
    for chunk in _chunks(folds, K * g):
        F = len(chunk)
        test = np.concatenate(chunk)
        fold_of = np.repeat(np.arange(F), [f.size for f in chunk])
        # Held-out samples by (fold, class) cell.  Segment sums (reduceat) rather than products with
        # an indicator matrix: multithreaded BLAS on such thin products spins and is slow under load.
        cell = fold_of * K + codes[test]
        n_fk = counts - np.bincount(cell, minlength=F * K).reshape(F, K)
        if (n_fk < 1).any():
            f, k = np.argwhere(n_fk < 1)[0]
            label = classes[k] if classes is not None else k
            raise InputError(f"fold {chunk_start + f} holds out every sample of class {label!r}; expected every "
                             "class to keep a training sample in every fold")
        n_f = n_fk.sum(axis=1)
        if (n_f <= K).any():
            raise InputError(f"a fold leaves {int(n_f.min())} training samples; expected more than {K} "
                             "(the number of classes)")
        fold_starts = np.concatenate([[0], np.cumsum([f.size for f in chunk])[:-1]])
        order = np.argsort(cell, kind="stable")
        cells, cell_starts = np.unique(cell[order], return_index=True)
        # Residuals about the full-data class centroids sum to 0 within a class, so those left in
        # training sum to −held; their mean is −held/n_fk and their SS about it is
        # SS − Σ_held r² − held²/n_fk.  Centred residuals keep this from cancelling badly.
        held = np.zeros((F * K, g))
        held[cells] = np.add.reduceat(resid[test[order]], cell_starts, axis=0)
        held = held.reshape(F, K, g)
        held /= n_fk[..., None]  # now −(mean training residual)
        ss = within - np.add.reduceat(resid2[test], fold_starts, axis=0)
        ss -= np.einsum("fkg,fkg,fk->fg", held, held, n_fk)
        s_i = np.sqrt(np.maximum(ss, 0.0) / (n_f - K)[:, None])
        sd = s_i + np.quantile(s_i, offset_percent / 100.0, axis=1)[:, None]
        if not (sd > 0).all():
            f = int(np.argwhere(~(sd > 0))[0, 0])
            raise InputError(f"the training part of fold {chunk_start + f} has genes with zero spread and a zero "
                             "offset s0; expected variable genes: remove constant genes or raise offset_percent")
        shift = np.add.reduceat(dev[test], fold_starts, axis=0) / n_f[:, None]  # overall_f = overall − shift
        d = spread - held  # training centroid − overall; the shift below makes it − training overall
        d += shift[:, None, :]
        d /= sd[:, None, :]
        d /= se_scale[None, :, None]
        if F != test.size:
            d = d[fold_of]
        z = (X[test] - overall + shift[fold_of]) / sd[fold_of]
        out[test] = path_scores(z, d, se_scale, thresholds, log_prior)
        chunk_start += F
    return out


def path_scores(z, d, se_scale, thresholds, log_prior):
    """Linear discriminant at every threshold of soft-thresholded standardised centroids.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_genes)
        (x − overall) / sd.
    d : ndarray of shape (n_samples, n_classes, n_genes) or (n_classes, n_genes)
        Unshrunken d_ik (per sample when each sample has its own fitted model).
    se_scale, log_prior : ndarray of shape (n_classes,)
    thresholds : ndarray of shape (n_thresholds,), ascending

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


def _chunks(folds, per_sample):
    """Groups of folds whose held-out samples × classes × genes stay under the memory budget."""
    group, size = [], 0
    for fold in folds:
        if group and (size + fold.size) * per_sample > _CHUNK_ELEMENTS:
            yield group
            group, size = [], 0
        group.append(fold)
        size += fold.size
    if group:
        yield group
