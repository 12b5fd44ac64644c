"""Cross-validation of nearest shrunken centroids, vectorised over folds (pamr 1.57 ``nsccv`` semantics).

pamr refits every fold from scratch: class centroids, pooled within-class sd s_i and the offset s0
come from the training part, while the threshold grid, the priors and m_k (``se.scale``) come from
the model fitted on all samples.  Refitting in a loop costs n_folds × n_thresholds passes over a
(class × gene) matrix, too slow for leave-one-out on 20,000 genes.  Here instead:

* the fold statistics are *downdates* of the full-data ones: removing the held-out samples of class k
  subtracts their residual sum and sum of squares, so every fold's centroids and s_i come from a
  few segment sums over all folds at once (residuals are centred per class, so the downdate does not
  cancel catastrophically the way ``Σx² − (Σx)²/n`` would);
* the discriminant at every threshold comes from one pass over the genes (`kb.pam.path`).

With ``hetero`` the values themselves depend on each fold's training samples, so each fold is refitted.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kb.core.errors import InputError
from kb.pam.path import _CHUNK_ELEMENTS, path_scores, shared_path_scores, sign_contrast_mask



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


def cv_linear_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, classes=None, *,
                     sign_contrast="both", scale_sd=True, hetero=None, fold_deltas=False):
    """pamr's linear discriminant for every sample while held out, at every threshold.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_genes)
    codes : ndarray of shape (n_samples,)
        Class index of each sample, 0 to n_classes - 1.
    folds : list of ndarray
        Partition of the samples (validated with :func:`check_folds`).
    thresholds : ndarray of shape (n_thresholds,)
        The full-data threshold grid.
    se_scale : ndarray of shape (n_classes,)
        Full-data shrinkage factors m_k (pamr's ``threshold.scale × se.scale``).
    log_prior : ndarray of shape (n_classes,)
    offset_percent : float
    classes : sequence, optional
        Class labels, only for error messages.
    sign_contrast : {"both", "positive", "negative"}
    scale_sd : bool
        False: every sd is 1 (pamr ``scale.sd = FALSE``).
    hetero : int, optional
        Code of pamr's ``hetero`` class: each fold replaces every value by its absolute deviation from
        that class's mean over the fold's training samples.
    fold_deltas : bool
        Also return each fold's standardised deviations d (for the CV columns of ``list_genes``).

    Returns
    -------
    lin : ndarray of shape (n_samples, n_classes, n_thresholds)
        ``z·c_k − |c_k|²/2 + log π_k`` with z and c_k standardised by the fold's overall centroid
        and sd (pamr's ``diag.disc``); equal to ``−δ_k / 2`` up to a per-sample constant.
    deltas : ndarray of shape (n_folds, n_classes, n_genes)
        Only with ``fold_deltas``: d of each fold's fit, after the sign contrast, in fold order.
    """
    n, g = X.shape
    K = se_scale.size
    counts = np.bincount(codes, minlength=K)
    sizes = np.array([f.size for f in folds])
    fold_of = np.repeat(np.arange(len(folds)), sizes)
    held = np.bincount(fold_of * K + codes[np.concatenate(folds)], minlength=len(folds) * K).reshape(-1, K)
    n_fk = counts - held
    if (n_fk < 1).any():
        f, k = np.argwhere(n_fk < 1)[0]
        label = classes[k] if classes is not None else k
        raise InputError(f"fold {f} holds out every sample of class {label!r}; expected every "
                         "class to keep a training sample in every fold")
    if (n_fk.sum(axis=1) <= K).any():
        raise InputError(f"a fold leaves {int(n_fk.sum(axis=1).min())} training samples; expected more than {K} "
                         "(the number of classes)")
    deltas = np.empty((len(folds), K, g)) if fold_deltas else None
    if hetero is None:
        out = _downdate_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, sign_contrast,
                               scale_sd, deltas)
    else:
        out = _refit_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, sign_contrast,
                            scale_sd, hetero, deltas)
    return (out, deltas) if fold_deltas else out


def _fold_sd(s_i, offset_percent, scale_sd, first_fold):
    if not scale_sd:
        return np.ones_like(s_i)
    sd = s_i + np.quantile(s_i, offset_percent / 100.0, axis=-1)[..., None]
    if not (sd > 0).all():
        f = first_fold + int(np.argwhere(~(sd > 0))[0, 0]) if sd.ndim > 1 else first_fold
        raise InputError(f"the training part of fold {f} has genes with zero spread and a zero "
                         "offset s0; expected variable genes: remove constant genes or raise offset_percent")
    return sd


def _downdate_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, sign_contrast, scale_sd,
                     deltas):
    """Every fold's statistics as downdates of the full-data ones (see the module docstring)."""
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
        n_f = n_fk.sum(axis=1)
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
        if scale_sd:
            ss = within - np.add.reduceat(resid2[test], fold_starts, axis=0)
            ss -= np.einsum("fkg,fkg,fk->fg", held, held, n_fk)
            s_i = np.sqrt(np.maximum(ss, 0.0) / (n_f - K)[:, None])
        else:
            s_i = np.empty((F, g))
        sd = _fold_sd(s_i, offset_percent, scale_sd, chunk_start)
        shift = np.add.reduceat(dev[test], fold_starts, axis=0) / n_f[:, None]  # overall_f = overall − shift
        d = spread - held  # training centroid − overall; the shift below makes it − training overall
        d += shift[:, None, :]
        d /= sd[:, None, :]
        d /= se_scale[None, :, None]
        d = sign_contrast_mask(d, sign_contrast)
        if deltas is not None:
            deltas[chunk_start:chunk_start + F] = d
        z = (X[test] - overall + shift[fold_of]) / sd[fold_of]
        if F == test.size:  # one sample per fold (leave-one-out): every sample its own model, binned at once
            out[test] = path_scores(z, d, se_scale, thresholds, log_prior)
        else:  # the samples of a fold share its model: one product per fold
            for f, (start, fold) in enumerate(zip(fold_starts, chunk)):
                out[fold] = shared_path_scores(z[start:start + fold.size], d[f], se_scale, thresholds, log_prior)
        chunk_start += F
    return out


def _refit_scores(X, codes, folds, thresholds, se_scale, log_prior, offset_percent, sign_contrast, scale_sd,
                  hetero, deltas):
    """One refit per fold: with ``hetero`` the values themselves depend on the fold's training samples."""
    n, g = X.shape
    K, T = se_scale.size, thresholds.size
    out = np.empty((n, K, T))
    everyone = np.ones(n, dtype=bool)
    for f, fold in enumerate(folds):
        train = everyone.copy()
        train[fold] = False
        A, c = X[train], codes[train]
        norm = A[c == hetero].sum(axis=0) / np.count_nonzero(c == hetero)
        A = np.abs(A - norm)
        counts = np.bincount(c, minlength=K)
        centroids = np.stack([A[c == k].sum(axis=0) / counts[k] for k in range(K)])
        resid = A - centroids[c]
        s_i = np.sqrt((resid * resid).sum(axis=0) / (c.size - K))
        sd = _fold_sd(s_i, offset_percent, scale_sd, f)
        overall = A.sum(axis=0) / c.size
        d = sign_contrast_mask((centroids - overall) / sd / se_scale[:, None], sign_contrast)
        if deltas is not None:
            deltas[f] = d
        z = (np.abs(X[fold] - norm) - overall) / sd
        out[fold] = shared_path_scores(z, d, se_scale, thresholds, log_prior)
    return out


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
