"""Library exceptions; the CLI maps each to a one-line message and exit code 2."""
from __future__ import annotations

from dataclasses import dataclass, field


class KBError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(KBError, ValueError):
    """The caller's data is not what was expected; the message says what and where."""


class CurationError(InputError):
    """A seed or curation file is invalid: the message is `file:line: field: problem`; `where` holds those
    parts when the raiser knew them (a checker that collects every problem of a file reads it)."""

    where: "Problem | None" = None

    @classmethod
    def at(cls, file: str, line: int, field: str, problem: str) -> "CurationError":
        where = Problem(file, line, field, problem)
        error = cls(where.message)
        error.where = where
        return error


def field_path(loc) -> str:
    """A location as a dotted path with list indices: ("evidence", 3, "rule", "value") -> evidence[3].rule.value."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


@dataclass(frozen=True)
class Problem:
    """One problem of a file at `file:line`, in `field` (a dotted path). `detail` are lines shown under it
    (the closest passage of a quote that is not in the text); `passage` their data."""

    file: str
    line: int
    field: str
    problem: str
    detail: tuple[str, ...] = ()
    passage: dict | None = field(default=None, compare=False)

    @property
    def message(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.problem}"

    def lines(self) -> list[str]:
        return [self.message, *(f"    {d}" for d in self.detail)]

    def as_json(self) -> dict:
        out = {"file": self.file, "line": self.line, "field": self.field, "problem": self.problem,
               "message": "\n".join(self.lines())}
        if self.passage is not None:
            out["closest"] = self.passage
        return out


class CurationProblems(CurationError):
    """Every problem found in a curation file (at least one), in line order; the message is their lines."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        self.where = self.problems[0]
        super().__init__("\n".join(line for p in self.problems for line in p.lines()))


class RecordProblems(InputError):
    """Every bad record of a batch (at least one), in input order: `problems` are (record label, message),
    each message `label: field: problem`; `total` is how many records (or unreadable files) the batch had."""

    def __init__(self, problems: list[tuple[str, str]], total: int):
        self.problems, self.total = list(problems), total
        super().__init__("\n".join(message for _, message in self.problems))

    @property
    def summary(self) -> str:
        n = len(self.problems)
        return (f"{n} bad record{'' if n == 1 else 's'} of {self.total}; nothing was evaluated or written "
                "(a batch is all or nothing)")


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
