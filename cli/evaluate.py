"""`kb evaluate PATIENT`: a patient risk summary per record, as a table, JSON or a Markdown report.

The command parses its options, calls `kb.evaluate.evaluate_path` and renders; `cli.main` registers it.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, echo, fail, handled
from cli.render import default_format, dumps, dumps_line
from kb.evaluate.report import render_md, render_table

FORMATS = ("table", "json", "md", "fhir")
EXTENSIONS = {"json": "json", "md": "md", "table": "txt", "fhir": "fhir.json"}


def evaluate(patient: Path = typer.Argument(..., help="Patient record (our JSON or YAML), a JSONL file of records, a FHIR R4/R4B Bundle, resource or NDJSON file, a FHIR bulk-export directory of NDJSON files, a GA4GH Phenopacket v2 (JSON), or a directory of records."),
             at: Optional[str] = typer.Option(None, "--at", help="Evaluation time (YYYY-MM-DD or a dateTime) for FHIR and Phenopacket input: each marker's latest observation at or before it is used (default: the start of the CD19-directed therapy)."),
             fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Output format: table (default on a terminal), json (default when piped), md (a shareable report), fhir (a FHIR R4B Bundle of type collection: Patient and RiskAssessments; several records: a collection Bundle of their Bundles)."),
             priors: str = typer.Option("published", "--priors", help="PAM class priors for the call: published (the training proportions) or equal. Both are always reported."),
             model: Optional[str] = typer.Option(None, "--model", help="PAM model for expression: a model file from `kb pam train`, or a model id in the knowledge base (default: the published 14-gene model). A record's own `model` field wins."),
             out: Optional[Path] = typer.Option(None, "--out", help="Write one file per patient, <id>.json|md|txt, into this directory instead of printing."),
             plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw each patient's PAM genes against the class centroids, in units of s_i + s0: FILE.png or FILE.svg (several records: FILE-<patient id>.png)."),
             db: Optional[Path] = DbOption):
    """Evaluate patient records against every evidence item of their observed markers (and the PAM signature). For research use only."""
    handled(_run)(patient, fmt, priors, model, out, plot, db, at)


def _run(patient: Path, fmt: Optional[str], priors: str, model: Optional[str], out: Optional[Path],
         plot: Optional[Path], db: Optional[Path], at: Optional[str] = None) -> None:
    from kb.evaluate.evaluator import evaluate_path

    fmt = fmt or default_format()
    if fmt not in FORMATS:
        fail(f"--format: kb evaluate writes one of {', '.join(FORMATS)}, got {fmt!r}")
    if priors not in ("published", "equal"):
        fail(f"--priors: expected published or equal, got {priors!r}")
    if plot is not None:
        from kb.pam.plots import plot_format

        plot_format(plot)
    if fmt == "fhir" and out is not None:
        fail("--out: not available with --format fhir; redirect the Bundle to a file instead")
    from cli.progress import progress_bar, shown

    with progress_bar(min_total=2) as bar:  # record by record (a large JSONL takes seconds; one record, no bar)
        summaries, kind = evaluate_path(patient, priors=priors, model=model, at=at, db=db,
                                        progress=bar if shown() else None)
    if plot is not None:
        _plot(summaries, plot)
    for s in summaries:
        for o in s["patient"]["observations"]:
            r = o["resolved"]
            if r["how"] == "fuzzy":
                echo(f"kb: {s['patient']['source']}: {o['marker']!r} resolved to {r['name']} (via {r['alias']!r}, "
                           f"score {r['score']})", err=True)
    if out is not None:
        _write(summaries, fmt, out)
        return
    if fmt == "fhir":
        typer.echo(dumps(_fhir(summaries, kind, db)))
        return
    with progress_bar(min_total=2) as bar:  # rendering thousands of summaries takes seconds too
        each = _each(summaries, bar if shown() else None)
        if fmt == "json":
            text = "\n".join(map(dumps_line, each)) if kind == "jsonl" else dumps(summaries[0] if kind == "single" else list(each))
        else:
            text = ("\n\n---\n\n" if fmt == "md" else "\n\n").join(map(render_md if fmt == "md" else render_table, each))
    if fmt == "json":
        typer.echo(text)
    else:
        echo(text)


def _each(summaries: list[dict], progress):
    """The summaries, reporting each to `progress(stage, done, total)` as it is rendered (None: silent)."""
    for done, s in enumerate(summaries):
        if progress is not None:
            progress("rendering summaries", done, len(summaries))
        yield s
    if progress is not None:
        progress("rendering summaries", len(summaries), len(summaries))


def _plot(summaries: list[dict], plot: Path) -> None:
    """One figure per record with a PAM block (FILE itself for a single record, else FILE-<id>.<ext>)."""
    from kb.pam.figures import patient_figure
    from kb.pam.plots import write_figure

    with_pam = [s for s in summaries if s["pam"]]
    if not with_pam:
        fail(f"--plot {plot}: no record has expression for the PAM model; nothing to plot")
    for s in with_pam:
        path = plot if len(summaries) == 1 else plot.with_name(_filename(f"{plot.stem}-{s['patient']['id']}", plot.suffix[1:]))
        write_figure(patient_figure(s["pam"], s["patient"]["id"]), path)
        echo(f"kb: wrote {path}", err=True)


def _fhir(summaries: list[dict], kind: str, db) -> dict:
    """The summaries as FHIR (kb.evaluate.fhir_out): one record's Bundle, or a Bundle of the records' Bundles."""
    from kb.evaluate.fhir_out import loinc_codes, to_document
    from kb.query.database import connect

    con = connect(db)
    try:
        loinc = loinc_codes(con)
    finally:
        con.close()
    return to_document(summaries, kind, loinc)


def _filename(patient_id: str, ext: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", patient_id).lstrip(".") or "patient"
    return f"{stem}.{ext}"


def _write(summaries: list[dict], fmt: str, out: Path) -> None:

    names: dict[str, str] = {}
    for s in summaries:
        name = _filename(s["patient"]["id"], EXTENSIONS[fmt])
        if name in names:
            fail(f"--out: patients {names[name]!r} and {s['patient']['id']!r} ({s['patient']['source']}) would both be written to {name}; "
                 "expected unique patient ids")
        names[name] = s["patient"]["id"]
    if out.exists() and not out.is_dir():
        fail(f"--out: {out} exists and is not a directory")
    for name in names:
        if (out / name).exists() and not (out / name).is_file():
            fail(f"--out: {out / name} exists and is not a file; nothing was written")
    # All or nothing: every summary is rendered and written into a staging directory first, then each is
    # renamed into place; a failure before the renames leaves --out as it was.
    texts = [(name, dumps(s) if fmt == "json" else render_md(s) if fmt == "md" else render_table(s))
             for s, name in zip(summaries, names)]
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kb-evaluate-", dir=out))
    try:
        for name, text in texts:
            (staging / name).write_text(text + "\n", encoding="utf-8")
        for name, _ in texts:
            os.replace(staging / name, out / name)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    echo(f"kb: wrote {len(summaries)} summar{'y' if len(summaries) == 1 else 'ies'} to {out}", err=True)
