"""Objects in a folder as events: a changed object gets a run of its own, Parquet is read
by row group and resumed at a row, CSV rows, names ignored, unreadable objects."""

from __future__ import annotations

import copy
import os
import pathlib
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import durable
from durable.runtime import registry
from durable.sources import Objects, object_formats
from durable.sources import consumer as consumer_mod
from durable.sources import registry as sources_registry
from tests.waiting import wait_until


@pytest.fixture
def declare() -> Any:
    names: list[str] = []

    def make(fn: Callable[..., Any], source: Any) -> Any:
        name = f"objects.{uuid.uuid4().hex[:8]}"
        names.append(name)
        return durable.workflow(name=name, on=source)(fn)

    yield make
    for name in names:
        sources_registry.unregister(name)


@pytest.fixture
def folder(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


async def _path(value: dict[str, Any]) -> str:
    return os.path.basename(value["path"])


async def _row(row: dict[str, Any]) -> Any:
    return row["n"]


async def _results(engine: durable.Engine, name: str) -> list[Any]:
    out = []
    for run in await engine.list(name=name, limit=10_000):
        if run.status is durable.Status.SUCCEEDED:
            out.append(await engine.get(run.id).result())
    return out


def _parquet(path: pathlib.Path, rows: int, group: int) -> None:
    table = pa.table({"n": list(range(rows))})
    pq.write_table(table, path, row_group_size=group)


async def test_a_changed_object_gets_a_run_of_its_own(sqlite_url, folder, declare) -> None:
    wf = declare(_path, Objects(f"file://{folder}/", poll=0.1))
    (folder / "a.json").write_text("{}")
    (folder / "b.json.tmp").write_text("being written")
    (folder / ".hidden").write_text("x")
    async with durable.Engine(sqlite_url, poll_interval=0) as engine:
        await wait_until(lambda: _count(engine, wf.name, 1), what="the run of a.json", timeout=10)
        (folder / "a.json").write_text('{"changed": true}')
        await wait_until(
            lambda: _count(engine, wf.name, 2), what="the run of a.json changed", timeout=10
        )
    async with durable.Engine(sqlite_url, poll_interval=0) as engine:  # a restart: nothing new
        await engine.list()
        assert sorted(await _results(engine, wf.name)) == ["a.json", "a.json"]
        runs = await engine.list(name=wf.name)
        assert len({run.id for run in runs}) == 2


async def _count(engine: durable.Engine, name: str, count: int) -> bool:
    return len(await _results(engine, name)) >= count


def test_parquet_is_read_from_the_row_group_holding_the_start(tmp_path) -> None:
    import fsspec

    path = tmp_path / "x.parquet"
    _parquet(path, rows=12, group=4)
    reader = object_formats.RowReader(fsspec.filesystem("file"), str(path), "parquet", 9)
    try:
        rows, finished = reader.take(2)
        assert [number for number, _ in rows] == [9, 10] and not finished
        rows, finished = reader.take(5)
        assert [(number, row["n"]) for number, row in rows] == [(11, 11)] and finished
    finally:
        reader.close()


async def test_parquet_rows_resume_at_the_row_committed(sqlite_url, folder, declare) -> None:
    """Rows whose runs committed are not read again: the object's position (version and
    row) was stored with them."""

    async def batch(rows: list[dict[str, Any]]) -> list[int]:
        return [row["n"] for row in rows]

    wf = declare(batch, Objects(f"file://{folder}/", records=True, poll=0.1, batch_size=5))
    _parquet(folder / "data.parquet", rows=12, group=4)
    async with durable.Engine(sqlite_url, execute=False) as inspector:
        source = copy.deepcopy(sources_registry.subscriptions()[wf.name])
        first = consumer_mod.Consumer(
            inspector.scheduler, registry.lookup_workflow(wf.name), source
        )
        await first._open()
        records: list[Any] = []

        async def five() -> bool:
            records.extend(await source.read(5 - len(records), 0.3))
            return len(records) >= 5

        await wait_until(five, what="5 rows read", timeout=10)
        await first.commit(records)
        await first.close()
    async with durable.Engine(sqlite_url, poll_interval=0) as engine:

        async def twelve() -> bool:
            return sum(len(b) for b in await _results(engine, wf.name)) >= 12

        await wait_until(twelve, what="12 rows in runs", timeout=15)
        numbers = Counter(n for b in await _results(engine, wf.name) for n in b)
        assert numbers == Counter(range(12))


async def test_csv_rows_and_an_unreadable_object(sqlite_url, folder, declare) -> None:
    wf = declare(_row, Objects(f"file://{folder}/", records=True, poll=0.1))
    (folder / "a.csv").write_text("n,name\n1,ann\n2,bob\n")
    (folder / "notes.txt").write_text("not records")
    async with durable.Engine(sqlite_url, poll_interval=0) as engine:
        await wait_until(lambda: _count(engine, wf.name, 2), what="2 csv rows", timeout=10)

        async def dead_letter() -> bool:
            return len(await engine.list(name=wf.name, status="FAILED")) == 1

        await wait_until(dead_letter, what="the dead letter of notes.txt", timeout=10)
        assert sorted(await _results(engine, wf.name)) == ["1", "2"]
        (failed,) = await engine.list(name=wf.name, status="FAILED")
        assert "notes.txt" in failed.id
        with pytest.raises(durable.WorkflowFailed) as caught:
            await engine.get(failed.id).result()
        assert "not Parquet, CSV or JSON lines" in str(caught.value.__cause__)
