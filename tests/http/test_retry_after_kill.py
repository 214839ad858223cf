"""A start whose answer never reached the client: the server is SIGKILLed once the run
is in the journal, before the client read anything; the client's retry, to a new
server, finds the same run (200) and nothing ran twice."""

from __future__ import annotations

import asyncio
import json
import signal
from urllib.parse import urlsplit

import durable
from tests.waiting import wait_until


async def test_retry_after_the_server_was_killed_mid_request(processes, db_url) -> None:
    first = processes.serve(db_url, "-m", "tests.http.flows", "--no-execute")
    server = processes.started[-1]
    address = urlsplit(first.url)
    body = json.dumps({"args": [5, 5]}).encode()
    request = (
        f"POST /api/workflows/http.add/runs HTTP/1.1\r\nHost: {address.netloc}\r\n"
        "Content-Type: application/json\r\nIdempotency-Key: pay-42\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    _reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(request)
    await writer.drain()  # sent; the answer is never read
    async with durable.Engine(db_url, execute=False) as inspector:

        async def journaled() -> bool:
            return [r.id for r in await inspector.list()] == ["pay-42"]

        await wait_until(journaled, what="the start to be journaled")
        server.send_signal(signal.SIGKILL)
        assert server.wait(timeout=30) == -signal.SIGKILL
        writer.close()

        second = processes.serve(db_url, "-m", "tests.http.flows")
        async with second.client() as client:
            retry = await client.post(
                "/api/workflows/http.add/runs",
                json={"args": [5, 5]},
                headers={"Idempotency-Key": "pay-42"},
            )
            assert retry.status_code == 200, retry.text
            assert retry.json()["id"] == "pay-42"
            result = await client.get("/api/runs/pay-42/result", params={"wait": 30})
            assert result.json()["result"] == 10
        assert [r.id for r in await inspector.list()] == ["pay-42"]
