"""`kb curate ...`: the curator's commands (validate a curation file, list uncovered candidates, add a paper).

Each command parses its options, calls one library function and renders the result; library errors go
through `cli.common.handled`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer

from cli.common import DbOption, FormatOption, echo, handled, output_format
from cli.render import dumps, table

curate_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="Curator's tools: validate a curation file, list candidate sentences not yet "
                              "covered by evidence, add a new paper to a seeds directory.")


CANDIDATE_COLUMNS = ["source", "document", "start", "end", "markers", "sentence"]
COVERAGE_COLUMNS = ["source", "sentences", "covered", "dismissed", "open", "coverage"]


@curate_app.command("validate")
@handled
def validate(file: Path = typer.Argument(..., help="A curation file (curation/<source>.yaml)."),
             seeds: Optional[Path] = typer.Option(None, "--seeds", help="Seeds directory the file is checked against "
                                                  "(default: the one whose curation/ holds FILE, else ./seeds, else the bundled seeds).")):
    """Check one curation file (schema, vocabularies, marker ids, quotes) without building.

    Prints `ok: FILE: N evidence items, M links`; otherwise every problem, one `kb: error: file:line: field:
    problem` line each (a quote not in the text: its closest passage under it, at most two lines), then
    `kb: N problems in FILE`, on stderr, and exits 2.
    """
    from ingest.add_paper import seeds_of_file
    from ingest.validate import validate_file
    from kb.core.errors import CurationProblems
    from kb.core.escape import bounded_line

    seeds_dir = seeds_of_file(file, seeds)
    try:
        result = validate_file(file, seeds_dir)
    except CurationProblems as exc:
        display = f"curation/{file.name}"
        typed = file.parent.resolve() == (seeds_dir / "curation").resolve()
        for problem in exc.problems:
            if typed and problem.file == display:
                problem = replace(problem, file=str(file))  # the path as the user typed it: editors can jump to it
            head, *detail = problem.lines()
            echo(f"kb: error: {bounded_line(head)}", err=True)
            for line in detail:
                echo(line, err=True)
        n = len(exc.problems)
        echo(f"kb: {n} problem{'' if n == 1 else 's'} in {file}", err=True)
        raise typer.Exit(2)
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    echo(f"ok: {file}: {plural(result.evidence, 'evidence item')}, {plural(result.links, 'link')}")


@curate_app.command("candidates")
@handled
def candidates(source: Optional[str] = typer.Argument(None, help="Source id (default: every source)."),
               db: Optional[Path] = DbOption, fmt: Optional[str] = FormatOption):
    """Open sentences: they mention a marker with a number or a comparative word, and neither an evidence
    link covers them nor a dismissal of the curation file.

    Also reports per source the marker sentences covered, dismissed and open, and coverage = (covered +
    dismissed) / all. Exits 0 whether or not candidates remain.
    """
    from kb.curate.candidates import candidates as run

    fmt = output_format(fmt)
    result = run(source, db=db)
    if fmt == "json":
        typer.echo(dumps(result))
        return
    rows = [[c["source"], c["document"], c["start"], c["end"], c["markers"], c["sentence"]] for c in result["candidates"]]
    coverage = [[c[k] for k in COVERAGE_COLUMNS] for c in result["coverage"]]
    if fmt == "csv":
        echo(table(CANDIDATE_COLUMNS, rows, fmt))
        for c in result["coverage"]:
            echo(f"kb: coverage {c['source']}: {c['covered']} covered, {c['dismissed']} dismissed, {c['open']} open "
                       f"of {c['sentences']} marker sentences", err=True)
        return
    echo(table(COVERAGE_COLUMNS, coverage, fmt))
    echo("")
    echo(table(CANDIDATE_COLUMNS, rows, fmt))


@curate_app.command("add-paper")
@handled
def add_paper(path: Path = typer.Argument(..., help="The paper's text (UTF-8): PDF text, markdown or plain text."),
              source_id: str = typer.Option(..., "--id", help="Source id: a lower-case slug such as smith2024."),
              seeds: Optional[Path] = typer.Option(None, "--seeds", help="Seeds directory to add to (default: ./seeds if it has sources.yaml)."),
              doc_format: Optional[str] = typer.Option(None, "--format", help="pdf-text | markdown | text (default: from the file name: .pdf.txt, .md, else text)."),
              kind: str = typer.Option("primary study", "--kind", help="primary study | review | case series."),
              title: Optional[str] = typer.Option(None, "--title", help="Title, as the paper gives it."),
              authors: List[str] = typer.Option([], "--author", help="An author (repeat, in the paper's order)."),
              journal: Optional[str] = typer.Option(None, "--journal", help="Journal."),
              year: Optional[int] = typer.Option(None, "--year", help="Publication year."),
              doi: Optional[str] = typer.Option(None, "--doi", help="DOI (10.xxxx/...)."),
              pmid: Optional[str] = typer.Option(None, "--pmid", help="PubMed id."),
              curator: str = typer.Option("biomarker-kb curation team", "--curator", help="Curator named in the new curation file.")):
    """Copy a new paper into seeds/papers/, append it to sources.yaml, create its empty curation file.

    Only the bibliographic data given as options is recorded; the rest stays empty. Refuses an existing
    source id or target file (exit 2). Then add evidence to the curation file and run `kb build --seeds DIR`.
    """
    from ingest.add_paper import Bibliography, add_paper as run, default_seeds

    seeds_dir = default_seeds(seeds)
    bib = Bibliography(title=title, authors=list(authors), journal=journal, year=year, doi=doi, pmid=pmid)
    added = run(path, source_id, seeds_dir, doc_format, kind, bib, curator)
    echo(f"added source {added.source_id} ({added.kind}): {seeds_dir / added.paper} "
               f"({added.n_chars} characters, {added.format}, sha256 {added.sha256[:12]}…)")
    echo(f"  appended to {seeds_dir / 'sources.yaml'}; created {seeds_dir / added.curation} (evidence: [])")
    echo(f"next: add evidence items to {seeds_dir / added.curation}, check them with "
               f"`kb curate validate {seeds_dir / added.curation}`, then `kb build --seeds {seeds_dir}`")
