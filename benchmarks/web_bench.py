"""Section `web` [9]: p50 server time of the pages, against `kb serve`'s /health answered in the same run
(the floor of a request through the same server and middleware).

The server is a real `kb serve` on a loopback port, called over one keep-alive connection; each page is
requested a few times first (the first request of a process imports matplotlib and reads the document
texts), then timed. Server time is the latency the server's own access log states for each request (from
the request reaching the app to the last byte sent); the round trip seen by the client is printed too.
Goals (issue 9): /markers/ldh <= 50 ms, the longest document page <= 150 ms, the patient page for
examples/B001.yaml <= 150 ms.
"""
from __future__ import annotations

import re
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


def _p50(call, log_path, path) -> tuple[float, float, float]:
    """(first call ms, p50 server ms and p50 round-trip ms of RUNS calls after WARM warm-up calls)."""
    started = time.perf_counter()
    call()
    first = (time.perf_counter() - started) * 1000
    for _ in range(WARM):
        call()
    skip = len(_server_ms(log_path, path))
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    deadline = time.monotonic() + 5
    while len(_server_ms(log_path, path)) < skip + RUNS and time.monotonic() < deadline:
        time.sleep(0.05)  # the log line is written as the response ends
    server = _server_ms(log_path, path)[skip:]
    return first, statistics.median(server), statistics.median(times)


def _server_ms(log_path, path) -> list[float]:
    """The latencies the access log states for requests of `path` (method and path, no query)."""
    pattern = re.compile(r"kb\.access \S+ \w+ " + re.escape(path) + r" \d{3} ([\d.]+)ms$")
    return [float(m.group(1)) for line in log_path.read_text().splitlines() if (m := pattern.search(line))]


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

            def patient():  # noqa: E306
                r = client.post("/patients", files={"record": ("B001.yaml", record, "application/yaml")})
                assert r.status_code == 200 and "Patient B001" in r.text
            log_path = WORK / "web-serve.log"
            _, health, health_rt = _p50(get("/health"), log_path, "/health")
            print(f"web: p50 server time of {RUNS} requests over one keep-alive connection to kb serve "
                  f"(baseline GET /health; its round trip {health_rt:.1f} ms)")
            for label, path, call, goal in [
                ("GET /markers/ldh", "/markers/ldh", get("/markers/ldh"), "<= 50 ms"),
                (f"GET /documents/{longest[0]} (longest: {longest[1]} chars)", f"/documents/{longest[0]}",
                 get(f"/documents/{longest[0]}"), "<= 150 ms"),
                ("POST /patients examples/B001.yaml", "/patients", patient, "<= 150 ms"),
                ("GET /  (search page)", "/", get("/"), "(no goal)"),
                ("GET /pam", "/pam", get("/pam"), "(no goal)"),
                ("GET /curation (candidates cached after the first)", "/curation", get("/curation"), "(no goal)"),
            ]:
                first, p50, rt = _p50(call, log_path, path)
                report(label, p50, health, "ms", f"{goal}; round trip {rt:.0f} ms, first request {first:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
