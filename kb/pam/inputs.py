"""Checks of what the PAM estimator is given: matrices, labels' priors, per-class values, thresholds.

Each failure is an InputError saying what was expected and what was received. pandas is never imported
(DataFrames are recognised by their type's module): the CLI imports this on its scoring path.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kb.core.errors import InputError


def is_dataframe(X) -> bool:
    return type(X).__module__.startswith("pandas") and hasattr(X, "columns")


def as_matrix(X, what="X"):
    """(float ndarray of shape (n_samples, n_genes), column names or None), finite, else InputError."""
    names = None
    if is_dataframe(X):
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


def resolve_priors(priors, classes, n_per_class):
    """Priors as an ndarray aligned to ``classes``, summing to 1: None -> class proportions, "equal",
    a mapping class -> prior or a sequence."""
    if priors is None:
        p = np.asarray(n_per_class, dtype=float)
    elif isinstance(priors, str):
        if priors != "equal":
            raise InputError(f"priors must be None, 'equal', a mapping class -> prior or a sequence; got {priors!r}")
        p = np.ones(len(classes))
    else:
        p = per_class_values(priors, classes, "priors")
    return p / p.sum()


def check_threshold(threshold) -> float:
    t = 0.0 if threshold is None else threshold
    number = isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool)
    if not number or not np.isfinite(t) or t < 0:
        raise InputError(f"threshold must be a finite number >= 0 (a value, not an index) or None; got {threshold!r}")
    return float(t)


def per_class_values(values, classes, what):
    """Positive finite values aligned to ``classes`` from a mapping class -> value or a sequence."""
    K = len(classes)
    if isinstance(values, Mapping):
        keys = {str(k) for k in values}
        want = {str(c) for c in classes}
        if keys != want:
            raise InputError(f"{what} must have exactly the classes {sorted(want)} as keys; got {sorted(keys)}")
        by_name = {str(k): v for k, v in values.items()}
        v = [by_name[str(c)] for c in classes]
    elif isinstance(values, (str, bytes)) or np.ndim(values) != 1:
        raise InputError(f"{what} must be a mapping class -> value or a sequence of {K} values; got {values!r}")
    else:
        v = list(values)
        if len(v) != K:
            raise InputError(f"{what} must give one value per class ({K}: {[str(c) for c in classes]}); "
                             f"got {len(v)} values")
    if any(isinstance(x, bool) for x in v):
        raise InputError(f"{what} must be numbers; got {v!r}")
    try:
        arr = np.array(v, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers; got {v!r}") from None
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise InputError(f"{what} must be positive finite numbers; got {arr.tolist()}")
    return arr


def threshold_grid(thresholds):
    """An explicit threshold grid as a float ndarray: 1-D, non-empty, finite, >= 0 (any order, as pamr)."""
    if isinstance(thresholds, (str, bytes)):
        raise InputError(f"thresholds must be a sequence of numbers >= 0; got {thresholds!r}")
    try:
        arr = np.asarray(thresholds, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"thresholds must be a sequence of numbers >= 0; got {thresholds!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all() or (arr < 0).any():
        raise InputError(f"thresholds must be a non-empty 1-D sequence of finite numbers >= 0; got {thresholds!r}")
    return arr
