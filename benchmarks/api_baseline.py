"""Baseline (a) of the api benchmark: the same FastAPI/uvicorn stack answering every GET with pre-serialized
JSON bytes (the framework's limit). `python benchmarks/api_baseline.py BODY_FILE` prints its URL."""
from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

BODY = Path(sys.argv[1]).read_bytes()
app = FastAPI()


@app.get("/v1/evidence")
async def evidence():
    return Response(BODY, media_type="application/json")


if __name__ == "__main__":
    config = uvicorn.Config(app, host="127.0.0.1", port=0, access_log=False, log_level="warning", server_header=False)
    sock = config.bind_socket()
    sock.listen(config.backlog)
    print(f"serving http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
