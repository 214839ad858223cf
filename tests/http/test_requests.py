"""``POST /api/runs/{id}/requests/{name}``: request/reply over HTTP, on both backends."""

from __future__ import annotations

from tests.http import flows

__all__ = ["flows"]


async def test_request_reply_reject_and_finished(api) -> None:
    async with api.client() as client:
        made = await client.post("/api/workflows/http.approvals/runs", json={"args": [2]})
        run_id = made.json()["id"]
        path = f"/api/runs/{run_id}/requests/approve"
        replied = await client.post(path, params={"wait": 20}, json={"amount": 40})
        assert replied.status_code == 200, replied.text
        body = replied.json()
        assert (body["id"], body["name"], body["state"]) == (run_id, "approve", "replied")
        assert body["reply"] == {"approved": 40}
        rejected = await client.post(path, params={"wait": 20}, json={"amount": 500})
        assert rejected.status_code == 409, rejected.text
        assert rejected.json()["error"] == "rejected"
        assert rejected.json()["reason"] == "500 is over the limit"
        done = await client.get(f"/api/runs/{run_id}/result", params={"wait": 20})
        assert done.json()["result"] == 2
        late = await client.post(path, params={"wait": 1}, json={"amount": 1})
        assert late.status_code == 409 and late.json()["error"] == "run_finished"
        message = await client.post(f"/api/runs/{run_id}/messages", json={"topic": "t"})
        assert message.status_code == 409 and message.json()["error"] == "run_finished"
        missing = await client.post("/api/runs/nobody/requests/approve", json=1)
        assert missing.status_code == 404 and missing.json()["error"] == "run_not_found"
        bad = await client.post(path, content=b"{not json")
        assert bad.status_code == 400 and bad.json()["error"] == "bad_json"


async def test_unanswered_request_is_202_and_answered_later(api_factory) -> None:
    served = await api_factory(execute=False)  # nobody executes the run yet
    async with served.client() as client:
        made = await client.post("/api/workflows/http.approvals/runs", json={"args": [1]})
        run_id = made.json()["id"]
        path = f"/api/runs/{run_id}/requests/approve"
        key = {"Idempotency-Key": "req-7"}
        pending = await client.post(path, params={"wait": 0.2}, json={"amount": 3}, headers=key)
        assert pending.status_code == 202, pending.text
        assert pending.json() == {
            "id": run_id,
            "name": "approve",
            "request_id": "req-7",
            "state": "queued",
        }
        runner = await api_factory()  # an executing server takes the run on
        assert runner.engine is not None
        assert await runner.engine.get(run_id).result(timeout=20) == 1
        # the same key: the queued request's answer, not a second request
        again = await client.post(path, params={"wait": 5}, json={"amount": 3}, headers=key)
        assert again.status_code == 200 and again.json()["reply"] == {"approved": 3}


async def test_openapi_documents_requests(api) -> None:
    async with api.client() as client:
        document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/runs/{id}/requests/{name}"]["post"]
    assert set(operation["responses"]) == {"200", "202", "400", "404", "409"}
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {}
    assert {p["name"] for p in operation["parameters"]} == {"id", "name", "wait", "Idempotency-Key"}
