"""Training a nearest-shrunken-centroid model from an expression matrix and labels (`kb pam train`).

Fits, cross-validates over the threshold grid (leave-one-out or balanced K folds), chooses the threshold
(lowest CV error, ties to the larger threshold, among thresholds that keep at least one gene) and keeps
the genes that survive it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.core.errors import InputError
from kb.pam.engine import NearestShrunkenCentroid
from kb.pam.model_file import save_model
from kb.pam.model import PamModel


@dataclass(frozen=True)
class TrainResult:
    """A trained model and the cross-validation that chose its threshold."""

    model: PamModel
    thresholds: list[float]
    nonzero: list[int]
    cv_errors: list[float]
    threshold: float
    chosen_by: str
    n_genes_in: int


def parse_folds(folds) -> str | int:
    """"loo" or a number of folds K >= 2 (from a CLI string or a value)."""
    if folds == "loo":
        return "loo"
    try:
        k = int(str(folds))
    except ValueError:
        raise InputError(f"--folds: expected loo or a number of folds >= 2; got {folds!r}") from None
    if k < 2:
        raise InputError(f"--folds: expected loo or a number of folds >= 2; got {folds!r}")
    return k


def parse_threshold(threshold) -> str | float:
    if threshold == "auto":
        return "auto"
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"--threshold: expected auto or a number >= 0; got {threshold!r}") from None
    if not (math.isfinite(t) and t >= 0):
        raise InputError(f"--threshold: expected auto or a number >= 0; got {threshold!r}")
    return t


def train(X, y, genes, *, folds="loo", threshold="auto", seed: int = 0, name: str = "PAM model",
          model_id: str = "trained", source: str = "") -> TrainResult:
    """Fit pamr's nearest shrunken centroids, cross-validate every threshold and keep the surviving genes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_genes), log2 expression
    y : array-like of shape (n_samples,), class labels (strings)
    genes : sequence of str, length n_genes
    folds : "loo" or K (balanced folds, seeded)
    threshold : "auto" (lowest CV error among thresholds keeping a gene, ties to the larger threshold) or a value
    """
    from kb.pam.engine import balanced_folds, choose_threshold, leave_one_out_folds

    folds, threshold = parse_folds(folds), parse_threshold(threshold)
    y = np.asarray([str(v) for v in y])
    est = NearestShrunkenCentroid().fit(X, y)
    split = leave_one_out_folds(y.size) if folds == "loo" else balanced_folds(y, folds, seed=seed)
    errors = est.cross_validate(X, y, split)
    if threshold == "auto":
        # The grid ends at max |d|, where no gene survives and every sample gets the prior's class; a model
        # needs a gene, so the choice is among the thresholds that keep one.
        some = est.nonzero_ > 0
        t = choose_threshold(errors[some], est.thresholds_[some])
        chosen_by = "lowest CV error, ties to the larger threshold"
    else:
        t, chosen_by = threshold, "given"
    shrunken = est.shrunken_centroids(t)
    keep = (shrunken != est.overall_centroid_).any(axis=0)
    if not keep.any():
        raise InputError(f"--threshold {t:g}: no gene survives; expected a value below {est.thresholds_[-1]:.4g} "
                         "(the largest standardised centroid distance)")
    classes = tuple(str(c) for c in est.classes_)
    training = {"n_samples": int(y.size), "folds": "loo" if folds == "loo" else {"k": folds, "seed": int(seed)},
                "cv_errors": errors.tolist(), "thresholds": est.thresholds_.tolist(), "nonzero": est.nonzero_.tolist()}
    model = PamModel(id=model_id, name=name, kind="trained", source=source, classes=classes,
                     genes=tuple(str(g) for g, k in zip(genes, keep) if k), shrunken_centroids=shrunken[:, keep],
                     sd=est.sd_[keep], priors=dict(zip(classes, est.priors_.tolist())),
                     n_per_class=dict(zip(classes, map(int, est.n_per_class_))), scale="log2",
                     validation="LOOCV" if folds == "loo" else f"{folds}-fold CV", threshold=float(t), training=training)
    return TrainResult(model, est.thresholds_.tolist(), est.nonzero_.tolist(), errors.tolist(), float(t), chosen_by,
                       len(genes))


def train_files(expr, labels, out, *, folds="loo", threshold="auto", seed: int = 0, name: str | None = None) -> TrainResult:
    """Train on an expression file (samples × genes) and a labels file, and write the model file to ``out``."""
    from kb.pam.cohort import read_labels, read_matrix

    folds, threshold = parse_folds(folds), parse_threshold(threshold)
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise InputError(f"--out: expected a .json model file; got {str(out)!r}")
    ids, genes, X = read_matrix(expr)
    y = read_labels(labels, ids, genes, expr)
    result = train(X, y, genes, folds=folds, threshold=threshold, seed=seed,
                   name=name or f"PAM model trained on {Path(expr).name}", model_id=out.stem, source=str(out))
    save_model(out, result.model)
    return result
