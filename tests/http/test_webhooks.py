"""Webhooks: a signed delivery starts its workflow once; unsigned or badly signed
deliveries get 401 and start nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.http import flows


def _signed(body: bytes, secret: str = flows.HOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def test_signed_delivery_starts_the_workflow_once(api) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    headers = {**_signed(body), "X-GitHub-Delivery": "d-1"}
    async with api.client() as client:
        first = await client.post("/api/hooks/push", content=body, headers=headers)
        assert first.status_code == 201, first.text
        assert first.json()["id"] == "hook:push:d-1" and first.json()["created"] is True
        again = await client.post("/api/hooks/push", content=body, headers=headers)
        assert again.status_code == 200 and again.json()["created"] is False
        result = await client.get("/api/runs/hook:push:d-1/result", params={"wait": 20})
        assert result.json()["result"] == "refs/heads/main"
        # the run says which hook started it (the web view's "started by")
        run = await api.engine.journal.get_run("hook:push:d-1")
        assert api.engine.codec.decode(run.metadata, what="metadata")["webhook"] == "push"
        # the older secret still signs (rotation); no delivery id: the body's digest is
        other = json.dumps({"ref": "v2"}).encode()
        rotated = await client.post(
            "/api/hooks/push", content=other, headers=_signed(other, "older-secret")
        )
        assert rotated.status_code == 201
        assert rotated.json()["id"] == "hook:push:sha256-" + hashlib.sha256(other).hexdigest()
    assert len(await api.engine.list()) == 2


async def test_unsigned_or_badly_signed_deliveries_start_nothing(api) -> None:
    body = json.dumps({"ref": "x"}).encode()
    good = _signed(body)["X-Hub-Signature-256"]
    cases = {
        "unsigned": {},
        "other secret": _signed(body, "not-the-secret"),
        "other body": _signed(b'{"ref": "y"}'),
        "no prefix": {"X-Hub-Signature-256": good.removeprefix("sha256=")},
        "truncated": {"X-Hub-Signature-256": good[:-2]},
        "sha1 header": {"X-Hub-Signature": good},
    }
    async with api.client() as client:
        for label, headers in cases.items():
            answer = await client.post("/api/hooks/push", content=body, headers=headers)
            assert answer.status_code == 401, label
            assert answer.json()["error"] == "bad_signature", label
        # signed, but not JSON: 400, still nothing started
        junk = b"ref=x"
        answer = await client.post("/api/hooks/push", content=junk, headers=_signed(junk))
        assert answer.status_code == 400 and answer.json()["error"] == "bad_json"
    assert await api.engine.list() == []


@pytest.mark.parametrize("mount", ["", "/durable"])
async def test_webhooks_need_no_bearer_token_but_their_signature(api_factory, mount) -> None:
    served = await api_factory(tokens=["tok"], mount=mount)
    body = b'{"ref": "t"}'
    async with served.client() as client:  # no token
        assert (await client.post("/api/hooks/push", content=body)).status_code == 401
        signed = await client.post("/api/hooks/push", content=body, headers=_signed(body))
        assert signed.status_code == 201
        assert (await client.get("/api/runs")).status_code == 401
    async with served.client("tok") as client:
        runs = (await client.get("/api/runs")).json()["runs"]
        assert [run["id"] for run in runs] == [
            "hook:push:sha256-" + hashlib.sha256(body).hexdigest()
        ]
        made = await client.post("/api/workflows/http.add/runs", json={"args": [1]})
        assert made.headers["location"] == f"{mount}/api/runs/{made.json()['id']}"
