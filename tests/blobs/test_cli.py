"""The CLI on offloaded values: history --json shows references, export --with-blobs copies
the blobs, prune deletes them and --sweep-store removes orphans."""

from __future__ import annotations

import pathlib

from durable.blobs.store import open_store
from tests.blobs import flows
from tests.cli.harness import Cli
from tests.conftest import EngineFactory
from tests.waiting import wait_journaled


async def test_history_export_prune_and_sweep(
    make_engine: EngineFactory, db_url: str, tmp_path: pathlib.Path
) -> None:
    store_url = f"file://{tmp_path}/blobs"
    engine = await make_engine(store=store_url)
    run = await engine.start(flows.held, 20_000, "cli")
    await wait_journaled(engine, run.id, 1)
    await engine.send(run.id, "go", None)
    assert await run.result(timeout=30) == 20_000
    blobs = open_store(store_url)
    orphan, _sha, _size = blobs.put_bytes(b"orphan" * 100_000, "bin")
    await engine.close()

    cli = Cli(db_url, tmp_path)
    entries = cli.json_lines("history", run.id, "--json")
    assert entries[0]["output"]["$durable"] == "blob"
    assert entries[0]["output"]["uri"].startswith(store_url + "/sha256/")
    archive = tmp_path / "archive"
    out = cli("export", str(archive), "--with-blobs").stdout
    assert "1 blob(s) copied" in out
    assert len(list((archive / "blobs").rglob("*.parquet"))) == 1
    out = cli(
        "prune", "--older-than", "0s", "--from", str(archive),
        "--sweep-store", store_url, "--grace", "0s",
    ).stdout  # fmt: skip
    assert "pruned 1 exported run(s)" in out and "and 1 blob(s)" in out
    assert "swept 1 unreferenced blob(s)" in out
    assert list(blobs.listing()) == []
    assert not blobs.exists(orphan)
