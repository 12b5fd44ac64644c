"""kb.pam against pamr 1.57 reference outputs, the published 14-gene model, input checks and properties."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kb.core.errors import InputError
from kb.pam.engine import NearestShrunkenCentroid, balanced_folds, choose_threshold, leave_one_out_folds

PAMR = Path(__file__).parent / "fixtures" / "pamr"
TIGHT = {"rtol": 1e-9, "atol": 1e-12}


# ------------------------------------------------------------------ pamr fixtures
def _load(name):
    ref = json.loads((PAMR / f"{name}_pamr.json").read_text())
    X = pd.read_csv(PAMR / f"{name}_x.csv", index_col=0)
    y = pd.read_csv(PAMR / f"{name}_y.csv", index_col=0)["label"].to_numpy()
    Xtest = pd.read_csv(PAMR / f"{name}_xtest.csv", index_col=0)
    return ref, X, y, Xtest


@pytest.fixture(scope="module", params=["pub14", "three"])
def case(request):
    ref, X, y, Xtest = _load(request.param)
    return ref, X, y, Xtest, NearestShrunkenCentroid().fit(X, y)


def test_fit_matches_pamr(case):
    ref, X, _, _, model = case
    assert ref["pamr_version"] == "1.57"
    assert list(model.classes_) == ref["classes"]
    np.testing.assert_allclose(model.sd_, ref["sd"], **TIGHT)
    np.testing.assert_allclose(model.s0_, ref["offset_s0"][0], **TIGHT)
    np.testing.assert_allclose(model.priors_, ref["prior"], **TIGHT)
    np.testing.assert_allclose(model.se_scale_, ref["se_scale"], **TIGHT)
    np.testing.assert_allclose(model.overall_centroid_, ref["centroid_overall"], **TIGHT)
    np.testing.assert_allclose(model.centroids_, ref["centroids"], **TIGHT)
    np.testing.assert_allclose(model.thresholds_, ref["threshold"], **TIGHT)
    np.testing.assert_array_equal(model.nonzero_, ref["nonzero"])
    np.testing.assert_array_equal(model.train_errors_, ref["train_errors"])
    assert model.n_features_in_ == X.shape[1]
    assert list(model.feature_names_in_) == list(X.columns)


def test_shrunken_centroids_posteriors_and_classes_match_pamr(case):
    ref, _, _, Xtest, model = case
    for i in ref["at_threshold_index"]:
        t = model.thresholds_[i - 1]  # R indices are 1-based
        np.testing.assert_allclose(model.shrunken_centroids(t), ref[f"shrunken_centroids_{i}"], **TIGHT)
        np.testing.assert_allclose(model.predict_proba(Xtest, t), ref[f"test_posterior_{i}"], **TIGHT)
        assert list(model.predict(Xtest, t)) == ref[f"test_class_{i}"]


def test_cross_validation_matches_pamr(case):
    ref, X, y, _, model = case
    folds = [np.asarray(f) - 1 for f in ref["folds5"]]
    np.testing.assert_allclose(model.cross_validate(X, y, folds), ref["cv5_errors"], **TIGHT)
    loo = leave_one_out_folds(len(y))
    np.testing.assert_allclose(model.cross_validate(X, y, loo), ref["loocv_errors"], **TIGHT)
    assert list(model.cross_validate_predict(X, y, loo)[:, 9]) == ref["loocv_yhat_10"]


def test_surviving_genes_only_shift_delta_not_posteriors(case):
    # pamr restricts δ to genes with a nonzero shrunken d; the others add the same term to every class.
    _, _, _, Xtest, model = case
    t = model.thresholds_[9]
    keep = (model.shrunken_centroids(t) != model.overall_centroid_).any(axis=0)
    assert keep.sum() == model.nonzero_[9]
    z = (Xtest.to_numpy() - model.shrunken_centroids(t)[:, None, :]) / model.sd_
    full = (z**2).sum(axis=2).T - 2 * np.log(model.priors_)
    restricted = (z[:, :, keep] ** 2).sum(axis=2).T - 2 * np.log(model.priors_)
    np.testing.assert_allclose(model.decision_function(Xtest, t), restricted, rtol=1e-12)
    spread = full - restricted
    np.testing.assert_allclose(spread, spread[:, :1].repeat(spread.shape[1], axis=1), rtol=1e-12)


def test_loocv_equals_naive_refit_on_random_data():
    rng = np.random.default_rng(7)
    for trial in range(6):
        sizes = rng.integers(2, 7, size=int(rng.integers(2, 5)))
        y = np.repeat([f"c{k}" for k in range(sizes.size)], sizes)
        X = rng.normal(5, 2, (y.size, 60))
        X[:, :4] += np.repeat(rng.normal(0, 2, sizes.size), sizes)[:, None]
        model = NearestShrunkenCentroid(priors=None if trial % 2 else "equal").fit(X, y)
        folds = leave_one_out_folds(y.size) if trial < 3 else balanced_folds(y, 2, seed=trial)
        expected = _naive_cv_predict(model, X, y, folds)
        np.testing.assert_array_equal(model.cross_validate_predict(X, y, folds), expected)


def _naive_cv_predict(model, X, y, folds):
    """pamr's nsccv: refit centroids, s_i and s0 per fold; keep the full-data grid, priors and m_k."""
    codes = np.searchsorted(model.classes_, y)
    out = np.empty((y.size, model.thresholds_.size), dtype=model.classes_.dtype)
    K = model.classes_.size
    for fold in folds:
        train = np.setdiff1d(np.arange(y.size), fold)
        Xt, ct = X[train], codes[train]
        cent = np.stack([Xt[ct == k].mean(axis=0) for k in range(K)])
        s = np.sqrt(((Xt - cent[ct]) ** 2).sum(axis=0) / (train.size - K))
        sd = s + np.median(s)
        overall = Xt.mean(axis=0)
        d = (cent - overall) / sd / model.se_scale_[:, None]
        for j, t in enumerate(model.thresholds_):
            shrunk = overall + np.sign(d) * np.maximum(np.abs(d) - t, 0) * model.se_scale_[:, None] * sd
            delta = (((X[fold][:, None, :] - shrunk) / sd) ** 2).sum(axis=2) - 2 * np.log(model.priors_)
            out[fold, j] = model.classes_[delta.argmin(axis=1)]
    return out


# ------------------------------------------------------------- published model
SHAO = """IGF2BP1 4.44 6.43 3.62; KCNK3 4.92 6.23 3.28; NKAIN4 5.25 6.62 3.66; GREB1 4.9 5.51 2.79;
LAMB4 4.15 4.57 2.18; ADAMTS7 5.52 5.87 2.94; KIF26B 4.55 4.79 2.54; NETO1 5.32 5.6 3.47; TRIM9 5.57 5.69 2.21;
RAB6C 4.7 4.84 2.8; TYRO3 5.25 5.36 2.31; KCNN1 5.3 5.46 3.62; HAP1 6.29 6.39 3.38; CCDC155 4.55 4.56 2.53"""


@pytest.fixture(scope="module")
def shao():
    rows = [r.split() for r in SHAO.split(";")]
    genes = [r[0] for r in rows]
    table = np.array([[float(v) for v in r[1:]] for r in rows])
    model = NearestShrunkenCentroid.from_parameters(
        genes, ["CR", "NR"], table[:, :2].T, table[:, 2], {"CR": 22 / 31, "NR": 9 / 31}, n_per_class=[22, 9]
    )
    return model, genes, table


def test_published_model_reproduces_paper_numbers(shao):
    model, genes, table = shao
    cr, nr = table[:, 0][None, :], table[:, 1][None, :]
    np.testing.assert_allclose(model.decision_function(cr), [[0.6859, 3.2004]], atol=5e-5)
    assert round(model.predict_proba(cr)[0, 0], 4) == 0.7786
    assert model.predict(cr)[0] == "CR"
    assert abs(model.predict_proba(nr)[0, 0] - 0.63) < 0.005
    assert abs(model.predict_proba(nr, priors="equal")[0, 0] - 0.41) < 0.005
    assert model.predict(nr, priors="equal")[0] == "NR"
    np.testing.assert_allclose(model.shrunken_centroids(0), table[:, :2].T)
    assert model.nonzero_[0] == 14


def test_published_model_contributions_add_up(shao):
    model, genes, table = shao
    x = table[:, 0] + np.linspace(-1, 1, 14)
    contrib = model.contributions(x)
    assert contrib.shape == (14,)
    delta = model.decision_function(x[None, :])[0]
    prior_term = 2 * np.log(model.priors_[0]) - 2 * np.log(model.priors_[1])
    np.testing.assert_allclose(contrib.sum() + prior_term, delta[1] - delta[0], rtol=1e-12)
    # IGF2BP1 separates the classes most: at the CR centroid it is the largest term in favour of CR.
    at_cr = model.contributions(pd.Series(table[:, 0], index=genes), pair=("CR", "NR"))
    assert genes[int(np.argmax(at_cr))] == "IGF2BP1" and (at_cr > 0).all()
    np.testing.assert_allclose(model.contributions(x, pair=("NR", "CR")), -contrib)


def test_published_model_selects_and_orders_genes_by_name(shao):
    model, genes, table = shao
    frame = pd.DataFrame([table[:, 1]], columns=genes)[genes[::-1]].assign(OTHER_GENE=0.0)
    np.testing.assert_allclose(model.predict_proba(frame), model.predict_proba(table[:, 1][None, :]), rtol=1e-12)
    with pytest.raises(ValueError, match=r"lacks 1 of the model's 14 genes.*IGF2BP1"):
        model.predict(frame.drop(columns="IGF2BP1"))
    with pytest.raises(ValueError, match=r"must have 14 gene columns.*got 13"):
        model.predict(table[:13, 1][None, :])
    with pytest.raises(InputError, match="only has threshold 0"):
        model.predict(table[:, 1][None, :], threshold=0.5)


# ------------------------------------------------------------------ validation
def _toy(n_per=(3, 3), genes=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["A", "B", "C"][: len(n_per)], n_per)
    return rng.normal(size=(y.size, genes)), y


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda X, y: (X, np.repeat("A", y.size)), r"at least 2 classes; got only \['A'\]"),
        (lambda X, y: (np.where(np.eye(*X.shape) > 0, np.nan, X), y),
         r"finite numbers only; got 5 NaN.*row 0, column 0"),
        (lambda X, y: (np.where(np.eye(*X.shape) > 0, np.inf, X), y), r"finite numbers only; got 5 NaN/infinite"),
        (lambda X, y: (X, y[:-1]), r"expected 6 labels, got shape \(5,\)"),
        (lambda X, y: (X[2:], y[2:]), r"at least 2 samples; got \{'A': 1\}"),
        (lambda X, y: (X[None], y), r"must be 2-D.*got 3-D input of shape \(1, 6, 5\)"),
        (lambda X, y: (X.astype(str), y), r"numbers only; got an array of <U"),
        (lambda X, y: (pd.DataFrame(X).assign(g="x"), y),
         r"numbers only; got non-numeric column\(s\) \(name, type\) \[\('g', '"),
        (lambda X, y: (X[:, :0], y), r"at least one sample and one gene; got shape \(6, 0\)"),
    ],
)
def test_fit_rejects_bad_input_with_a_clear_message(make, pattern):
    X, y = make(*_toy())
    with pytest.raises(InputError, match=pattern):
        NearestShrunkenCentroid().fit(X, y)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_nan_in_a_named_gene_is_reported_by_name():
    X, y = _toy()
    frame = pd.DataFrame(X, columns=[f"G{i}" for i in range(5)])
    frame.iloc[2, 3] = np.nan
    with pytest.raises(InputError, match=r"row 2, gene 'G3'"):
        NearestShrunkenCentroid().fit(frame, y)


@pytest.mark.parametrize(
    "priors, pattern",
    [
        ({"A": 1, "Z": 1}, r"exactly the classes \['A', 'B'\] as keys; got \['A', 'Z'\]"),
        ({"A": 1, "B": -1}, r"positive finite numbers; got \[1.0, -1.0\]"),
        ([1, 2, 3], r"one value per class \(2: \['A', 'B'\]\); got 3 values"),
        ("uniform", r"None, 'equal', a mapping"),
    ],
)
def test_priors_are_validated(priors, pattern):
    with pytest.raises(InputError, match=pattern):
        NearestShrunkenCentroid(priors=priors).fit(*_toy())


def test_priors_are_normalised_and_aligned_to_classes():
    model = NearestShrunkenCentroid(priors={"B": 3, "A": 1}).fit(*_toy())
    np.testing.assert_allclose(model.priors_, [0.25, 0.75])
    assert list(NearestShrunkenCentroid(priors="equal").fit(*_toy((2, 4))).priors_) == [0.5, 0.5]
    np.testing.assert_allclose(NearestShrunkenCentroid().fit(*_toy((2, 4))).priors_, [1 / 3, 2 / 3])


def test_scoring_input_is_validated():
    X, y = _toy()
    model = NearestShrunkenCentroid().fit(X, y)
    with pytest.raises(ValueError, match=r"must have 5 gene columns.*got 4"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match=r"finite numbers only"):
        model.predict_proba(np.full((1, 5), np.nan))
    with pytest.raises(ValueError, match=r"threshold must be a finite number >= 0.*got -1"):
        model.predict(X, threshold=-1)
    with pytest.raises(InputError, match="not fitted yet"):
        NearestShrunkenCentroid().predict(X)
    np.testing.assert_array_equal(model.predict_proba(X, None), model.predict_proba(X, 0.0))


def test_folds_are_validated():
    X, y = _toy()
    model = NearestShrunkenCentroid().fit(X, y)
    with pytest.raises(InputError, match=r"covering every sample exactly once.*sample\(s\) \[5\] covered \[0\]"):
        model.cross_validate(X, y, [np.arange(3), np.arange(3, 5)])
    with pytest.raises(InputError, match=r"holds out every sample of class"):
        model.cross_validate(X, y, [np.arange(3), np.arange(3, 6)])
    with pytest.raises(InputError, match=r"labels the model was not fitted on: \['Z'\]"):
        model.cross_validate(X, np.where(y == "A", "Z", y), leave_one_out_folds(6))


def test_cross_validate_fits_an_unfitted_model_and_ndarray_fit_has_no_names():
    X, y = _toy((4, 4), genes=8)
    model = NearestShrunkenCentroid()
    errors = model.cross_validate(X, y, balanced_folds(y, 4, seed=0))
    assert errors.shape == model.thresholds_.shape == (30,)
    assert ((errors >= 0) & (errors <= 1)).all()
    assert not hasattr(model, "feature_names_in_") and model.n_features_in_ == 8
    with pytest.raises(InputError, match=r"pair must be two of the classes \['A', 'B'\]; got \('A', 'Z'\)"):
        model.contributions(X[0], pair=("A", "Z"))
    with pytest.raises(InputError, match=r"pair=\(a, b\) is required for a model with 3 classes"):
        NearestShrunkenCentroid().fit(*_toy((2, 2, 2))).contributions(X[0, :5])


def test_from_parameters_validates_shapes():
    with pytest.raises(InputError, match=r"expected shrunken_centroids of shape \(2, 3\).*got \(2, 2\)"):
        NearestShrunkenCentroid.from_parameters(["a", "b", "c"], ["X", "Y"], np.ones((2, 2)), np.ones(3), "equal")
    with pytest.raises(InputError, match=r"sd must be positive"):
        NearestShrunkenCentroid.from_parameters(["a", "b"], ["X", "Y"], np.ones((2, 2)), [1.0, 0.0], "equal")


# --------------------------------------------------------------------- helpers
def test_fold_helpers():
    assert [f.tolist() for f in leave_one_out_folds(3)] == [[0], [1], [2]]
    y = np.repeat(["CR", "NR"], [22, 9])
    folds = balanced_folds(y, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(31))
    assert {len(f) for f in folds} <= {6, 7}
    assert all(set(y[f]) == {"CR", "NR"} for f in folds)
    assert [f.tolist() for f in balanced_folds(y, 5, seed=1)] == [f.tolist() for f in folds]
    assert [f.tolist() for f in balanced_folds(y, 5, seed=2)] != [f.tolist() for f in folds]
    assert len(balanced_folds(y)) == 9  # pamr's default: min(smallest class, 10)
    with pytest.raises(InputError, match="n_folds must be an integer from 2 to 31"):
        balanced_folds(y, 1)


def test_threshold_binning_is_exact_at_grid_points():
    from kb.pam.path import _count_below

    top = 4.123456789
    grid = np.arange(30) * (top / 29)
    grid[-1] = top
    u = np.concatenate([grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf)[1:], [0.0, 1e300]])
    u = np.concatenate([u, np.random.default_rng(0).uniform(0, 2 * top, 10_000)])
    np.testing.assert_array_equal(_count_below(u, grid), np.searchsorted(grid, u, side="left"))


def test_choose_threshold_prefers_lowest_error_then_larger_threshold():
    assert choose_threshold([0.3, 0.2, 0.2, 0.4], [0.0, 0.5, 1.0, 1.5]) == 1.0
    assert choose_threshold([0.1, 0.2], [0.0, 1.0]) == 0.0
    with pytest.raises(InputError, match="same non-zero length"):
        choose_threshold([0.1], [0.0, 1.0])


def test_pandas_is_not_imported_with_the_module():
    code = "import sys, kb.pam; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ properties
@st.composite
def fitted_and_batch(draw):
    """A model fitted on random data, a threshold from its grid and a batch with extreme values."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    K = draw(st.integers(2, 4))
    sizes = rng.integers(2, 6, size=K)
    genes = draw(st.integers(1, 25))
    y = np.repeat(np.array([f"k{k}" for k in range(K)]), sizes)
    X = rng.normal(rng.uniform(-3, 3), rng.uniform(0.1, 5), (y.size, genes))
    X += rng.normal(0, 2, (K, genes))[np.repeat(np.arange(K), sizes)]
    model = NearestShrunkenCentroid(n_threshold=draw(st.integers(2, 30))).fit(X, y)
    t = model.thresholds_[draw(st.integers(0, model.thresholds_.size - 1))]
    values = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([-1e6, 1e6, 0.0]))
    batch = draw(arrays(np.float64, (draw(st.integers(1, 6)), genes), elements=values))
    return model, t, batch


@settings(max_examples=50, deadline=None)
@given(fitted_and_batch())
def test_posteriors_are_finite_and_sum_to_one(arg):
    model, t, batch = arg
    proba = model.predict_proba(batch, t)
    assert np.isfinite(proba).all() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(fitted_and_batch())
def test_predicted_class_has_the_smallest_delta(arg):
    model, t, batch = arg
    delta = model.decision_function(batch, t)
    idx = np.searchsorted(model.classes_, model.predict(batch, t))
    np.testing.assert_array_equal(delta[np.arange(len(idx)), idx], delta.min(axis=1))


@settings(max_examples=50, deadline=None)
@given(fitted_and_batch())
def test_batch_scoring_equals_row_by_row(arg):
    model, t, batch = arg
    delta = model.decision_function(batch, t)
    rows = np.vstack([model.decision_function(row[None, :], t) for row in batch])
    np.testing.assert_allclose(rows, delta, rtol=1e-12, atol=1e-9)
    proba = model.predict_proba(batch, t)
    rows = np.vstack([model.predict_proba(r[None, :], t) for r in batch])
    np.testing.assert_allclose(rows, proba, rtol=1e-9, atol=1e-12)
    single = np.concatenate([model.predict(r[None, :], t) for r in batch])
    gap = np.sort(delta, axis=1)[:, 1] - delta.min(axis=1)
    near_tie = gap <= 1e-12 * np.abs(delta).max(axis=1)
    assert ((single == model.predict(batch, t)) | near_tie).all()


@settings(max_examples=50, deadline=None)
@given(fitted_and_batch())
def test_equal_priors_change_only_the_prior_term(arg):
    model, t, batch = arg
    K = model.classes_.size
    shift = 2 * np.log(model.priors_) - 2 * np.log(1 / K)
    equal = model.decision_function(batch, t, priors="equal")
    np.testing.assert_allclose(equal - model.decision_function(batch, t), np.broadcast_to(shift, equal.shape),
                               rtol=1e-9, atol=1e-12 * np.abs(equal).max())
