"""`kb serve`: the HTTP API (and the pages) under uvicorn, on loopback unless another host is asked for.

The command checks its options, builds the managed database when it is missing (as `kb query` does),
binds the socket, prints the URL and runs uvicorn; workers import `web.app:create_app` and read their
settings from the environment this command sets. FastAPI and uvicorn are imported here, inside the
command, so `kb --help` and the other commands never load them.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Optional

import typer

from cli.common import DbOption, fail, handled


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default loopback; 0.0.0.0 exposes the server to the network)."),
          port: int = typer.Option(8000, "--port", help="Port (0: any free port; the URL printed says which)."),
          db: Optional[Path] = DbOption,
          workers: int = typer.Option(1, "--workers", help="Worker processes sharing the socket (each opens the database read-only)."),
          max_body: int = typer.Option(10 * 1024 * 1024, "--max-body", help="Largest request body in bytes (413 beyond)."),
          max_records: int = typer.Option(10_000, "--max-records", help="Most patient records per POST /v1/evaluate (413 beyond)."),
          timeout: float = typer.Option(30.0, "--timeout", help="Seconds a request may take (503 beyond)."),
          cors: list[str] = typer.Option([], "--cors", help="An origin allowed to call the API from a browser (repeatable); none: no CORS."),
          no_cache: bool = typer.Option(False, "--no-cache", help="Compute every GET body afresh (the benchmark's uncached row)."),
          log_level: str = typer.Option("warning", "--log-level", help="uvicorn's log level (the access log is always on)."),
          ):
    """Serve the HTTP API (/v1, /openapi.json, /docs) and the pages. Set KB_API_TOKEN to require a token. For research use only."""
    handled(_run)(host, port, db, workers, max_body, max_records, timeout, cors, no_cache, log_level)


def _run(host, port, db, workers, max_body, max_records, timeout, cors, no_cache, log_level) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from kb.core import store
    from kb.query.database import connect

    for name, value, low in (("--port", port, 0), ("--workers", workers, 1), ("--max-body", max_body, 1),
                             ("--max-records", max_records, 1)):
        if value < low:
            fail(f"{name}: expected a number >= {low}, got {value}")
    if not timeout > 0:
        fail(f"--timeout: expected a number of seconds > 0, got {timeout}")
    con = connect(db)  # builds the managed database when it is missing, before any worker starts
    version = store.kb_version(con)
    con.close()
    # The workers import web.app:create_app, which reads these (web/settings.py); cli does not import web.
    os.environ.update({"KB_SERVE_MAX_BODY": str(max_body), "KB_SERVE_MAX_RECORDS": str(max_records),
                       "KB_SERVE_TIMEOUT": str(timeout), "KB_SERVE_CORS": ",".join(cors),
                       "KB_SERVE_CACHE": "0" if no_cache else "1"})
    if db:
        os.environ["KB_DB"] = str(db)
    config = uvicorn.Config("web.app:create_app", factory=True, host=host, port=port, workers=workers,
                            access_log=False, log_level=log_level, timeout_graceful_shutdown=5,
                            server_header=False)
    try:
        sock = config.bind_socket()
    except SystemExit:
        fail(f"--host/--port: cannot bind {host}:{port} (in use, or not an address of this machine)")
    sock.listen(config.backlog)  # from now on connections queue until the server accepts them
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    auth = "token required (KB_API_TOKEN)" if os.environ.get("KB_API_TOKEN") else "no token"
    typer.echo(f"kb: serving http://{shown}:{bound} (database content {version['content']}, {workers} worker"
               f"{'s' if workers > 1 else ''}, {auth}); Ctrl-C stops", err=False)
    def interrupt(signum, frame):  # SIGTERM before uvicorn takes the signals (and when it re-raises them)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            config.load_app()
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    typer.echo("kb: stopped", err=True)
