"""Section `web` [9]: p50 server time of the pages, against `kb serve`'s /health answered in the same run
(the floor of a request through the same server and middleware).

The server is a real `kb serve` on a loopback port, called over one keep-alive connection; each page is
requested a few times first (the first request of a process imports matplotlib and reads the document
texts), then timed. Goals (issue 9): /markers/ldh <= 50 ms, the longest document page <= 150 ms, the
patient page for examples/B001.yaml <= 150 ms.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import ROOT, WORK, report, section, seeds_db

RUNS, WARM = 40, 3


def _serve(db):
    log = open(WORK / "web-serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", "0", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.terminate()
        raise RuntimeError(f"kb serve did not start: {line!r}")
    return proc, log, line.split("serving ", 1)[1].split(" ", 1)[0]


def _p50(call) -> tuple[float, float]:
    """(first call ms, p50 ms of RUNS calls after WARM warm-up calls)."""
    started = time.perf_counter()
    call()
    first = (time.perf_counter() - started) * 1000
    for _ in range(WARM):
        call()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(times)


@section("web")
def pages() -> None:
    import duckdb
    import httpx

    db = seeds_db()
    con = duckdb.connect(str(db), read_only=True)
    longest = con.execute("SELECT id, n_chars FROM document ORDER BY n_chars DESC LIMIT 1").fetchall()[0]
    con.close()
    record = (ROOT / "examples" / "B001.yaml").read_bytes()
    proc, log, url = _serve(db)
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            def get(path):
                return lambda: client.get(path).raise_for_status()

            def patient():
                r = client.post("/patients", files={"record": ("B001.yaml", record, "application/yaml")})
                assert r.status_code == 200 and "Patient B001" in r.text
            _, health = _p50(get("/health"))
            print(f"web: p50 of {RUNS} requests over one keep-alive connection to kb serve (baseline GET /health)")
            for label, call, goal in [
                ("GET /markers/ldh", get("/markers/ldh"), "<= 50 ms"),
                (f"GET /documents/{longest[0]} (longest: {longest[1]} chars)", get(f"/documents/{longest[0]}"), "<= 150 ms"),
                ("POST /patients examples/B001.yaml", patient, "<= 150 ms"),
                ("GET /  (search page)", get("/"), "(no goal)"),
                ("GET /pam", get("/pam"), "(no goal)"),
                ("GET /curation (candidates cached after the first)", get("/curation"), "(no goal)"),
            ]:
                first, p50 = _p50(call)
                report(label, p50, health, "ms", f"{goal}; first request {first:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
