"""Confusion matrices at a threshold, as pamr's ``pamr.confusion`` (training or cross-validated)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.errors import InputError
from kb.pam.inputs import check_threshold


@dataclass(frozen=True, eq=False)
class Confusion:
    """Counts of true class (rows) against predicted class (columns), at one grid threshold.

    Attributes
    ----------
    classes : list of str
    threshold : float
        The threshold asked for.
    index : int
        0-based index of the grid threshold used: the first >= ``threshold`` (pamr's rule).
    grid_threshold : float
    table : ndarray of shape (n_classes, n_classes), int
    class_error : ndarray of shape (n_classes,)
        Misclassified fraction of each true class.
    overall_error : float
    """

    classes: list
    threshold: float
    index: int
    grid_threshold: float
    table: np.ndarray
    class_error: np.ndarray
    overall_error: float

    def as_dict(self) -> dict:
        return {"classes": list(self.classes), "threshold": self.grid_threshold, "table": self.table.tolist(),
                "class_error": dict(zip(self.classes, self.class_error.tolist())),
                "overall_error": self.overall_error}


def grid_index(thresholds, threshold) -> int:
    """0-based index of the first grid threshold >= ``threshold`` (pamr.confusion's and listgenes' rule)."""
    t = check_threshold(threshold)
    at = np.flatnonzero(np.asarray(thresholds) >= t)
    if at.size == 0:
        raise InputError(f"threshold {t:g} is above the largest threshold of the grid ({float(np.max(thresholds)):.6g}); "
                         "expected a value up to it")
    return int(at[0])


def confusion_at(classes, y_codes, predicted_codes, thresholds, threshold) -> Confusion:
    """The confusion matrix of predictions ``predicted_codes[:, j]`` (shape (n_samples, n_thresholds)) at the
    first grid threshold >= ``threshold``."""
    j = grid_index(thresholds, threshold)
    K = len(classes)
    table = np.bincount(y_codes * K + predicted_codes[:, j], minlength=K * K).reshape(K, K)
    wrong = table.sum(axis=1) - np.diag(table)
    return Confusion(classes=[str(c) for c in classes], threshold=check_threshold(threshold), index=j,
                     grid_threshold=float(thresholds[j]), table=table, class_error=wrong / table.sum(axis=1),
                     overall_error=float(wrong.sum() / table.sum()))
