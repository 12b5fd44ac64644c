"""Cross-validation of nearest shrunken centroids, vectorised over folds (pamr 1.57 ``nsccv`` semantics).

pamr refits every fold from scratch: class centroids, pooled within-class sd s_i and the offset s0
come from the training part, while the threshold grid, the priors and m_k (``se.scale``) come from
the model fitted on all samples.  Refitting in a loop costs n_folds × n_thresholds passes over a
(class × gene) matrix, too slow for leave-one-out on 20,000 genes.  Here instead:

* the fold statistics are *downdates* of the full-data ones: removing the held-out samples of class k
  subtracts their residual sum and sum of squares, so every fold's centroids and s_i come from two
  matrix products over all folds at once (residuals are centred per class, so the downdate does not
  cancel catastrophically the way ``Σx² − (Σx)²/n`` would);
* a gene contributes to the linear discriminant only while |d| > threshold, and its contribution
  is a quadratic in the threshold.  Binning genes by how many thresholds they survive and taking
  suffix sums of the quadratic's coefficients gives the discriminant at all thresholds in one pass.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kb.errors import InputError

# Elements of the largest (samples × classes × genes) temporary; ~16 MB of float64 per array.
_CHUNK_ELEMENTS = 2_000_000


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
        raise InputError(
            f"errors and thresholds must be 1-D of the same non-zero length; got shapes {errors.shape} and {thresholds.shape}"
        )
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
            raise InputError(f"fold {f} must be a non-empty 1-D array of 0-based integer sample indices; got {fold!r}")
        if idx.min() < 0 or idx.max() >= n:
            raise InputError(f"fold {f} has index {int(idx.max() if idx.max() >= n else idx.min())}; expected 0 to {n - 1}")
        np.add.at(seen, idx, 1)
        out.append(idx.astype(np.intp))
    if len(out) < 2 or (seen != 1).any():
        bad = np.flatnonzero(seen != 1)
        raise InputError(
            f"folds must be at least 2 disjoint index arrays covering every sample exactly once; got {len(out)} "
            f"folds, with sample(s) {bad[:5].tolist()} covered {seen[bad[:5]].tolist()} times"
        )
    return out


def cv_linear_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent):
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

    Returns
    -------
    ndarray of shape (n_samples, n_classes, n_thresholds)
        ``x·c_k − |c_k|²/2 + log π_k`` with x and c_k standardised by the fold's centroid and sd;
        equal to ``−δ_k / 2`` up to a per-sample constant.
    """
    n, g = X.shape
    K, T = se_scale.size, thresholds.size
    counts = np.bincount(codes, minlength=K)
    centroids = np.stack([X[codes == k].sum(axis=0) / counts[k] for k in range(K)])
    resid = X - centroids[codes]
    resid2 = resid * resid
    within = np.stack([resid2[codes == k].sum(axis=0) for k in range(K)])  # (K, g)
    overall = X.sum(axis=0) / n
    dev = X - overall
    half_m2 = 0.5 * se_scale**2
    out = np.empty((n, K, T))

    for chunk in _chunks(folds, K * g):
        F = len(chunk)
        test = np.concatenate(chunk)
        fold_of = np.repeat(np.arange(F), [f.size for f in chunk])
        # Membership of held-out samples by (fold, class): one matrix product gives every downdate.
        member = np.zeros((F * K, n))
        member[fold_of * K + codes[test], test] = 1.0
        held = member.sum(axis=1).reshape(F, K)
        n_fk = counts - held
        if (n_fk < 1).any():
            f, k = np.argwhere(n_fk < 1)[0]
            raise InputError(f"fold {f} holds out every sample of class {k}; each class needs a training sample in every fold")
        n_f = n_fk.sum(axis=1)
        if (n_f <= K).any():
            raise InputError(f"a fold leaves {int(n_f.min())} training samples; more than {K} (the number of classes) are needed")
        rsum = (member @ resid).reshape(F, K, g)
        rsq = (member @ resid2).reshape(F, K, g)
        # Remaining residuals sum to −rsum, so their SS about their own mean is SS − q − rsum²/n_fk.
        ss = within[None] - rsq - rsum * rsum / n_fk[..., None]
        s_i = np.sqrt(np.maximum(ss.sum(axis=1), 0.0) / (n_f - K)[:, None])
        sd = s_i + np.quantile(s_i, offset_percent / 100.0, axis=1)[:, None]
        cent = centroids[None] - rsum / n_fk[..., None]
        fold_member = member.reshape(F, K, n).sum(axis=1)
        fold_overall = overall - (fold_member @ dev) / n_f[:, None]
        d = (cent - fold_overall[:, None, :]) / sd[:, None, :] / se_scale[None, :, None]
        u = np.abs(d)
        # Gene survives threshold j iff |d| > t_j, i.e. j < (number of thresholds strictly below |d|).
        nbin = np.searchsorted(thresholds, u, side="left")  # (F, K, g) in 0..T
        fk = (np.arange(F * K) * (T + 1)).reshape(F, K, 1)
        idx = (fk + nbin).ravel()
        size = F * K * (T + 1)
        b0 = _suffix(np.bincount(idx, minlength=size), F, K, T)
        b1 = _suffix(np.bincount(idx, weights=u.ravel(), minlength=size), F, K, T)
        b2 = _suffix(np.bincount(idx, weights=(u * u).ravel(), minlength=size), F, K, T)

        z = (X[test] - fold_overall[fold_of]) / sd[fold_of]  # (S, g)
        a = z[:, None, :] * (np.sign(d) * se_scale[None, :, None])[fold_of]  # (S, K, g)
        sidx = ((np.arange(test.size * K) * (T + 1)).reshape(-1, K, 1) + nbin[fold_of]).ravel()
        ssize = test.size * K * (T + 1)
        a0 = _suffix(np.bincount(sidx, weights=a.ravel(), minlength=ssize), test.size, K, T)
        a1 = _suffix(np.bincount(sidx, weights=(a * u[fold_of]).ravel(), minlength=ssize), test.size, K, T)
        t = thresholds[None, None, :]
        # Σ over surviving genes of a(u − t) − (m²/2)(u − t)², expanded in powers of t.
        quad = b2[fold_of] - 2.0 * t * b1[fold_of] + t * t * b0[fold_of]
        out[test] = (a1 - t * a0) - half_m2[None, :, None] * quad + log_prior[None, :, None]
    return out


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
