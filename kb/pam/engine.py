"""Nearest shrunken centroids (PAM), reproducing the R package pamr 1.57 (Tibshirani et al. 2002).

Notation, per gene i and class k:
    s_i    pooled within-class sd (denominator n − K); s0 = percentile ``offset_percent`` of s_i
    sd_i   s_i + s0 (1 with ``scale_sd=False``)
    m_k    t_k · sqrt(1/n_k − 1/n): pamr's ``threshold.scale`` t_k times its ``se.scale``
    d_ik   (centroid_ik − overall_i) / (m_k · sd_i), then pamr's ``sign.contrast``
    d'_ik  sign(d)·max(|d| − Δ, 0); shrunken centroid = overall + m_k · sd · d'
    δ_k(x) Σ_i (x_i − shrunken_ik)² / sd_i² − 2 log π_k over genes with d' ≠ 0 in some class
    P(k|x) softmax(−δ/2)

Only the genes that survive the threshold enter δ, as in pamr; the others have the same shrunken
centroid (the overall one) in every class, so they shift δ equally and change neither posteriors
nor classes.  With ``hetero`` every value, training and new, is first replaced by its absolute
deviation from the ``hetero`` class's training mean (pamr's ``nsc``).  pandas is never imported here:
the CLI imports this module on its scoring path.
"""
from __future__ import annotations

import numpy as np

from kb.core.errors import InputError
from kb.pam.cv import balanced_folds, check_folds, choose_threshold, cv_linear_scores, leave_one_out_folds
from kb.pam.inputs import (as_matrix, check_threshold, is_dataframe, per_class_values, resolve_priors,
                           threshold_grid)
from kb.pam.path import SIGN_CONTRASTS, _count_below, one_blas_thread, shared_path_scores, sign_contrast_mask

__all__ = ["NearestShrunkenCentroid", "leave_one_out_folds", "balanced_folds", "choose_threshold"]


class NearestShrunkenCentroid:
    """Nearest-shrunken-centroid classifier with pamr's arithmetic.

    Parameters
    ----------
    n_threshold : int
        Length of the threshold grid, from 0 to max |d_ik| (pamr ``n.threshold``).
    offset_percent : float
        Percentile of s_i added to every s_i (pamr ``offset.percent``; 50 = median).
    priors : None, "equal", mapping or sequence
        Class priors; None means the class proportions in ``y``.  Normalised to sum to 1.
    thresholds : array-like of shape (n_thresholds,), optional
        An explicit threshold grid (pamr ``threshold``), used as given instead of the n_threshold grid.
    threshold_scale : None, mapping class -> value or sequence
        Class-wise threshold scales t_k (pamr ``threshold.scale``; None = 1 for every class): class k's
        deviations are shrunk by t_k·Δ.  :func:`kb.pam.adaptive.adaptive_threshold_scales` chooses them.
    sign_contrast : {"both", "positive", "negative"}
        Keep deviations of class centroids from the overall centroid of both signs, or only positive or
        negative ones (pamr ``sign.contrast``).
    scale_sd : bool
        False: do not standardise by s_i + s0 (every sd is 1; pamr ``scale.sd``).
    remove_zeros : bool
        Drop the thresholds after the first one that keeps no gene (pamr ``remove.zeros``).
    hetero : class label, optional
        pamr's heterogeneity analysis: replace every value by its absolute deviation from this class's
        mean, new samples too (the mean is kept as ``norm_centroid_``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels.
    thresholds_, nonzero_, train_errors_ : ndarray of shape (n_thresholds,)
        Threshold grid, genes surviving each threshold, training samples misclassified at each.
    train_predictions_ : ndarray of shape (n_samples, n_thresholds)
        Class of each training sample at each threshold (pamr's ``yhat``).
    sd_ : ndarray of shape (n_genes,)
        s_i + s0 (ones with ``scale_sd=False``).
    s0_ : float
        s0 (0 with ``scale_sd=False``).
    priors_, se_scale_, threshold_scale_, n_per_class_ : ndarray of shape (n_classes,)
        Priors, sqrt(1/n_k − 1/n), the threshold scales t_k and class sizes.
    overall_centroid_ : ndarray of shape (n_genes,)
    centroids_ : ndarray of shape (n_classes, n_genes)
        Unshrunken class centroids (of the transformed values with ``hetero``).
    norm_centroid_ : ndarray of shape (n_genes,)
        Only with ``hetero``: the ``hetero`` class's mean of the original values.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_genes,)
        Only when fitted on a DataFrame with string column names.
    """

    def __init__(self, n_threshold=30, offset_percent=50, priors=None, *, thresholds=None, threshold_scale=None,
                 sign_contrast="both", scale_sd=True, remove_zeros=True, hetero=None):
        self.n_threshold = n_threshold
        self.offset_percent = offset_percent
        self.priors = priors
        self.thresholds = thresholds
        self.threshold_scale = threshold_scale
        self.sign_contrast = sign_contrast
        self.scale_sd = scale_sd
        self.remove_zeros = remove_zeros
        self.hetero = hetero

    def get_params(self) -> dict:
        """The constructor's parameters (for refitting a copy with some changed)."""
        return {name: getattr(self, name) for name in ("n_threshold", "offset_percent", "priors", "thresholds",
                                                        "threshold_scale", "sign_contrast", "scale_sd",
                                                        "remove_zeros", "hetero")}

    # ----------------------------------------------------------------- fitting
    def _check_params(self):
        if not isinstance(self.n_threshold, (int, np.integer)) or isinstance(self.n_threshold, bool) \
                or self.n_threshold < 1:
            raise InputError(f"n_threshold must be an integer >= 1; got {self.n_threshold!r}")
        if not isinstance(self.offset_percent, (int, float, np.integer, np.floating)) \
                or not 0 <= self.offset_percent <= 100:
            raise InputError(f"offset_percent must be between 0 and 100; got {self.offset_percent!r}")
        if self.sign_contrast not in SIGN_CONTRASTS:
            raise InputError(f"sign_contrast must be one of {', '.join(SIGN_CONTRASTS)}; got {self.sign_contrast!r}")
        for name in ("scale_sd", "remove_zeros"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"{name} must be True or False; got {getattr(self, name)!r}")

    @one_blas_thread
    def fit(self, X, y):
        """Fit centroids, sd, the threshold grid and training errors.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_genes)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._check_params()
        arr, names = as_matrix(X)
        classes, codes = self._encode(y, arr.shape[0])
        grid = None if self.thresholds is None else threshold_grid(self.thresholds)
        scale = np.ones(classes.size) if self.threshold_scale is None else \
            per_class_values(self.threshold_scale, classes, "threshold_scale")
        norm = None
        if self.hetero is not None:
            labels = [str(c) for c in classes]
            if str(self.hetero) not in labels:
                raise InputError(f"hetero must be one of the classes {labels}; got {self.hetero!r}")
            h = labels.index(str(self.hetero))
            norm = arr[codes == h].sum(axis=0) / np.count_nonzero(codes == h)
            arr = np.abs(arr - norm)
        n, g = arr.shape
        K = classes.size
        counts = np.bincount(codes, minlength=K)
        centroids = np.stack([arr[codes == k].sum(axis=0) / counts[k] for k in range(K)])
        if self.scale_sd:
            resid = arr - centroids[codes]
            s_i = np.sqrt((resid * resid).sum(axis=0) / (n - K))
            s0 = float(np.quantile(s_i, self.offset_percent / 100.0))
            sd = s_i + s0
            if not (sd > 0).all():
                raise InputError(f"{np.count_nonzero(sd <= 0)} gene(s) have zero within-class spread and the offset "
                                 f"s0 is 0 (over {100 - self.offset_percent}% of genes are constant within classes); "
                                 "expected variable genes: remove constant genes or raise offset_percent")
        else:
            sd, s0 = np.ones(g), 0.0
        self.classes_, self.n_per_class_ = classes, counts
        self.priors_ = resolve_priors(self.priors, classes, counts)
        self.se_scale_ = np.sqrt(1.0 / counts - 1.0 / n)
        self.threshold_scale_ = scale
        self.overall_centroid_ = arr.sum(axis=0) / n
        self.centroids_, self.sd_, self.s0_ = centroids, sd, s0
        if norm is not None:
            self.norm_centroid_ = norm
        elif hasattr(self, "norm_centroid_"):
            del self.norm_centroid_
        self.n_features_in_ = g
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._fixed = False
        # pamr's delta before the division by m_k (same operation order: divide by sd, then by m_k).
        self._raw = (centroids - self.overall_centroid_) / sd
        z = (arr - self.overall_centroid_) / sd
        self._m, self._d, grid, self.nonzero_, predicted = self._path(z, scale, grid)
        self.thresholds_ = grid
        self._y_codes, self._train_codes = codes, predicted
        self.train_predictions_ = classes[predicted]
        self.train_errors_ = (predicted != codes[:, None]).sum(axis=0)
        return self

    def _path(self, z, scale, grid, remove_zeros=None):
        """(m, d, grid, nonzero, training predictions) for threshold scales ``scale``: the part of a fit
        that the threshold scales change (adaptive threshold scales redo only this)."""
        m = scale * self.se_scale_
        d = sign_contrast_mask(self._raw / m[:, None], self.sign_contrast)
        if grid is None:
            top = float(np.abs(d).max())
            T = int(self.n_threshold)
            # R's seq(0, top, length = T): i * (top / (T − 1)) with the last value exactly `top`.
            grid = np.arange(T) * (top / (T - 1)) if T > 1 else np.zeros(1)
            if T > 1:
                grid[-1] = top
        if (np.diff(grid) > 0).all():  # genes kept at each threshold from how many thresholds each survives
            survives = _count_below(np.abs(d).max(axis=0), grid)
            nonzero = np.cumsum(np.bincount(survives, minlength=grid.size + 1)[::-1])[::-1][1:]
        else:
            nonzero = np.array([np.count_nonzero((np.abs(d) > t).any(axis=0)) for t in grid])
        if (self.remove_zeros if remove_zeros is None else remove_zeros) and (nonzero == 0).any():
            keep = int(np.argmax(nonzero == 0)) + 1  # pamr: match(0, nonzero)
            grid, nonzero = grid[:keep], nonzero[:keep]
        predicted = shared_path_scores(z, d, m, grid, np.log(self.priors_)).argmax(axis=1)
        return m, d, grid, nonzero, predicted

    @classmethod
    def from_parameters(cls, genes, classes, shrunken_centroids, sd, priors, n_per_class=None):
        """A model from published shrunken centroids and sd (e.g. a paper's supplementary table).

        Only threshold 0 is available: the published centroids are already shrunken.

        Parameters
        ----------
        genes : sequence of str, length n_genes
        classes : sequence of labels, length n_classes
        shrunken_centroids : array-like of shape (n_classes, n_genes)
        sd : array-like of shape (n_genes,)
            s_i + s0 per gene.
        priors : "equal", mapping class -> prior, or sequence aligned to ``classes``
        n_per_class : array-like of shape (n_classes,), optional
            Training class sizes, kept for reference (and used by ``priors=None``).

        Returns
        -------
        NearestShrunkenCentroid
        """
        genes = [str(gn) for gn in genes]
        classes = np.asarray(list(classes))
        cent, _ = as_matrix(shrunken_centroids, "shrunken_centroids")
        sd_arr, _ = as_matrix(np.reshape(np.asarray(sd), (1, -1)), "sd")
        if cent.shape != (classes.size, len(genes)) or sd_arr.shape[1] != len(genes):
            raise InputError(f"expected shrunken_centroids of shape ({classes.size}, {len(genes)}) and sd of length "
                             f"{len(genes)}; got {cent.shape} and {sd_arr.shape[1]}")
        if classes.size < 2 or np.unique(classes).size != classes.size:
            raise InputError(f"expected at least 2 distinct classes; got {classes.tolist()}")
        if len(set(genes)) != len(genes):
            dups = sorted({gn for gn in genes if genes.count(gn) > 1})
            raise InputError(f"expected distinct gene names; got duplicates {dups[:5]}")
        if not (sd_arr > 0).all():
            raise InputError(f"sd must be positive for every gene; got {sd_arr.min()} as its minimum")
        if priors is None and n_per_class is None:
            raise InputError("priors=None means class proportions, which needs n_per_class; got neither")
        self = cls(n_threshold=1, priors=priors)
        self.classes_ = classes
        self.n_per_class_ = None if n_per_class is None else np.asarray(n_per_class, dtype=int)
        self.priors_ = resolve_priors(priors, classes, self.n_per_class_)
        if n_per_class is not None:
            self.se_scale_ = np.sqrt(1.0 / self.n_per_class_ - 1.0 / self.n_per_class_.sum())
        else:
            self.se_scale_ = None
        self.threshold_scale_ = np.ones(classes.size)
        self.centroids_, self.sd_, self.s0_ = cent, sd_arr[0], float("nan")
        # Any reference point works: it cancels from x − shrunken; the centroids' mean keeps numbers small.
        self.overall_centroid_ = cent.mean(axis=0)
        self.thresholds_ = np.zeros(1)
        self._fixed = True
        self._d = (cent - self.overall_centroid_) / self.sd_
        self.nonzero_ = np.array([np.count_nonzero((self._d != 0).any(axis=0))])
        self.train_errors_ = None
        self.n_features_in_ = len(genes)
        self.feature_names_in_ = np.asarray(genes, dtype=object)
        return self

    @staticmethod
    def _encode(y, n):
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise InputError(f"y must hold one label per row of X: expected {n} labels, got shape {y.shape}")
        if y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in y):
            raise InputError("y must not contain missing labels (None/NaN)")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise InputError("y must not contain missing labels (NaN)")
        try:
            classes, codes = np.unique(y, return_inverse=True)
        except TypeError as exc:
            raise InputError(f"y labels must be of one comparable type; got a mix ({exc})") from None
        counts = np.bincount(codes)
        if classes.size < 2:
            raise InputError(f"y must contain at least 2 classes; got only {classes.tolist()}")
        if counts.min() < 2:
            small = {str(c): int(m) for c, m in zip(classes, counts) if m < 2}
            raise InputError(f"every class needs at least 2 samples; got {small}")
        return classes, codes.reshape(-1)

    def _codes_of(self, y, n):
        """Codes of labels ``y`` in ``classes_`` order (labels compared as strings)."""
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise InputError(f"y must hold one label per row of X: expected {n} labels, got shape {y.shape}")
        pos = {str(c): k for k, c in enumerate(self.classes_)}
        unknown = sorted({str(v) for v in y} - set(pos))
        if unknown:
            raise InputError(f"y has labels the model was not fitted on: {unknown[:5]}; expected {list(pos)}")
        return np.array([pos[str(v)] for v in y], dtype=np.intp)

    # --------------------------------------------------------------- scoring
    def _check_fitted(self):
        if not hasattr(self, "classes_"):
            raise InputError("this NearestShrunkenCentroid is not fitted yet; "
                             "call fit(X, y) or from_parameters(...) first")

    def _check_trained(self, what):
        self._check_fitted()
        if self._fixed:
            raise InputError(f"{what} needs a model fitted on data; got one built from published parameters")

    def _prepare(self, X):
        """Scoring input as an ndarray whose columns are the model's genes, in the model's order."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        if names is not None and is_dataframe(X):
            cols = [str(c) for c in X.columns.tolist()]
            where = {c: i for i, c in enumerate(cols)}
            missing = [gn for gn in names if gn not in where]
            if missing:
                raise InputError(f"X lacks {len(missing)} of the model's {names.size} genes, e.g. {missing[:5]}; "
                                 f"expected columns {list(names[:5])}{'...' if names.size > 5 else ''}, got {cols[:5]}"
                                 f"{'...' if len(cols) > 5 else ''}")
            if cols != list(names):
                X = X.iloc[:, [where[gn] for gn in names]]
        arr, _ = as_matrix(X)
        if arr.shape[1] != self.n_features_in_:
            raise InputError(f"X must have {self.n_features_in_} gene columns (the genes the model was fitted on); "
                             f"got {arr.shape[1]}")
        return arr

    def _standardise(self, arr):
        norm = getattr(self, "norm_centroid_", None)
        if norm is not None:
            arr = np.abs(arr - norm)
        return (arr - self.overall_centroid_) / self.sd_

    def _shrunk_d(self, threshold):
        """(shrunken centroid − overall) / sd, shape (n_classes, n_genes): pamr's ``delta.shrunk``."""
        t = check_threshold(threshold)
        if self._fixed:
            if t != 0:
                raise InputError(f"a model built from published shrunken centroids only has threshold 0; got {t}")
            return self._d
        dif = np.abs(self._d) - t
        return np.sign(self._d) * dif * (dif > 0) * self._m[:, None]

    def _scores(self, X, threshold, priors):
        """pamr's diag.disc over the genes surviving the threshold.

        Returns ``lin`` of shape (n_samples, n_classes), ``z·c − |c|²/2 + log π`` (= −δ/2 + |z|²/2),
        and ``|z|²`` of shape (n_samples,).  Posteriors and classes use ``lin``: unlike δ it holds no
        large per-sample term that would swamp the differences between classes for extreme samples.
        """
        z = self._standardise(self._prepare(X))
        log_prior = self._log_prior(priors)
        c = self._shrunk_d(threshold)
        keep = (c != 0).any(axis=0)
        c, z = c[:, keep], z[:, keep]
        return z @ c.T - 0.5 * (c * c).sum(axis=1) + log_prior, (z * z).sum(axis=1)

    def _log_prior(self, priors):
        if priors is None:
            return np.log(self.priors_)
        return np.log(resolve_priors(priors, self.classes_, self.n_per_class_))

    def shrunken_centroids(self, threshold=None):
        """Shrunken class centroids at a threshold value.

        Returns
        -------
        ndarray of shape (n_classes, n_genes)
        """
        self._check_fitted()
        if self._fixed:
            self._shrunk_d(threshold)  # validates: only threshold 0 exists
            return self.centroids_.copy()
        return self.overall_centroid_ + self._shrunk_d(threshold) * self.sd_

    def decision_function(self, X, threshold=None, priors=None):
        """δ_k(x) = Σ (x_i − shrunken_ik)² / sd_i² − 2 log π_k over the genes surviving the threshold.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_genes)
        threshold : float or None
            Threshold value (None = 0).
        priors : None, "equal", mapping or sequence
            Override of the fitted priors for this call.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Smaller is closer.
        """
        lin, zz = self._scores(X, threshold, priors)
        return zz[:, None] - 2.0 * lin

    def predict_proba(self, X, threshold=None, priors=None):
        """Posterior class probabilities softmax(−δ/2), in ``classes_`` order.

        pamr exponentiates its discriminant clipped to ±500 without subtracting the maximum; here the
        maximum is subtracted instead, which gives the same numbers whenever pamr's do not overflow.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        lin, _ = self._scores(X, threshold, priors)
        e = np.exp(lin - lin.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X, threshold=None, priors=None):
        """Class with the smallest δ (the first in ``classes_`` order on exact ties, as in pamr).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        lin, _ = self._scores(X, threshold, priors)
        return self.classes_[lin.argmax(axis=1)]

    def contributions(self, x, threshold=None, pair=None):
        """Per-gene terms of δ_b(x) − δ_a(x) for one sample; positive values favour class a.

        Their sum plus ``2 log π_a − 2 log π_b`` is ``δ_b − δ_a``.

        Parameters
        ----------
        x : array-like of shape (n_genes,) or one-row DataFrame / Series
        threshold : float or None
        pair : (a, b), optional
            Two class labels; default the two classes of a two-class model.

        Returns
        -------
        ndarray of shape (n_genes,)
            Zero for genes that do not survive the threshold.
        """
        self._check_fitted()
        if pair is None:
            if self.classes_.size != 2:
                raise InputError(f"pair=(a, b) is required for a model with {self.classes_.size} classes")
            ia, ib = 0, 1
        else:
            labels = [str(c) for c in self.classes_]
            if len(pair) != 2 or not all(str(p) in labels for p in pair):
                raise InputError(f"pair must be two of the classes {labels}; got {pair!r}")
            ia, ib = labels.index(str(pair[0])), labels.index(str(pair[1]))
        if hasattr(x, "to_frame") and hasattr(x, "index"):  # a pandas Series: one sample
            x = x.to_frame().T
        elif not is_dataframe(x):
            x = np.asarray(x, dtype=float).reshape(1, -1) if np.ndim(x) == 1 else x
        arr = self._prepare(x)
        if arr.shape[0] != 1:
            raise InputError(f"contributions scores one sample; got {arr.shape[0]} rows")
        z = self._standardise(arr)[0]
        c = self._shrunk_d(threshold)
        return (z - c[ib]) ** 2 - (z - c[ia]) ** 2

    # ------------------------------------------------------ cross-validation
    @one_blas_thread
    def _cv(self, X, y, folds, fold_deltas):
        if not hasattr(self, "classes_"):
            self.fit(X, y)
        self._check_trained("cross-validation")
        arr = self._prepare(X)
        codes = self._codes_of(y, arr.shape[0])
        folds = check_folds(folds, arr.shape[0])
        hetero = None
        if self.hetero is not None:
            hetero = [str(c) for c in self.classes_].index(str(self.hetero))
        out = cv_linear_scores(arr, codes, folds, self.thresholds_, self._m, np.log(self.priors_),
                               self.offset_percent, [str(c) for c in self.classes_],
                               sign_contrast=self.sign_contrast, scale_sd=self.scale_sd, hetero=hetero,
                               fold_deltas=fold_deltas)
        return out, codes, folds

    def cross_validation(self, X, y, folds):
        """Cross-validate every threshold: predictions, posteriors, error rates and log-likelihood.

        pamr semantics (``pamr.cv`` with every fold fitted as this model is: its sign contrast,
        ``scale_sd``, offset and ``hetero``): each fold refits centroids, s_i and s0; the threshold grid,
        priors and m_k come from this model, which is fitted on ``(X, y)`` first if it is not fitted yet.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_genes)
        y : array-like of shape (n_samples,)
        folds : list of array-like
            0-based sample indices; the folds must partition the samples.

        Returns
        -------
        kb.pam.cv_result.CVResult
        """
        from kb.pam.cv_result import CVResult

        (lin, deltas), codes, folds = self._cv(X, y, folds, True)
        return CVResult(classes=self.classes_, y_codes=codes, thresholds=self.thresholds_.copy(), folds=folds,
                        discriminant=lin, size=self.nonzero_.copy(), fold_deltas=deltas, fold_scale=self._m.copy())

    def cross_validate_predict(self, X, y, folds):
        """Class predicted for each sample by the model refitted without its fold, at every threshold
        (see :meth:`cross_validation`).

        Returns
        -------
        ndarray of shape (n_samples, n_thresholds)
        """
        lin, _, _ = self._cv(X, y, folds, False)
        return self.classes_[lin.argmax(axis=1)]

    def cross_validate(self, X, y, folds):
        """Cross-validated error rate at each threshold (see :meth:`cross_validation`).

        Returns
        -------
        ndarray of shape (n_thresholds,)
        """
        lin, codes, _ = self._cv(X, y, folds, False)
        return (lin.argmax(axis=1) != codes[:, None]).sum(axis=0) / codes.size

    # --------------------------------------------------------------- reports
    def confusion(self, threshold):
        """Training confusion matrix at a threshold, as ``pamr.confusion(fit, threshold)``.

        pamr takes the first grid threshold >= the one asked for.

        Returns
        -------
        kb.pam.confusion.Confusion
        """
        from kb.pam.confusion import confusion_at

        self._check_trained("a training confusion matrix")
        return confusion_at(self.classes_, self._y_codes, self._train_codes, self.thresholds_, threshold)

    def list_genes(self, threshold, cv=None):
        """The genes surviving a threshold with their per-class scores, as ``pamr.listgenes``.

        Parameters
        ----------
        threshold : float
        cv : kb.pam.cv_result.CVResult, optional
            A cross-validation of this model: adds each gene's average rank in the folds and the
            proportion of folds that select it at this threshold.

        Returns
        -------
        list of kb.pam.genes.GeneScore
            In pamr's order: decreasing largest absolute score (ties in gene order).
        """
        from kb.pam.genes import list_genes

        self._check_trained("list_genes")
        return list_genes(self, threshold, cv)
