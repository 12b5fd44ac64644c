"""What the PAM benchmark sections share: a median timer and whether pamr can be timed here."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time


def median(fn, n: int) -> float:
    """Median wall time of ``n`` calls of ``fn``."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def pamr_available() -> str | None:
    """None when Rscript can load pamr, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed (apt-get install r-base-core)"
    probe = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(pamr))"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        return f"pamr is not installed for Rscript (R_LIBS={os.environ.get('R_LIBS', '')!r}; see docs/pam.md)"
    return None
