"""The figures the commands draw: what each needs is gathered here, drawing is `kb.pam.plots`.

- `training_figure(result)`: `kb pam train --plot`, the CV curve of a training run;
- `model_figure(spec, kind, expr, labels)`: `kb pam plot`, a model's centroids, cross-validated
  probabilities or top genes;
- `patient_figure(pam_block, patient)`: `kb evaluate --plot`, a patient's profile against the centroids;
- `cohort_figure(payload)`: `kb score --plot`, the posteriors of the scored cohort.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kb.core.errors import InputError

KINDS = ("centroids", "cvprob", "genes")


def training_figure(result):
    """pamr.plotcv of a `kb.pam.train.TrainResult`."""
    from kb.pam import plots

    cv, m = result.cv, result.model
    folds = m.training["folds"]
    how = "leave-one-out" if folds == "loo" else f"{folds['k']}-fold"
    return plots.cv_curve(cv.thresholds, cv.errors, result.estimator.nonzero_, cv.class_errors(), m.classes,
                          se=cv.error_se(), chosen=result.threshold, title=f"{m.name}: {how} CV")


def _data(expr, labels, kind):
    from kb.pam.cohort import read_labels, read_matrix

    if expr is None or labels is None:
        raise InputError(f"kb pam plot --kind {kind}: expected EXPR and LABELS (samples × genes, and their classes)")
    ids, genes, X = read_matrix(expr)
    return ids, genes, X, np.asarray(read_labels(labels, ids, genes, expr))


def _columns(genes, wanted, expr):
    where = {g: i for i, g in enumerate(genes)}
    missing = [g for g in wanted if g not in where]
    if missing:
        raise InputError(f"EXPR {expr}: missing {len(missing)} of the model's genes: {', '.join(missing[:5])}"
                         f"{', ...' if len(missing) > 5 else ''}")
    return [where[g] for g in wanted]


def model_figure(spec, kind: str, expr=None, labels=None, *, db=None):
    """`kb pam plot MODEL --kind centroids|cvprob|genes [EXPR LABELS]`.

    - centroids: the model's genes ranked (`kb.pam.genes.model_genes`), each class's score;
    - genes: EXPR's values of the model's top genes, samples grouped by LABELS;
    - cvprob: for a model file of `kb pam train`, EXPR and LABELS must be its training data: the training
      is re-run with the file's settings (folds, sign contrast, threshold scales) and the cross-validated
      posteriors at the first grid threshold >= the model's are drawn; for a published model (fitted on
      other patients) the model's own posteriors of EXPR, not cross-validated, as the title says.
    """
    from kb.pam import plots
    from kb.pam.genes import model_genes
    from kb.pam.open import open_model

    if kind not in KINDS:
        raise InputError(f"--kind: expected one of {', '.join(KINDS)}; got {kind!r}")
    model, _ = open_model(spec, db=db)
    ranked, reference = model_genes(model)
    if kind == "centroids":
        scores = np.array([[g.scores[c] for g in ranked] for c in model.classes])
        xlabel = ("(centroid − overall) / (s_i + s0)" if model.overall_centroid is not None
                  else "(centroid − weighted mean of centroids) / (s_i + s0)")
        return plots.centroids([g.id for g in ranked], model.classes, scores, xlabel=xlabel,
                               title=f"{model.name}: shrunken centroids")
    ids, genes, X, y = _data(expr, labels, kind)
    unknown = sorted(set(y) - set(model.classes))
    if unknown:
        raise InputError(f"LABELS {labels}: labels {unknown[:5]} are not classes of the model ({', '.join(model.classes)})")
    if kind == "genes":
        order = [g.id for g in ranked]
        return plots.gene_values(X[:, _columns(genes, order, expr)], y, order, model.classes,
                                 title=f"{model.name}: expression of the top genes in {Path(expr).name}")
    if model.kind != "trained" or not model.training:
        P = model.predict_proba(X[:, _columns(genes, model.genes, expr)])
        return plots.cv_probabilities(P, y, model.classes, title=f"{model.name}: posteriors of {Path(expr).name} "
                                      "(not cross-validated: the model was fitted on other patients)")
    cv, t = _rerun(model, X, y, ids, genes)
    from kb.pam.confusion import grid_index

    j = grid_index(cv.thresholds, t)
    return plots.cv_probabilities(cv.posteriors[:, :, j], y, model.classes, threshold=float(cv.thresholds[j]),
                                  title=f"{model.name}: cross-validated probabilities")


def _rerun(model, X, y, ids, genes):
    """The cross-validation of a model file, re-run on its training data (checked to be that data)."""
    from kb.pam.engine import NearestShrunkenCentroid, balanced_folds, leave_one_out_folds

    t = model.training
    scale = t.get("threshold_scale")
    est = NearestShrunkenCentroid(sign_contrast=t.get("sign_contrast", "both"), threshold_scale=scale).fit(X, y)
    if est.thresholds_.size != len(t["thresholds"]) or not np.allclose(est.thresholds_, t["thresholds"], rtol=1e-9):
        raise InputError("EXPR and LABELS are not the data this model was trained on (the threshold grid differs); "
                         "expected the training files")
    kept = (est.shrunken_centroids(model.threshold) != est.overall_centroid_).any(axis=0)
    if [genes[j] for j in np.flatnonzero(kept)] != list(model.genes):
        raise InputError("EXPR and LABELS are not the data this model was trained on (other genes survive its "
                         "threshold); expected the training files")
    folds = t["folds"]
    if folds == "loo":
        split = leave_one_out_folds(len(y))
    elif "seed" in folds:
        split = balanced_folds(y, folds["k"], seed=folds["seed"])
    else:
        where = {s: i for i, s in enumerate(ids)}
        if sorted(s for f in folds["samples"] for s in f) != sorted(ids):
            raise InputError("EXPR holds other samples than the folds of this model; expected its training data")
        split = [np.array(sorted(where[s] for s in f)) for f in folds["samples"]]
    return est.cross_validation(X, y, split), model.threshold


def patient_figure(pam: dict, patient: str):
    """The profile of a PAM block (kb.pam.summary) against its centroids."""
    from kb.pam import plots

    if pam.get("call") is not None:
        post = ", ".join(f"P({c}) = {v:.2f}" for c, v in pam["posterior"].items())
        note = f"call {pam['call']} with {pam['priors']} priors ({post})" + (" — partial" if pam["partial"] else "")
    else:
        note = f"no call: {pam.get('reason')}"
    return plots.patient_profile(pam["profile"], pam["model"]["classes"], patient=patient, note=note,
                                 footer=f"{pam['model']['name']}. {pam['model']['validation_statement']}")


def cohort_figure(payload: dict):
    """The posteriors of a `kb score` run (its payload, `kb.pam.cohort.score_path`)."""
    from kb.pam import plots
    from kb.pam.cohort import posterior_counts

    edges, shown, counts = posterior_counts(payload["out"], payload["model"]["classes"])
    m = payload["model"]
    return plots.posterior_histogram(edges, counts, shown,
                                     title=f"{payload['n_samples']} samples scored with {m['id']} "
                                           f"({payload['priors']} priors)")
