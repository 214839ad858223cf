"""Start options over HTTP: ``POST /api/workflows/{name}/runs`` with ``delay``,
``start_at``, ``partition_key`` and ``dedup_key``; malformed ones are JSON 400s."""

from __future__ import annotations

import datetime
from typing import Any

import pytest


async def test_a_delayed_start_is_pending_then_runs(api: Any) -> None:
    async with api.client() as client:
        made = await client.post("/api/workflows/http.add/runs", json={"args": [4], "delay": 0.4})
        assert made.status_code == 201, made.text
        run = made.json()
        assert run["status"] == "PENDING" and run["start_at"] is not None
        done = await client.get(f"/api/runs/{run['id']}/result", params={"wait": 20})
        assert done.json() == {"id": run["id"], "status": "SUCCEEDED", "result": 4}


async def test_start_at_partition_and_dedup_keys(api: Any) -> None:
    when = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)).isoformat()
    body = {"args": [1], "start_at": when, "dedup_key": "order-9", "partition_key": "t-1"}
    async with api.client() as client:
        first = await client.post("/api/workflows/http.add/runs", json=body)
        assert first.status_code == 201, first.text
        again = await client.post(
            "/api/workflows/http.add/runs", json={**body, "args": [2]}
        )  # the same key, another input: the unfinished run holding the key
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        shown = first.json()
        assert shown["partition_key"] == "t-1" and shown["dedup_key"] == "order-9"
        assert shown["start_at"].startswith(when[:19])


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"delay": -1}, "invalid_start"),
        ({"delay": "soon"}, "invalid_body"),
        ({"start_at": "2030-01-01T00:00:00"}, "invalid_start"),  # no time zone
        ({"start_at": "not a time"}, "invalid_body"),
        ({"delay": 1, "start_at": 5}, "invalid_start"),
        ({"dedup_key": ""}, "invalid_start"),
        ({"partition_key": 3}, "invalid_body"),
    ],
)
async def test_bad_start_options_are_json_400s(api: Any, body: Any, error: str) -> None:
    async with api.client() as client:
        made = await client.post("/api/workflows/http.add/runs", json={"args": [1], **body})
        assert made.status_code == 400, made.text
        assert made.json()["error"] == error and made.json()["detail"]
        listed = (await client.get("/api/runs")).json()
        assert listed["runs"] == []
