"""kb.pam's pamr options, cross-validation results, reports, adaptive scales and FDR: checks of inputs and
properties that hold whatever pamr says (the golden values are in test_pam_pamr.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.core.errors import InputError
from kb.pam.adaptive import adaptive_threshold_scales, roc
from kb.pam.engine import NearestShrunkenCentroid, balanced_folds, leave_one_out_folds
from kb.pam.fdr import draw_permutations, fdr
from kb.pam.genes import average_ranks


def _data(seed=0, sizes=(8, 6, 5), genes=40, shift=1.5):
    rng = np.random.default_rng(seed)
    y = np.repeat([f"c{k}" for k in range(len(sizes))], sizes)
    X = rng.normal(5, 1, (y.size, genes)) * rng.uniform(0.5, 2, genes)
    for k in range(len(sizes)):
        X[y == f"c{k}", 3 * k:3 * k + 3] += shift
    return X, y


@pytest.mark.parametrize("params, pattern", [
    ({"sign_contrast": "up"}, r"sign_contrast must be one of both, positive, negative; got 'up'"),
    ({"hetero": "zz"}, r"hetero must be one of the classes \['c0', 'c1', 'c2'\]; got 'zz'"),
    ({"threshold_scale": [1, 2]}, r"threshold_scale must give one value per class \(3"),
    ({"threshold_scale": {"c0": 1, "c1": 1, "c2": -1}}, r"threshold_scale must be positive finite numbers"),
    ({"threshold_scale": {"c0": 1, "c1": 1, "cX": 1}}, r"threshold_scale must have exactly the classes"),
    ({"thresholds": [0, -1]}, r"thresholds must be a non-empty 1-D sequence of finite numbers >= 0"),
    ({"thresholds": [[0, 1]]}, r"thresholds must be a non-empty 1-D"),
    ({"thresholds": "0,1"}, r"thresholds must be a sequence of numbers"),
    ({"scale_sd": "no"}, r"scale_sd must be True or False; got 'no'"),
    ({"remove_zeros": 1}, r"remove_zeros must be True or False"),
])
def test_options_are_validated(params, pattern):
    with pytest.raises(InputError, match=pattern):
        NearestShrunkenCentroid(**params).fit(*_data())


def test_get_params_round_trips_the_constructor():
    est = NearestShrunkenCentroid(n_threshold=12, sign_contrast="negative", hetero="c0", thresholds=[0, 1])
    assert NearestShrunkenCentroid(**est.get_params()).get_params() == est.get_params()


def test_hetero_transforms_new_samples_as_the_training_ones():
    X, y = _data(1)
    est = NearestShrunkenCentroid(hetero="c0").fit(X, y)
    norm = X[y == "c0"].mean(axis=0)
    np.testing.assert_allclose(est.norm_centroid_, norm)
    plain = NearestShrunkenCentroid().fit(np.abs(X - norm), y)
    new = np.random.default_rng(9).normal(5, 2, (4, X.shape[1]))
    t = est.thresholds_[5]
    np.testing.assert_allclose(est.predict_proba(new, t), plain.predict_proba(np.abs(new - norm), t), rtol=1e-12)
    np.testing.assert_allclose(est.thresholds_, plain.thresholds_, rtol=1e-12)


def test_scale_sd_false_uses_unit_sd_and_sign_contrast_keeps_one_sign():
    X, y = _data(2)
    est = NearestShrunkenCentroid(scale_sd=False, sign_contrast="positive").fit(X, y)
    assert (est.sd_ == 1).all() and est.s0_ == 0
    shrunk = est.shrunken_centroids(est.thresholds_[3]) - est.overall_centroid_
    assert (shrunk >= 0).all() and (shrunk > 0).any()
    neg = NearestShrunkenCentroid(sign_contrast="negative").fit(X, y)
    assert ((neg.shrunken_centroids(0.0) - neg.overall_centroid_) <= 0).all()


def test_explicit_grid_in_any_order_and_remove_zeros():
    X, y = _data(3)
    top = NearestShrunkenCentroid().fit(X, y).thresholds_[-1]
    grid = [0.0, 0.5, top + 1, 1.0]  # a zero-gene threshold inside the grid
    kept = NearestShrunkenCentroid(thresholds=grid, remove_zeros=False).fit(X, y)
    np.testing.assert_array_equal(kept.thresholds_, grid)
    assert kept.nonzero_[2] == 0 and kept.nonzero_[3] > 0
    removed = NearestShrunkenCentroid(thresholds=grid).fit(X, y)
    np.testing.assert_array_equal(removed.thresholds_, grid[:3])  # pamr: up to the first zero
    folds = balanced_folds(y, 3, seed=0)
    order = np.argsort(grid)
    ascending = NearestShrunkenCentroid(thresholds=np.sort(grid), remove_zeros=False).fit(X, y)
    np.testing.assert_allclose(kept.cross_validation(X, y, folds).discriminant[..., order],
                               ascending.cross_validation(X, y, folds).discriminant, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(kept.train_errors_[order], ascending.train_errors_)


def test_cv_result_quantities_agree():
    X, y = _data(4)
    est = NearestShrunkenCentroid(threshold_scale={"c0": 1, "c1": 1.3, "c2": 0.8}).fit(X, y)
    cv = est.cross_validation(X, y, balanced_folds(y, 4, seed=1))
    np.testing.assert_allclose(cv.posteriors.sum(axis=1), 1, rtol=1e-12)
    assert (cv.loglik <= 0).all() and np.isfinite(cv.loglik).all()
    counts = np.bincount(cv.y_codes)
    np.testing.assert_allclose((cv.class_errors() * counts[:, None]).sum(axis=0) / counts.sum(), cv.errors)
    sizes = np.array([f.size for f in cv.folds])
    np.testing.assert_allclose((cv.fold_errors() * sizes[:, None]).sum(axis=0) / sizes.sum(), cv.errors)
    assert cv.error_se().shape == cv.errors.shape and (cv.error_se() >= 0).all()
    np.testing.assert_array_equal(cv.errors, est.cross_validate(X, y, cv.folds))
    np.testing.assert_array_equal(cv.predictions, est.cross_validate_predict(X, y, cv.folds))
    c = cv.confusion(est.thresholds_[4])
    assert c.table.sum() == y.size and c.index == 4
    assert c.overall_error == pytest.approx(cv.errors[4])
    with pytest.raises(InputError, match="above the largest threshold of the grid"):
        cv.confusion(est.thresholds_[-1] + 1)


def test_list_genes_orders_by_largest_score_and_checks_its_cv():
    X, y = _data(5)
    est = NearestShrunkenCentroid().fit(X, y)
    t = est.thresholds_[6]
    genes = est.list_genes(t)
    top = [max(abs(v) for v in g.scores.values()) for g in genes]
    assert top == sorted(top, reverse=True) and len(genes) == est.nonzero_[6]
    assert [g.id for g in genes] == [str(g.index) for g in genes]  # no names: column indices
    other = NearestShrunkenCentroid().fit(X[:, :20], y)
    with pytest.raises(InputError, match="cv must be a cross-validation of this model"):
        est.list_genes(t, other.cross_validation(X[:, :20], y, leave_one_out_folds(y.size)))
    cv = est.cross_validation(X, y, leave_one_out_folds(y.size))
    ranked = est.list_genes(t, cv)
    assert all(1 <= g.av_rank_in_cv <= X.shape[1] and 0 <= g.prop_selected_in_cv <= 1 for g in ranked)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=12))
def test_average_ranks_are_r_ranks(values):
    v = np.array(values, dtype=float)
    naive = [sum(w < x for w in values) + (sum(w == x for w in values) + 1) / 2 for x in values]
    np.testing.assert_allclose(average_ranks(v), naive)


def test_adaptive_scales_inputs_and_invariants():
    X, y = _data(6, shift=0.8)
    est = NearestShrunkenCentroid().fit(X, y)
    a = adaptive_threshold_scales(est, X, y, ntries=4, reduction_factor=0.8)
    assert a.scales.shape == (5, 3) and (a.scales.min(axis=1) == 1).all()
    assert any((a.opt_scale == row).all() for row in a.scales)
    assert a.as_dict()["opt_scale"] == dict(zip(["c0", "c1", "c2"], a.opt_scale.tolist()))
    with pytest.raises(InputError, match="X must be the matrix the model was fitted on"):
        adaptive_threshold_scales(est, X + np.arange(X.shape[1]), y)
    with pytest.raises(InputError, match="y must be the labels the model was fitted on"):
        adaptive_threshold_scales(est, X, y[::-1])
    with pytest.raises(InputError, match="reduction_factor must be a number between 0 and 1"):
        adaptive_threshold_scales(est, X, y, reduction_factor=1.5)
    with pytest.raises(InputError, match="ntries must be an integer >= 1"):
        adaptive_threshold_scales(est, X, y, ntries=0)
    perfect = NearestShrunkenCentroid(thresholds=[0.0]).fit(*_data(7, shift=20))
    with pytest.raises(InputError, match="training error is zero at every threshold"):
        adaptive_threshold_scales(perfect, *_data(7, shift=20))
    assert np.isnan(roc([5, 5, 5], [1, 2, 3]))  # pamr divides by the range of the gene counts


def test_fdr_seeds_permutations_and_checks():
    X, y = _data(8)
    est = NearestShrunkenCentroid().fit(X, y)
    a, b = fdr(est, X, y, n_perms=15, seed=3), fdr(est, X, y, n_perms=15, seed=3)
    np.testing.assert_array_equal(a.permutations, b.permutations)
    np.testing.assert_array_equal(a.median_fdr, b.median_fdr)
    assert not np.array_equal(fdr(est, X, y, n_perms=15, seed=4).permutations, a.permutations)
    np.testing.assert_array_equal(fdr(est, X, y, permutations=a.permutations).fdr_90, a.fdr_90)
    assert ((a.median_fdr >= 0) & (a.median_fdr <= 1) & (a.fdr_90 >= a.median_fdr - 1e-12)).all()
    assert 0 <= a.pi0 <= 1 and a.rows()[0]["n_significant"] == X.shape[1]
    np.testing.assert_array_equal(draw_permutations(y.size, 2, 5), draw_permutations(y.size, 2, 5))
    with pytest.raises(InputError, match="permutation 1 is not a permutation"):
        fdr(est, X, y, permutations=[np.arange(y.size), np.zeros(y.size, dtype=int)])
    with pytest.raises(InputError, match=r"permutations must be integer arrays of shape \(n_perms, 19\)"):
        fdr(est, X, y, permutations=np.arange(5)[None])
    with pytest.raises(InputError, match="n_perms must be an integer >= 1"):
        fdr(est, X, y, n_perms=0)


def test_fdr_null_deviations_equal_a_refit_per_permutation():
    X, y = _data(9, sizes=(7, 5))
    est = NearestShrunkenCentroid().fit(X, y)
    perm = draw_permutations(y.size, 1, 0)[0]
    refit = NearestShrunkenCentroid().fit(X, y[perm])
    from kb.pam.fdr import _null_deviations

    null = _null_deviations(X, np.searchsorted(est.classes_, y), perm[None], 2, est._m, est.s0_, True)[0]
    s_i = refit.sd_ - refit.s0_
    expected = (refit.centroids_ - refit.overall_centroid_) / (s_i + est.s0_) / est._m[:, None]
    np.testing.assert_allclose(null, expected, rtol=1e-10, atol=1e-12)
