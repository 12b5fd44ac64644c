"""Write a complete set of rows to a DuckDB file atomically: a new file next to the target, then rename.

A build that fails at any point leaves the previous database untouched (the new file is removed), and
readers never see a half-written database because the rename is atomic on POSIX file systems.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from kb.core.errors import StoreError


def check_writable(db: Path) -> None:
    """Fail with one clear line before any work if the target cannot be replaced."""
    import duckdb

    if not db.parent.is_dir():
        raise StoreError(f"cannot write {db}: directory {db.parent} does not exist")
    if not os.access(db.parent, os.W_OK):
        raise StoreError(f"cannot write {db}: directory {db.parent} is not writable")
    if db.exists():
        try:
            duckdb.connect(str(db)).close()
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(f"database {db} is locked by another process; close it and retry") from None
            raise StoreError(f"cannot open {db}: {str(exc).splitlines()[0]}") from None
        except duckdb.Error:
            pass  # a corrupt or foreign file is simply replaced by the build


def write_atomic(db: Path, groups: Iterable[list], derive: Callable | None = None) -> None:
    """Create the schema and insert every row in one transaction into a temporary file, then rename it.

    The DDL is compiled from the SQLModel tables (PostgreSQL dialect, which DuckDB speaks for DDL) and the
    rows are SQLModel objects, written through DuckDB's own API: the SQLAlchemy dialect for DuckDB
    (duckdb-engine) is not needed, and at interpreter exit it left DuckDB objects alive that nanobind
    reported as leaks. `derive(con)` runs inside the transaction: read models computed from the rows.
    """
    import duckdb

    tmp = db.with_name(f".{db.name}.{os.getpid()}.building")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("BEGIN TRANSACTION")
        for statement in schema_ddl():
            con.execute(statement)
        for rows in groups:
            insert_rows(con, rows)
        if derive is not None:
            derive(con)
        con.execute("COMMIT")
        con.close()
        os.replace(tmp, db)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
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
