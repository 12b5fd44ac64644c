"""What every command shares: the --db and --format options, the error mapping, the output step.

Every CLI module imports these from here (never from cli.main, which imports the modules).
"""
from __future__ import annotations

import functools
from typing import Optional

import typer

from cli.render import FORMATS, default_format, dumps, table

DbOption = typer.Option(None, "--db", help="Database file (default: $KB_DB, else the managed one in the user data directory).")
FormatOption = typer.Option(None, "--format", "-f", help="Output format: table (default on a terminal), json (default when piped), csv, md.")


def fail(message: str, code: int = 2) -> None:
    """One line on stderr: control characters and escape sequences from the input are shown, not obeyed."""
    from kb.core.escape import bounded_line

    typer.echo(f"kb: error: {bounded_line(message)}", err=True)
    raise typer.Exit(code)


def fail_all(messages: list[str], summary: str) -> None:
    """Every problem of a batch, one `kb: error: ...` line each, then `kb: SUMMARY`; exit 2."""
    from kb.core.escape import bounded_line

    for message in messages:
        typer.echo(f"kb: error: {bounded_line(message)}", err=True)
    typer.echo(f"kb: {summary}", err=True)
    raise typer.Exit(2)


def echo(text: str, err: bool = False, nl: bool = True) -> None:
    """typer.echo for human-readable text: control characters and escape sequences from the data are
    shown escaped (kb.core.escape.printable); newlines and tabs are kept."""
    from kb.core.escape import printable

    typer.echo(printable(text, keep="\n\t"), err=err, nl=nl)


def handled(func):
    """Map the library's errors to one line on stderr and exit 2 (1 for 'nothing found'); never a traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from kb.core.errors import KBError, NotFound, RecordProblems

        problems = None
        try:
            return func(*args, **kwargs)
        except RecordProblems as exc:
            problems, summary = [m for _, m in exc.problems], exc.summary
        except NotFound as exc:
            message, code = str(exc), 1
        except KBError as exc:
            message, code = str(exc), 2
        except OSError as exc:
            message, code = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), 2
        except Exception as exc:  # noqa: BLE001  (only library/driver errors are mapped; anything else re-raises)
            from kb.core.errors import library_error
            from kb.core.store import last_opened

            message, code = library_error(exc, last_opened()), 2
            if message is None:
                raise
        # Exit outside the except block: the caught error (and the frames and connections its traceback
        # holds) must not ride along as the context of the exit.
        if problems is not None:
            fail_all(problems, summary)
        fail(message, code)
    return wrapper


def output_format(fmt: Optional[str]) -> str:
    fmt = fmt or default_format()
    if fmt not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def emit(payload: dict, fmt: str, columns: list[str], rows: list[list]) -> None:
    typer.echo(dumps(payload) if fmt == "json" else table(columns, rows, fmt))
