"""kb score: the SQL path (DuckDB) against the estimator, output files, missing values and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import app
from kb.core.errors import InputError
from kb.pam.model_file import model_from_json
from kb.pam.model import load_published
from kb.pam.cohort import MIN_GENES, score_cohort

PAMR = Path(__file__).parent / "fixtures" / "pamr"
TOL = {"rtol": 1e-9, "atol": 1e-9}


@pytest.fixture()
def published(con):
    return load_published(con)


def _cohort(model, n=40, seed=0) -> pd.DataFrame:
    """Profiles around both centroids, sample ids first."""
    rng = np.random.default_rng(seed)
    centre = model.shrunken_centroids[rng.integers(0, len(model.classes), n)]
    frame = pd.DataFrame(centre + rng.normal(0, 1.0, centre.shape) * model.sd, columns=list(model.genes))
    frame.insert(0, "sample", [f"P{i:03d}" for i in range(n)])
    return frame


def _check_rows(model, frame: pd.DataFrame, scores: pd.DataFrame, priors="published"):
    """Each output row equals scoring that input row alone with the estimator."""
    assert list(scores["sample_id"]) == list(frame["sample"])
    for i in range(len(frame)):
        x = frame.loc[[i], list(model.genes)].to_numpy(dtype=float)
        delta = model.decision_function(x, priors)[0]
        post = model.predict_proba(x, priors)[0]
        for k, c in enumerate(model.classes):
            np.testing.assert_allclose(scores.loc[i, f"delta_{c}"], delta[k], **TOL)
            np.testing.assert_allclose(scores.loc[i, f"posterior_{c}"], post[k], **TOL)
        assert scores.loc[i, "call"] == model.predict(x, priors)[0]
        assert scores.loc[i, "n_genes"] == model.n_genes


@pytest.mark.parametrize("src, dst", [("csv", "parquet"), ("parquet", "csv"), ("tsv", "tsv")])
def test_sql_path_equals_the_estimator_row_by_row(published, tmp_path, src, dst):
    frame = _cohort(published)
    cohort = tmp_path / f"cohort.{src}"
    if src == "parquet":
        frame.to_parquet(cohort, index=False)
    else:
        frame.to_csv(cohort, index=False, sep="\t" if src == "tsv" else ",")
    out = tmp_path / f"scores.{dst}"
    report = score_cohort(cohort, out, published)
    scores = pd.read_parquet(out) if dst == "parquet" else pd.read_csv(out, sep="\t" if dst == "tsv" else ",",
                                                                        dtype={"sample_id": str})
    assert list(scores.columns) == ["sample_id", "delta_CR", "delta_NR", "posterior_CR", "posterior_NR", "call",
                                    "n_genes"]
    _check_rows(published, frame, scores)
    assert report.n_samples == 40 and report.incomplete == 0 and sum(report.calls.values()) == 40
    assert report.calls == scores["call"].value_counts().to_dict()


def test_equal_priors_and_columns_in_any_order_and_case(published, tmp_path):
    frame = _cohort(published, n=12, seed=1)
    shuffled = frame[["sample"] + list(published.genes)[::-1]].rename(columns={"KCNK3": "kcnk3"}).assign(OTHER=1.0)
    cohort = tmp_path / "c.parquet"
    shuffled.to_parquet(cohort, index=False)
    report = score_cohort(cohort, tmp_path / "s.parquet", published, priors="equal")
    assert report.columns["KCNK3"] == "kcnk3"
    _check_rows(published, frame, pd.read_parquet(tmp_path / "s.parquet"), priors="equal")


def test_missing_values_score_over_the_genes_present(published, tmp_path):
    frame = _cohort(published, n=3, seed=2)
    genes = list(published.genes)
    frame.loc[1, genes[:2]] = np.nan  # 12 genes left: scored over them
    frame.loc[2, genes[:len(genes) - MIN_GENES + 1]] = np.nan  # MIN_GENES - 1 left: no call
    cohort = tmp_path / "c.csv"
    frame.to_csv(cohort, index=False, na_rep="NA")
    report = score_cohort(cohort, tmp_path / "s.parquet", published)
    s = pd.read_parquet(tmp_path / "s.parquet")
    assert list(s["n_genes"]) == [14, 12, MIN_GENES - 1]
    part = published.subset(genes[2:])
    x = frame.loc[[1], genes[2:]].to_numpy()
    np.testing.assert_allclose(s.loc[1, ["delta_CR", "delta_NR"]].to_numpy(dtype=float), part.decision_function(x)[0], **TOL)
    np.testing.assert_allclose(s.loc[1, ["posterior_CR", "posterior_NR"]].to_numpy(dtype=float), part.predict_proba(x)[0], **TOL)
    assert s.loc[2, ["delta_CR", "posterior_CR", "call"]].isna().all()
    assert report.incomplete == 2 and report.calls[None] == 1


def test_identifiers_and_labels_are_quoted_not_interpolated(tmp_path):
    # Class labels and gene names with quotes, spaces and SQL in them: values are bound, names quoted.
    doc = {"format": "biomarker-kb/pam-model", "version": 1, "name": "odd", "classes": ["C'R", 'N"R x'],
           "genes": ['G"1', "G'2; DROP TABLE t"], "shrunken_centroids": {"C'R": [1.0, 2.0], 'N"R x': [2.0, 1.5]},
           "sd": [1.0, 0.5], "priors": {"C'R": 0.25, 'N"R x': 0.75}, "n_per_class": {"C'R": 2, 'N"R x': 6},
           "threshold": None, "scale": "log2", "training": None}
    model = model_from_json(doc, "odd.json")
    frame = pd.DataFrame({"id'": ["a", "b"], 'G"1': [1.0, 2.5], "G'2; DROP TABLE t": [2.0, 1.0]})
    frame.to_csv(tmp_path / "c.csv", index=False)
    score_cohort(tmp_path / "c.csv", tmp_path / "s.parquet", model)
    s = pd.read_parquet(tmp_path / "s.parquet")
    assert list(s.columns)[1:5] == ["delta_C'R", 'delta_N"R x', "posterior_C'R", 'posterior_N"R x']
    x = frame.iloc[:, 1:].to_numpy()
    np.testing.assert_allclose(s.iloc[:, 3:5].to_numpy(), model.predict_proba(x), **TOL)
    assert list(s["call"]) == list(model.predict(x))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), priors=st.sampled_from(["published", "equal"]),
       spread=st.floats(0.01, 8))
def test_random_cohorts_sql_equals_numpy(published, tmp_path_factory, n, seed, priors, spread):
    rng = np.random.default_rng(seed)
    X = np.clip(rng.normal(5, spread, (n, published.n_genes)), -5, 25)
    frame = pd.DataFrame(X, columns=list(published.genes))
    frame.insert(0, "id", [f"s{i}" for i in range(n)])
    d = tmp_path_factory.mktemp("h")
    frame.to_parquet(d / "c.parquet", index=False)
    score_cohort(d / "c.parquet", d / "s.parquet", published, priors=priors)
    s = pd.read_parquet(d / "s.parquet")
    post = s[["posterior_CR", "posterior_NR"]].to_numpy()
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(post, published.predict_proba(X, priors), **TOL)
    delta = published.decision_function(X, priors)
    np.testing.assert_allclose(s[["delta_CR", "delta_NR"]].to_numpy(), delta, **TOL)
    clear = np.abs(delta[:, 0] - delta[:, 1]) > 1e-9
    assert (s["call"].to_numpy()[clear] == published.predict(X, priors)[clear]).all()


# ------------------------------------------------------------------ the command
def test_kb_score_with_a_trained_model_equals_predict_proba(runner, tmp_path):
    model = tmp_path / "m.json"
    result = runner.invoke(app, ["pam", "train", str(PAMR / "pub14_x.csv"), str(PAMR / "pub14_y.csv"), "--out", str(model),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "scores.parquet"
    result = runner.invoke(app, ["score", str(PAMR / "pub14_xtest.csv"), "--model", str(model), "--out", str(out),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["kb_version"] is None and payload["model"]["kind"] == "trained" and payload["n_samples"] == 6
    from kb.pam.engine import NearestShrunkenCentroid
    from kb.pam.cohort import read_matrix

    _, genes, X = read_matrix(PAMR / "pub14_x.csv")
    y = pd.read_csv(PAMR / "pub14_y.csv")["label"].to_numpy()
    _, _, Xt = read_matrix(PAMR / "pub14_xtest.csv")
    est = NearestShrunkenCentroid().fit(X, y)
    t = json.loads(model.read_text())["threshold"]
    s = pd.read_parquet(out)
    np.testing.assert_allclose(s[["posterior_CR", "posterior_NR"]].to_numpy(), est.predict_proba(Xt, t), rtol=1e-10)
    assert list(s["call"]) == list(est.predict(Xt, t))


def test_kb_score_default_model_summary(runner, built_db, published, tmp_path):
    _cohort(published, n=5).to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["score", str(tmp_path / "c.csv"), "--out", str(tmp_path / "s.csv"), "--db",
                                 str(built_db), "--priors", "equal", "--format", "json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert p["model"]["id"] == "shao2022-14gene" and p["priors"] == "equal" and p["priors_used"] == {"CR": 0.5, "NR": 0.5}
    assert p["kb_version"]["schema"] >= 1 and sum(p["calls"].values()) == 5 and p["format"] == "csv"
    assert "scored 5 samples with shao2022-14gene" in result.stderr
    table = runner.invoke(app, ["score", str(tmp_path / "c.csv"), "--out", str(tmp_path / "s.parquet"), "--db",
                                str(built_db), "--format", "table"])
    assert table.exit_code == 0 and table.stdout.splitlines()[0].split() == ["call", "samples", "share"]


def _bad(frame: pd.DataFrame, case: str) -> pd.DataFrame:
    if case == "missing":
        return frame.drop(columns=["KCNK3", "HAP1"])
    if case == "text":
        frame["GREB1"] = frame["GREB1"].map(repr)  # a text column (Parquet: a string column)
        frame.loc[3, "GREB1"] = "high"
    elif case == "counts":
        frame["TRIM9"] = 2 ** frame["TRIM9"] * 1000
    elif case == "duplicate":
        frame.loc[4, "sample"] = "P001"
    elif case == "empty":
        return frame.iloc[:0]
    elif case == "inf":
        frame.loc[2, "NETO1"] = np.inf
    elif case == "no_id":
        frame.loc[2, "sample"] = None
    return frame


@pytest.mark.parametrize("case, ext, words", [
    ("missing", "csv", ["missing 2 of the model's 14 gene columns", "KCNK3", "HAP1"]),
    ("missing", "parquet", ["missing 2 of the model's 14 gene columns", "KCNK3, HAP1"]),
    ("text", "csv", ["column 'GREB1'", "non-numeric", "'high'", "P003"]),
    ("text", "parquet", ["column 'GREB1'", "non-numeric", "'high'"]),
    ("counts", "csv", ["column 'TRIM9'", "raw counts", "above 25"]),
    ("counts", "parquet", ["column 'TRIM9'", "raw counts"]),
    ("duplicate", "csv", ["sample id 'P001' appears more than once"]),
    ("duplicate", "parquet", ["sample id 'P001' appears more than once"]),
    ("empty", "csv", ["empty cohort"]),
    ("empty", "parquet", ["empty cohort"]),
    ("inf", "parquet", ["column 'NETO1'", "NaN or infinite"]),
    ("no_id", "parquet", ["1 row(s) have no sample id"]),
])
def test_bad_cohorts_exit_2_with_one_line(runner, built_db, published, tmp_path, case, ext, words):
    frame = _bad(_cohort(published, n=8), case)
    cohort = tmp_path / f"c.{ext}"
    frame.to_csv(cohort, index=False) if ext == "csv" else frame.to_parquet(cohort, index=False)
    out = tmp_path / "s.parquet"
    result = runner.invoke(app, ["score", str(cohort), "--out", str(out), "--db", str(built_db)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: error: ")
    for word in words:
        assert word in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".s.parquet*"))


@pytest.mark.parametrize("args, code, words", [
    (["--out", "s.xlsx"], 2, ["--out", "expected a .parquet, .csv or .tsv"]),
    (["--priors", "flat"], 2, ["--priors", "published or equal"]),
    (["--model", "nope"], 1, ["unknown PAM model 'nope'"]),
    (["--model", "absent.json"], 2, ["no such model file"]),
])
def test_bad_options(runner, built_db, published, tmp_path, monkeypatch, args, code, words):
    monkeypatch.chdir(tmp_path)
    _cohort(published, n=3).to_csv("c.csv", index=False)
    full = ["score", "c.csv", *(["--out", "s.parquet"] if "--out" not in args else []), *args, "--db", str(built_db)]
    result = runner.invoke(app, full)
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.stderr


def test_bad_files(runner, built_db, published, tmp_path):
    absent = runner.invoke(app, ["score", str(tmp_path / "none.csv"), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    assert absent.exit_code == 2 and "no such file" in absent.stderr
    (tmp_path / "c.xlsx").write_text("x")
    kind = runner.invoke(app, ["score", str(tmp_path / "c.xlsx"), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    assert kind.exit_code == 2 and "expected a .csv, .tsv or .parquet file" in kind.stderr
    _cohort(published, n=3).to_csv(tmp_path / "c.csv", index=False)
    same = runner.invoke(app, ["score", str(tmp_path / "c.csv"), "--out", str(tmp_path / "c.csv"), "--db", str(built_db)])
    assert same.exit_code == 2 and "is the cohort file itself" in same.stderr
    (tmp_path / "ragged.csv").write_text("id," + ",".join(published.genes) + "\na,1,2\n")
    ragged = runner.invoke(app, ["score", str(tmp_path / "ragged.csv"), "--out", str(tmp_path / "s.csv"), "--db", str(built_db)])
    assert ragged.exit_code == 2 and "cannot read the file" in ragged.stderr and len(ragged.stderr.strip().splitlines()) == 1


def test_progress_callback_is_polled(published, tmp_path):
    frame = _cohort(published, n=5)
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    seen = []
    score_cohort(tmp_path / "c.parquet", tmp_path / "s.parquet", published, progress=lambda *a: seen.append(a))
    assert all(stage in ("checking", "scoring") and 0 <= v <= 1 for stage, v in seen)
    # each stage is reported when it starts and when it ends, even when it finishes before a poll
    stages = [stage for stage, _ in seen]
    assert seen[0] == ("checking", 0.0) and seen[-1] == ("scoring", 1.0) and ("checking", 1.0) in seen
    assert stages == sorted(stages)  # every "checking" report before every "scoring" one
    with pytest.raises(InputError, match="priors: expected one of published, equal"):
        score_cohort(tmp_path / "c.parquet", tmp_path / "s.parquet", published, priors="flat")


def test_progress_is_reported_while_duckdb_works():
    import time

    from kb.core.progress import while_duckdb_works

    class Busy:
        def query_progress(self):
            return 50.0

    seen = []
    assert while_duckdb_works(Busy(), lambda *a: seen.append(a), "scoring", lambda: time.sleep(0.5) or 7) == 7
    assert seen[0] == ("scoring", 0.0) and ("scoring", 0.5) in seen and seen[-1] == ("scoring", 1.0)
