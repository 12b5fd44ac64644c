"""The HTTP API benchmark, section `api` of benchmarks/run.py (which imports this module).

wrk (apt-get install wrk) drives 16 keep-alive connections for 10 s at GET /v1/evidence?marker=LDH of
`kb serve`, and in the same run at two baselines: (a) the same FastAPI/uvicorn stack returning the
pre-serialized bytes of that response (benchmarks/api_baseline.py), (b) datasette (pip install
".[bench]") serving the same evidence rows and links exported to SQLite, with the equivalent query.
`kb serve` is measured with its body cache (the default) and without (--no-cache). Then POST
/v1/evaluate of examples/P001.json over one connection: its median latency.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import common as run  # the shared registry, scratch directory and report line

ROOT = run.ROOT
CONNECTIONS, SECONDS = 16, 10
# Datasette's equivalent of `kb query --marker LDH`: the marker's accepted items, strongest first, each with its links.
DATASETTE_SQL = """
select e.*, (select json_group_array(json_object('document', d.path, 'document_id', l.document_id, 'sha256', d.sha256,
        'start', l.start, 'end', l."end", 'quote', l.quote))
       from evidence_link l join document d on d.id = l.document_id where l.evidence_id = e.id) as links
from evidence e where e.marker_id = :marker and e.status = 'accepted'
order by e.level, coalesce(e.n_patients, 0) desc, e.id
""".strip()


class Process:
    """A server started with `cmd`, whose first stdout line carrying a URL names where it listens."""

    def __init__(self, cmd: list[str], url: str | None = None, env: dict | None = None):
        self.log = open(run.WORK / f"server-{len(os.listdir(run.WORK))}.log", "w")
        # a server that logs on stdout must not write into a pipe nobody reads (it would block when full)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if url is None else self.log, stderr=self.log,
                                     text=True, env=env)
        if url is None:
            line = self.proc.stdout.readline()
            url = re.search(r"http://[0-9.:]+", line).group(0)
        self.url = url
        _wait(self.url)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _wait(url: str, path: str = "/", timeout: float = 30) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + path, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wrk(url: str, connections: int = CONNECTIONS, seconds: int = SECONDS, script: Path | None = None) -> dict:
    """Requests per second and latency percentiles (ms) from `wrk --latency`."""
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    pct = {p: float(v) * unit[u] for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": pct["50"], "p99": pct["99"],
            "non2xx": int(errors.group(1)) if errors else 0}


def _export_sqlite(db: Path, target: Path) -> None:
    """The evidence rows, their links and documents as SQLite tables (what a datasette user would load)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    lite = sqlite3.connect(target)
    for table, columns in (("evidence", None), ("evidence_link", None), ("document", "id, path, sha256")):
        cur = con.execute(f"SELECT {columns or '*'} FROM {table}")
        names = [d[0] for d in cur.description]
        lite.execute(f"CREATE TABLE {table} ({', '.join(chr(34) + n + chr(34) for n in names)})")
        rows = [[v.isoformat() if hasattr(v, "isoformat") else v for v in row] for row in cur.fetchall()]
        lite.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in names)})", rows)
    lite.execute("CREATE INDEX evidence_marker ON evidence(marker_id)")
    lite.execute("CREATE INDEX link_evidence ON evidence_link(evidence_id)")
    lite.commit()
    lite.close()
    con.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@run.section("api")
def api() -> None:
    """GET /v1/evidence?marker=LDH under 16 connections against (a) pre-serialized bytes and (b) datasette."""
    if not shutil.which("wrk"):
        print("api: skipped: wrk is not installed (apt-get install wrk)")
        return
    db = run.seeds_db()
    kb = [sys.executable, "-m", "cli.main", "serve", "--port", "0", "--db", str(db)]
    env = {**os.environ, "KB_API_TOKEN": "", "PYTHONPATH": str(ROOT)}
    path = "/v1/evidence?marker=LDH"
    results, servers = {}, []
    try:
        ours = Process(kb, env=env)
        servers.append(ours)
        body = run.WORK / "ldh.json"
        import urllib.request

        body.write_bytes(urllib.request.urlopen(ours.url + path).read())
        uncached = Process(kb + ["--no-cache"], env=env)
        baseline = Process([sys.executable, str(ROOT / "benchmarks" / "api_baseline.py"), str(body)], env=env)
        servers += [uncached, baseline]
        datasette = None
        if shutil.which("datasette") or _has_module("datasette"):
            lite = run.WORK / "kb.db"
            _export_sqlite(db, lite)
            port = _free_port()
            datasette = Process([sys.executable, "-m", "datasette", "serve", str(lite), "--host", "127.0.0.1",
                                 "--port", str(port), "--setting", "sql_time_limit_ms", "10000"],
                                url=f"http://127.0.0.1:{port}", env=env)
            servers.append(datasette)
        from urllib.parse import urlencode

        targets = {"ours": ours.url + path, "ours, no cache": uncached.url + path, "(a) bytes": baseline.url + path}
        if datasette:
            targets["(b) datasette"] = datasette.url + "/kb.json?" + urlencode(
                {"sql": DATASETTE_SQL, "marker": "ldh", "_shape": "array"})
            assert len(json.loads(urllib.request.urlopen(targets["(b) datasette"]).read())) == \
                len(json.loads(body.read_bytes())["evidence"])
        for name, url in targets.items():
            wrk(url, seconds=2)  # warm-up
            results[name] = wrk(url)
        post = run.WORK / "post.lua"
        record = (ROOT / "examples" / "P001.json").read_text()
        post.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                        f"wrk.body = {json.dumps(record)}\n")
        wrk(ours.url + "/v1/evaluate", connections=1, seconds=2, script=post)
        evaluate = wrk(ours.url + "/v1/evaluate", connections=1, seconds=5, script=post)
    finally:
        for server in servers:
            server.stop()
    print(f"(a) HTTP API: wrk, {CONNECTIONS} keep-alive connections for {SECONDS} s, GET {path} "
          f"({len(body.read_bytes()):,} bytes), 1 worker, 2 cores shared with wrk")
    for name, r in results.items():
        print(f"  {name:<16} {r['rps']:9.0f} req/s   p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms"
              + (f"   NON-2XX {r['non2xx']}" if r["non2xx"] else ""))
    a = results["(a) bytes"]["rps"]
    run.report("kb serve throughput vs (a) pre-serialized bytes, req/s", results["ours"]["rps"], a, "r/s", ">= 0.6x")
    run.report("kb serve --no-cache vs (a), req/s", results["ours, no cache"]["rps"], a, "r/s", "(no goal: the cost of computing)")
    if results.get("(b) datasette", {}).get("rps"):
        run.report("kb serve throughput vs (b) datasette, req/s", results["ours"]["rps"], results["(b) datasette"]["rps"], "r/s", ">= 1.5x")
        run.report("kb serve --no-cache vs (b) datasette, req/s", results["ours, no cache"]["rps"], results["(b) datasette"]["rps"], "r/s", "(no goal)")
    else:
        print("  (b) datasette: skipped (pip install '.[bench]')")
    print(f"  kb serve p99 {results['ours']['p99']:.2f} ms (goal <= 25 ms); --no-cache p99 {results['ours, no cache']['p99']:.2f} ms")
    print(f"(b) POST /v1/evaluate of examples/P001.json, one connection for 5 s: p50 {evaluate['p50']:.2f} ms, "
          f"p99 {evaluate['p99']:.2f} ms, {evaluate['rps']:.0f} req/s (goal: p50 <= 20 ms)")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
