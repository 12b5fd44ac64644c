"""Genes of a model ranked by how far their shrunken centroids stand from the overall centroid.

`list_genes` is pamr's ``pamr.listgenes`` for a fitted estimator (with a cross-validation, also each
gene's average rank over the folds and the share of folds that select it). `model_genes` ranks the
genes of any `PamModel` the same way, for `kb pam genes`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kb.core.errors import InputError
from kb.pam.inputs import check_threshold


@dataclass(frozen=True)
class GeneScore:
    """One gene of a ranking.

    Attributes
    ----------
    id : str
        The gene's name (its 0-based column index as a string when the model has no gene names).
    index : int
        Its column in the training matrix (or in the model's genes).
    scores : dict
        Class -> (shrunken centroid − overall centroid) / (s_i + s0).
    av_rank_in_cv, prop_selected_in_cv : float or None
        With a cross-validation: the mean over folds of the gene's rank by its largest unshrunken
        |score| in the fold's fit (1 = largest; ties share the average rank), and the share of folds
        in which it survives the threshold.
    """

    id: str
    index: int
    scores: dict
    av_rank_in_cv: float | None = None
    prop_selected_in_cv: float | None = None

    def as_dict(self, pamr_rounding: bool = False) -> dict:
        """JSON form; ``pamr_rounding`` rounds scores to 4 decimals and average ranks to 2, as pamr prints."""
        scores = {c: round(v, 4) + 0.0 for c, v in self.scores.items()} if pamr_rounding else dict(self.scores)
        rank = self.av_rank_in_cv
        if pamr_rounding and rank is not None:
            rank = round(rank, 2)
        return {"id": self.id, "scores": scores, "av_rank_in_cv": rank, "prop_selected_in_cv": self.prop_selected_in_cv}


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n of ascending ``values``, ties sharing their average rank (R's ``rank``)."""
    v = np.asarray(values)
    order = np.argsort(v, kind="stable")
    ordered = v[order]
    new = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, v.size))
    ranks = np.empty(v.size)
    ranks[order] = (starts + (sizes + 1) / 2.0)[group]
    return ranks


def _ranked(scores, names, indices):
    """Rows in pamr's order: decreasing largest |score|, ties in gene order (R's order is stable)."""
    order = np.argsort(-np.abs(scores).max(axis=0), kind="stable")
    return [(int(indices[j]), names[j], scores[:, j]) for j in order]


def list_genes(est, threshold, cv=None) -> list[GeneScore]:
    """pamr.listgenes(fit, data, threshold, fitcv) for a fitted `NearestShrunkenCentroid`."""
    t = check_threshold(threshold)
    shrunk = est._shrunk_d(t)
    keep = np.flatnonzero((shrunk != 0).any(axis=0))
    # As pamr: the score is (shrunken centroid − overall) / sd, computed from the centroid.
    scores = ((est.shrunken_centroids(t) - est.overall_centroid_) / est.sd_)[:, keep]
    names = getattr(est, "feature_names_in_", None)
    ids = [str(names[j]) if names is not None else str(j) for j in keep]
    classes = [str(c) for c in est.classes_]
    rank = prop = None
    if cv is not None:
        if cv.fold_deltas.shape[1:] != (est.classes_.size, est.n_features_in_) or \
                not np.array_equal(cv.thresholds, est.thresholds_):
            raise InputError("cv must be a cross-validation of this model (its cross_validation result); "
                             f"got one over {cv.fold_deltas.shape[2]} genes and {cv.thresholds.size} thresholds")
        d = cv.fold_deltas
        # pamr ranks each fold's genes by max_k |(centroid − overall) / sd| at threshold 0, i.e. |d|·m_k.
        top = np.abs(d * cv.fold_scale[None, :, None]).max(axis=1)
        rank = np.mean([average_ranks(-r) for r in top], axis=0)
        prop = ((np.abs(d) - t) > 0).any(axis=1).mean(axis=0)
    out = []
    for j, name, s in _ranked(scores, ids, keep):
        out.append(GeneScore(id=name, index=j, scores=dict(zip(classes, map(float, s))),
                             av_rank_in_cv=None if rank is None else float(rank[j]),
                             prop_selected_in_cv=None if prop is None else float(prop[j])))
    return out


def model_genes(model) -> tuple[list[GeneScore], str]:
    """(genes of a `PamModel` ranked as pamr.listgenes ranks them, what the scores are measured from).

    A model file from `kb pam train` keeps the overall centroid, so its scores are pamr's. A published
    model gives only shrunken centroids and sd: its scores are measured from the class-size-weighted
    mean of the centroids (for two classes this ranks genes by |c_a − c_b| / sd, as pamr would).
    """
    C = model.shrunken_centroids
    if model.overall_centroid is not None:
        reference, what = model.overall_centroid, "the overall centroid of the training samples"
    else:
        w = np.array([model.n_per_class[c] for c in model.classes], dtype=float)
        reference = (w[:, None] * C).sum(axis=0) / w.sum()
        what = "the class-size-weighted mean of the class centroids (the model gives no overall centroid)"
    scores = (C - reference) / model.sd
    cv = (model.training or {}).get("genes_cv") or {}
    ranks, props = cv.get("av_rank_in_cv"), cv.get("prop_selected_in_cv")
    out = []
    for j, name, s in _ranked(scores, list(model.genes), np.arange(model.n_genes)):
        out.append(GeneScore(id=name, index=j, scores=dict(zip(model.classes, map(float, s))),
                             av_rank_in_cv=None if ranks is None else ranks[j],
                             prop_selected_in_cv=None if props is None else props[j]))
    return out, what

