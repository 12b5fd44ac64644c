"""Shared fixtures: the bundled seeds, a knowledge base built once per session, and a CLI runner."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.core.paths import bundled_seeds

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return bundled_seeds()


@pytest.fixture(scope="session")
def built_db(tmp_path_factory, seeds_dir) -> Path:
    """A knowledge base built from the bundled seeds (read-only use: copy it before changing it)."""
    from ingest.build import build

    db = tmp_path_factory.mktemp("kb") / "kb.duckdb"
    build(seeds_dir, db)
    return db


@pytest.fixture()
def con(built_db):
    from kb.query.database import connect

    connection = connect(built_db)
    yield connection
    connection.close()


@pytest.fixture()
def seeds_copy(tmp_path, seeds_dir) -> Path:
    """A writable copy of the seeds, for tests that break or extend them."""
    target = tmp_path / "seeds"
    shutil.copytree(seeds_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.fixture()
def runner(monkeypatch, tmp_path) -> CliRunner:
    """A CliRunner whose managed database lives in a temp directory (never the user's)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KB_DB", raising=False)
    return CliRunner()

