"""kb.pam against pamr 1.57 on the Khan SRBCT data and synthetic sets (tests/fixtures/pamr/make_fixtures.R):
training, prediction, CV posteriors and log-likelihood, confusion, listgenes, adaptthresh, FDR, and
every option of pamr.train (sign contrast, scale.sd, offset, hetero, threshold grids and scales)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kb.pam.adaptive import adaptive_threshold_scales
from kb.pam.engine import NearestShrunkenCentroid, leave_one_out_folds
from kb.pam.fdr import fdr

PAMR = Path(__file__).parent / "fixtures" / "pamr"
TIGHT = {"rtol": 1e-9, "atol": 1e-12}
POST = {"rtol": 1e-9, "atol": 0}  # posteriors go down to 1e-300: relative only


def _csv(name):
    path = PAMR / name
    return pd.read_csv(path if path.exists() else path.with_name(name + ".gz"), index_col=0)


@pytest.fixture(scope="module")
def data():
    cache = {}

    def get(name):
        if name not in cache:
            ref = json.loads(gzip.open(PAMR / f"{name}_pamr.json.gz").read())
            X = _csv(f"{name}_x.csv")
            y = _csv(f"{name}_y.csv")["label"].to_numpy()
            cache[name] = ref, X, y
        return cache[name]

    return get


def _folds(ref_folds):
    return [np.asarray(f) - 1 for f in ref_folds]  # R indices are 1-based


def _assert_fit(model, fit):
    assert list(model.classes_) == fit["classes"]
    np.testing.assert_allclose(model.thresholds_, fit["threshold"], **TIGHT)
    np.testing.assert_array_equal(model.nonzero_, fit["nonzero"])
    np.testing.assert_array_equal(model.train_errors_, fit["errors"])
    np.testing.assert_array_equal(model.train_predictions_, np.array(fit["yhat"]))
    np.testing.assert_allclose(model.sd_, fit["sd"], **TIGHT)
    if fit["offset"] is not None:
        np.testing.assert_allclose(model.s0_, fit["offset"], **TIGHT)
    np.testing.assert_allclose(model.priors_, fit["prior"], **TIGHT)
    np.testing.assert_allclose(model.se_scale_, fit["se_scale"], **TIGHT)
    np.testing.assert_allclose(model.threshold_scale_, fit["threshold_scale"], **TIGHT)
    np.testing.assert_allclose(model.centroids_, fit["centroids"], **TIGHT)
    np.testing.assert_allclose(model.overall_centroid_, fit["centroid_overall"], **TIGHT)


def _assert_cv(cv, ref):
    np.testing.assert_allclose(cv.errors, ref["error"], **TIGHT)
    np.testing.assert_array_equal(cv.predictions, np.array(ref["yhat"]))
    np.testing.assert_array_equal(cv.size, ref["size"])
    # No fixture CV reaches pamr's ±500 clipping (asserted), so pamr's posteriors are the exact softmax.
    assert (np.abs(cv.discriminant) < 500).all()
    np.testing.assert_allclose(cv.posteriors, ref["prob"], **POST)
    np.testing.assert_allclose(cv.loglik, ref["loglik"], **TIGHT)


def _assert_predict(model, X, p):
    t = p["threshold"]
    np.testing.assert_allclose(model.predict_proba(X, t), p["posterior"], **POST)
    assert list(model.predict(X, t)) == p["class"]
    kept = (model.shrunken_centroids(t) != model.overall_centroid_).any(axis=0)
    assert (np.flatnonzero(kept) + 1).tolist() == p["nonzero"]
    if p["shrunken_centroids"] is not None:
        np.testing.assert_allclose(model.shrunken_centroids(t), p["shrunken_centroids"], **TIGHT)


def _assert_genes(genes, ref):
    """pamr prints scores rounded to 4 decimals and average ranks to 2: exact to that rounding."""
    cols, rows = ref["columns"], ref["rows"]
    assert [g.id for g in genes] == [r[0] for r in rows]
    n_scores = sum(c.endswith("-score") for c in cols)
    assert [c[:-len("-score")] for c in cols[1:1 + n_scores]] == list(genes[0].scores)
    ours = np.array([list(g.scores.values()) for g in genes])
    theirs = np.array([[float(v) for v in r[1:1 + n_scores]] for r in rows])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=5e-5 + 1e-12)
    np.testing.assert_array_equal(np.round(ours, 4), theirs)
    if "av-rank-in-CV" in cols:
        rank = np.array([g.av_rank_in_cv for g in genes])
        np.testing.assert_array_equal(np.round(rank, 2), [float(r[1 + n_scores]) for r in rows])
        np.testing.assert_allclose([g.prop_selected_in_cv for g in genes], [float(r[2 + n_scores]) for r in rows],
                                   rtol=0, atol=1e-12)
    else:
        assert all(g.av_rank_in_cv is None and g.prop_selected_in_cv is None for g in genes)


def _assert_confusion(c, ref):
    assert c.index + 1 == ref["index"] and c.classes == ref["classes"] == ref["predicted_classes"]
    np.testing.assert_array_equal(c.table, ref["table"])
    np.testing.assert_allclose(c.class_error, ref["class_error"], rtol=1e-12)
    assert c.overall_error == pytest.approx(ref["overall_error"], rel=1e-12)


def _assert_fdr(f, ref):
    res = np.array(ref["results"])
    np.testing.assert_allclose(f.thresholds, res[:, 0], **TIGHT)
    np.testing.assert_array_equal(f.n_significant, res[:, 1])
    np.testing.assert_allclose(f.median_null, res[:, 2], **TIGHT)
    np.testing.assert_allclose(f.median_fdr, res[:, 3], **TIGHT)
    np.testing.assert_allclose(f.fdr_90, res[:, 4], **TIGHT)
    assert f.pi0 == pytest.approx(ref["pi0"], rel=1e-12)


# ------------------------------------------------------------------------- Khan SRBCT
@pytest.fixture(scope="module")
def khan(data):
    ref, X, y = data("khan")
    model = NearestShrunkenCentroid().fit(X, y)
    return ref, X, y, model, model.cross_validation(X, y, _folds(ref["cv10"]["folds"]))


def test_khan_records_pamr_and_r_versions(khan):
    ref = khan[0]
    assert ref["pamr_version"] == "1.57" and ref["r_version"].startswith("R version")
    assert ref["rng_kind"] == ["Mersenne-Twister", "Inversion", "Rejection"]


def test_khan_fit_and_prediction_match_pamr(khan):
    ref, X, _, model, _ = khan
    assert X.shape == (63, 2308) and model.nonzero_[0] == 2308
    _assert_fit(model, ref["fit"])
    Xtest = _csv("khan_xtest.csv")
    for p in ref["predict"]:
        _assert_predict(model, Xtest, p)


def test_khan_cross_validation_matches_pamr(khan):
    ref, X, y, model, cv10 = khan
    _assert_cv(cv10, ref["cv10"])
    assert [f.tolist() for f in cv10.folds] == [f.tolist() for f in _folds(ref["cv10"]["folds"])]
    loo = model.cross_validation(X, y, leave_one_out_folds(len(y)))
    _assert_cv(loo, ref["loo"])
    np.testing.assert_array_equal(model.cross_validate(X, y, loo.folds), loo.errors)


def test_khan_far_profiles_show_where_pamr_clips(khan):
    # pamr's posteriors are exp(clip(dd, ±500)) normalised; ours the exact max-subtracted softmax.
    ref, _, _, model, _ = khan
    far = _csv("khan_xfar.csv")
    for p in ref["far"]:
        t = p["threshold"]
        lin, _ = model._scores(far, t, None)  # pamr's diag.disc value (a private helper of the engine)
        clipped = np.exp(np.sign(lin) * np.minimum(np.abs(lin), 500))
        np.testing.assert_allclose(clipped / clipped.sum(axis=1, keepdims=True), p["posterior"], **POST)
        exact = np.exp(lin - lin.max(axis=1, keepdims=True))
        np.testing.assert_allclose(model.predict_proba(far, t), exact / exact.sum(axis=1, keepdims=True), **POST)
        assert list(model.predict(far, t)) == p["class"]
    first = np.asarray(ref["far"][0]["posterior"])
    ours = model.predict_proba(far, ref["far"][0]["threshold"])
    assert (np.abs(model._scores(far, 0.0, None)[0]) > 500).any()
    assert ours[0, 1] < first[0, 1] * 1e-6  # pamr's clipping overstates P(EWS) of the first profile 10^7-fold


def test_khan_confusion_matches_pamr(khan):
    ref, X, y, model, cv10 = khan
    t = ref["confusion_train"]["threshold"]  # between grid points: pamr takes the first >= it
    _assert_confusion(model.confusion(t), ref["confusion_train"])
    _assert_confusion(cv10.confusion(t), ref["confusion_cv10"])
    _assert_confusion(model.cross_validation(X, y, leave_one_out_folds(63)).confusion(t), ref["confusion_loo"])


def test_khan_listgenes_matches_pamr(khan):
    ref, X, y, model, cv10 = khan
    _assert_genes(model.list_genes(ref["listgenes"]["threshold"]), ref["listgenes"])
    _assert_genes(model.list_genes(ref["listgenes_cv10"]["threshold"], cv10), ref["listgenes_cv10"])
    loo = model.cross_validation(X, y, leave_one_out_folds(63))
    _assert_genes(model.list_genes(ref["listgenes_loo"]["threshold"], loo), ref["listgenes_loo"])


@pytest.mark.parametrize("key, ntries, factor", [("adaptthresh", 10, 0.9), ("adaptthresh_5_08", 5, 0.8)])
def test_khan_adaptthresh_matches_pamr(khan, key, ntries, factor):
    ref, X, y, model, _ = khan
    a = adaptive_threshold_scales(model, X, y, ntries=ntries, reduction_factor=factor)
    r = ref[key]
    np.testing.assert_allclose(a.errors, r["errors"], **TIGHT)
    np.testing.assert_allclose(a.scales, r["scales"], **TIGHT)
    np.testing.assert_allclose(a.rocs, r["rocs"], **TIGHT)
    np.testing.assert_allclose(a.opt_scale, r["opt_scale"], **TIGHT)


def test_khan_refit_with_adaptive_scales_matches_pamr(khan):
    ref, X, y, model, _ = khan
    scales = adaptive_threshold_scales(model, X, y).opt_scale
    refit = NearestShrunkenCentroid(threshold_scale=scales).fit(X, y)
    r = ref["adapt_refit"]
    np.testing.assert_allclose(refit.thresholds_, r["threshold"], **TIGHT)
    np.testing.assert_array_equal(refit.nonzero_, r["nonzero"])
    np.testing.assert_array_equal(refit.train_errors_, r["errors"])
    cv = refit.cross_validation(X, y, _folds(ref["cv10"]["folds"]))
    np.testing.assert_allclose(cv.errors, ref["adapt_refit_cv10"]["error"], **TIGHT)
    np.testing.assert_allclose(cv.loglik, ref["adapt_refit_cv10"]["loglik"], **TIGHT)


def test_khan_fdr_matches_pamr_with_its_permutations(khan):
    ref, X, y, model, _ = khan
    r = ref["fdr"]
    perms = np.asarray(r["permutations"]) - 1
    assert perms.shape == (r["nperms"], 63)
    f = fdr(model, X, y, permutations=perms)
    _assert_fdr(f, r)
    np.testing.assert_array_equal(f.permutations, perms)


# ------------------------------------------------------------------ syn2: every option
VARIANTS = {
    "default": {}, "sign_positive": {"sign_contrast": "positive"}, "sign_negative": {"sign_contrast": "negative"},
    "scale_sd_false": {"scale_sd": False}, "offset_25": {"offset_percent": 25}, "hetero_A": {"hetero": "A"},
    "n_threshold_12": {"n_threshold": 12},
    "thresholds_remove_zeros": {"thresholds": [0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 12]},
    "thresholds_keep_zeros": {"thresholds": [0, 0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 10, 12], "remove_zeros": False},
    "threshold_scale": {"threshold_scale": {"A": 1, "B": 1.6}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_syn2_option_matches_pamr(data, variant):
    ref, X, y = data("syn2")
    r = ref[variant]
    model = NearestShrunkenCentroid(**VARIANTS[variant]).fit(X, y)
    _assert_fit(model, r["fit"])
    if variant == "hetero_A":
        np.testing.assert_allclose(model.norm_centroid_, r["norm_cent"], **TIGHT)
    else:
        assert not hasattr(model, "norm_centroid_")
    train_post = np.stack([model.predict_proba(X, t) for t in model.thresholds_], axis=2)
    np.testing.assert_allclose(train_post, r["fit"]["prob"], **POST)
    Xtest = _csv("syn2_xtest.csv")
    for p in r["predict"]:
        _assert_predict(model, Xtest, p)
    cv = model.cross_validation(X, y, _folds(ref["folds"]))
    _assert_cv(cv, r["cv"])
    _assert_genes(model.list_genes(r["listgenes"]["threshold"], cv), r["listgenes"])


def test_syn2_grids_remove_zeros_as_pamr(data):
    ref, _, _ = data("syn2")
    removed, kept = ref["thresholds_remove_zeros"]["fit"], ref["thresholds_keep_zeros"]["fit"]
    assert len(kept["threshold"]) == 12 and kept["nonzero"][-1] == 0
    assert removed["nonzero"][-1] == 0 and 0 not in removed["nonzero"][:-1]
    assert len(removed["threshold"]) < len(kept["threshold"])


@pytest.mark.parametrize("key, params", [("fdr", {}), ("fdr_positive", {"sign_contrast": "positive"}),
                                         ("fdr_hetero", {"hetero": "A"})])
def test_syn2_fdr_matches_pamr(data, key, params):
    ref, X, y = data("syn2")
    model = NearestShrunkenCentroid(**params).fit(X, y)
    _assert_fdr(fdr(model, X, y, permutations=np.asarray(ref[key]["permutations"]) - 1), ref[key])


def test_syn2_far_profiles_match_pamr(data):
    ref, X, y = data("syn2")
    model = NearestShrunkenCentroid().fit(X, y)
    far = _csv("syn2_xfar.csv")
    for p in ref["far"]:
        _assert_predict(model, far, p)


# -------------------------------------------------------------- syn4: four unbalanced classes
def test_syn4_matches_pamr(data):
    ref, X, y = data("syn4")
    model = NearestShrunkenCentroid().fit(X, y)
    _assert_fit(model, ref["fit"])
    cv = model.cross_validation(X, y, _folds(ref["cv"]["folds"]))
    _assert_cv(cv, ref["cv"])
    t = ref["confusion_train"]["threshold"]
    _assert_confusion(model.confusion(t), ref["confusion_train"])
    _assert_confusion(cv.confusion(t), ref["confusion_cv"])
    assert np.asarray(ref["confusion_cv"]["table"]).trace() < 40  # a case with errors off the diagonal
    _assert_genes(model.list_genes(ref["listgenes"]["threshold"]), ref["listgenes"])
    _assert_genes(model.list_genes(ref["listgenes_cv"]["threshold"], cv), ref["listgenes_cv"])
    _assert_fdr(fdr(model, X, y, permutations=np.asarray(ref["fdr"]["permutations"]) - 1), ref["fdr"])


@pytest.mark.parametrize("key, ntries, factor", [("adaptthresh", 10, 0.9), ("adaptthresh_6_08", 6, 0.8)])
def test_syn4_adaptthresh_and_refit_match_pamr(data, key, ntries, factor):
    ref, X, y = data("syn4")
    model = NearestShrunkenCentroid().fit(X, y)
    a = adaptive_threshold_scales(model, X, y, ntries=ntries, reduction_factor=factor)
    for field in ("errors", "scales", "rocs", "opt_scale"):
        np.testing.assert_allclose(getattr(a, field), ref[key][field], **TIGHT)
    if key == "adaptthresh":
        refit = NearestShrunkenCentroid(threshold_scale=a.opt_scale).fit(X, y)
        np.testing.assert_allclose(refit.thresholds_, ref["adapt_refit"]["threshold"], **TIGHT)
        np.testing.assert_array_equal(refit.train_errors_, ref["adapt_refit"]["errors"])
        cv = refit.cross_validation(X, y, _folds(ref["cv"]["folds"]))
        np.testing.assert_allclose(cv.errors, ref["adapt_refit_cv"]["error"], **TIGHT)
