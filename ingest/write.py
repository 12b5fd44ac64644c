"""Write a complete set of rows to a DuckDB file atomically: a new file next to the target, then rename.

A build that fails at any point leaves the previous database untouched (the new file is removed), and
readers never see a half-written database because the rename is atomic on POSIX file systems. Nothing is
replaced that is not a biomarker-kb database; a symlinked target is written through (the link stays and
the file it points to is replaced), and the file's mode survives. One build at a time per target: a lock
file next to it; the loser of two concurrent builds gets one line. Temp files of killed builds are removed
by the next build (it holds the lock, so no other build can own them).
"""
from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from kb.core.errors import StoreError


def target_of(db: Path) -> Path:
    """The file a build replaces: the end of a symlink chain, so the link itself survives."""
    return Path(os.path.realpath(db)) if db.is_symlink() else db


def check_writable(db: Path, managed: bool = False) -> None:
    """Fail with one clear line before any work if the target cannot or must not be replaced.

    The live database is opened read-only (never read-write), so readers during a build never see
    "database is locked". A file that is not a biomarker-kb database is refused, except at the managed
    location (our own data directory), where a damaged file is replaced."""
    from kb.core.store import is_kb_database

    db = target_of(db)
    if not db.parent.is_dir():
        raise StoreError(f"cannot write {db}: directory {db.parent} does not exist")
    if not os.access(db.parent, os.W_OK):
        raise StoreError(f"cannot write {db}: directory {db.parent} is not writable")
    if db.exists() or db.is_symlink():
        if not db.is_file():
            raise StoreError(f"cannot write {db}: not a regular file; expected a biomarker-kb database or a new path")
        problem = is_kb_database(db)
        if problem is not None and not (managed and "something else" not in problem):
            raise StoreError(f"refusing to replace {db}: {problem}; choose another --db, or delete the file to "
                             "build there")


@contextmanager
def build_lock(db: Path, wait: bool = False) -> Iterator[None]:
    """Hold `.<name>.lock` next to the target for the whole build; another build gets a StoreError
    (or, with `wait`, blocks until the first is done: building on first use). The lock file is removed
    at the end; a build that locked a file already unlinked by the previous holder locks afresh."""
    import fcntl

    db = target_of(db)
    lock = db.with_name(f".{db.name}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot write {db}: cannot create the lock file {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"another kb build is writing {db} right now; wait for it to finish, then retry") from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed this lock file as we waited for it: take the new one
    try:
        _remove_stale(db)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _remove_stale(db: Path) -> None:
    """Temp files of builds that were killed (the lock is ours, so none of them is in use)."""
    for stale in db.parent.glob(f".{db.name}.*.building*"):
        stale.unlink(missing_ok=True)


def _disk_problem(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    if "No space left" in text or "disk is full" in text.lower() or "could not write" in text.lower():
        return text.splitlines()[0][:200]
    return None


def write_atomic(db: Path, groups: Iterable[list], derive: Callable | None = None) -> None:
    """Create the schema and insert every row in one transaction into a temporary file, then rename it.

    The DDL is compiled from the SQLModel tables (PostgreSQL dialect, which DuckDB speaks for DDL) and the
    rows are SQLModel objects, written through DuckDB's own API: the SQLAlchemy dialect for DuckDB
    (duckdb-engine) is not needed, and at interpreter exit it left DuckDB objects alive that nanobind
    reported as leaks. `derive(con)` runs inside the transaction: read models computed from the rows.
    A full disk or any other DuckDB failure is one StoreError; the previous database is unchanged.
    """
    import duckdb

    target = target_of(db)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.building")
    wal = tmp.with_name(tmp.name + ".wal")
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    for stale in (tmp, wal):
        stale.unlink(missing_ok=True)
    problem = None
    con = None
    try:
        con = duckdb.connect(str(tmp))
        con.execute("BEGIN TRANSACTION")
        for statement in schema_ddl():
            con.execute(statement)
        for rows in groups:
            insert_rows(con, rows)
        if derive is not None:
            derive(con)
        con.execute("COMMIT")
        con.close()
        if mode is not None:
            os.chmod(tmp, mode)  # a rebuild keeps the mode the user gave the file
        os.replace(tmp, target)
    except (duckdb.Error, OSError) as exc:
        problem = _disk_problem(exc) or str(exc).splitlines()[0][:200]
    except BaseException:
        _discard(con, tmp)
        raise
    finally:
        wal.unlink(missing_ok=True)
    if problem is not None:
        _discard(con, tmp)
        raise StoreError(f"cannot write {target}: {problem}; the previous database is unchanged")


def _discard(con, tmp: Path) -> None:
    if con is not None:
        try:
            con.close()
        except Exception:  # noqa: BLE001  (a connection invalidated by a fatal error may refuse to close)
            pass
    tmp.unlink(missing_ok=True)
    tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def schema_ddl() -> list[str]:
    """CREATE TABLE and CREATE INDEX statements of every table, parents first."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable
    from sqlmodel import SQLModel

    import schemas.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    dialect = postgresql.dialect()
    statements = []
    for table in SQLModel.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        statements.extend(str(CreateIndex(index).compile(dialect=dialect)) for index in sorted(table.indexes, key=lambda i: i.name))
    return statements


def insert_rows(con, rows: list) -> None:
    """Insert SQLModel objects of one table (values bound, column names quoted)."""
    if not rows:
        return
    table = type(rows[0]).__table__
    columns = [column.name for column in table.columns]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    con.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
                    [[getattr(row, c) for c in columns] for row in rows])
