"""`kb pam show|genes|train|fdr|plot`: the nearest-shrunken-centroid models, published or trained.

Each command parses its options, calls one function of `kb.pam` and renders; `cli.main` registers
`pam_app`. matplotlib is imported only by the commands that draw (`--plot`, `kb pam plot`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, FormatOption, echo, emit, fail, handled, output_format
from cli.render import dumps, table

pam_app = typer.Typer(no_args_is_help=True, help="PAM (nearest shrunken centroid) models: the published 14-gene model, or train your own.")
ModelArgument = typer.Argument(None, help="A knowledge-base model id (default: the published model) or a model file (.json) from `kb pam train`.")



@pam_app.command("show")
def show(model: Optional[str] = ModelArgument,
         db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """A model's genes (centroid per class, s_i + s0), priors, reported performance with its evidence, and what the priors do."""

    handled(_show)(model, db, fmt)


def _show(model: Optional[str], db: Optional[Path], fmt: Optional[str]) -> None:
    from kb.pam.open import show as describe

    fmt = output_format(fmt)
    payload = describe(model, db=db)
    if fmt == "json":
        typer.echo(dumps(payload))
    elif fmt == "csv":
        columns, rows = _gene_rows(payload)
        echo(table(columns, rows, "csv"))
    else:
        echo(render_show(payload, markdown=fmt == "md"))


def _gene_rows(p: dict) -> tuple[list[str], list[list]]:
    classes = p["model"]["classes"]
    return (["gene"] + [f"centroid {c}" for c in classes] + ["s_i + s0"],
            [[g["symbol"]] + [g["centroids"][c] for c in classes] + [g["sd"]] for g in p["genes"]])


def _link(link: dict, limit: int = 90) -> str:
    quote = " ".join(link["quote"].split())
    quote = quote if len(quote) <= limit else quote[:limit - 1] + "…"
    return f"{link['document']} [{link['start']}, {link['end']}) “{quote}”"


def render_show(p: dict, markdown: bool = False) -> str:
    m, classes = p["model"], p["model"]["classes"]
    fmt = "md" if markdown else "table"
    sizes = ", ".join(f"{c} (n = {m['n_per_class'][c]})" for c in classes)
    out = [f"# {m['name']}" if markdown else m["name"], "",
           f"id {m['id']} — {m['kind']}, source {m['source']}; classes {sizes}; {m['n_genes']} genes; "
           f"scale {m['scale']}" + (f"; threshold {m['threshold']:.4g}" if m["threshold"] is not None else "")]
    if p["kb_version"]:
        out[-1] += "  " if markdown else ""  # Markdown line break
        out.append(f"kb_version schema {p['kb_version']['schema']}, content {p['kb_version']['content']}")
    out += ["", f"**{m['validation_statement']}**" if markdown else m["validation_statement"], ""]
    bullet = "- " if markdown else "  "
    for link in m["links"]:
        out.append(f"{bullet}{link['what']}: {_link(link, 60)}")
    columns, rows = _gene_rows(p)
    out += ["", "## Genes" if markdown else "Genes:", "", table(columns, rows, fmt), "",
            "## Priors" if markdown else "Priors:", "",
            table(["priors"] + classes, [[name] + [f"{v:.4f}" for v in p["priors"][name].values()]
                                         for name in ("published", "equal")], fmt)]
    if p["performance"]:
        out += ["", "## Reported performance" if markdown else "Reported performance:", "",
                table(["metric", "value", "validation", "evidence"],
                      [[q["metric"], f"{q['percent']:g}% ({q['numerator']}/{q['denominator']})", q["validation"],
                        "; ".join(_link(link, 40) for link in q["links"]) or "(cross-validation of kb pam train)"]
                       for q in p["performance"]], fmt)]
    if p["validation"]:
        out += ["", f"Validation: {p['validation']['method']}", ""] + [f"{bullet}{_link(link)}" for link in p["validation"]["links"]]
    if p["training"]:
        t = p["training"]
        out += ["", f"Trained on {t['n_samples']} samples, {_folds_text(t['folds'])} cross-validation over "
                    f"{len(t['thresholds'])} thresholds" + _settings_text(t)]
    f = p["facts"]
    rows = []
    for entry in f["at_centroids"]:
        for name in ("published", "equal"):
            e = entry[name]
            rows.append([entry["profile"], name] + [f"{e['delta'][c]:.4f}" for c in classes]
                        + [f"{e['posterior'][c]:.4f}" for c in classes] + [e["call"]])
    out += ["", "## What the priors do" if markdown else "What the priors do (a profile sitting on each centroid):", "",
            table(["profile", "priors"] + [f"δ {c}" for c in classes] + [f"P({c})" for c in classes] + ["call"], rows, fmt)]
    out += [""] + [pair["statement"] + "." for pair in f["prior_vs_distance"]]
    return "\n".join(out).rstrip()


def _folds_text(folds) -> str:
    if folds == "loo":
        return "leave-one-out"
    if "seed" in folds:
        return f"{folds['k']}-fold (seed {folds['seed']})"
    return f"{folds['k']}-fold (from {folds['file']})"


def _settings_text(t: dict) -> str:
    parts = []
    if t.get("sign_contrast", "both") != "both":
        parts.append(f"sign contrast {t['sign_contrast']}")
    scale = t.get("threshold_scale")
    if scale and any(v != 1 for v in scale.values()):
        how = "adaptive " if t.get("adaptive_thresholds") else ""
        parts.append(f"{how}threshold scales " + ", ".join(f"{c} {v:.4g}" for c, v in scale.items()))
    return "; " + "; ".join(parts) if parts else ""


@pam_app.command("genes")
def genes(model: Optional[str] = ModelArgument,
          db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """A model's genes ranked as pamr.listgenes ranks them: each class's (centroid − overall) / (s_i + s0), and for a trained model each gene's CV rank and selection rate."""

    handled(_genes)(model, db, fmt)


def _genes(model: Optional[str], db: Optional[Path], fmt: Optional[str]) -> None:
    from kb.pam.open import genes_payload

    fmt = output_format(fmt)
    p = genes_payload(model, db=db)
    classes = p["model"]["classes"]
    columns = ["rank", "gene"] + [f"{c}-score" for c in classes] + ["av-rank-in-CV", "prop-selected-in-CV"]
    rows = [[i, g["id"]] + [f"{g['scores'][c]:.4f}" for c in classes]
            + ["" if g["av_rank_in_cv"] is None else f"{g['av_rank_in_cv']:.2f}",
               "" if g["prop_selected_in_cv"] is None else f"{g['prop_selected_in_cv']:.3g}"]
            for i, g in enumerate(p["genes"], 1)]
    if fmt == "json":
        typer.echo(dumps(p))
        return
    echo(table(columns, rows, fmt))
    if fmt != "csv":
        echo(f"\n{p['model']['name']} ({p['model']['id']}): scores measured from {p['scores_from']}.\n"
                   f"{p['model']['validation_statement']}")


@pam_app.command("train")
def train(expr: Path = typer.Argument(..., help="Expression matrix, samples × genes (CSV, TSV or Parquet; first column the sample id; log2 values)."),
          labels: Path = typer.Argument(..., help="Class of each sample: CSV/TSV with two columns, sample and label (header optional)."),
          out: Path = typer.Option(..., "--out", "-o", help="Model file to write (.json)."),
          folds: str = typer.Option("loo", "--folds", help="Cross-validation: loo (leave-one-out), K balanced folds, or a CSV/TSV file with a header and two columns, sample id and fold number (e.g. pamr's own folds)."),
          threshold: str = typer.Option("auto", "--threshold", help="auto (lowest CV error, ties to the larger threshold) or a threshold value."),
          adaptive: bool = typer.Option(False, "--adaptive-thresholds", help="Class-wise threshold scales chosen as pamr.adaptthresh does (10 tries, reduction factor 0.9); the model is then fitted and cross-validated with them."),
          sign_contrast: str = typer.Option("both", "--sign-contrast", help="Deviations from the overall centroid to keep: both, positive or negative (pamr's sign.contrast)."),
          seed: int = typer.Option(0, "--seed", help="Seed of the balanced folds (with --folds K)."),
          name: Optional[str] = typer.Option(None, "--name", help="Model name (default: 'PAM model trained on EXPR')."),
          plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the CV error curve (genes on a second axis, each class's error), as pamr.plotcv: FILE.png or FILE.svg."),
          fmt: Optional[str] = FormatOption):
    """Train a nearest-shrunken-centroid model (pamr's arithmetic), choose its threshold by cross-validation and write the model file."""

    handled(_train)(expr, labels, out, folds, threshold, adaptive, sign_contrast, seed, name, plot, fmt)


def train_payload(r, out: Path) -> dict:
    """The `kb pam train --format json` document of a `kb.pam.train.TrainResult`."""
    m = r.model
    n = m.training["n_samples"]
    curve = [{"threshold": t, "nonzero": nz, "cv_error": e, "misclassified": round(e * n), "loglik": ll,
              "chosen": t == r.threshold}
             for t, nz, e, ll in zip(r.thresholds, r.nonzero, r.cv_errors, r.cv.loglik.tolist())]
    return {"model_file": str(out), "name": m.name, "classes": list(m.classes), "n_per_class": m.n_per_class,
            "n_samples": n, "n_genes_in": r.n_genes_in, "folds": m.training["folds"],
            "sign_contrast": m.training["sign_contrast"], "threshold_scale": r.threshold_scale,
            "adaptive": None if r.adaptive is None else r.adaptive.as_dict(), "curve": curve,
            "threshold": r.threshold, "chosen_by": r.chosen_by,
            "cv_error": next((c["cv_error"] for c in curve if c["chosen"]), None), "genes": list(m.genes),
            "confusion": {"classes": list(m.classes), "threshold": r.confusion_cv.grid_threshold,
                          "train": r.confusion_train.table.tolist(), "cv": r.confusion_cv.table.tolist(),
                          "train_error": r.confusion_train.overall_error, "cv_error": r.confusion_cv.overall_error},
            "listgenes": [g.as_dict(pamr_rounding=True) for g in r.genes]}


def _train(expr: Path, labels: Path, out: Path, folds: str, threshold: str, adaptive: bool, sign_contrast: str,
           seed: int, name: Optional[str], plot: Optional[Path], fmt: Optional[str]) -> None:
    from kb.pam.train import train_files

    fmt = output_format(fmt)
    if plot is not None:
        from kb.pam.plots import plot_format

        plot_format(plot)  # a bad --plot name fails before the work
    from cli.progress import progress_bar, shown

    with progress_bar() as bar:  # the training steps, on stderr when it is a terminal
        r = train_files(expr, labels, out, folds=folds, threshold=threshold, seed=seed, name=name, adaptive=adaptive,
                        sign_contrast=sign_contrast, progress=bar if shown() else None)
    payload = train_payload(r, out)
    if plot is not None:
        from kb.pam.figures import training_figure
        from kb.pam.plots import write_figure

        write_figure(training_figure(r), plot)
        echo(f"kb: wrote {plot}", err=True)
    if fmt == "json":
        typer.echo(dumps(payload))
        return
    rows = [[f"{c['threshold']:.4f}", c["nonzero"], f"{c['cv_error']:.4f}", c["misclassified"], "←" if c["chosen"] else ""]
            for c in payload["curve"]]
    echo(table(["threshold", "genes", "cv_error", "misclassified", "chosen"], rows, fmt))
    if fmt == "csv":
        return
    m = r.model
    err = f", CV error {payload['cv_error']:.4f}" if payload["cv_error"] is not None else ""
    echo(f"\n{_folds_text(m.training['folds'])} CV on {payload['n_samples']} samples × {r.n_genes_in} genes; "
               f"threshold {r.threshold:.4f} ({r.chosen_by}{err}){_settings_text(m.training)}")
    classes = list(m.classes)
    conf = payload["confusion"]
    for what in ("train", "cv"):
        title = "training" if what == "train" else "cross-validated"
        rows = [[c] + row + [f"{row_error:.3f}"] for c, row, row_error in
                zip(classes, conf[what], (r.confusion_train if what == "train" else r.confusion_cv).class_error)]
        echo(f"\nConfusion, {title} (rows true class, columns predicted; threshold {conf['threshold']:.4f}; "
                   f"overall error {conf[what + '_error']:.3f}):\n"
                   + table(["true \\ predicted"] + classes + ["class error"], rows, fmt))
    top = payload["listgenes"][:15]
    rows = [[g["id"]] + [f"{g['scores'][c]:.4f}" for c in classes] + [f"{g['av_rank_in_cv']:.2f}",
                                                                        f"{g['prop_selected_in_cv']:.3g}"] for g in top]
    more = f" (the first 15 of {len(payload['listgenes'])})" if len(payload["listgenes"]) > 15 else ""
    echo(f"\nGenes at the threshold, as pamr.listgenes{more}:\n"
               + table(["id"] + [f"{c}-score" for c in classes] + ["av-rank-in-CV", "prop-selected-in-CV"], rows, fmt))
    echo(f"\n{m.validation_statement}")
    echo(f"kb: wrote {out}", err=True)


@pam_app.command("fdr")
def fdr(expr: Path = typer.Argument(..., help="Expression matrix, samples × genes (CSV, TSV or Parquet; first column the sample id; log2 values)."),
        labels: Path = typer.Argument(..., help="Class of each sample: CSV/TSV with two columns, sample and label (header optional)."),
        perms: int = typer.Option(100, "--perms", help="Number of label permutations."),
        seed: int = typer.Option(0, "--seed", help="Seed of the permutations (numpy's generator; pamr's own permutations come from R's)."),
        sign_contrast: str = typer.Option("both", "--sign-contrast", help="The fit's sign contrast (both, positive, negative): it sets the threshold grid."),
        fmt: Optional[str] = FormatOption):
    """False discovery rates of the genes each threshold keeps, by permuting the labels, as pamr.fdr."""

    handled(_fdr)(expr, labels, perms, seed, sign_contrast, fmt)


def _fdr(expr: Path, labels: Path, perms: int, seed: int, sign_contrast: str, fmt: Optional[str]) -> None:
    from kb.pam.fdr import fdr_files

    fmt = output_format(fmt)
    if perms < 1:
        fail(f"--perms: expected a number of permutations >= 1, got {perms}")
    if seed < 0:
        fail(f"--seed: expected a whole number >= 0, got {seed}")
    if sign_contrast not in ("both", "positive", "negative"):
        fail(f"--sign-contrast: expected both, positive or negative, got {sign_contrast!r}")
    p = fdr_files(expr, labels, n_perms=perms, seed=seed, sign_contrast=sign_contrast)
    rows = [[f"{r['threshold']:.4f}", r["n_significant"], f"{r['median_null']:.1f}", f"{r['median_fdr']:.4f}",
             f"{r['fdr_90']:.4f}"] for r in p["rows"]]
    emit(p, fmt, ["threshold", "significant genes", "median null genes", "median FDR", "90th percentile FDR"], rows)
    if fmt not in ("json", "csv"):
        echo(f"\npi0 = {p['pi0']:.4f}; {perms} permutations (seed {seed}) of the labels of {p['n_samples']} "
                   f"samples × {p['n_genes']} genes")


@pam_app.command("plot")
def plot(model: str = typer.Argument(..., help="A model file (.json) from `kb pam train`, or a knowledge-base model id."),
         expr: Optional[Path] = typer.Argument(None, help="Expression matrix, samples × genes (for --kind cvprob and genes)."),
         labels: Optional[Path] = typer.Argument(None, help="Class of each sample of EXPR (for --kind cvprob and genes)."),
         kind: str = typer.Option(..., "--kind", help="centroids (pamr.plotcen), cvprob (pamr.plotcvprob) or genes (pamr.geneplot)."),
         out: Path = typer.Option(..., "--out", "-o", help="Figure file: .png or .svg."),
         db: Optional[Path] = DbOption):
    """Draw a model: its shrunken centroids, the cross-validated probabilities of its training samples, or the expression of its top genes."""

    handled(_plot)(model, expr, labels, kind, out, db)


def _plot(model: str, expr: Optional[Path], labels: Optional[Path], kind: str, out: Path, db: Optional[Path]) -> None:
    from kb.pam.figures import model_figure
    from kb.pam.plots import plot_format, write_figure

    plot_format(out)
    write_figure(model_figure(model, kind, expr, labels, db=db), out)
    echo(f"kb: wrote {out}", err=True)
