"""`kb pam show` and `kb pam train`: the nearest-shrunken-centroid models, published or trained.

Each command parses its options, calls one function of `kb.pam.model` and renders; `cli.main` registers
`pam_app` (and is imported inside the commands: it imports this module at its end).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, FormatOption, echo, handled, output_format
from cli.render import dumps, table

pam_app = typer.Typer(no_args_is_help=True, help="PAM (nearest shrunken centroid) models: the published 14-gene model, or train your own.")



@pam_app.command("show")
def show(model: Optional[str] = typer.Argument(None, help="A knowledge-base model id (default: the published model) or a model file (.json) from `kb pam train`."),
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
    out.append("")
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
        folds = "leave-one-out" if t["folds"] == "loo" else f"{t['folds']['k']}-fold (seed {t['folds']['seed']})"
        out += ["", f"Trained on {t['n_samples']} samples, {folds} cross-validation over {len(t['thresholds'])} thresholds"]
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


@pam_app.command("train")
def train(expr: Path = typer.Argument(..., help="Expression matrix, samples × genes (CSV, TSV or Parquet; first column the sample id; log2 values)."),
          labels: Path = typer.Argument(..., help="Class of each sample: CSV/TSV with two columns, sample and label (header optional)."),
          out: Path = typer.Option(..., "--out", "-o", help="Model file to write (.json)."),
          folds: str = typer.Option("loo", "--folds", help="Cross-validation: loo (leave-one-out) or K balanced folds."),
          threshold: str = typer.Option("auto", "--threshold", help="auto (lowest CV error, ties to the larger threshold) or a threshold value."),
          seed: int = typer.Option(0, "--seed", help="Seed of the balanced folds (with --folds K)."),
          name: Optional[str] = typer.Option(None, "--name", help="Model name (default: 'PAM model trained on EXPR')."),
          fmt: Optional[str] = FormatOption):
    """Train a nearest-shrunken-centroid model (pamr's arithmetic), choose its threshold by cross-validation and write the model file."""

    handled(_train)(expr, labels, out, folds, threshold, seed, name, fmt)


def _train(expr: Path, labels: Path, out: Path, folds: str, threshold: str, seed: int, name: Optional[str],
           fmt: Optional[str]) -> None:
    from kb.pam.train import train_files

    fmt = output_format(fmt)
    r = train_files(expr, labels, out, folds=folds, threshold=threshold, seed=seed, name=name)
    m = r.model
    n = m.training["n_samples"]
    curve = [{"threshold": t, "nonzero": nz, "cv_error": e, "misclassified": round(e * n), "chosen": t == r.threshold}
             for t, nz, e in zip(r.thresholds, r.nonzero, r.cv_errors)]
    payload = {"model_file": str(out), "name": m.name, "classes": list(m.classes), "n_per_class": m.n_per_class,
               "n_samples": n, "n_genes_in": r.n_genes_in, "folds": m.training["folds"], "curve": curve,
               "threshold": r.threshold, "chosen_by": r.chosen_by,
               "cv_error": next((c["cv_error"] for c in curve if c["chosen"]), None), "genes": list(m.genes)}
    if fmt == "json":
        typer.echo(dumps(payload))
        return
    rows = [[f"{c['threshold']:.4f}", c["nonzero"], f"{c['cv_error']:.4f}", c["misclassified"], "←" if c["chosen"] else ""]
            for c in curve]
    echo(table(["threshold", "genes", "cv_error", "misclassified", "chosen"], rows, fmt))
    if fmt == "csv":
        return
    folds_text = "leave-one-out" if m.training["folds"] == "loo" else f"{m.training['folds']['k']}-fold (seed {seed})"
    err = f", CV error {payload['cv_error']:.4f}" if payload["cv_error"] is not None else ""
    echo(f"\n{folds_text} CV on {n} samples × {r.n_genes_in} genes; threshold {r.threshold:.4f} ({r.chosen_by}{err})")
    echo(f"{m.n_genes} genes kept: {', '.join(m.genes[:30])}{', ...' if m.n_genes > 30 else ''}")
    echo(f"kb: wrote {out}", err=True)
