"""Library exceptions; the CLI maps each to a one-line message and exit code 2."""


class KBError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(KBError, ValueError):
    """The caller's data is not what was expected; the message says what and where."""


class CurationError(InputError):
    """A seed or curation file is invalid: the message is `file:line: field: problem`."""


class StoreError(KBError):
    """The database cannot be opened or written (locked, missing directory, corrupt)."""


class NotFound(KBError):
    """Nothing matched (an unknown marker, evidence id or model): exit code 1."""


def library_error(exc: BaseException, database=None) -> str | None:
    """One line for an error raised by a library, a driver or the system rather than by us on purpose,
    naming the database it concerns when there is one; None for anything else (a bug: let it surface).

    The CLI's error handler (and the HTTP API's) call this last: boundaries that know the file (reading
    a cohort, a record, a seed file) raise InputError/StoreError themselves."""
    import csv

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()[:200]
    module = type(exc).__module__ or ""
    if module.split(".")[0] in ("duckdb", "_duckdb"):
        if "out of memory" in first.lower():
            return f"DuckDB ran out of memory ({first}); free memory or process a smaller input"
        where = database  # the database the process opened last (kb.core.store.last_opened), if any
        if where is None:
            return f"DuckDB: {first}"
        return (f"database {where}: {first}; it is damaged or not a biomarker-kb database of this version "
                "(rebuild it with `kb build`)")
    if isinstance(exc, MemoryError):
        return "out of memory; free memory or process a smaller input"
    if isinstance(exc, RecursionError):
        return "input nested too deeply"
    if isinstance(exc, csv.Error):
        return f"CSV: {first}"
    if isinstance(exc, EOFError):
        return f"unexpected end of input ({first}); a compressed file cut short?"
    if module.startswith("pydantic") and hasattr(exc, "errors"):
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "input"
        return f"{field}: {err.get('msg', first)}"
    return None
