"""`kb export`: every evidence item as JSON, CSV, Parquet or a CIViC-style TSV (library: kb.curate.export)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, handled


@handled
def export(fmt: str = typer.Option("json", "--format", "-f", help="json | csv | parquet | civic-tsv (parquet needs --out)."),
           out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file (default: stdout; required for parquet)."),
           status: str = typer.Option("all", "--status", help="all (default: every item, with its status) | accepted | submitted | rejected."),
           db: Optional[Path] = DbOption):
    """Export the evidence (with sources and markers in JSON) for other tools: JSON, CSV, Parquet, CIViC TSV."""
    from kb.curate.export import export as run

    result = run(fmt, out, status, db=db)
    if result.text is not None:
        typer.echo(result.text, nl=False)
    else:
        typer.echo(f"kb: wrote {result.items} evidence items to {result.path} ({result.format})", err=True)
