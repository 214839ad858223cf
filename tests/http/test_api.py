"""Every endpoint of the HTTP API over real sockets (uvicorn in the test's loop), on
SQLite and Postgres: bodies, status codes, errors, idempotency, pagination, OpenAPI."""

from __future__ import annotations

import asyncio
import html
import re
import urllib.parse

import pytest

import durable
from durable.http import routes
from tests.http import flows
from tests.waiting import wait_status


async def test_start_and_result(api) -> None:
    async with api.client() as client:
        made = await client.post(
            "/api/workflows/http.add/runs", json={"args": [2], "kwargs": {"b": 3}}
        )
        assert made.status_code == 201, made.text
        run = made.json()
        assert run["name"] == "http.add" and run["status"] in {"PENDING", "RUNNING", "SUCCEEDED"}
        assert made.headers["location"] == f"/api/runs/{run['id']}"
        done = await client.get(f"/api/runs/{run['id']}/result", params={"wait": 20})
        assert done.status_code == 200, done.text
        assert done.json() == {"id": run["id"], "status": "SUCCEEDED", "result": 5}
        shown = (await client.get(f"/api/runs/{run['id']}")).json()
        assert shown["status"] == "SUCCEEDED" and shown["id"] == run["id"]
        assert set(shown) >= {"id", "name", "status", "parent_id", "root_id", "created_at"}


@pytest.mark.parametrize("run_id", ["orders/2026/17", "odd%2Fname/50%", "a%b"])
async def test_an_id_holding_slashes_or_percents_is_one_path_segment(api, run_id) -> None:
    """An event source's run ids hold "/": sent as %2F, the id stays one segment."""
    run = await api.engine.start(flows.add, 2, b=3, workflow_id=run_id)
    await run.result()
    quoted = urllib.parse.quote(run_id, safe="")
    async with api.client() as client:
        shown = await client.get(f"/api/runs/{quoted}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["id"] == run_id
        result = await client.get(f"/api/runs/{quoted}/result")
        assert result.json() == {"id": run_id, "status": "SUCCEEDED", "result": 5}
        history = await client.get(f"/api/runs/{quoted}/history")
        assert history.status_code == 200 and history.json()
        page = await client.get(f"/ui/runs/{quoted}")
        assert page.status_code == 200 and f'data-id="{html.escape(run_id)}"' in page.text
        if "/" in run_id:  # the id's first segment alone is another (unknown) run
            other = await client.get(f"/api/runs/{urllib.parse.quote(run_id.split('/')[0])}")
            assert other.status_code == 404


async def test_result_of_failed_cancelled_and_unfinished_runs(api) -> None:
    async with api.client() as client:
        failed = (await client.post("/api/workflows/http.fails/runs", json={"args": ["no"]})).json()
        result = await client.get(f"/api/runs/{failed['id']}/result", params={"wait": 20})
        assert result.status_code == 422
        body = result.json()
        assert body["error"] == "run_failed" and body["status"] == "FAILED"
        assert body["failure"] == {"type": "builtins.ValueError", "message": "no"}
        assert "no" in body["detail"]

        gated = (await client.post("/api/workflows/http.gate/runs", json={"args": ["g"]})).json()
        pending = await client.get(f"/api/runs/{gated['id']}/result", params={"wait": 0.2})
        assert pending.status_code == 202
        assert pending.json()["status"] in {"PENDING", "RUNNING", "SLEEPING"}
        cancelled = await client.post(f"/api/runs/{gated['id']}/cancel")
        assert cancelled.status_code == 200
        result = await client.get(f"/api/runs/{gated['id']}/result", params={"wait": 20})
        assert result.status_code == 422 and result.json()["error"] == "run_cancelled"


async def test_messages_and_events(api) -> None:
    async with api.client() as client:
        run = (await client.post("/api/workflows/http.gate/runs", json={"args": ["m"]})).json()
        event = await client.get(f"/api/runs/{run['id']}/events/ready", params={"wait": 20})
        assert event.status_code == 200, event.text
        assert event.json() == {
            "id": run["id"],
            "key": "ready",
            "set": True,
            "value": {"label": "m"},
        }
        missing = await client.get(f"/api/runs/{run['id']}/events/never", params={"wait": 0.1})
        assert missing.status_code == 202 and missing.json()["set"] is False
        sent = await client.post(
            f"/api/runs/{run['id']}/messages", json={"topic": "go", "value": [1, "two"]}
        )
        assert sent.status_code == 202, sent.text
        result = await client.get(f"/api/runs/{run['id']}/result", params={"wait": 20})
        assert result.json()["result"] == {"label": "m", "go": [1, "two"]}
        late = await client.post(f"/api/runs/{run['id']}/messages", json={"topic": "go"})
        assert late.status_code == 409 and late.json()["error"] == "run_finished"


async def test_history_lineage_and_values_without_json_form(api) -> None:
    async with api.client() as client:
        run = (await client.post("/api/workflows/http.typed/runs", json={"args": ["t"]})).json()
        result = await client.get(f"/api/runs/{run['id']}/result", params={"wait": 20})
        # a dataclass comes back as an object, its datetime as ISO 8601 text
        assert result.json()["result"] == {"label": "t", "at": "2024-05-06T07:08:09Z"}
        history = (await client.get(f"/api/runs/{run['id']}/history")).json()
        assert history["id"] == run["id"]
        [entry] = history["entries"]
        assert entry["name"] == "http.opaque" and entry["kind"] == "step" and entry["seq"] == 0
        # a pickled value: a marker, never the pickle
        assert entry["output"]["$durable"] == "not_json"
        assert entry["output"]["encoding"] == "pickle"
        assert "gASV" not in result.text + str(history)
        lineage = (await client.get(f"/api/runs/{run['id']}/lineage")).json()
        assert lineage["id"] == run["id"] and lineage["children"] == []
        assert lineage["status"] == "SUCCEEDED"


async def test_resume_restart_fork(api) -> None:
    async with api.client() as client:
        done = (await client.post("/api/workflows/http.add/runs", json={"args": [4, 1]})).json()
        await client.get(f"/api/runs/{done['id']}/result", params={"wait": 20})
        restarted = await client.post(f"/api/runs/{done['id']}/restart")
        assert restarted.status_code == 201
        new_id = restarted.json()["id"]
        assert new_id != done["id"] and new_id.startswith(done["id"])
        again = await client.get(f"/api/runs/{new_id}/result", params={"wait": 20})
        assert again.json()["result"] == 5
        forked = await client.post(f"/api/runs/{done['id']}/fork", json={"from_step": 0})
        assert forked.status_code == 201
        fork_result = await client.get(
            f"/api/runs/{forked.json()['id']}/result", params={"wait": 20}
        )
        assert fork_result.json()["result"] == 5
        bad = await client.post(f"/api/runs/{done['id']}/fork", json={"from": 1})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_body"

        gated = (await client.post("/api/workflows/http.gate/runs", json={"args": ["r"]})).json()
        await client.post(f"/api/runs/{gated['id']}/cancel")
        await wait_status(api.engine, gated["id"], durable.Status.CANCELLED)
        resumed = await client.post(f"/api/runs/{gated['id']}/resume")
        assert resumed.status_code == 200
        assert resumed.json()["status"] in {"PENDING", "RUNNING", "SLEEPING"}
        await client.post(f"/api/runs/{gated['id']}/messages", json={"topic": "go", "value": 1})
        result = await client.get(f"/api/runs/{gated['id']}/result", params={"wait": 20})
        assert result.json()["result"] == {"label": "r", "go": 1}


async def test_idempotency_key_is_the_workflow_id(api) -> None:
    async with api.client() as client:
        path = "/api/workflows/http.add/runs"
        headers = {"Idempotency-Key": "order-17"}
        first = await client.post(path, json={"args": [1], "kwargs": {"b": 2}}, headers=headers)
        assert first.status_code == 201 and first.json()["id"] == "order-17"
        # the same input (keyword order aside): the same run, 200
        same = await client.post(path, json={"kwargs": {"b": 2}, "args": [1]}, headers=headers)
        assert same.status_code == 200 and same.json()["id"] == "order-17"
        other = await client.post(path, json={"args": [9], "kwargs": {"b": 2}}, headers=headers)
        assert other.status_code == 409
        body = other.json()
        assert body["error"] == "idempotency_conflict"
        stored, asked = body["existing"]["fingerprint"], body["requested"]["fingerprint"]
        assert stored != asked and stored in body["detail"] and asked in body["detail"]
        assert re.fullmatch(r"[0-9a-f]{16}", stored)
        wrong_workflow = await client.post(
            "/api/workflows/http.fails/runs", json={"args": [1]}, headers=headers
        )
        assert wrong_workflow.status_code == 409
    assert [r.id for r in await api.engine.list()].count("order-17") == 1


async def test_concurrent_double_post_starts_one_run(api) -> None:
    async with api.client() as a, api.client() as b:
        path = "/api/workflows/http.add/runs"
        sends = [
            client.post(
                path, json={"args": [k % 3]}, headers={"Idempotency-Key": f"twice-{k // 2}"}
            )
            for k, client in zip(range(40), [a, b] * 20, strict=True)
        ]
        answers = await asyncio.gather(*sends)
    by_key: dict[str, list[int]] = {}
    for k, answer in enumerate(answers):
        by_key.setdefault(f"twice-{k // 2}", []).append(answer.status_code)
    # each pair: exactly one 201; the other 200 (same input) or 409 (k % 3 differs)
    for key, codes in by_key.items():
        assert sorted(codes)[0] in (200, 201) and codes.count(201) == 1, (key, codes)
    runs = [r.id for r in await api.engine.list(limit=1000)]
    assert sorted(runs) == sorted(by_key)


async def test_list_is_paginated_newest_first(api) -> None:
    async with api.client() as client:
        ids = []
        for k in range(7):
            made = await client.post(
                "/api/workflows/http.add/runs",
                json={"args": [k]},
                headers={"Idempotency-Key": f"p{k}"},
            )
            ids.append(made.json()["id"])
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3, "name": "http.add", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/runs", params=params)).json()
            seen += [run["id"] for run in page["runs"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids)) and pages == 3
        for k in ids:
            await client.get(f"/api/runs/{k}/result", params={"wait": 20})
        done = (await client.get("/api/runs", params={"status": "SUCCEEDED,FAILED"})).json()
        assert {r["id"] for r in done["runs"]} == set(ids)
        none = (
            await client.get("/api/runs", params={"status": "PENDING", "name": "http.add"})
        ).json()
        assert none == {"runs": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("POST", "/api/workflows/nope/runs", {"json": {}}, 404, "unknown_workflow"),
        ("POST", "/api/workflows/http.add/runs", {"content": b"{not json"}, 400, "bad_json"),
        ("POST", "/api/workflows/http.add/runs", {"json": {"args": 3}}, 400, "invalid_body"),
        ("POST", "/api/workflows/http.add/runs", {"json": {"argz": []}}, 400, "invalid_body"),
        ("GET", "/api/runs/missing", {}, 404, "run_not_found"),
        ("GET", "/api/runs/missing/result", {}, 404, "run_not_found"),
        ("GET", "/api/runs/missing/history", {}, 404, "run_not_found"),
        ("GET", "/api/runs/missing/lineage", {}, 404, "run_not_found"),
        ("GET", "/api/runs/missing/events/k", {}, 404, "run_not_found"),
        ("GET", "/api/runs/missing/stream", {}, 404, "run_not_found"),
        ("POST", "/api/runs/missing/cancel", {}, 404, "run_not_found"),
        ("POST", "/api/runs/missing/resume", {}, 404, "run_not_found"),
        ("POST", "/api/runs/missing/restart", {}, 404, "run_not_found"),
        ("POST", "/api/runs/missing/fork", {"json": {"from_step": 1}}, 404, "run_not_found"),
        ("POST", "/api/runs/missing/messages", {"json": {"topic": "t"}}, 404, "run_not_found"),
        ("GET", "/api/runs", {"params": {"cursor": "garbage!"}}, 400, "bad_cursor"),
        ("GET", "/api/runs", {"params": {"limit": "0"}}, 400, "bad_limit"),
        ("GET", "/api/runs", {"params": {"status": "DONE"}}, 400, "bad_status"),
        ("GET", "/api/runs/x/result", {"params": {"wait": "-1"}}, 400, "bad_wait"),
        ("GET", "/api/runs/x/result", {"params": {"wait": "999999"}}, 400, "bad_wait"),
        ("GET", "/api/runs/x/result", {"params": {"wait": "nan"}}, 400, "bad_wait"),
        ("GET", "/api/nowhere", {}, 404, "not_found"),
        ("DELETE", "/api/runs", {}, 405, "method_not_allowed"),
        ("POST", "/api/hooks/nope", {"content": b"{}"}, 404, "unknown_hook"),
        ("GET", "/api/runs/a%00b", {}, 400, "bad_text"),
        ("GET", "/api/runs/x/events/a%00b", {}, 400, "bad_text"),
        ("POST", "/api/runs/x/messages", {"json": {"topic": "a\x00"}}, 400, "invalid_body"),
        ("POST", "/api/workflows/http.add/runs", {"json": {"queue": "q\x00"}}, 400, "invalid_body"),
        (
            "POST",
            "/api/workflows/http.add/runs",
            {"json": {"priority": 2**70}},
            400,
            "invalid_body",
        ),
    ],
)
async def test_bad_input_gets_a_json_error(api, method, path, kwargs, status, error) -> None:
    async with api.client() as client:
        answer = await client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error and isinstance(body["detail"], str) and body["detail"]


async def test_body_size_is_limited(api_factory) -> None:
    served = await api_factory(max_body=1000)
    async with served.client() as client:
        big = await client.post("/api/workflows/http.add/runs", json={"args": ["x" * 2000]})
        assert big.status_code == 413 and big.json()["error"] == "body_too_large"

        async def chunks():
            for _ in range(5):
                yield b" " * 400  # no Content-Length: the limit holds while reading

        streamed = await client.post("/api/workflows/http.add/runs", content=chunks())
        assert streamed.status_code == 413
    assert await served.engine.list() == []


async def test_cors_is_off_unless_configured(api_factory) -> None:
    plain = await api_factory()
    with_cors = await api_factory(cors_origins=["https://ui.example"])
    origin = {"Origin": "https://ui.example"}
    async with plain.client() as client:
        answer = await client.get("/api/runs", headers=origin)
        assert "access-control-allow-origin" not in answer.headers
    async with with_cors.client() as client:
        answer = await client.get("/api/runs", headers=origin)
        assert answer.headers["access-control-allow-origin"] == "https://ui.example"


async def test_openapi_documents_every_route(api) -> None:
    async with api.client() as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    served = {
        (m, r.path)
        for r in api.app.routes
        if r.include_in_schema  # not the web view's pages
        for m in r.methods
        if m != "HEAD"
    }
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert served == documented
    assert len(served) == len(routes.ENDPOINTS)
    start = document["paths"]["/api/workflows/{name}/runs"]["post"]
    ref = start["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]) >= {
        "args",
        "kwargs",
        "queue",
        "metadata",
    }
    assert flows.HOOK_SECRET not in str(document)


def test_public_names_of_durable_http() -> None:
    import durable.http

    assert durable.http.__all__ == ["Webhook", "create_app", "webhook"]
