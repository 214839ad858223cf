"""A blob that is missing or altered is a `durable.BlobError` naming the run and call, never
a wrong value; a `durable.Ref` the workflow does not use is never fetched on replay."""

from __future__ import annotations

import pytest

import durable
from durable import codec
from durable.blobs import refs
from durable.blobs.store import Store, open_store
from tests.blobs import flows
from tests.blobs.conftest import StoreSpec
from tests.conftest import EngineFactory
from tests.waiting import wait_journaled


async def held_run(make_engine: EngineFactory, store: StoreSpec) -> tuple[str, Store, str]:
    """A `held` run whose frame is journaled, its engine closed; (run id, store, key)."""
    engine = await make_engine(**store.engine_options())
    run = await engine.start(flows.held, 5000, "integrity")
    await wait_journaled(engine, run.id, 1)
    load = await engine.journal.load(run.id)
    assert load is not None
    ref = refs.ref_of(codec.unframe(bytes(load.entries[0].output or b"")))
    await engine.close()
    blobs = open_store(store.url, store.options)
    key = blobs.key_of(ref.uri)
    assert key is not None
    return run.id, blobs, key


async def replay_failure(
    make_engine: EngineFactory, store: StoreSpec, run_id: str
) -> BaseException:
    engine = await make_engine(**store.engine_options())  # resumes the run: replays seq 0
    with pytest.raises(durable.WorkflowFailed) as failed:
        await engine.get(run_id).result(timeout=30)
    cause = failed.value.__cause__
    assert cause is not None
    return cause


@pytest.mark.parametrize("damage", ["altered", "missing"])
async def test_damaged_blob_fails_the_run_with_blob_error(
    make_engine: EngineFactory, store: StoreSpec, damage: str
) -> None:
    run_id, blobs, key = await held_run(make_engine, store)
    if damage == "altered":
        blobs.fs.pipe_file(blobs.path(key), b"PAR1 not the table PAR1")
    else:
        assert blobs.delete(key)
    cause = await replay_failure(make_engine, store, run_id)
    assert isinstance(cause, durable.BlobError), cause
    assert cause.workflow_id == run_id and cause.seq == 0
    text = str(cause)
    assert run_id in text and "(seq 0)" in text and key in text
    assert ("fails its sha256" if damage == "altered" else "is missing") in text
    assert f"durable fork {run_id} --from-step 0" in text


async def test_damaged_blob_never_gives_a_value(store: StoreSpec) -> None:
    engine = durable.Engine("sqlite://:memory:", **store.engine_options(threshold=100))
    data = engine.codec.encode(b"y" * 1000, what="value", workflow_id="w")
    ref = refs.ref_of(codec.unframe(data))
    blobs = open_store(store.url, store.options)
    key = blobs.key_of(ref.uri)
    assert key is not None
    blobs.fs.pipe_file(blobs.path(key), b"y" * 999 + b"z")  # same size, one byte changed
    with pytest.raises(durable.BlobError, match="fails its sha256"):
        engine.codec.decode(data, what="value", workflow_id="w", seq=3)


async def test_unused_ref_is_not_fetched_on_replay(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(**store.engine_options())
    run = await engine.start(flows.lazy, 5000, False)
    await wait_journaled(engine, run.id, 1)
    await engine.close()
    blobs = open_store(store.url, store.options)
    keys = [key for key, _ in blobs.listing()]
    assert len(keys) == 1
    assert blobs.delete(keys[0])  # replay would fail if it fetched the value
    engine = await make_engine(**store.engine_options())
    await engine.send(run.id, "go", None)
    size = await engine.get(run.id).result(timeout=30)
    assert isinstance(size, int) and size > 0


async def test_used_ref_is_fetched_by_the_step(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(**store.engine_options())
    run = await engine.start(flows.lazy, 5000, True)
    await wait_journaled(engine, run.id, 1)
    await engine.send(run.id, "go", None)
    assert await run.result(timeout=30) == 5000


def test_unreachable_store_is_a_blob_error() -> None:
    ref = refs.BlobRef(
        "nosuchscheme://bucket/sha256/ab/" + "ab" * 32 + ".bin", "ab" * 32, 10, "codec"
    )
    data = codec.frame(refs.ref_payload(ref))
    with pytest.raises(durable.BlobError, match="cannot be read") as raised:
        durable.Engine("sqlite://:memory:").codec.decode(data, what="value", workflow_id="w", seq=1)
    assert raised.value.uri == ref.uri and raised.value.seq == 1
