"""A run's durable stream over HTTP: server-sent events with offsets, resumed with
``Last-Event-ID`` or ``?offset=``, live while the run executes, ended with ``end``."""

from __future__ import annotations

import json
from typing import Any

import httpx

import durable
from durable import streams


@durable.workflow(name="http.chatter")
async def chatter() -> str:
    await durable.write_stream("out", "a")
    await durable.write_stream("out", {"b": 2})
    await durable.recv("more")
    await durable.write_stream("out", "c")
    return "said"


async def _events(response: httpx.Response) -> Any:
    """(event, id, data) triples of a text/event-stream response, as they arrive."""
    event, event_id, data = None, None, []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("id: "):
            event_id = line[len("id: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and event is not None:
            yield event, event_id, json.loads("\n".join(data))
            event, event_id, data = None, None, []


async def _read(client: httpx.AsyncClient, path: str, **options: Any) -> list[Any]:
    async with client.stream("GET", path, **options) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [item async for item in _events(response)]


async def test_stream_chunks_live_then_resumed_by_offset(api) -> None:
    run = await api.engine.start(chatter, workflow_id="chat-1")
    path = "/api/runs/chat-1/streams/out"
    async with api.client() as client:
        got = []
        async with client.stream("GET", path) as response:
            assert response.status_code == 200
            async for event, event_id, data in _events(response):
                got.append((event, event_id, data))
                if event == "chunk" and data["offset"] == 1:  # live: the run waits on us
                    await client.post("/api/runs/chat-1/messages", json={"topic": "more"})
                if event == "end":
                    break
        assert [(e, i, d.get("value")) for e, i, d in got] == [
            ("chunk", "0", "a"),
            ("chunk", "1", {"b": 2}),
            ("chunk", "2", "c"),
            ("end", None, None),
        ]
        assert got[-1][2] == {"id": "chat-1", "key": "out", "next_offset": 3}
        assert {(d["step"], d["attempt"], d["run_attempt"]) for e, _, d in got[:3]} == {
            (None, 1, 1)
        }
        assert await run.result() == "said"
        # a reconnection after chunk 1, and a new reader from offset 2: chunk 2, then end
        again = await _read(client, path, headers={"Last-Event-ID": "1"})
        assert [(e, i) for e, i, _ in again] == [("chunk", "2"), ("end", None)]
        later = await _read(client, path, params={"offset": 2})
        assert [(e, i) for e, i, _ in later] == [("chunk", "2"), ("end", None)]


async def test_stream_bad_offset_and_unknown_run(api) -> None:
    await api.engine.run(_quick, workflow_id="q")
    async with api.client() as client:
        bad = await client.get("/api/runs/q/streams/out", params={"offset": "-1"})
        assert bad.status_code == 400
        assert bad.json()["error"] == "bad_offset"
        missing = await client.get("/api/runs/nope/streams/out")
        assert missing.status_code == 404
        assert missing.json()["error"]
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/runs/{id}/streams/{key}"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"id", "key", "offset", "Last-Event-ID"}


@durable.workflow(name="http.quick")
async def _quick() -> None:
    await durable.write_stream("out", 1)


async def test_stream_of_a_run_in_a_worker_process_is_live(
    api_factory, processes, db_url, monkeypatch
) -> None:
    # no timed look: only the journal's notifications can wake the stream
    monkeypatch.setattr(streams, "FALLBACK", 3600.0)
    served = await api_factory(execute=False)  # the worker process executes the run
    processes.worker(db_url)
    async with served.client() as client:
        run = (await client.post("/api/workflows/http.talker/runs", json={"args": [3]})).json()
        await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "next"})
        got = []
        async with client.stream("GET", f"/api/runs/{run['id']}/streams/words") as response:
            async for event, event_id, data in _events(response):
                got.append((event, event_id, data.get("value")))
                if event == "chunk" and data["offset"] < 2:  # the next word once we saw this
                    await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "next"})
                if event == "end":
                    break
    assert got == [
        ("chunk", "0", "word0"),
        ("chunk", "1", "word1"),
        ("chunk", "2", "word2"),
        ("end", None, None),
    ]
