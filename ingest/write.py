"""Write a complete set of rows to a DuckDB file atomically: a new file next to the target, then rename.

A build that fails at any point leaves the previous database untouched (the new file is removed), and
readers never see a half-written database because the rename is atomic on POSIX file systems.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from kb.errors import StoreError


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


def write_atomic(db: Path, groups: Iterable[list], derive=None) -> None:
    """Create the schema and insert every row in one transaction into a temporary file, then rename it.

    `derive(path)` runs after the rows are in and before the rename: read models computed from them."""
    from sqlmodel import Session, SQLModel, create_engine

    import schemas.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

    tmp = db.with_name(f".{db.name}.{os.getpid()}.building")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    engine = create_engine(f"duckdb:///{tmp}")
    try:
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            for rows in groups:
                session.add_all(rows)
                session.flush()
        engine.dispose()
        if derive is not None:
            derive(tmp)
        os.replace(tmp, db)
    except BaseException:
        engine.dispose()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
