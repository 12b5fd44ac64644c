"""Nearest shrunken centroids (PAM), reproducing the R package pamr 1.57 (Tibshirani et al. 2002).

Notation, per gene i and class k:
    s_i    pooled within-class sd (denominator n − K); s0 = percentile ``offset_percent`` of s_i
    sd_i   s_i + s0
    m_k    sqrt(1/n_k − 1/n)  (pamr's ``se.scale``)
    d_ik   (centroid_ik − overall_i) / (m_k · sd_i)
    d'_ik  sign(d)·max(|d| − Δ, 0); shrunken centroid = overall + m_k · sd · d'
    δ_k(x) Σ_i (x_i − shrunken_ik)² / sd_i² − 2 log π_k over genes with d' ≠ 0 in some class
    P(k|x) softmax(−δ/2)

Only the genes that survive the threshold enter δ, as in pamr; the others have the same shrunken
centroid (the overall one) in every class, so they shift δ equally and change neither posteriors
nor classes.  pandas is never imported here (DataFrames are recognised by their type's module):
the CLI imports this module on its scoring path.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kb.core.errors import InputError
from kb.pam.cv import (_CHUNK_ELEMENTS, balanced_folds, check_folds, choose_threshold, cv_linear_scores,
                       leave_one_out_folds, path_scores)

__all__ = ["NearestShrunkenCentroid", "leave_one_out_folds", "balanced_folds", "choose_threshold"]


def _is_dataframe(X) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns")


def _as_matrix(X, what="X"):
    """(float ndarray of shape (n_samples, n_genes), column names or None), finite, else InputError."""
    names = None
    if _is_dataframe(X):
        cols = X.columns.tolist()  # bulk conversion: iterating an arrow-backed Index is slow
        names = cols if all(isinstance(c, str) for c in cols) else None
        bad = [(str(c), str(t)) for c, t in zip(cols, X.dtypes.tolist()) if getattr(t, "kind", "O") not in "iuf"]
        if bad:
            raise InputError(f"{what} must hold numbers only; got non-numeric column(s) (name, type) {bad[:5]}")
    else:
        raw = np.asarray(X)
        # numpy would parse strings such as "1.5" silently; a string in an expression matrix is a mistake.
        if raw.dtype.kind in "USVb" or (raw.dtype.kind == "O" and any(
                isinstance(v, (str, bytes, bool)) for v in raw.ravel())):
            raise InputError(f"{what} must hold numbers only; got an array of {raw.dtype} values")
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must hold numbers only; got values that are not numbers ({exc})") from None
    if arr.ndim != 2:
        raise InputError(f"{what} must be 2-D (samples × genes); got {arr.ndim}-D input of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{what} must have at least one sample and one gene; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        r, c = np.argwhere(~np.isfinite(arr))[0]
        where = f"gene {names[c]!r}" if names else f"column {c}"
        raise InputError(f"{what} must contain finite numbers only; got {np.count_nonzero(~np.isfinite(arr))} "
                         f"NaN/infinite value(s), the first in row {r}, {where} ({arr[r, c]})")
    return arr, names


def _resolve_priors(priors, classes, n_per_class):
    """Priors as an ndarray aligned to ``classes``: None -> proportions, "equal", mapping or sequence."""
    K = len(classes)
    if priors is None:
        p = np.asarray(n_per_class, dtype=float)
    elif isinstance(priors, str):
        if priors != "equal":
            raise InputError(f"priors must be None, 'equal', a mapping class -> prior or a sequence; got {priors!r}")
        p = np.ones(K)
    elif isinstance(priors, Mapping):
        keys = {str(k) for k in priors}
        want = {str(c) for c in classes}
        if keys != want:
            raise InputError(f"priors must have exactly the classes {sorted(want)} as keys; got {sorted(keys)}")
        by_name = {str(k): v for k, v in priors.items()}
        p = [by_name[str(c)] for c in classes]
    else:
        p = list(priors)
        if len(p) != K:
            raise InputError(f"priors must give one value per class ({K}: {[str(c) for c in classes]}); "
                             f"got {len(p)} values")
    try:
        p = np.array(p, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"priors must be numbers; got {p!r}") from None
    if not (np.isfinite(p).all() and (p > 0).all()):
        raise InputError(f"priors must be positive finite numbers; got {p.tolist()}")
    return p / p.sum()


def _check_threshold(threshold) -> float:
    t = 0.0 if threshold is None else threshold
    number = isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool)
    if not number or not np.isfinite(t) or t < 0:
        raise InputError(f"threshold must be a finite number >= 0 (a value, not an index) or None; got {threshold!r}")
    return float(t)


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

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels.
    thresholds_, nonzero_, train_errors_ : ndarray of shape (n_thresholds,)
        Threshold grid, genes surviving each threshold, training samples misclassified at each.
    sd_ : ndarray of shape (n_genes,)
        s_i + s0.
    s0_ : float
    priors_, se_scale_, n_per_class_ : ndarray of shape (n_classes,)
        Priors, m_k and class sizes.
    overall_centroid_ : ndarray of shape (n_genes,)
    centroids_ : ndarray of shape (n_classes, n_genes)
        Unshrunken class centroids.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_genes,)
        Only when fitted on a DataFrame with string column names.
    """

    def __init__(self, n_threshold=30, offset_percent=50, priors=None):
        self.n_threshold = n_threshold
        self.offset_percent = offset_percent
        self.priors = priors

    # ----------------------------------------------------------------- fitting
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
        if not isinstance(self.n_threshold, (int, np.integer)) or isinstance(self.n_threshold, bool) \
                or self.n_threshold < 1:
            raise InputError(f"n_threshold must be an integer >= 1; got {self.n_threshold!r}")
        if not isinstance(self.offset_percent, (int, float, np.integer, np.floating)) \
                or not 0 <= self.offset_percent <= 100:
            raise InputError(f"offset_percent must be between 0 and 100; got {self.offset_percent!r}")
        arr, names = _as_matrix(X)
        classes, codes = self._encode(y, arr.shape[0])
        n, g = arr.shape
        K = classes.size
        counts = np.bincount(codes, minlength=K)
        centroids = np.stack([arr[codes == k].sum(axis=0) / counts[k] for k in range(K)])
        resid = arr - centroids[codes]
        s_i = np.sqrt((resid * resid).sum(axis=0) / (n - K))
        s0 = float(np.quantile(s_i, self.offset_percent / 100.0))
        sd = s_i + s0
        if not (sd > 0).all():
            raise InputError(f"{np.count_nonzero(sd <= 0)} gene(s) have zero within-class spread and the offset s0 "
                             f"is 0 (over {100 - self.offset_percent}% of genes are constant within classes); "
                             "expected variable genes: remove constant genes or raise offset_percent")
        self.classes_, self.n_per_class_ = classes, counts
        self.priors_ = _resolve_priors(self.priors, classes, counts)
        self.se_scale_ = np.sqrt(1.0 / counts - 1.0 / n)
        self.overall_centroid_ = arr.sum(axis=0) / n
        self.centroids_, self.sd_, self.s0_ = centroids, sd, s0
        self.n_features_in_ = g
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._fixed = False
        # Same operation order as pamr: divide by sd, then by m_k.
        self._d = (centroids - self.overall_centroid_) / sd / self.se_scale_[:, None]
        top = float(np.abs(self._d).max())
        T = int(self.n_threshold)
        # R's seq(0, top, length = T): i * (top / (T − 1)) with the last value exactly `top`.
        grid = np.arange(T) * (top / (T - 1)) if T > 1 else np.zeros(1)
        if T > 1:
            grid[-1] = top
        self.thresholds_ = grid
        self.nonzero_ = np.array([np.count_nonzero((np.abs(self._d) > t).any(axis=0)) for t in grid])
        z = self._standardise(arr)
        errors = np.zeros(T, dtype=int)
        step = max(1, _CHUNK_ELEMENTS // (K * g))
        for s in range(0, n, step):
            lin = path_scores(z[s:s + step], self._d, self.se_scale_, grid, np.log(self.priors_))
            errors += (lin.argmax(axis=1) != codes[s:s + step, None]).sum(axis=0)
        self.train_errors_ = errors
        return self

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
        cent, _ = _as_matrix(shrunken_centroids, "shrunken_centroids")
        sd_arr, _ = _as_matrix(np.reshape(np.asarray(sd), (1, -1)), "sd")
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
        self.priors_ = _resolve_priors(priors, classes, self.n_per_class_)
        if n_per_class is not None:
            self.se_scale_ = np.sqrt(1.0 / self.n_per_class_ - 1.0 / self.n_per_class_.sum())
        else:
            self.se_scale_ = None
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

    # --------------------------------------------------------------- scoring
    def _check_fitted(self):
        if not hasattr(self, "classes_"):
            raise InputError("this NearestShrunkenCentroid is not fitted yet; "
                             "call fit(X, y) or from_parameters(...) first")

    def _prepare(self, X):
        """Scoring input as an ndarray whose columns are the model's genes, in the model's order."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        if names is not None and _is_dataframe(X):
            cols = [str(c) for c in X.columns.tolist()]
            where = {c: i for i, c in enumerate(cols)}
            missing = [gn for gn in names if gn not in where]
            if missing:
                raise InputError(f"X lacks {len(missing)} of the model's {names.size} genes, e.g. {missing[:5]}; "
                                 f"expected columns {list(names[:5])}{'...' if names.size > 5 else ''}, got {cols[:5]}"
                                 f"{'...' if len(cols) > 5 else ''}")
            if cols != list(names):
                X = X.iloc[:, [where[gn] for gn in names]]
        arr, _ = _as_matrix(X)
        if arr.shape[1] != self.n_features_in_:
            raise InputError(f"X must have {self.n_features_in_} gene columns (the genes the model was fitted on); "
                             f"got {arr.shape[1]}")
        return arr

    def _standardise(self, arr):
        return (arr - self.overall_centroid_) / self.sd_

    def _shrunk_d(self, threshold):
        """(shrunken centroid − overall) / sd, shape (n_classes, n_genes): pamr's ``delta.shrunk``."""
        t = _check_threshold(threshold)
        if self._fixed:
            if t != 0:
                raise InputError(f"a model built from published shrunken centroids only has threshold 0; got {t}")
            return self._d
        dif = np.abs(self._d) - t
        return np.sign(self._d) * dif * (dif > 0) * self.se_scale_[:, None]

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
        return np.log(_resolve_priors(priors, self.classes_, self.n_per_class_))

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
        elif not _is_dataframe(x):
            x = np.asarray(x, dtype=float).reshape(1, -1) if np.ndim(x) == 1 else x
        arr = self._prepare(x)
        if arr.shape[0] != 1:
            raise InputError(f"contributions scores one sample; got {arr.shape[0]} rows")
        z = self._standardise(arr)[0]
        c = self._shrunk_d(threshold)
        return (z - c[ib]) ** 2 - (z - c[ia]) ** 2

    # ------------------------------------------------------ cross-validation
    def _cv_scores(self, X, y, folds):
        if not hasattr(self, "classes_"):
            self.fit(X, y)
        if self._fixed:
            raise InputError("cross-validation needs a model fitted on data; "
                             "got one built from published parameters")
        arr = self._prepare(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != arr.shape[0]:
            raise InputError(f"y must hold one label per row of X: expected {arr.shape[0]} labels, "
                             f"got shape {y.shape}")
        pos = {str(c): k for k, c in enumerate(self.classes_)}
        unknown = sorted({str(v) for v in y} - set(pos))
        if unknown:
            raise InputError(f"y has labels the model was not fitted on: {unknown[:5]}; expected {list(pos)}")
        codes = np.array([pos[str(v)] for v in y])
        folds = check_folds(folds, arr.shape[0])
        lin = cv_linear_scores(arr, codes, folds, self.thresholds_, self.se_scale_, np.log(self.priors_),
                               self.offset_percent, [str(c) for c in self.classes_])
        return lin, codes

    def cross_validate_predict(self, X, y, folds):
        """Class predicted for each sample by the model refitted without its fold, at every threshold.

        pamr semantics: each fold refits centroids, s_i and s0; the threshold grid, priors and m_k
        come from this model, which is fitted on ``(X, y)`` first if it is not fitted yet.

        Parameters
        ----------
        X : ndarray or DataFrame of shape (n_samples, n_genes)
        y : array-like of shape (n_samples,)
        folds : list of array-like
            0-based sample indices; the folds must partition the samples.

        Returns
        -------
        ndarray of shape (n_samples, n_thresholds)
        """
        lin, _ = self._cv_scores(X, y, folds)
        return self.classes_[lin.argmax(axis=1)]

    def cross_validate(self, X, y, folds):
        """Cross-validated error rate at each threshold (see :meth:`cross_validate_predict`).

        Returns
        -------
        ndarray of shape (n_thresholds,)
        """
        lin, codes = self._cv_scores(X, y, folds)
        return (lin.argmax(axis=1) != codes[:, None]).sum(axis=0) / codes.size
