"""Who may call the API: tokens (missing, wrong, right, rotated), and ``durable serve``
refusing a public address without one.  Against real ``durable serve`` processes."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from durable.http import auth
from tests.http.conftest import ROOT, _env


async def test_serve_process_without_token_is_open_on_loopback(processes, db_url) -> None:
    served = processes.serve(db_url, "-m", "tests.http.flows")
    assert served.url.startswith("http://127.0.0.1:")
    async with served.client() as client:
        made = await client.post("/api/workflows/http.add/runs", json={"args": [20, 1]})
        assert made.status_code == 201, made.text
        result = await client.get(f"/api/runs/{made.json()['id']}/result", params={"wait": 30})
        assert result.json()["result"] == 21  # executed by the serving process itself


async def test_tokens_missing_wrong_right_and_rotated(processes, db_url, tmp_path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("# current and previous\nnew-token\nold-token\n")
    served = processes.serve(
        db_url,
        "-m",
        "tests.http.flows",
        "--token-file",
        str(token_file),
        DURABLE_API_TOKEN="env-token",
    )
    for token, status in [
        (None, 401),
        ("wrong", 401),
        ("new-token", 200),
        ("old-token", 200),
        ("env-token", 200),
        ("new-toke", 401),
    ]:
        async with served.client(token) as client:
            for path in ("/api/runs", "/openapi.json", "/api/runs/nope"):
                answer = await client.get(path)
                expected = 404 if status == 200 and path.endswith("nope") else status
                assert answer.status_code == expected, (token, path, answer.text)
                if expected == 401:
                    assert answer.json()["error"] == "unauthorized"
                    assert answer.headers["www-authenticate"] == "Bearer"
    async with httpx.AsyncClient(base_url=served.url) as client:
        basic = await client.get("/api/runs", headers={"Authorization": "Basic new-token"})
        assert basic.status_code == 401
        started = await client.post(
            "/api/workflows/http.add/runs", json={"args": [1]}, headers={"Idempotency-Key": "x"}
        )
        assert started.status_code == 401
    async with served.client("new-token") as client:
        assert (await client.get("/api/runs")).json()["runs"] == []  # nothing was started


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_serve_refuses_a_public_address_without_token(db_url, host) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "durable.cli", "--db", db_url, "serve", "--host", host],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "refusing to serve on" in line and "DURABLE_API_TOKEN" in line


async def test_serve_binds_a_public_address_with_a_token(processes, db_url) -> None:
    served = processes.serve(db_url, "--host", "0.0.0.0", DURABLE_API_TOKEN="t")
    port = served.url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/api/runs")).status_code == 401
        ok = await client.get("/api/runs", headers={"Authorization": "Bearer t"})
        assert ok.status_code == 200


def test_serve_reports_a_taken_port_in_one_line(db_url) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "durable.cli", "--db", db_url, "serve", "--port", port],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"durable: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_loopback_addresses() -> None:
    assert all(auth.is_loopback(h) for h in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
    assert not any(auth.is_loopback(h) for h in ["0.0.0.0", "::", "10.0.0.1", "example.com", ""])


def test_token_check_needs_the_bearer_scheme_and_a_whole_token() -> None:
    tokens = auth.Tokens(["abc", "def"])
    assert tokens.accepts("Bearer abc") and tokens.accepts("bearer def")
    assert not tokens.accepts("Bearer ab") and not tokens.accepts("Token abc")
    assert not tokens.accepts(None) and not tokens.accepts("Bearer ")
    assert auth.Tokens([]).accepts(None)
