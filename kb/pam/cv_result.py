"""What a cross-validation of nearest shrunken centroids found, threshold by threshold (pamr's ``pamr.cv``).

Held-out predictions, posteriors, error rates (overall, per class, per fold) and the log-likelihood
are all derived from one array, the held-out discriminant: pamr's ``diag.disc`` value
``z·c_k − |c_k|²/2 + log π_k`` of each sample under the model fitted without its fold.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class CVResult:
    """A cross-validation over a threshold grid.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
    y_codes : ndarray of shape (n_samples,)
        Class index of each sample's true label.
    thresholds : ndarray of shape (n_thresholds,)
    folds : list of ndarray
        0-based sample indices of each fold.
    discriminant : ndarray of shape (n_samples, n_classes, n_thresholds)
        The held-out discriminant (see the module docstring); pamr's posteriors exponentiate it.
    size : ndarray of shape (n_thresholds,)
        Genes surviving each threshold in the model fitted on all samples (pamr's ``size``).
    fold_deltas : ndarray of shape (n_folds, n_classes, n_genes)
        Each fold's standardised deviations d (after the sign contrast).
    fold_scale : ndarray of shape (n_classes,)
        m_k, with which d' · m_k is (shrunken − overall) / sd.
    """

    classes: np.ndarray
    y_codes: np.ndarray
    thresholds: np.ndarray
    folds: list
    discriminant: np.ndarray
    size: np.ndarray
    fold_deltas: np.ndarray
    fold_scale: np.ndarray

    @property
    def y(self) -> np.ndarray:
        """True labels, shape (n_samples,)."""
        return self.classes[self.y_codes]

    @cached_property
    def predicted_codes(self) -> np.ndarray:
        """Class index predicted for each held-out sample, shape (n_samples, n_thresholds)."""
        return self.discriminant.argmax(axis=1)

    @property
    def predictions(self) -> np.ndarray:
        """Class predicted for each held-out sample at each threshold, shape (n_samples, n_thresholds)."""
        return self.classes[self.predicted_codes]

    @cached_property
    def log_posteriors(self) -> np.ndarray:
        """log P(k | x) of each held-out sample, shape (n_samples, n_classes, n_thresholds), finite."""
        lin = self.discriminant
        top = lin.max(axis=1, keepdims=True)
        return lin - top - np.log(np.exp(lin - top).sum(axis=1, keepdims=True))

    @property
    def posteriors(self) -> np.ndarray:
        """Cross-validated posteriors, shape (n_samples, n_classes, n_thresholds), each summing to 1.

        pamr exponentiates the discriminant clipped to ±500; these are the unclipped softmax, equal to
        pamr's wherever its clipping does not bite.
        """
        return np.exp(self.log_posteriors)

    @cached_property
    def errors(self) -> np.ndarray:
        """Cross-validated error rate at each threshold, shape (n_thresholds,)."""
        return (self.predicted_codes != self.y_codes[:, None]).sum(axis=0) / self.y_codes.size

    @cached_property
    def loglik(self) -> np.ndarray:
        """Mean log posterior of the true class at each threshold (pamr's ``loglik``), shape (n_thresholds,)."""
        n = self.y_codes.size
        return self.log_posteriors[np.arange(n), self.y_codes, :].sum(axis=0) / n

    def class_errors(self) -> np.ndarray:
        """Error rate within each true class at each threshold, shape (n_classes, n_thresholds)."""
        wrong = self.predicted_codes != self.y_codes[:, None]
        K = self.classes.size
        counts = np.bincount(self.y_codes, minlength=K)
        return np.stack([wrong[self.y_codes == k].sum(axis=0) for k in range(K)]) / counts[:, None]

    def fold_errors(self) -> np.ndarray:
        """Error rate within each fold at each threshold, shape (n_folds, n_thresholds)."""
        wrong = self.predicted_codes != self.y_codes[:, None]
        return np.stack([wrong[f].mean(axis=0) for f in self.folds])

    def error_se(self) -> np.ndarray:
        """Standard error of the CV error at each threshold over the folds (pamr.plotcv's error bars):
        sqrt(var(fold errors) / n_folds), var with denominator n_folds − 1."""
        e = self.fold_errors()
        return np.sqrt(e.var(axis=0, ddof=1) / e.shape[0]) if e.shape[0] > 1 else np.zeros(e.shape[1])

    def confusion(self, threshold):
        """Cross-validated confusion matrix at a threshold, as ``pamr.confusion(cvfit, threshold)``.

        Returns
        -------
        kb.pam.confusion.Confusion
        """
        from kb.pam.confusion import confusion_at

        return confusion_at(self.classes, self.y_codes, self.predicted_codes, self.thresholds, threshold)
