"""`kb score COHORT --out FILE`: every sample of a cohort file scored by a PAM model, inside DuckDB.

The command parses its options, calls `kb.pam.cohort.score_path` and renders the summary; `cli.main`
registers it when the full app is first used (`cli.main._full_app`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, echo, emit, fail, handled, output_format


def score(cohort: Path = typer.Argument(..., help="Cohort file: CSV, TSV or Parquet, one row per sample; the first column is the sample id, then one column per gene (log2 expression; empty or NA = missing)."),
          out: Path = typer.Option(..., "--out", "-o", help="Output file, Parquet (.parquet) or CSV (.csv, .tsv) by its extension: sample_id, delta_<class>, posterior_<class>, call, n_genes."),
          model: Optional[str] = typer.Option(None, "--model", "-m", help="A model file written by `kb pam train` (.json) or a knowledge-base model id (default: the published model)."),
          priors: str = typer.Option("published", "--priors", help="Class priors: published (the model's own: training proportions) or equal."),
          plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw a histogram of the cohort's posteriors: FILE.png or FILE.svg."),
          db: Optional[Path] = DbOption,
          fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Summary format: table (default on a terminal), json (default when piped), csv, md.")):
    """Score every sample of a cohort file with a PAM model (DuckDB streams it: memory does not grow with the cohort). For research use only."""
    handled(_run)(cohort, out, model, priors, plot, db, fmt)


def _run(cohort: Path, out: Path, model: Optional[str], priors: str, plot: Optional[Path], db: Optional[Path],
         fmt: Optional[str]) -> None:
    from kb.pam.cohort import score_path

    fmt = output_format(fmt)
    if priors not in ("published", "equal"):
        fail(f"--priors: expected published or equal, got {priors!r}")
    if plot is not None:
        from kb.pam.plots import plot_format

        plot_format(plot)
    from cli.progress import fraction_report, progress_bar, shown

    with progress_bar() as bar:  # DuckDB's progress through the checks, then the scoring (stderr, a terminal only)
        payload = score_path(cohort, out, model=model, priors=priors, db=db,
                             progress=fraction_report(bar) if shown() else None)
    if plot is not None:
        from kb.pam.figures import cohort_figure
        from kb.pam.plots import write_figure

        write_figure(cohort_figure(payload), plot)
        echo(f"kb: wrote {plot}", err=True)
    n = payload["n_samples"]
    rows = [[call, count, f"{count / n:.1%}"] for call, count in payload["calls"].items()]
    emit(payload, fmt, ["call", "samples", "share"], rows)
    m = payload["model"]
    note = f"; {payload['incomplete']} scored over the genes present" if payload["incomplete"] else ""
    echo(f"kb: scored {n} samples with {m['id']} ({m['n_genes']} genes, {priors} priors) into "
               f"{payload['out']} in {payload['seconds']:.2f} s{note}", err=True)
