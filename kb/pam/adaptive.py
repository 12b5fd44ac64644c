"""Class-wise threshold scales chosen adaptively, as pamr's ``pamr.adaptthresh``.

Starting from the model's scales, each step multiplies the scale of the class with the largest training
error (averaged over the thresholds) by ``reduction_factor``, renormalises the scales to a minimum of 1
and refits on the model's threshold grid (from the first threshold with a training error on).  Each
set of scales is scored by pamr's ``roc.nsc``, the area under the training error against the fourth root
of the number of genes; the scales with the smallest area win.  Classes that are easy to separate end
with larger scales: their centroids shrink faster and need fewer genes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.errors import InputError
from kb.pam.path import one_blas_thread


@dataclass(frozen=True, eq=False)
class AdaptiveScales:
    """The iterates of pamr.adaptthresh (``full.out = TRUE``).

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
    thresholds : ndarray of shape (n_thresholds,)
        The grid the refits use.
    errors : ndarray of shape (ntries + 1, n_classes)
        Each class's training misclassifications, averaged over the thresholds, per iterate.
    scales : ndarray of shape (ntries + 1, n_classes)
    rocs : ndarray of shape (ntries + 1,)
    opt_scale : ndarray of shape (n_classes,)
        The scales with the smallest roc (the first on ties).
    """

    classes: np.ndarray
    thresholds: np.ndarray
    errors: np.ndarray
    scales: np.ndarray
    rocs: np.ndarray
    opt_scale: np.ndarray

    def as_dict(self) -> dict:
        classes = [str(c) for c in self.classes]
        return {"classes": classes, "opt_scale": dict(zip(classes, self.opt_scale.tolist())),
                "scales": self.scales.tolist(), "errors": self.errors.tolist(),
                "rocs": [None if not np.isfinite(r) else float(r) for r in self.rocs]}


def class_errors(est) -> np.ndarray:
    """pamr's error.nsc: each class's training misclassifications averaged over the thresholds."""
    wrong = est._train_codes != est._y_codes[:, None]
    return np.array([wrong[est._y_codes == k].sum(axis=0).mean() for k in range(est.classes_.size)])


def roc(nonzero, errors) -> float:
    """pamr's roc.nsc: area under the training error counts against nonzero^(1/4), over the range of it."""
    nz = np.asarray(nonzero, dtype=float) ** 0.25
    e = np.asarray(errors, dtype=float)
    heights = (e[:-1] + e[1:]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(((nz[1:] + nz[:-1]) * heights * np.diff(nz)).sum() / (-2 * (nz.max() - nz.min())))


@one_blas_thread
def adaptive_threshold_scales(est, X, y, ntries: int = 10, reduction_factor: float = 0.9) -> AdaptiveScales:
    """pamr.adaptthresh(fit, ntries, reduction.factor) for a `NearestShrunkenCentroid` fitted on (X, y).

    Parameters
    ----------
    est : NearestShrunkenCentroid
        Fitted on ``X, y`` (its parameters are kept in every refit).
    X : ndarray or DataFrame of shape (n_samples, n_genes)
    y : array-like of shape (n_samples,)
    ntries : int
        Number of steps.
    reduction_factor : float
        Factor in (0, 1) applied to the worst class's scale at each step.

    Returns
    -------
    AdaptiveScales
    """
    est._check_trained("adaptive threshold scales")
    if not isinstance(ntries, (int, np.integer)) or isinstance(ntries, bool) or ntries < 1:
        raise InputError(f"ntries must be an integer >= 1; got {ntries!r}")
    if isinstance(reduction_factor, bool) or not isinstance(reduction_factor, (int, float, np.floating)) \
            or not 0 < reduction_factor < 1:
        raise InputError(f"reduction_factor must be a number between 0 and 1; got {reduction_factor!r}")
    arr = est._prepare(X)
    if not np.array_equal(est._codes_of(y, arr.shape[0]), est._y_codes):
        raise InputError("y must be the labels the model was fitted on; got different labels")
    z = est._standardise(arr)
    if not np.allclose(z.mean(axis=0), 0, atol=1e-8 * max(1.0, float(np.abs(z).max()))):
        raise InputError("X must be the matrix the model was fitted on; got another one (its genes are not "
                         "centred on the model's overall centroid)")
    positive = np.flatnonzero(est.train_errors_ > 0)
    if positive.size == 0:
        raise InputError("the training error is zero at every threshold; expected some error to reduce "
                         "(pamr: 'Zero training error throughout!')")
    grid = est.thresholds_[positive[0]:]
    K = est.classes_.size
    scales = np.empty((ntries + 1, K))
    errors = np.empty((ntries + 1, K))
    rocs = np.empty(ntries + 1)
    tscales = est.threshold_scale_.copy()
    scales[0], errors[0], rocs[0] = tscales, class_errors(est), roc(est.nonzero_, est.train_errors_)
    codes = est._y_codes
    wrong_by_class = lambda predicted: np.array(  # noqa: E731  error.nsc of a refit
        [(predicted[codes == k] != k).sum(axis=0).mean() for k in range(K)])
    for i in range(1, ntries + 1):
        j = K - 1 - int(np.argmax(errors[i - 1][::-1]))  # the largest error, the last class on ties (R's rev(order))
        tscales[j] *= reduction_factor
        scales[i] = tscales / tscales.min()
        # pamr refits (update(..., threshold, threshold.scale, remove.zeros = FALSE)); only the part of the
        # fit that the scales change is redone, with the same arithmetic.
        _, _, _, nonzero, predicted = est._path(z, scales[i], grid, remove_zeros=False)
        errors[i] = wrong_by_class(predicted)
        rocs[i] = roc(nonzero, (predicted != codes[:, None]).sum(axis=0))
    # R's order(rocs)[1]: the smallest, NaN last, the first on ties.
    best = min(range(ntries + 1), key=lambda i: (np.isnan(rocs[i]), rocs[i] if not np.isnan(rocs[i]) else 0, i))
    return AdaptiveScales(classes=est.classes_, thresholds=grid, errors=errors, scales=scales, rocs=rocs,
                          opt_scale=scales[best].copy())
