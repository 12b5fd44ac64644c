"""Speed measurements, each printed next to a baseline measured in the same run on the same machine.

    python benchmarks/run.py            # everything
    python benchmarks/run.py query build

Sections (issue numbers in brackets): cold CLI start [2], query latency on 1,000,000 evidence rows [2],
build of the seeds [2], the PAM sections registered in benchmarks/pam_bench.py [4], the HTTP API
(`api`, benchmarks/api_bench.py) [8] and the web pages (`web`, benchmarks/web_bench.py) [9].
Nothing here is a test: numbers vary by machine, ratios much less.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, SECTIONS, WORK, report, section, seeds_db, timed_runs  # noqa: E402

from cli.progress import progress_bar, shown  # noqa: E402


@section("cli")
def cold_cli() -> None:
    """(a) cold `kb query --marker LDH` (JSON and a rich table), `kb --help` and `kb markers` (the full app)
    against `python -c 'import typer, duckdb'`, interleaved."""
    import compileall

    db = seeds_db()
    kb = shutil.which("kb") or str(Path(sys.executable).with_name("kb"))
    env = dict(os.environ, KB_DB=str(db), COLUMNS="100")
    # Bytecode first, as `pip install .` writes it: a checkout run with PYTHONDONTWRITEBYTECODE=1 (or a
    # read-only tree) would otherwise compile every module of ours on every start, which the baseline's
    # installed libraries never do (docs/benchmarks.md: about 0.3x of the ratio).
    for package in ("cli", "kb", "ingest", "schemas", "seeds"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    runs = {"baseline": [sys.executable, "-c", "import typer, duckdb"],
            "kb query --marker LDH (json)": [kb, "query", "--marker", "LDH", "--format", "json"],
            "kb query --marker LDH (table)": [kb, "query", "--marker", "LDH", "--format", "table"],
            "kb markers (table, full app)": [kb, "markers", "--format", "table"],
            "kb --help": [kb, "--help"]}
    for _ in range(2):  # warm the OS file cache and .pyc files for every command
        for cmd in runs.values():
            timed_runs(cmd, 1, env)
    # Interleaved, so drift in the machine's load hits every command alike.
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(15):
        for name, cmd in runs.items():
            times[name].append(timed_runs(cmd, 1, env))
    baseline = statistics.median(times.pop("baseline"))
    print("(a) cold CLI, median of 15 interleaved runs")
    for name, values in times.items():
        report(name, statistics.median(values) * 1000, baseline * 1000, "ms", "<= 1.5x" if "json" in name else "")
    completion_cost(kb, env)


def completion_cost(kb: str, env: dict) -> None:
    """(a') what typer's shell completion (`--install-completion`, `--show-completion`) costs at start-up:
    the same commands through one wrapper, the root app's completion switched on and off, interleaved.
    Wall time as in (a), and the CPU time (user + sys) of each process, which a loaded machine disturbs less."""
    code = ("import sys; sys.argv = ['kb'] + sys.argv[1:]; import cli.main as m; "
            "m._app._add_completion = {}; m.main()")
    commands = {"kb query --marker LDH (json)": ["query", "--marker", "LDH", "--format", "json"],
                "kb --help (full app)": ["--help"]}
    runs = {(name, flag): [sys.executable, "-c", code.format(flag), *args]
            for name, args in commands.items() for flag in (False, True)}

    def one(cmd) -> tuple[float, float]:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        return time.perf_counter() - started, usage.ru_utime + usage.ru_stime

    for cmd in runs.values():
        one(cmd)
    wall: dict = {key: [] for key in runs}
    cpu: dict = {key: [] for key in runs}
    for _ in range(21):
        for key, cmd in runs.items():
            w, c = one(cmd)
            wall[key].append(w)
            cpu[key].append(c)
    print("(a') shell completion on vs off, median of 21 interleaved runs (off: the baseline)")
    for name in commands:
        for what, times in (("wall", wall), ("CPU", cpu)):
            off, on = (statistics.median(times[(name, flag)]) * 1000 for flag in (False, True))
            report(f"{name}, completion on, {what}", on, off, "ms", "< 5 ms or < 3 %")
    # What completion adds, in process: typer builds its two options when it builds the root command (the
    # `kb query` fast path builds a one-command app without them); its module is imported by typer anyway.
    import typer.main

    cost = []
    for _ in range(50):
        started = time.perf_counter()
        typer.main.get_install_completion_arguments()
        cost.append(time.perf_counter() - started)
    print(f"  in process: the two completion options cost {statistics.median(cost) * 1000:.2f} ms (median of 50) "
          "when the full app is built; the kb query path builds none")


@section("query")
def query_latency() -> None:
    """(b) in-process query latency on a synthetic knowledge base of 1,000,000 evidence rows."""
    import duckdb

    from kb import query
    from kb.query.database import connect

    db = WORK / "million.duckdb"
    shutil.copy(seeds_db(), db)
    con = duckdb.connect(str(db))
    n_rows, n_markers = 1_000_000, 20_000
    started = time.perf_counter()
    targets = [f"Synthetic {i}" for i in range(0, n_markers, n_markers // 50)]
    target_ids = [f"syn-{i}" for i in range(0, n_markers, n_markers // 50)]
    with progress_bar() as bar:  # about 40 s: a bar on stderr when it is a terminal (stdout keeps the report)
        bulk_load(con, n_rows, n_markers, targets, target_ids, bar if shown() else None)
    con.close()
    load = time.perf_counter() - started
    con = connect(db)
    total = con.execute("SELECT count(*) FROM evidence").fetchone()[0]

    def median_ms(fn) -> float:
        fn(targets[0])
        times = []
        for name in targets:
            started = time.perf_counter()
            fn(name)
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    raw_ids = dict(con.execute("SELECT name, id FROM marker").fetchall())
    # Baseline: the bare DuckDB fetch of one marker's evidence rows (no links, no resolution, no JSON).
    baseline = median_ms(lambda name: con.execute("SELECT * FROM evidence WHERE marker_id = ?", [raw_ids[name]]).fetchall())
    value = median_ms(lambda name: query.evidence(name, con=con))
    per = con.execute("SELECT count(*) FROM evidence WHERE marker_id = 'syn-0'").fetchone()[0]
    print(f"(b) query latency, {total:,} evidence rows and links (bulk-loaded in {load:.1f} s), ~{per} rows per marker, median of {len(targets)}")
    report("kb.query.evidence(marker) incl. resolution, links, JSON", value, baseline, "ms", "median <= 5 ms")


def bulk_load(con, n_rows: int, n_markers: int, targets: list[str], target_ids: list[str], bar=None) -> None:
    """The synthetic knowledge base of the query section, one bulk statement per table; `bar(stage, done,
    total)` (cli/progress.py) gets each statement's share of the work as DuckDB reports it."""
    from kb.core import items, store
    from kb.core.progress import track_query_progress, while_duckdb_works

    track_query_progress(con)
    steps = [
        ("markers", """INSERT INTO marker (id, name, kind)
                       SELECT 'syn-' || i, 'Synthetic ' || i, 'other' FROM range(?) t(i)""", [n_markers]),
        ("aliases", "INSERT INTO marker_alias (marker_id, alias, norm, exact_only) SELECT id, name, lower(replace(name, ' ', '')), false "
                    "FROM marker WHERE id LIKE 'syn-%'", []),
        # One bulk INSERT ... SELECT per table (row-by-row inserts are about 100x slower), in marker order as
        # `kb build` stores them.
        (f"{n_rows:,} evidence rows", """
        INSERT INTO evidence (id, source_id, marker_id, evidence_type, direction, context, disease, therapy,
          therapy_class, timepoint, specimen, outcome, rule_operator, rule_value, rule_value_high, rule_unit,
          rule_reference, rule_category, effect_measure, effect_value, effect_ci_low, effect_ci_high, effect_p,
          effect_p_text, effect_text, effect_groups, n_patients, level, cited_reference, statement, note, status,
          curator, curated_at, curation_file, curation_line) SELECT
          'syn-ev-' || i, 'xu2023', 'syn-' || (hash(i) % ?), 'prognostic',
          CASE i % 3 WHEN 0 THEN 'unfavorable' WHEN 1 THEN 'favorable' ELSE 'none' END, 'clinical',
          'LBCL', 'axi-cel', 'CD19 CAR-T', 'baseline', 'serum', 'progression-free survival',
          '>', (i % 500)::DOUBLE, NULL, 'U/L', 'absolute', NULL,
          'HR', 1 + (i % 40) / 10.0, NULL, NULL, NULL, NULL, 'synthetic', '[]',
          100 + i % 400, 'B', NULL, 'synthetic item', NULL, 'accepted', 'bench', DATE '2026-01-01', 'synthetic', 0
        FROM range(?) t(i) ORDER BY 3, 1""", [n_markers, n_rows]),
        ("evidence links", """INSERT INTO evidence_link SELECT id, 'xu2023.md', hash(id) % 60000, hash(id) % 60000 + 40, 'synthetic quote', marker_id
                   FROM evidence WHERE id LIKE 'syn-%' ORDER BY marker_id, id""", []),
        # The read model `kb build` derives: the measured markers rendered by the query layer itself (below),
        # the other markers filled with JSON of the same rows so the table has its real size.
        ("read model", """INSERT INTO marker_evidence SELECT marker_id, count(*), to_json(list(e))::VARCHAR FROM evidence e
                   WHERE marker_id LIKE 'syn-%' AND marker_id NOT IN (SELECT unnest(?::VARCHAR[])) GROUP BY marker_id""",
         [target_ids]),
    ]
    for n, (stage, sql, params) in enumerate(steps):
        report = None if bar is None else (
            lambda what, fraction, n=n: bar(f"bulk load: {what}", round((n + fraction) / len(steps) * 100, 1), 100))
        while_duckdb_works(con, report, stage, lambda: con.execute(sql, params))
    store.write_marker_evidence(con, [(mid, len(items_), json.dumps(items_, ensure_ascii=False, separators=(",", ":")))
                                      for mid, name in zip(target_ids, targets)
                                      for items_ in [items.marker_items(con, mid, name)]])


@section("build")
def build_seeds() -> None:
    """(c) `kb build` of the seeds against importing the write-path libraries."""
    kb = shutil.which("kb") or str(Path(sys.executable).with_name("kb"))
    db = WORK / "build.duckdb"
    baseline = timed_runs([sys.executable, "-c", "import sqlmodel, duckdb, yaml, pydantic"], 3)
    value = timed_runs([kb, "build", "--db", str(db), "--format", "json"], 3)
    print("(c) kb build of the seeds, median of 3 runs")
    report("kb build (all seeds, one transaction)", value, baseline, "s", "< 5 s")


def main(argv: list[str]) -> None:
    import api_bench  # noqa: F401  (registers the HTTP API section)
    import pam_bench  # noqa: F401  (registers the PAM sections)
    import web_bench  # noqa: F401  (registers the web pages section)
    chosen = argv or list(SECTIONS)
    print(f"biomarker-kb benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    try:
        for name in chosen:
            SECTIONS[name]()
    finally:
        if not os.environ.get("KB_BENCH_KEEP"):
            shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
