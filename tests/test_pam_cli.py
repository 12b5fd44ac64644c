"""The PAM commands' contract against pamr: `kb pam train` with pamr's own folds (a folds file), adaptive
thresholds and sign contrast, its confusion/listgenes/threshold_scale keys; `kb pam genes`, `kb pam fdr`,
`kb pam plot`, `kb evaluate --plot`, `kb score --plot`; the published model's validation sentence."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import app

PAMR = Path(__file__).parent / "fixtures" / "pamr"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KHAN_X, KHAN_Y = PAMR / "khan_x.csv.gz", PAMR / "khan_y.csv"
SENTENCE = ("The 14-gene model comes from 31 patients and was validated by leave-one-out CV only, "
            "with no external validation.")
PNG = b"\x89PNG\r\n\x1a\n"


def _ref(name):
    return json.loads(gzip.open(PAMR / f"{name}_pamr.json.gz").read())


def _folds_file(path, sample_ids, folds):
    rows = ["sample,fold"] + [f"{sample_ids[i - 1]},{k}" for k, fold in enumerate(folds, 1) for i in fold]
    path.write_text("\n".join(rows) + "\n")
    return path


def _ids(name):
    return [line.split(",")[0] for line in (PAMR / f"{name}_y.csv").read_text().splitlines()[1:]]


@pytest.fixture(scope="module")
def khan_folds(tmp_path_factory):
    ref = _ref("khan")
    return _folds_file(tmp_path_factory.mktemp("folds") / "khan_folds.csv", _ids("khan"), ref["cv10"]["folds"]), ref


def _train(runner, tmp_path, *args, name="khan", folds=None):
    out = tmp_path / "model.json"
    x = KHAN_X if name == "khan" else PAMR / f"{name}_x.csv"
    y = KHAN_Y if name == "khan" else PAMR / f"{name}_y.csv"
    extra = ["--folds", str(folds)] if folds else []
    result = runner.invoke(app, ["pam", "train", str(x), str(y), "--out", str(out), "--format", "json", *extra,
                                 *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_train_with_pamr_folds_reproduces_pamr_cv_confusion_and_listgenes(runner, tmp_path, khan_folds):
    folds, ref = khan_folds
    t = ref["confusion_train"]["threshold"]
    p, out = _train(runner, tmp_path, "--threshold", repr(t), folds=folds)
    np.testing.assert_allclose([c["cv_error"] for c in p["curve"]], ref["cv10"]["error"], rtol=1e-12)
    np.testing.assert_allclose([c["loglik"] for c in p["curve"]], ref["cv10"]["loglik"], rtol=1e-9)
    assert p["folds"]["file"] == "khan_folds.csv" and p["folds"]["k"] == 10
    assert p["threshold_scale"] == {"BL": 1.0, "EWS": 1.0, "NB": 1.0, "RMS": 1.0}
    conf = p["confusion"]
    assert conf["classes"] == ["BL", "EWS", "NB", "RMS"]
    assert conf["train"] == ref["confusion_train"]["table"] and conf["cv"] == ref["confusion_cv10"]["table"]
    assert conf["threshold"] == pytest.approx(ref["fit"]["threshold"][ref["confusion_train"]["index"] - 1], rel=1e-12)
    lg = ref["listgenes_cv10"]
    assert [g["id"] for g in p["listgenes"]] == [r[0] for r in lg["rows"]]
    for g, row in zip(p["listgenes"], lg["rows"]):
        assert [g["scores"][c] for c in conf["classes"]] == [float(v) for v in row[1:5]]  # pamr's rounding
        assert (g["av_rank_in_cv"], g["prop_selected_in_cv"]) == (float(row[5]), pytest.approx(float(row[6])))
    assert set(p["genes"]) == {g["id"] for g in p["listgenes"]}
    genes = runner.invoke(app, ["pam", "genes", str(out), "--format", "json"])
    assert genes.exit_code == 0, genes.output
    listed = json.loads(genes.stdout)
    assert [g["id"] for g in listed["genes"]] == [g["id"] for g in p["listgenes"]]
    assert listed["genes"][0]["av_rank_in_cv"] == pytest.approx(p["listgenes"][0]["av_rank_in_cv"], abs=0.005)
    assert "overall centroid" in listed["scores_from"]


def test_train_adaptive_thresholds_give_pamr_opt_scale_and_refit_curve(runner, tmp_path, khan_folds):
    folds, ref = khan_folds
    p, out = _train(runner, tmp_path, "--adaptive-thresholds", folds=folds)
    assert list(p["threshold_scale"].values()) == pytest.approx(ref["adaptthresh"]["opt_scale"], rel=1e-12)
    np.testing.assert_allclose([c["threshold"] for c in p["curve"]], ref["adapt_refit"]["threshold"], rtol=1e-12)
    assert [c["nonzero"] for c in p["curve"]] == ref["adapt_refit"]["nonzero"]
    np.testing.assert_allclose([c["cv_error"] for c in p["curve"]], ref["adapt_refit_cv10"]["error"], rtol=1e-12)
    assert p["adaptive"]["rocs"] == pytest.approx(ref["adaptthresh"]["rocs"], rel=1e-12)
    doc = json.loads(out.read_text())
    assert doc["training"]["adaptive_thresholds"] is True
    assert doc["training"]["threshold_scale"] == p["threshold_scale"]
    shown = runner.invoke(app, ["pam", "show", str(out), "--format", "table"])
    assert shown.exit_code == 0 and "adaptive threshold scales BL 1.372" in shown.stdout


def test_train_sign_contrast_matches_pamr(runner, tmp_path):
    ref = _ref("syn2")
    folds = _folds_file(tmp_path / "f.tsv", _ids("syn2"), ref["folds"])
    folds.write_text(folds.read_text().replace(",", "\t"))  # TSV works as well
    p, _ = _train(runner, tmp_path, "--sign-contrast", "positive", name="syn2", folds=folds)
    assert p["sign_contrast"] == "positive"
    np.testing.assert_allclose([c["cv_error"] for c in p["curve"]], ref["sign_positive"]["cv"]["error"], rtol=1e-12)
    assert all(all(v >= 0 for v in g["scores"].values()) for g in p["listgenes"])


@pytest.mark.parametrize("content, words", [
    ("sample,fold\ns01,1\n", ["no fold for 23 sample(s)"]),
    ("sample,fold\ns01,1\ns01,2\n", ["line 3", "appears twice"]),
    ("sample,fold\nzz,1\n", ["line 2", "'zz' is not in the expression file"]),
    ("sample,fold\ns01,one\n", ["line 2", "expected a whole fold number"]),
    ("sample,fold\n" + "".join(f"s{i:02d},1\n" for i in range(1, 25)), ["expected at least 2 folds"]),
])
def test_bad_folds_files_exit_2(runner, tmp_path, content, words):
    folds = tmp_path / "folds.csv"
    folds.write_text(content)
    result = runner.invoke(app, ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"),
                                 "--out", str(tmp_path / "m.json"), "--folds", str(folds)])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and all(w in result.stderr for w in words), result.stderr


def test_train_plot_writes_the_cv_curve(runner, tmp_path):
    plot = tmp_path / "cv.svg"
    result = runner.invoke(app, ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--out",
                                 str(tmp_path / "m.json"), "--plot", str(plot), "--format", "json"])
    assert result.exit_code == 0, result.output
    svg = plot.read_text()
    assert svg.startswith("<?xml") and "misclassification error" in svg and "number of genes" in svg
    bad = runner.invoke(app, ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--out",
                              str(tmp_path / "n.json"), "--plot", str(tmp_path / "cv.jpg")])
    assert bad.exit_code == 2 and "expected a .png or .svg file" in bad.stderr
    assert not (tmp_path / "n.json").exists()  # refused before any work


def test_fdr_command(runner):
    args = ["pam", "fdr", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--perms", "20", "--seed", "2"]
    first = runner.invoke(app, [*args, "--format", "json"])
    assert first.exit_code == 0, first.output
    p = json.loads(first.stdout)
    assert (p["perms"], p["seed"], p["n_samples"], p["n_genes"]) == (20, 2, 24, 150) and 0 < p["pi0"] <= 1
    assert set(p["rows"][0]) == {"threshold", "n_significant", "median_null", "median_fdr", "fdr_90"}
    assert json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout) == p  # seeded
    other = json.loads(runner.invoke(app, [*args[:-1], "3", "--format", "json"]).stdout)
    assert other["rows"] != p["rows"]
    text = runner.invoke(app, [*args, "--format", "table"])
    assert "median FDR" in text.stdout and "pi0 = " in text.stdout
    assert runner.invoke(app, [*args[:4], "--perms", "0"]).exit_code == 2


def test_plot_command_kinds(runner, tmp_path, built_db):
    model = tmp_path / "m.json"
    assert runner.invoke(app, ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--out",
                               str(model), "--folds", "5"]).exit_code == 0
    data = [str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv")]
    for kind, extra in (("centroids", []), ("cvprob", data), ("genes", data)):
        out = tmp_path / f"{kind}.png"
        result = runner.invoke(app, ["pam", "plot", str(model), *extra, "--kind", kind, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(PNG) and out.stat().st_size > 5000
    svg = tmp_path / "pub.svg"
    result = runner.invoke(app, ["pam", "plot", "shao2022-14gene", "--kind", "centroids", "--out", str(svg),
                                 "--db", str(built_db)])
    assert result.exit_code == 0 and "IGF2BP1" in svg.read_text() and "weighted mean of centroids" in svg.read_text()
    for args, words in (
        (["--kind", "genes"], "expected EXPR and LABELS"),
        (["--kind", "violin", *data], "--kind: expected one of centroids, cvprob, genes"),
        ([str(PAMR / "syn4_x.csv"), str(PAMR / "syn4_y.csv"), "--kind", "cvprob"], "not classes of the model"),
    ):
        bad = runner.invoke(app, ["pam", "plot", str(model), *args, "--out", str(tmp_path / "x.png")])
        assert bad.exit_code == 2 and words in bad.stderr, bad.stderr


def test_cvprob_refuses_other_data(runner, tmp_path):
    model = tmp_path / "m.json"
    assert runner.invoke(app, ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--out",
                               str(model)]).exit_code == 0
    y = tmp_path / "y.csv"  # two samples' labels swapped: other data than the model's
    y.write_text((PAMR / "syn2_y.csv").read_text().replace("s01,A", "s01,B").replace("s24,B", "s24,A"))
    bad = runner.invoke(app, ["pam", "plot", str(model), str(PAMR / "syn2_x.csv"), str(y), "--kind", "cvprob",
                              "--out", str(tmp_path / "p.png")])
    assert bad.exit_code == 2 and "not the data this model was trained on" in bad.stderr


def test_evaluate_and_score_plots(runner, tmp_path, built_db):
    plot = tmp_path / "patient.svg"
    result = runner.invoke(app, ["evaluate", str(EXAMPLES / "B001.yaml"), "--plot", str(plot), "--format", "json",
                                 "--db", str(built_db)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pam"]["model"]["validation_statement"] == SENTENCE
    assert [g["gene"] for g in summary["pam"]["profile"]] == summary["pam"]["genes_used"]
    svg = plot.read_text()
    assert "against the class centroids" in svg and "s_i + s0" in svg and "CR centroid" in svg
    cohort = tmp_path / "cohort.csv"
    genes = [g["gene"] for g in summary["pam"]["profile"]]
    rng = np.random.default_rng(0)
    cohort.write_text("sample," + ",".join(genes) + "\n" + "".join(
        f"S{i}," + ",".join(f"{v:.3f}" for v in rng.normal(5, 1, len(genes))) + "\n" for i in range(40)))
    hist = tmp_path / "hist.png"
    scored = runner.invoke(app, ["score", str(cohort), "--out", str(tmp_path / "s.csv"), "--plot", str(hist),
                                 "--format", "json", "--db", str(built_db)])
    assert scored.exit_code == 0, scored.output
    assert hist.read_bytes().startswith(PNG)
    from kb.pam.cohort import posterior_counts

    edges, shown, counts = posterior_counts(tmp_path / "s.csv", ["CR", "NR"])
    assert shown == ["CR"] and sum(counts[0]) == 40 and len(edges) == len(counts[0]) + 1


def test_published_model_states_its_validation_everywhere(runner, built_db):
    shown = runner.invoke(app, ["pam", "show", "--db", str(built_db), "--format", "json"])
    assert json.loads(shown.stdout)["model"]["validation_statement"] == SENTENCE
    for fmt in ("table", "md"):
        assert SENTENCE in runner.invoke(app, ["pam", "show", "--db", str(built_db), "--format", fmt]).stdout
    genes = runner.invoke(app, ["pam", "genes", "--db", str(built_db), "--format", "table"])
    assert SENTENCE in genes.stdout and "IGF2BP1" in genes.stdout.splitlines()[2]
    text = runner.invoke(app, ["evaluate", str(EXAMPLES / "B001.yaml"), "--format", "table", "--db", str(built_db)])
    assert SENTENCE in text.stdout
    md = runner.invoke(app, ["evaluate", str(EXAMPLES / "B001.yaml"), "--format", "md", "--db", str(built_db)])
    assert SENTENCE in md.stdout
    readme = (Path(__file__).resolve().parent.parent / "docs" / "pam.md").read_text(encoding="utf-8")
    assert SENTENCE in readme


def test_help_and_non_plotting_commands_do_not_import_matplotlib(tmp_path):
    code = ("import sys\nfrom cli.main import app\nsys.argv = ['kb'] + sys.argv[1:]\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('MPL=' + str('matplotlib' in sys.modules), file=sys.stderr)\n")
    for args in (["--help"], ["pam", "train", str(PAMR / "syn2_x.csv"), str(PAMR / "syn2_y.csv"), "--out",
                              str(tmp_path / "m.json"), "--format", "json"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert "MPL=False" in result.stderr, result.stderr
