"""Progress of a long DuckDB statement, for a caller that shows it (`kb score`, the benchmark's bulk load).

DuckDB reports how far the running query is (`query_progress`, 0-100, or -1 when it cannot tell); this
polls it from a second thread while the statement runs in the caller's, and hands the fraction to a
`progress(stage, fraction)` callback. Drawing is the caller's business (cli/progress.py).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def track_query_progress(con) -> None:
    """Make `con` keep query progress without printing DuckDB's own bar (stdout must stay the command's)."""
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")


def while_duckdb_works(con, progress: Callable[[str, float], None] | None, stage: str, run: Callable[[], T],
                       every: float = 0.2) -> T:
    """`run()`, with `progress(stage, fraction)` called with 0 first, then every `every` seconds while DuckDB
    reports progress of the statement `run` executes on `con`, and with 1 when it has finished (so even a
    statement quicker than one poll shows its stage). No callback: just `run()`."""
    if progress is None:
        return run()
    progress(stage, 0.0)
    done = threading.Event()

    def poll():
        while not done.wait(every):
            value = con.query_progress()
            if value >= 0:
                progress(stage, min(value, 100.0) / 100.0)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        result = run()
    finally:
        done.set()
        thread.join()
    progress(stage, 1.0)
    return result
