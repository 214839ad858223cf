"""Long-polls and the server-sent event stream, woken by the journal's notifications
while the run executes in another process (a real ``durable worker``), and what a
client that disconnects leaves behind (nothing)."""

from __future__ import annotations

import asyncio
import json

import httpx

from durable.http import streaming
from tests.waiting import wait_until


async def _events(response: httpx.Response):
    """The (event, data) pairs of a text/event-stream response, as they arrive."""
    event, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and event is not None:
            yield event, json.loads("\n".join(data))
            event, data = None, []


async def test_stream_delivers_entries_of_a_run_in_a_worker_process(
    api_factory, processes, db_url, monkeypatch
) -> None:
    # no timed look: only the journal's notifications can wake the stream
    monkeypatch.setattr(streaming, "FALLBACK", 3600.0)
    served = await api_factory(execute=False)  # the worker process executes the run
    processes.worker(db_url)
    async with served.client() as client:
        run = (await client.post("/api/workflows/http.stepper/runs", json={"args": [3]})).json()
        seen, statuses = [], []
        async with client.stream("GET", f"/api/runs/{run['id']}/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "next"})
            async for event, data in _events(response):
                if event == "status":
                    statuses.append(data["status"])
                elif event == "entry":
                    seen.append((data["kind"], data["name"], data["output"]))
                    # the next message only once this entry arrived: the stream is live
                    if data["kind"] == "step" and data["output"] < 4:
                        await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "next"})
                elif event == "end":
                    assert data["status"] == "SUCCEEDED"
                    break
    steps = [s for s in seen if s[0] == "step"]
    assert steps == [
        ("step", "http.double", 0),
        ("step", "http.double", 2),
        ("step", "http.double", 4),
    ]
    assert [s[0] for s in seen].count("recv") == 3
    assert statuses[-1] == "SUCCEEDED" and statuses[0] in {"PENDING", "RUNNING", "SLEEPING"}
    await wait_until(lambda: served.state.watchers.active == 0, what="the stream to end")


async def test_long_poll_wakes_when_a_worker_finishes_the_run(
    api_factory, processes, db_url
) -> None:
    served = await api_factory(execute=False)
    processes.worker(db_url)
    async with served.client() as client:
        run = (await client.post("/api/workflows/http.gate/runs", json={"args": ["lp"]})).json()
        ready = await client.get(f"/api/runs/{run['id']}/events/ready", params={"wait": 30})
        assert ready.status_code == 200, ready.text
        poll = asyncio.ensure_future(
            client.get(f"/api/runs/{run['id']}/result", params={"wait": 60})
        )
        await wait_until(lambda: served.state.watchers.active == 1, what="the long-poll to wait")
        assert not poll.done()
        await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "go", "value": "now"})
        answer = await poll
    assert answer.status_code == 200
    assert answer.json()["result"] == {"label": "lp", "go": "now"}
    assert served.state.watchers.active == 0


async def test_clients_that_disconnect_cost_nothing(api_factory) -> None:
    served = await api_factory(execute=False)  # the run stays pending: only the API waits
    async with served.client() as client:
        run = (await client.post("/api/workflows/http.gate/runs", json={"args": ["d"]})).json()
    run_id = run["id"]
    news = served.engine.scheduler.changed(run_id)

    async def hang_up(path: str, stream: bool) -> None:
        async with served.client() as client:
            if stream:
                async with client.stream("GET", path) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("event: status"):
                            break  # then leave, the run still unfinished
            else:
                with_timeout = asyncio.ensure_future(client.get(path))
                await wait_until(lambda: served.state.watchers.active >= 1, what="a waiter")
                with_timeout.cancel()
                await asyncio.gather(with_timeout, return_exceptions=True)

    await hang_up(f"/api/runs/{run_id}/stream", stream=True)
    await wait_until(lambda: served.state.watchers.active == 0, what="the stream's watcher to go")
    await hang_up(f"/api/runs/{run_id}/result?wait=120", stream=False)
    await wait_until(lambda: served.state.watchers.active == 0, what="the long-poll to go")
    await hang_up(f"/api/runs/{run_id}/events/never?wait=120", stream=False)
    await wait_until(lambda: served.state.watchers.active == 0, what="the event poll to go")
    # nothing of theirs waits on the run's news any more
    assert not news._since
    assert served.state.watchers.active == 0


async def test_stream_of_a_finished_run_ends_at_once(api) -> None:
    async with api.client() as client:
        run = (await client.post("/api/workflows/http.add/runs", json={"args": [1]})).json()
        await client.get(f"/api/runs/{run['id']}/result", params={"wait": 20})
        async with client.stream("GET", f"/api/runs/{run['id']}/stream") as response:
            events = [event async for event, _ in _events(response)]
        # reconnecting after the first entry (Last-Event-ID) skips it
        async with client.stream(
            "GET", f"/api/runs/{run['id']}/stream", headers={"Last-Event-ID": "0"}
        ) as response:
            later = [event async for event, _ in _events(response)]
    assert events == ["entry", "status", "end"]
    assert later == ["status", "end"]
