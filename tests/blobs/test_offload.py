"""Large values go to the blob store before their entry commits, and come back as they were."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

import durable
from durable import cli_output, codec
from durable.blobs import refs
from durable.blobs.store import open_store
from durable.http import payloads
from tests.blobs import flows
from tests.blobs.conftest import StoreSpec
from tests.conftest import EngineFactory
from tests.waiting import wait_journaled


def reference(data: bytes | None) -> refs.BlobRef | None:
    body = codec.unframe(bytes(data)) if data else b""
    return refs.ref_of(body) if body[:1] == b"R" else None


async def test_every_kind_of_value_is_offloaded_and_read_back(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(**store.engine_options())
    payload = b"p" * 200_000
    run = await engine.start(flows.values, payload)
    await wait_journaled(engine, run.id, 4)
    await engine.send(run.id, "data", b"m" * 100_000)
    result = await run.result(timeout=60)
    assert result == {
        "input": 200_000,
        "frame": [flows.ROWS, sum(range(flows.ROWS)), [0, 2, 4]],
        "table": flows.ROWS,
        "bytes": 300_000 // 256 * 256,
        "message": 100_000,
        "echo": flows.make_bytes(300_000),
    }
    record = await engine.journal.get_run(run.id)
    assert record is not None
    assert reference(record.input) is not None  # the input
    assert reference(record.output) is not None  # the result
    load = await engine.journal.load(run.id)
    assert load is not None
    formats = [(r.format, r.kind) for e in load.entries if (r := reference(e.output))]
    assert formats[:3] == [("parquet", "pandas"), ("parquet", "arrow"), ("codec", None)]
    event = await engine.get_event(run.id, "big")
    assert event == flows.make_bytes(300_000)
    # every reference names a blob that is there, whole, under its content address
    blobs = open_store(store.url, store.options)
    for entry in load.entries:
        ref = reference(entry.output)
        if ref is not None:
            key = blobs.key_of(ref.uri)
            assert key is not None and f"/{ref.sha256}." in key
            assert blobs.hash_of(key) == ref.sha256


async def test_small_values_stay_inline(make_engine: EngineFactory, store: StoreSpec) -> None:
    engine = await make_engine(**store.engine_options())

    @durable.workflow(name="blobs.tiny")
    async def tiny(n: int) -> int:
        return await flows.small(n)

    assert await engine.run(tiny, 1) == 2
    run = (await engine.list(name="blobs.tiny"))[0]
    load = await engine.journal.load(run.id)
    assert load is not None
    assert all(reference(e.output) is None for e in load.entries)
    assert list(open_store(store.url, store.options).listing()) == []


async def test_same_content_is_one_blob(make_engine: EngineFactory, store: StoreSpec) -> None:
    engine = await make_engine(**store.engine_options())
    for _ in range(2):
        run = await engine.start(flows.held, 5000, "same")
        await wait_journaled(engine, run.id, 1)
        await engine.send(run.id, "go", None)
        assert await run.result(timeout=30) == 5000
    keys = [key for key, _ in open_store(store.url, store.options).listing()]
    assert len(keys) == 1 and keys[0].endswith(".parquet")


async def test_dataframe_round_trips_exactly(make_engine: EngineFactory, store: StoreSpec) -> None:
    engine = await make_engine(**store.engine_options(threshold=1000))
    original = flows.frame(3000, "t")
    original["when"] = pd.date_range("2026-01-01", periods=3000, freq="min", tz="UTC")
    original["cat"] = pd.Categorical(["a", "b", "c"] * 1000)
    data = engine.codec.encode(original, what="test", workflow_id="w")
    assert reference(data) is not None
    back = engine.codec.decode(data, what="test", workflow_id="w")
    pd.testing.assert_frame_equal(back, original)
    table = pa.table({"a": list(range(5000))})
    back_table = engine.codec.decode(engine.codec.encode(table))
    assert isinstance(back_table, pa.Table) and back_table.equals(table)


async def test_json_shows_a_marker_not_the_value(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(**store.engine_options())
    run = await engine.start(flows.held, 5000, "json")
    await wait_journaled(engine, run.id, 1)
    load = await engine.journal.load(run.id)
    assert load is not None
    shown = cli_output.entry_json(load.entries[0])["output"]
    assert shown["$durable"] == "blob"
    assert shown["format"] == "parquet" and shown["kind"] == "pandas"
    assert shown["uri"].startswith(store.url) and len(shown["sha256"]) == 64
    assert payloads.entry_json(load.entries[0])["output"] == shown  # the HTTP API's form
    await engine.cancel(run.id)


async def test_sqlite_default_store_is_beside_the_database(
    make_engine: EngineFactory, sqlite_url: str
) -> None:
    engine = await make_engine(sqlite_url, offload_over=1000)
    run = await engine.start(flows.held, 5000, "beside")
    await wait_journaled(engine, run.id, 1)
    load = await engine.journal.load(run.id)
    assert load is not None
    ref = reference(load.entries[0].output)
    database = sqlite_url.removeprefix("sqlite:///")
    assert ref is not None and ref.uri.startswith(f"file://{database}.blobs/sha256/")
    await engine.cancel(run.id)


async def test_offload_is_off_without_options(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    assert engine.blobs.store is None
    data = engine.codec.encode(b"x" * 1_000_000)
    assert reference(data) is None
