"""`kb`: the command line. Each command parses its options, calls one library function, renders the result.

Imports of the library happen inside the commands so `kb --help` and `kb query` load only what they use;
the commands of the other cli modules are registered on first use of the full app (`_full_app`), so the
`kb query` fast path imports none of them (tests/test_cli.py lists what it must not load). Shell
completion is typer's (`kb --install-completion`, `kb --show-completion`): it costs nothing measurable
at start-up (docs/benchmarks.md).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, FormatOption, echo, emit, fail, handled, output_format
from cli.render import dumps, use_color

# The root app without the commands defined in their own modules: `_full_app()` adds those, so the `kb query`
# fast path never imports them. `cli.main.app` (module __getattr__ below) is always the full app.
_app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="biomarker-kb: evidence on biomarkers of response to CD19-directed immunotherapy. "
                       "For research use only; not for clinical decision-making. `kb --version` prints the "
                       "package version and the knowledge base's kb_version.")

@_app.command()
@handled
def build(db: Optional[Path] = DbOption,
          seeds: Optional[Path] = typer.Option(None, "--seeds", help="Seeds directory (default: the bundled seeds)."),
          fmt: Optional[str] = FormatOption):
    """Build the knowledge base from the seeds in one transaction (the old database survives any error)."""
    from ingest.build import build as run
    from kb.core.paths import bundled_seeds, resolve_db

    fmt = output_format(fmt)
    path, managed = resolve_db(db)
    if managed:
        path.parent.mkdir(parents=True, exist_ok=True)
    report = run(seeds or bundled_seeds(), path, managed=managed)
    payload = {"db": str(report.db), "kb_version": {"schema": _schema(), "content": report.content},
               "counts": report.counts, "seconds": round(report.seconds, 2)}
    emit(payload, fmt, ["table", "rows"], [[k, v] for k, v in report.counts.items()])
    if fmt == "table":
        echo(f"built {report.db} (content {report.content}) in {report.seconds:.2f} s", err=True)


def _schema() -> int:
    from schemas.enums import SCHEMA_VERSION

    return SCHEMA_VERSION


EVIDENCE_COLUMNS = ["id", "marker", "type", "direction", "context", "disease", "therapy", "timepoint", "rule", "effect", "n", "level",
                    "ref", "outcome", "statement"]
EVIDENCE_TABLE = ["evidence", "population", "rule · effect", "level · n", "outcome: statement"]


def evidence_rows(items: list[dict], fmt: str = "csv") -> list[list]:
    """One row per item: every field in its own column (csv, md), or grouped into five wrapping columns
    that fit a terminal (table)."""
    from kb.core.text import effect_text, rule_text

    disease = lambda e: (e["disease"] or "") + (" (broader)" if e.get("disease_match") == "broader" else "")  # noqa: E731
    if fmt == "table":
        return [[f"{e['id']}\n{e['marker']} · {e['evidence_type']} · {e['direction'] or 'no direction'} · {e['context']}",
                 "\n".join(v for v in (disease(e), e["therapy"], e["timepoint"]) if v),
                 "\n".join(v for v in (rule_text(e["rule"]), effect_text(e["effect"])) if v),
                 e["level"] + (f" · n {e['n_patients']}" if e["n_patients"] is not None else "")
                 + (f"\nref {e['cited_reference']}" if e["cited_reference"] else ""),
                 f"{e['outcome']}: {e['statement']}" if e["outcome"] else e["statement"]] for e in items]
    return [[e["id"], e["marker"], e["evidence_type"], e["direction"], e["context"], disease(e), e["therapy"], e["timepoint"],
             rule_text(e["rule"]), effect_text(e["effect"]), e["n_patients"], e["level"], e["cited_reference"],
             e["outcome"], e["statement"]]
            for e in items]


@_app.command()
@handled
def query(marker: Optional[str] = typer.Option(None, "--marker", "-m", help="Marker name or any spelling (fuzzy: 'lactate dehydrogenase' finds LDH). Optional: the filters alone select across every marker."),
          disease: Optional[str] = typer.Option(None, "--disease", help="Disease: a name or synonym (lymphoma, NHL, ALL, ...) or a code (C83.3, DOID:0050745, NCIT:C8851); includes its subtypes (LBCL includes DLBCL)."),
          broader: bool = typer.Option(False, "--broader", help="With --disease, also include evidence recorded at the disease's ancestors (lymphoma for DLBCL), labelled disease_match=broader."),
          therapy: Optional[str] = typer.Option(None, "--therapy", help="Therapy (axi-cel, blinatumomab, ...) or class (CD19 CAR-T)."),
          direction: Optional[str] = typer.Option(None, "--direction", help="unfavorable | favorable | mixed | none"),
          evidence_type: Optional[str] = typer.Option(None, "--type", help="predictive | prognostic | ... | mechanistic"),
          status: str = typer.Option("accepted", "--status", help="accepted (default) | submitted | rejected | all"),
          context: Optional[str] = typer.Option(None, "--context", help="clinical | preclinical | background (default: all)"),
          db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """Evidence items for a marker, or for the filters alone, strongest first (level, then number of patients)."""
    from kb import query as q

    fmt = output_format(fmt)
    if broader and not disease:
        fail("--broader: needs --disease (it widens a disease filter to the disease's ancestors)")
    if marker is None and not any((disease, therapy, direction, evidence_type, context)) and status == "accepted":
        fail("kb query: expected --marker or at least one filter (--disease, --therapy, --direction, --type, --context, --status)")
    result = q.evidence(marker, disease, therapy, direction, evidence_type, status, broader=broader, context=context,
                        db=db)
    resolved = result["query"]["resolved"]
    if resolved and resolved["how"] == "fuzzy":
        echo(f"kb: {marker!r} resolved to {resolved['name']} (via {resolved['alias']!r}, score {resolved['score']})", err=True)
    if result["evidence"] or fmt in ("json", "csv"):  # no empty table before "no evidence items"
        emit(result, fmt, EVIDENCE_TABLE if fmt == "table" else EVIDENCE_COLUMNS, evidence_rows(result["evidence"], fmt))
    if not result["evidence"]:
        echo(f"kb: no evidence items for {resolved['name'] if resolved else 'any marker'} with these filters", err=True)
        raise typer.Exit(1)


@_app.command()
@handled
def markers(search: Optional[str] = typer.Option(None, "--search", "-s", help="Fuzzy search over names and aliases, best first ('interleukin' lists every interleukin)."),
            db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """Every marker with its kind, unit, codes, aliases and number of accepted evidence items (or those matching --search)."""
    from kb import query as q

    fmt = output_format(fmt)
    result = q.markers(search, db=db)
    columns = ["id", "name", "kind", "unit", "loinc", "hgnc", "n_evidence", "aliases"]
    rows = [[m["id"], m["name"], m["kind"], m["unit"], m["loinc"], m["hgnc_symbol"], m["n_evidence"], m["aliases"]]
            for m in result["markers"]]
    if search is not None:
        columns = ["match", "score"] + columns
        rows = [[m["match"]["alias"], m["match"]["score"]] + row for m, row in zip(result["markers"], rows)]
    emit(result, fmt, columns, rows)
    if search is not None and not result["markers"]:
        echo(f"kb: no marker matches {search!r}", err=True)
        raise typer.Exit(1)


@_app.command()
@handled
def sources(db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """The sources with their bibliographic data and renditions (documents)."""
    from kb import query as q

    fmt = output_format(fmt)
    result = q.sources(db=db)
    emit(result, fmt, ["id", "kind", "year", "journal", "doi", "license", "documents", "n_evidence", "cited_works", "title"],
         [[s["id"], s["kind"], s["year"], s["journal"], s["doi"], s["license"], [d["path"] for d in s["documents"]],
           s["n_evidence"], s["n_cited_works"], s["title"]] for s in result["sources"]])


@_app.command()
@handled
def show(evidence_id: str = typer.Argument(..., help="Evidence id (see `kb query`)."),
         window: int = typer.Option(200, "--window", help="Characters of document text shown around each quote."),
         db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """One evidence item and each quote in its document, highlighted, with the text around it."""
    from kb import query as q
    from kb.core.text import show_text

    fmt = output_format(fmt)
    result = q.show(evidence_id, window, db=db)
    if fmt == "json":
        typer.echo(dumps(result))
    else:
        typer.echo(show_text(result["evidence"], markdown=fmt == "md", color=fmt == "table" and use_color()))


@_app.command()
@handled
def check(db: Optional[Path] = DbOption,
          seeds: Optional[Path] = typer.Option(None, "--seeds", help="Seeds directory to compare with (default: the one the database was built from, recorded in it)."),
          fmt: Optional[str] = FormatOption):
    """Re-verify everything the database says: every stored span (evidence, cited works, dismissals, licences,
    PAM) against its document text, every document against its sha256, the rows against their recorded
    digest, and every table against the seeds it was built from."""
    from kb.curate.check import check as run
    from kb.query.database import connect

    fmt = output_format(fmt)
    report = run(connect(db), seeds)
    if fmt == "json":
        typer.echo(dumps(report.as_json()))
    else:
        for problem in report.problems:
            echo(f"MISMATCH {problem}")
        echo(f"{'ok' if report.ok else 'FAILED'}: {report.documents} documents, {report.links} evidence links, "
             f"{report.cited_work_links} reference-list spans, {report.dismissals} dismissals, "
             f"{report.licences} licence sentences, {report.pam_links} model links, {len(report.problems)} problems")
    if not report.ok:
        raise typer.Exit(1)


def _full_app() -> typer.Typer:
    """The root app with every command: the sub-apps and commands of their own modules are imported and
    registered here, once, on first use (`kb query` dispatches without them, see `main`)."""
    global _registered
    if not _registered:
        from cli.curate import curate_app
        from cli.diff import diff
        from cli.evaluate import evaluate
        from cli.export import export
        from cli.pam import pam_app
        from cli.score import score
        from cli.serve import serve

        _app.add_typer(curate_app, name="curate")
        _app.command("diff")(diff)
        _app.command("export")(export)
        _app.command(name="evaluate")(evaluate)
        _app.add_typer(pam_app, name="pam")
        _app.command("score")(score)
        _app.command("serve")(serve)
        _registered = True
    return _app


_registered = False


def __getattr__(name: str):
    """`from cli.main import app`: the full app, registered on first access (PEP 562)."""
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> None:
    """`kb --version`: the package version and the kb_version (schema, content hash) of the database."""
    from importlib.metadata import PackageNotFoundError, version

    from kb.core import store
    from kb.query.database import connect

    try:
        package = version("biomarker-kb")
    except PackageNotFoundError:  # a source tree that was never installed
        package = "0+unknown"
    con = connect(None)
    try:
        kv = store.kb_version(con)
    finally:
        con.close()
    typer.echo(f"biomarker-kb {package} (kb_version schema {kv['schema']}, content {kv['content']})")


def main() -> None:
    """Entry point. `kb query ...` (the latency-sensitive path) runs as a one-command app: typer otherwise
    builds all fourteen commands' parameters before dispatching, a quarter of the start-up it adds.

    Usage errors (unknown option, missing argument, bad value) are one line, `kb: error: ...`, exit 2,
    like every other error, instead of click's framed box."""
    from typer import _click

    args = sys.argv[1:]
    try:
        if args[:1] in (["--version"], ["-V"]):
            handled(_version)()
        elif args[:1] == ["query"]:
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            single.command()(query)
            code = typer.main.get_command(single).main(args[1:], prog_name="kb query", standalone_mode=False)
            sys.exit(code if isinstance(code, int) else 0)
        else:
            code = typer.main.get_command(_full_app()).main(args, prog_name="kb", standalone_mode=False)
            sys.exit(code if isinstance(code, int) else 0)
    except _click.exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "kb"
        message = " ".join(exc.format_message().split())
        if message:  # empty: a group called without a command, whose help has just been printed
            typer.echo(f"kb: error: {where}: {message} (see `{where} --help`)", err=True)
        sys.exit(2)
    except _click.exceptions.ClickException as exc:
        typer.echo(f"kb: error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
