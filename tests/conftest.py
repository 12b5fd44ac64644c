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



@pytest.fixture(scope="session")
def pages_server(api_server) -> str:
    """The base URL of `kb serve` (API and pages in one process, a real uvicorn on loopback)."""
    return api_server.url


# ---- HTTP API: real uvicorn servers on ephemeral loopback ports (tests/test_api*.py) -----------------

class Server:
    """`kb serve --port 0` in a subprocess; `url` is the address it printed. Its stderr (the access log)
    goes to a file so the pipe never fills."""

    def __init__(self, db: Path, *args: str, env: dict | None = None, log: Path):
        import os
        import subprocess
        import sys

        environment = {**os.environ, "KB_API_TOKEN": "", **(env or {})}
        self.log = log
        self._err = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", "0", "--db", str(db), *args],
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, env=environment)
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.stop()
            raise RuntimeError(f"kb serve did not start: {line!r} {log.read_text()[-2000:]}")
        self.url = line.split("serving ", 1)[1].split(" ", 1)[0]

    def stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._err.close()


@pytest.fixture(scope="session")
def api_server(built_db, tmp_path_factory):
    server = Server(built_db, log=tmp_path_factory.mktemp("api") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def open_server(built_db, tmp_path_factory):
    """`kb serve` on a copy of the knowledge base without xu2023's dismissals: every seed paper is fully
    reviewed (0 open sentences), so the copy is how the curation page gets open candidates to draft from.
    `db` is the copy's path."""
    import duckdb

    work = tmp_path_factory.mktemp("open")
    db = work / "kb.duckdb"
    shutil.copy(built_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM dismissal WHERE source_id = 'xu2023'")
    server = Server(db, log=work / "serve.log")
    server.db = db
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(api_server):
    import httpx

    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        yield client
