"""`prune` deletes the blobs of the runs it deletes, not blobs another run still references;
`export` writes references and, with blobs, copies them; `sweep` removes orphans."""

from __future__ import annotations

import hashlib
import pathlib

from durable import export
from durable.blobs import sweep
from durable.blobs.store import open_store
from tests.blobs import flows
from tests.blobs.conftest import StoreSpec
from tests.conftest import EngineFactory
from tests.waiting import wait_journaled


async def finish_held(engine: object, tag: str) -> str:
    run = await engine.start(flows.held, 5000, tag)  # type: ignore[attr-defined]
    await wait_journaled(engine, run.id, 1)  # type: ignore[arg-type]
    await engine.send(run.id, "go", None)  # type: ignore[attr-defined]
    assert await run.result(timeout=30) == 5000
    return str(run.id)


async def test_prune_keeps_blobs_another_run_references(
    make_engine: EngineFactory, store: StoreSpec, tmp_path: pathlib.Path
) -> None:
    engine = await make_engine(**store.engine_options())
    blobs = open_store(store.url, store.options)
    await finish_held(engine, "shared")
    await finish_held(engine, "unique")
    assert len(list(blobs.listing())) == 2
    folder = str(tmp_path / "archive")
    result = await export.export(
        engine.journal, folder, with_blobs=True, store_options=store.options
    )
    assert result.runs == 2 and result.blobs == 2
    copied = sorted((tmp_path / "archive" / "blobs").rglob("*.parquet"))
    assert len(copied) == 2
    for path in copied:  # each copy is whole: its name is its sha256
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem
    later = await finish_held(engine, "shared")  # not exported: prune keeps it
    counted: list[int] = []
    deleted = await export.prune(
        engine.journal, folder, older_than=0.0, blobs=counted, store_options=store.options
    )
    assert deleted == 2 and counted == [1]
    left = [key for key, _ in blobs.listing()]
    assert len(left) == 1
    history = await engine.history(later)  # the kept blob is the one the later run reads
    assert len(history[0].output) == 5000


async def test_sweep_removes_only_unreferenced_blobs(
    make_engine: EngineFactory, store: StoreSpec
) -> None:
    engine = await make_engine(**store.engine_options())
    blobs = open_store(store.url, store.options)
    await finish_held(engine, "kept")
    orphan, _sha, _size = blobs.put_bytes(b"o" * 100_000, "bin")  # as a crash leaves one
    assert await sweep.sweep(engine.journal, blobs, older_than=3600) == 0  # too recent
    assert await sweep.sweep(engine.journal, blobs, older_than=-1) == 1
    left = [key for key, _ in blobs.listing()]
    assert orphan not in left and len(left) == 1
