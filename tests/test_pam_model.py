"""kb.pam.model: the published model loaded from the knowledge base, the priors facts, `kb pam show`,
`kb pam train` against pamr's LOOCV, and model files (round trip, validation)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.main import app
from kb.core.errors import InputError, NotFound
from kb.pam.engine import NearestShrunkenCentroid, choose_threshold
from kb.pam.model_file import load_model_file, model_from_json, save_model
from kb.pam.model import describe, facts, load_published

PAMR = Path(__file__).parent / "fixtures" / "pamr"
TABLE1 = ["IGF2BP1", "KCNK3", "NKAIN4", "GREB1", "LAMB4", "ADAMTS7", "KIF26B", "NETO1", "TRIM9", "RAB6C", "TYRO3",
          "KCNN1", "HAP1", "CCDC155"]


@pytest.fixture()
def published(con):
    return load_published(con)


def _pam(runner, db, *args):
    return runner.invoke(app, ["pam", *map(str, args), "--db", str(db)])


# ------------------------------------------------------------------ the published model
def test_published_model_comes_from_table_1(con, published):
    assert published.id == "shao2022-14gene" and published.kind == "published" and published.source == "shao2022"
    assert list(published.genes) == TABLE1
    assert published.classes == ("CR", "NR") and published.scale == "log2" and published.validation == "LOOCV"
    # Table 1 order is the order of the rows in the paper's text, in every rendition.
    for (text,) in con.execute("SELECT text FROM document WHERE source_id = 'shao2022'").fetchall():
        table = text[text.index("Gene symbol"):]
        assert sorted(TABLE1, key=table.index) == TABLE1
    assert published.n_per_class == {"CR": 22, "NR": 9}
    assert published.priors["CR"] == pytest.approx(22 / 31, abs=1e-15)
    assert published.priors["NR"] == pytest.approx(9 / 31, abs=1e-15)
    assert published.shrunken_centroids.shape == (2, 14) and published.sd.shape == (14,)
    assert (published.shrunken_centroids[:, 0].tolist(), published.sd[0]) == ([4.44, 6.43], 3.62)


def test_scores_at_the_cr_centroid(published):
    cr = published.shrunken_centroids[:1]
    delta = published.decision_function(cr)[0]
    assert [round(float(d), 4) for d in delta] == [0.6859, 3.2004]
    assert round(float(published.predict_proba(cr)[0, 0]), 4) == 0.7786
    assert published.predict(cr)[0] == "CR"


def test_the_nr_centroid_facts_are_computed(published):
    f = facts(published)
    (pair,) = f["prior_vs_distance"]
    C, sd = published.shrunken_centroids, published.sd
    assert (pair["favoured"], pair["other"], pair["prior_ratio"]) == ("CR", "NR", "22/9")
    assert pair["prior_term"] == pytest.approx(2 * math.log(22 / 9), rel=1e-12)
    assert pair["distance"] == pytest.approx(float((((C[0] - C[1]) / sd) ** 2).sum()), rel=1e-12)
    assert round(pair["prior_term"], 2) == 1.79 and round(pair["distance"], 2) == 0.73
    assert pair["prior_outweighs_distance"] is True
    on_nr = pair["on_other_centroid"]
    assert on_nr["published"]["call"] == "CR" and round(on_nr["published"]["posterior"], 2) == 0.63
    assert on_nr["equal"]["call"] == "NR" and round(on_nr["equal"]["posterior"], 2) == 0.41
    assert "1.79 > 0.73" in pair["statement"] and "P(CR) = 0.63" in pair["statement"]
    nr = next(e for e in f["at_centroids"] if e["class"] == "NR")
    assert nr["published"]["posterior"]["CR"] == pytest.approx(on_nr["published"]["posterior"])
    assert f["priors"]["equal"] == {"CR": 0.5, "NR": 0.5}


def test_facts_follow_the_model_numbers(published):
    # Move the centroids apart and the prior no longer outweighs the distance: nothing is hard-coded.
    from dataclasses import replace

    far = replace(published, shrunken_centroids=published.shrunken_centroids * np.array([[1.0], [1.3]]))
    (pair,) = facts(far)["prior_vs_distance"]
    assert pair["prior_outweighs_distance"] is False and pair["on_other_centroid"]["published"]["call"] == "NR"
    assert "<=" in pair["statement"]


def test_performance_links_quote_their_numbers(con, published):
    texts = dict(con.execute("SELECT id, text FROM document").fetchall())
    got = {(p.metric, p.numerator, p.denominator) for p in published.performance}
    assert got == {("accuracy", 28, 31), ("sensitivity", 22, 22), ("specificity", 6, 9)}
    for p in published.performance:
        assert p.links
        for link in p.links:
            assert f"({p.numerator}/{p.denominator})" in link.quote and f"{p.percent:g}%" in link.quote
            assert texts[link.document_id][link.start:link.end] == link.quote
    for link in published.provenance:
        assert texts[link.document_id][link.start:link.end] == link.quote


def test_subset_scores_over_the_genes_present(published):
    part = published.subset(["KCNK3", "IGF2BP1", "HAP1"])
    assert part.genes == ("IGF2BP1", "KCNK3", "HAP1")
    ref = NearestShrunkenCentroid.from_parameters(part.genes, ["CR", "NR"], part.shrunken_centroids, part.sd,
                                                   {"CR": 22 / 31, "NR": 9 / 31}, n_per_class=[22, 9])
    x = np.array([[5.0, 6.0, 6.3]])
    np.testing.assert_allclose(part.decision_function(x, "equal"), ref.decision_function(x, priors="equal"))
    with pytest.raises(InputError, match="not in model"):
        published.subset(["NOPE"])


def test_unknown_model_and_priors(con, published):
    with pytest.raises(NotFound, match="unknown PAM model 'nope'.*shao2022-14gene"):
        load_published(con, "nope")
    with pytest.raises(InputError, match="priors: expected one of published, equal"):
        published.predict_proba(published.shrunken_centroids, priors="flat")


# ------------------------------------------------------------------ kb pam show
def test_pam_show_json(runner, built_db):
    result = _pam(runner, built_db, "show", "--format", "json")
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert set(p) == {"kb_version", "model", "genes", "priors", "performance", "validation", "training", "facts"}
    assert p["kb_version"]["schema"] >= 1 and p["model"]["id"] == "shao2022-14gene" and p["training"] is None
    assert [g["symbol"] for g in p["genes"]] == TABLE1
    assert p["genes"][0] == {"symbol": "IGF2BP1", "centroids": {"CR": 4.44, "NR": 6.43}, "sd": 3.62}
    assert p["priors"]["published"]["CR"] == pytest.approx(22 / 31) and p["priors"]["equal"]["NR"] == 0.5
    assert [(q["numerator"], q["denominator"]) for q in p["performance"]] == [(28, 31), (22, 22), (6, 9)]
    for q in p["performance"]:
        assert q["validation"] == "LOOCV" and q["links"]
        for link in q["links"]:
            assert set(link) == {"what", "document", "document_id", "start", "end", "quote"}
            assert f"{q['numerator']}/{q['denominator']}" in link["quote"] and f"{q['percent']:g}%" in link["quote"]
    assert p["validation"]["method"] == "LOOCV"
    assert all("leave-one-out" in link["quote"] for link in p["validation"]["links"])
    assert {link["what"] for link in p["model"]["links"]} >= {"table", "class sizes", "scale"}
    pair = p["facts"]["prior_vs_distance"][0]
    assert round(pair["on_other_centroid"]["published"]["posterior"], 2) == 0.63


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_pam_show_text(runner, built_db, fmt):
    result = _pam(runner, built_db, "show", "shao2022-14gene", "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("IGF2BP1", "90.3% (28/31)", "Accuracy: 90.3% (28/31)", "0.6859", "3.2004", "0.7786",
                 "2·log(22/9) = 1.79 > 0.73", "LOOCV"):
        assert text in out
    assert ("| gene |" in out) == (fmt == "md")


def test_pam_show_csv_and_unknown(runner, built_db):
    result = _pam(runner, built_db, "show", "--format", "csv")
    assert result.stdout.splitlines()[0] == "gene,centroid CR,centroid NR,s_i + s0"
    result = _pam(runner, built_db, "show", "nope", "--format", "json")
    assert result.exit_code == 1 and "unknown PAM model 'nope'" in result.stderr


# ------------------------------------------------------------------ kb pam train
@pytest.fixture(scope="module")
def pub14():
    ref = json.loads((PAMR / "pub14_pamr.json").read_text())
    from kb.pam.cohort import read_matrix

    ids, genes, X = read_matrix(PAMR / "pub14_x.csv")  # as `kb pam train` reads it (same array layout too)
    y = pd.read_csv(PAMR / "pub14_y.csv", index_col=0)["label"].to_numpy()
    return ref, pd.DataFrame(X, index=ids, columns=genes), y


@pytest.fixture()
def trained(runner, tmp_path):
    out = tmp_path / "model.json"
    result = runner.invoke(app, ["pam", "train", str(PAMR / "pub14_x.csv"), str(PAMR / "pub14_y.csv"),
                                 "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_train_loocv_reproduces_pamr_and_chooses_by_the_rule(trained, pub14):
    payload, out = trained
    ref, X, y = pub14
    curve = payload["curve"]
    np.testing.assert_allclose([c["cv_error"] for c in curve], ref["loocv_errors"], rtol=1e-9)
    np.testing.assert_allclose([c["threshold"] for c in curve], ref["threshold"], rtol=1e-9)
    assert [c["nonzero"] for c in curve] == ref["nonzero"]
    errors = np.array(ref["loocv_errors"])
    best = np.flatnonzero(errors == errors.min())
    assert payload["threshold"] == pytest.approx(ref["threshold"][best.max()], rel=1e-12)  # ties: larger threshold
    assert payload["threshold"] == choose_threshold([c["cv_error"] for c in curve], [c["threshold"] for c in curve])
    assert sum(c["chosen"] for c in curve) == 1 and payload["folds"] == "loo"
    assert len(payload["genes"]) == ref["nonzero"][best.max()]
    assert payload["n_per_class"] == {"CR": 22, "NR": 9} and payload["n_samples"] == 31


def test_model_file_round_trips(trained, pub14, tmp_path):
    payload, out = trained
    doc = json.loads(out.read_text())
    assert doc["format"] == "biomarker-kb/pam-model" and doc["version"] == 2 and doc["scale"] == "log2"
    assert set(doc["training"]) == {"n_samples", "folds", "cv_errors", "thresholds", "nonzero", "cv_loglik",
                                    "sign_contrast", "threshold_scale", "adaptive_thresholds", "genes_cv"}
    assert len(doc["overall_centroid"]) == len(doc["genes"]) == len(doc["training"]["genes_cv"]["av_rank_in_cv"])
    model = load_model_file(out)
    assert model.kind == "trained" and list(model.genes) == payload["genes"] and model.threshold == payload["threshold"]
    ref, X, y = pub14
    est = NearestShrunkenCentroid().fit(X.to_numpy(), y)
    keep = [list(X.columns).index(g) for g in model.genes]
    # Equal up to summation order (numpy sums a column differently in C and Fortran layout).
    np.testing.assert_allclose(model.shrunken_centroids, est.shrunken_centroids(model.threshold)[:, keep], rtol=1e-14)
    np.testing.assert_allclose(model.sd, est.sd_[keep], rtol=1e-14)
    np.testing.assert_allclose(model.overall_centroid, est.overall_centroid_[keep], rtol=1e-14)
    again = tmp_path / "again.json"
    save_model(again, model)
    assert again.read_text() == out.read_text()
    # A model restricted to its surviving genes scores exactly as pamr does at that threshold.
    Xt = pd.read_csv(PAMR / "pub14_xtest.csv", index_col=0)
    np.testing.assert_allclose(model.predict_proba(Xt[list(model.genes)]), est.predict_proba(Xt.to_numpy(), model.threshold),
                               rtol=1e-10)
    shown = describe(model)
    (acc,) = shown["performance"]
    assert (acc["metric"], acc["numerator"], acc["denominator"]) == ("accuracy", 23, 31) and not acc["links"]


def test_pam_show_a_model_file(runner, trained):
    _, out = trained
    result = runner.invoke(app, ["pam", "show", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert p["kb_version"] is None and p["model"]["kind"] == "trained" and p["training"]["folds"] == "loo"
    assert p["facts"]["at_centroids"][0]["published"]["call"] == "CR"
    table = runner.invoke(app, ["pam", "show", str(out), "--format", "table"])
    assert table.exit_code == 0 and "leave-one-out cross-validation" in table.stdout


def test_train_k_fold_threshold_and_table(runner, tmp_path):
    out = tmp_path / "m.json"
    args = ["pam", "train", str(PAMR / "three_x.csv"), str(PAMR / "three_y.csv"), "--out", str(out), "--folds", "5",
            "--seed", "3", "--threshold", "1.0", "--format", "table"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "5-fold (seed 3)" in result.stdout and "threshold 1.0000 (given)" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["training"]["folds"] == {"k": 5, "seed": 3} and doc["threshold"] == 1.0 and len(doc["classes"]) == 3
    first = out.read_text()
    assert runner.invoke(app, args).exit_code == 0 and out.read_text() == first  # seeded: same folds, same file


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case, words", [
    ("missing", ["no label for 1 sample", "S031"]),
    ("extra", ["1 labelled sample(s) not in the expression file", "S999"]),
    ("twice", ["labelled twice", "S001"]),
    ("cells", ["line 3", "expected two non-empty cells"]),
    ("folds", ["--folds", "expected loo, a number of folds >= 2 or a folds file"]),
    ("threshold", ["--threshold 99", "no gene survives"]),
    ("out", ["--out", "expected a .json model file"]),
    ("counts", ["G0001", "raw counts"]),
    ("text", ["G0002", "'high'", "S001"]),
])
def test_train_bad_input_exits_2(runner, tmp_path, case, words):
    labels = (PAMR / "pub14_y.csv").read_text().splitlines()
    x = PAMR / "pub14_x.csv"
    y = PAMR / "pub14_y.csv"
    extra = []
    out = tmp_path / "m.json"
    if case == "missing":
        y = _write(tmp_path / "y.csv", "\n".join(labels[:-1]))
    elif case == "extra":
        y = _write(tmp_path / "y.csv", "\n".join(labels + ['"S999","CR"']))
    elif case == "twice":
        y = _write(tmp_path / "y.csv", "\n".join(labels + [labels[1]]))
    elif case == "cells":
        y = _write(tmp_path / "y.csv", "\n".join(labels[:2] + ['"S002"'] + labels[3:]))
    elif case == "folds":
        extra = ["--folds", "ten"]
    elif case == "threshold":
        extra = ["--threshold", "99"]
    elif case == "out":
        out = tmp_path / "m.txt"
    else:
        frame = pd.read_csv(x, index_col=0)
        if case == "counts":
            frame["G0001"] = 2 ** frame["G0001"]
        else:
            frame["G0002"] = frame["G0002"].astype(object)
            frame.iloc[0, 1] = "high"
        x = tmp_path / "x.csv"
        frame.to_csv(x)
    result = runner.invoke(app, ["pam", "train", str(x), str(y), "--out", str(out), *extra])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    for word in words:
        assert word in result.stderr


def test_labels_without_header_and_tsv(tmp_path):
    from kb.pam.cohort import read_labels

    ids = ["a", "b", "c"]
    assert read_labels(_write(tmp_path / "y.csv", "a,CR\nb,NR\nc,CR\n"), ids) == ["CR", "NR", "CR"]
    assert read_labels(_write(tmp_path / "y.tsv", "sample\tclass\nc\tNR\na\tCR\nb\tCR\n"), ids) == ["CR", "CR", "NR"]
    with pytest.raises(InputError, match="expected samples as rows"):
        read_labels(_write(tmp_path / "t.csv", "G1,CR\nG2,NR\n"), ["s1", "s2"], ["G1", "G2"], "x.csv")


# ------------------------------------------------------------------ model file validation
def _training():
    return {"n_samples": 6, "folds": "loo", "cv_errors": [0.5], "thresholds": [0.0], "nonzero": [2]}


def _good():
    return {"format": "biomarker-kb/pam-model", "version": 1, "name": "toy", "classes": ["A", "B"], "genes": ["G1", "G2"],
            "shrunken_centroids": {"A": [1.0, 2.0], "B": [2.0, 1.0]}, "sd": [1.0, 0.5], "priors": {"A": 0.5, "B": 0.5},
            "n_per_class": {"A": 3, "B": 3}, "threshold": 0.5, "scale": "log2", "training": None}


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(format="x"), ["format:", "expected 'biomarker-kb/pam-model'"]),
    (lambda d: d.update(version=3), ["version:", "expected 1 or 2"]),
    (lambda d: d.update(overall_centroid=[1.0, 2.0]), ["overall_centroid:", "no such field in a version 1 file"]),
    (lambda d: d.update(version=2, overall_centroid=[1.0]), ["overall_centroid:", "a list of 2 numbers"]),
    (lambda d: d.update(training={**_training(), "sign_contrast": "both"}), ["training:", "n_samples, folds"]),
    (lambda d: d.update(version=2, training={**_training(), "sign_contrast": "up"}), ["training.sign_contrast:"]),
    (lambda d: d.update(version=2, training={**_training(), "threshold_scale": {"A": 1}}),
     ["training.threshold_scale:", "a positive number per class"]),
    (lambda d: d.update(version=2, training={**_training(), "genes_cv": {"av_rank_in_cv": [1.0]}}),
     ["training.genes_cv:", "2 numbers each"]),
    (lambda d: d.update(version=2, training={**_training(), "folds": {"file": "f.csv", "k": 2, "samples": [["a"]]}}),
     ["training.folds:", '"file"']),
    (lambda d: d.pop("sd"), ["sd:", "expected the field"]),
    (lambda d: d.update(colour="red"), ["colour:", "expected only the fields"]),
    (lambda d: d.update(classes=["A"]), ["classes:", "at least 2 distinct"]),
    (lambda d: d.update(genes=["G1", "G1"]), ["genes:", "distinct"]),
    (lambda d: d["shrunken_centroids"].pop("B"), ["shrunken_centroids:", "one entry per class"]),
    (lambda d: d["shrunken_centroids"].update(B=[1.0]), ["shrunken_centroids.B:", "a list of 2 numbers"]),
    (lambda d: d["shrunken_centroids"].update(B=[1.0, "x"]), ["shrunken_centroids.B[1]:", "finite number"]),
    (lambda d: d.update(sd=[1.0, 0.0]), ["sd[1]:", "positive"]),
    (lambda d: d.update(priors={"A": 0.5, "B": 0.6}), ["priors:", "summing to 1"]),
    (lambda d: d.update(n_per_class={"A": 3, "B": 1.5}), ["n_per_class.B:", "whole number"]),
    (lambda d: d.update(threshold=-1), ["threshold:", ">= 0"]),
    (lambda d: d.update(scale="counts"), ["scale:", "log2"]),
    (lambda d: d.update(training={"n_samples": 6}), ["training:", "n_samples, folds"]),
])
def test_model_file_validation(change, words):
    doc = _good()
    change(doc)
    with pytest.raises(InputError) as err:
        model_from_json(doc, "m.json")
    message = str(err.value)
    assert message.startswith("m.json: ") and "\n" not in message
    for word in words:
        assert word in message
    model_from_json(_good(), "m.json")  # the unchanged document is valid


def test_model_file_errors_through_the_cli(runner, tmp_path):
    bad = _write(tmp_path / "bad.json", "{not json")
    result = runner.invoke(app, ["pam", "show", str(bad)])
    assert result.exit_code == 2 and "line 1 column 2: expected JSON" in result.stderr
    result = runner.invoke(app, ["pam", "show", str(tmp_path / "absent.json")])
    assert result.exit_code == 2 and "no such model file" in result.stderr
