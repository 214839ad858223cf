"""The schedule endpoints over real sockets on both backends: create, list, get,
pause, resume, trigger, backfill, delete, their errors, auth and OpenAPI entries."""

from __future__ import annotations

from tests.schedules import jobs  # noqa: F401  (registers the workflows)


async def test_schedule_lifecycle(api) -> None:
    async with api.client() as client:
        made = await client.post(
            "/api/schedules",
            json={
                "id": "nightly",
                "workflow": "sched.echo",
                "cron": "0 2 * * *",
                "tz": "Europe/Paris",
                "args": ["n"],
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["next_tick"].endswith(("T01:00:00Z", "T00:00:00Z"))
        listed = (await client.get("/api/schedules")).json()["schedules"]
        assert "nightly" in [s["id"] for s in listed]
        paused = await client.post("/api/schedules/nightly/pause", json={"note": "moving"})
        assert paused.status_code == 200 and paused.json()["paused"] is True
        assert paused.json()["note"] == "moving"
        resumed = await client.post("/api/schedules/nightly/resume")
        assert resumed.json()["paused"] is False
        triggered = await client.post("/api/schedules/nightly/trigger")
        assert triggered.status_code == 201 and triggered.json()["id"].startswith("nightly@")
        result = await client.get(f"/api/runs/{triggered.json()['id']}/result", params={"wait": 20})
        assert result.status_code == 200 and result.json()["result"][1] == "n"
        filled = await client.post(
            "/api/schedules/nightly/backfill", json={"start": "2026-10-24", "end": "2026-10-26"}
        )
        assert filled.status_code == 201
        # 02:00 Paris is 00:00Z in summer time; on 25 Oct (fall-back) it happens twice,
        # 00:00Z and 01:00Z: it fires at the first only
        assert filled.json()["runs"] == [
            "nightly@2026-10-24T00:00:00Z",
            "nightly@2026-10-25T00:00:00Z",
        ]
        got = (await client.get("/api/schedules/nightly")).json()
        assert got["last_run"] == triggered.json()["id"]
        gone = await client.post("/api/schedules/nightly/delete")
        assert gone.status_code == 200
        missing = await client.get("/api/schedules/nightly")
        assert missing.status_code == 404
        assert missing.json()["error"] == "schedule_not_found"
        assert "durable schedule list" in missing.json()["detail"]


async def test_schedule_bad_input(api) -> None:
    async with api.client() as client:
        for body, needle in [
            ({"id": "x", "workflow": "sched.echo", "cron": "nope"}, "fields"),
            ({"id": "x", "workflow": "sched.echo"}, "exactly one of cron= and every="),
            ({"id": "x", "workflow": "sched.echo", "every": 5, "overlap": "maybe"}, "overlap"),
            ({"id": "x", "workflow": "sched.echo", "every": 5, "colour": 1}, "colour"),
        ]:
            response = await client.post("/api/schedules", json=body)
            assert response.status_code == 400, response.text
            assert set(response.json()) >= {"error", "detail"}
            assert needle in response.json()["detail"]
        await client.post("/api/schedules", json={"id": "y", "workflow": "sched.echo", "every": 60})
        bad = await client.post("/api/schedules/y/backfill", json={"start": "soon", "end": "x"})
        assert bad.status_code == 400 and "ISO 8601" in bad.json()["detail"]
        for op in ("pause", "resume", "trigger", "delete", "backfill"):
            body = {"start": "2026-01-01", "end": "2026-01-02"} if op == "backfill" else None
            response = await client.post(f"/api/schedules/nope/{op}", json=body)
            assert response.status_code == 404, (op, response.text)


async def test_schedules_need_the_token_and_are_documented(api_factory) -> None:
    served = await api_factory(tokens=["s3cret"])
    async with served.client() as anonymous:
        assert (await anonymous.get("/api/schedules")).status_code == 401
        assert (await anonymous.post("/api/schedules/x/pause")).status_code == 401
    async with served.client("s3cret") as client:
        assert (await client.get("/api/schedules")).status_code == 200
        paths = (await client.get("/openapi.json")).json()["paths"]
    for path in [
        "/api/schedules",
        "/api/schedules/{id}",
        "/api/schedules/{id}/pause",
        "/api/schedules/{id}/resume",
        "/api/schedules/{id}/trigger",
        "/api/schedules/{id}/backfill",
        "/api/schedules/{id}/delete",
    ]:
        assert path in paths, path
    assert set(paths["/api/schedules"]) == {"get", "post"}
