"""Progress bars for the operations that take seconds on big input (`kb score`, `kb pam train`,
`kb evaluate` on a large JSONL, the benchmark's bulk load).

A bar is drawn with rich on stderr, and only when stderr is a terminal: piped or redirected, nothing is
written and rich is not even imported (start-up pays nothing, and output is byte-identical to a run
without a bar). stdout is never touched: the bar's console writes to stderr and does not redirect
stdout (rich's Live would otherwise capture `print` into the display). The bar is transient: it is
erased when the work ends, so the terminal keeps only the command's own lines.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

# progress(stage, done, total): `stage` is what runs now; `done` of `total` units are complete
# (total None: the amount is unknown, the bar pulses).
Report = Callable[[str, float, Optional[float]], None]


def shown() -> bool:
    """A bar is drawn when stderr is a terminal (never when piped, redirected or captured)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def _silent(stage: str, done: float, total: float | None = None) -> None:
    return None


@contextmanager
def progress_bar(min_total: float | None = None) -> Iterator[Report]:
    """A `Report` callable drawing one bar on stderr while the block runs (a no-op when not `shown()`).
    The bar starts at the first report whose total reaches `min_total` (None: the first report), so a run
    too small to need one (one patient record) neither draws it nor imports rich. It may be called from
    another thread (kb score polls DuckDB from one)."""
    if not shown():
        yield _silent
        return
    lock = threading.Lock()
    state: dict = {}

    def report(stage: str, done: float, total: float | None = None) -> None:
        with lock:
            if "bar" not in state:
                if min_total is not None and (total is None or total < min_total):
                    return
                state["bar"] = _start()
                state["task"] = state["bar"].add_task(stage, total=total, completed=done)
            else:
                state["bar"].update(state["task"], description=stage, completed=done, total=total)

    try:
        yield report
    finally:
        with lock:
            if "bar" in state:
                state["bar"].stop()  # its last frame is drawn, then erased (transient)


def _start():
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("kb: {task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   console=Console(file=sys.stderr), transient=True, redirect_stdout=False, redirect_stderr=False)
    bar.start()
    return bar


def fraction_report(report: Report) -> Callable[[str, float], None]:
    """A `progress(stage, fraction)` callback (kb.pam.cohort, kb.core.progress) drawn as percent."""
    return lambda stage, fraction: report(stage, round(fraction * 100, 1), 100)
