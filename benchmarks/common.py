"""What every benchmark section shares: the section registry, the scratch directory, the seeds database,
timed subprocess runs and the report line (a value next to its baseline, measured in the same run)."""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="kb-bench-"))
SECTIONS = {}


def section(name):
    def register(func):
        SECTIONS[name] = func
        return func
    return register


def report(label: str, value: float, baseline: float, unit: str, goal: str) -> None:
    print(f"  {label:<58} {value:10.3f} {unit:<4} baseline {baseline:10.3f} {unit:<4} ratio {value / baseline:6.2f}x   goal: {goal}")


def timed_runs(cmd: list[str], n: int, env: dict | None = None) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def seeds_db() -> Path:
    from ingest.build import build
    from kb.core.paths import bundled_seeds

    db = WORK / "seeds.duckdb"
    if not db.exists():
        build(bundled_seeds(), db)
    return db
