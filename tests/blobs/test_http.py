"""The HTTP API shows offloaded values as references and never fetches them; a start with an
Idempotency-Key compares an offloaded input by its sha256."""

from __future__ import annotations

import httpx

import durable.http
from durable.blobs.store import open_store
from tests.blobs import flows  # noqa: F401  (registers blobs.echo)
from tests.blobs.conftest import StoreSpec
from tests.conftest import EngineFactory


async def test_start_with_offloaded_input_is_idempotent(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(execute=False, **store.engine_options())
    app = durable.http.create_app(engine)
    transport = httpx.ASGITransport(app=app)
    body = {"args": ["t" * 300_000]}
    headers = {"Idempotency-Key": "echo-1"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.post("/api/workflows/blobs.echo/runs", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await client.post("/api/workflows/blobs.echo/runs", json=body, headers=headers)
        assert again.status_code == 200, again.text
        other = {"args": ["u" * 300_000]}
        clash = await client.post("/api/workflows/blobs.echo/runs", json=other, headers=headers)
        assert clash.status_code == 409
        assert clash.json()["error"] == "idempotency_conflict"
    record = await engine.journal.get_run("echo-1")
    assert record is not None and len(record.input) < 1000  # a reference, not the text
    # one blob per input: the rejected start wrote its own (an orphan `sweep` removes)
    assert len(list(open_store(store.url, store.options).listing())) == 2
