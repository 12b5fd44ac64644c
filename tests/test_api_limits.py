"""Token authentication (bearer and session cookie), the per-request timeout, CORS and `--workers 2`."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from conftest import Server

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def token_server(built_db, tmp_path_factory):
    server = Server(built_db, "--cors", "https://app.example", env={"KB_API_TOKEN": TOKEN},
                    log=tmp_path_factory.mktemp("api-token") / "serve.log")
    yield server
    server.stop()


def test_token_is_required_on_v1_and_openapi_not_on_health(token_server):
    with httpx.Client(base_url=token_server.url, timeout=30) as client:
        assert client.get("/health").status_code == 200
        for path in ("/v1/markers", "/openapi.json", "/v1/evidence?marker=LDH"):
            r = client.get(path)
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", path
            assert r.headers["www-authenticate"] == "Bearer"
        assert client.get("/v1/markers", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/v1/markers", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        ok = client.get("/v1/markers", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["markers"]
        assert client.post("/v1/evaluate", json={}).status_code == 401  # before the body is even read


def test_login_sets_an_httponly_strict_session_cookie(token_server):
    with httpx.Client(base_url=token_server.url, timeout=30) as client:
        bad = client.post("/login", content=b"token=nope&next=/v1/markers",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert bad.status_code == 401 and "kb_session" not in bad.headers.get("set-cookie", "")
        browser = client.post("/login", content=b"token=nope", headers={"Accept": "text/html",
                                                                      "Content-Type": "application/x-www-form-urlencoded"})
        assert browser.status_code == 303 and browser.headers["location"].startswith("/login?error=invalid")
        r = client.post("/login", content=f"token={TOKEN}&next=//evil.example/".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # never redirected off-site
        cookie = r.headers["set-cookie"].lower()
        assert "kb_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert client.get("/v1/markers/ldh").status_code == 200  # the cookie jar now carries the session
        forged = httpx.Client(base_url=token_server.url, cookies={"kb_session": "99999999999.deadbeef"})
        assert forged.get("/v1/markers/ldh").status_code == 401
        forged.close()
        client.post("/logout")
        client.cookies.clear()
        assert client.get("/v1/markers/ldh").status_code == 401


def test_cors_only_for_the_named_origin(token_server):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=token_server.url, timeout=30, headers=headers) as client:
        allowed = client.get("/v1/version", headers={"Origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = client.get("/v1/version", headers={"Origin": "https://other.example"})
        assert "access-control-allow-origin" not in other.headers


def test_two_workers_serve_the_same_answers(built_db, tmp_path, api):
    server = Server(built_db, "--workers", "2", log=tmp_path / "serve.log")
    try:
        paths = ["/v1/evidence?marker=LDH", "/v1/markers?search=interleukin", "/v1/pam/models/shao2022-14gene",
                 "/v1/sources", "/v1/evidence/xu2023-tmtv-early-progression"]
        for i in range(12):  # a new connection each: both workers take some
            with httpx.Client(base_url=server.url, timeout=60) as client:
                path = paths[i % len(paths)]
                assert client.get(path).json() == api.get(path).json(), path
    finally:
        server.stop()
    assert server.proc.returncode == 0 and "kb: stopped" in server.log.read_text()  # SIGTERM: a clean stop


def test_a_slow_request_gets_a_503_problem_in_time():
    """The timeout (in-process: the middleware around a deliberately slow app)."""
    from web.middleware import Guard
    from web.settings import Settings

    async def slow(scope, receive, send):
        await asyncio.sleep(5)

    async def run():
        app = Guard(slow, Settings(timeout=0.2), etag='"x"')
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await asyncio.wait_for(client.get("/v1/markers"), 3)

    r = asyncio.run(run())
    assert r.status_code == 503 and "--timeout" in r.json()["detail"]
