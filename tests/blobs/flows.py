"""Workflows of the blob tests, importable by name from a child process."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import durable

ROWS = 20_000  # about 0.5 MB as a DataFrame: over a 64 KiB threshold


def frame(rows: int = ROWS, tag: str = "") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": np.arange(rows, dtype=np.int64),
            "x": np.linspace(0.0, 1.0, rows),
            "s": [f"{tag}{i}" for i in range(rows)],
        },
        index=pd.Index(np.arange(rows) * 2, name="k"),
    )


@durable.step(name="blobs.make_frame")
def make_frame(rows: int, tag: str = "") -> pd.DataFrame:
    return frame(rows, tag)


@durable.step(name="blobs.make_table")
def make_table(rows: int) -> pa.Table:
    return pa.table({"n": np.arange(rows, dtype=np.int64), "y": np.ones(rows)})


@durable.step(name="blobs.make_bytes")
def make_bytes(size: int) -> bytes:
    return bytes(range(256)) * (size // 256)


@durable.step(name="blobs.small")
def small(value: int) -> int:
    return value + 1


@durable.workflow(name="blobs.values")
async def values(payload: bytes) -> dict[str, Any]:
    """Every kind of value offloaded: input, step outputs, a message, an event, the result."""
    df = await make_frame(ROWS)
    table = await make_table(ROWS)
    raw = await make_bytes(300_000)
    await durable.set_event("big", raw)
    message = await durable.recv("data")
    assert isinstance(df, pd.DataFrame) and isinstance(table, pa.Table)
    return {
        "input": len(payload),
        "frame": [len(df), int(df["n"].sum()), list(df.index[:3])],
        "table": table.num_rows,
        "bytes": len(raw),
        "message": len(message),
        "echo": raw,
    }


@durable.workflow(name="blobs.held")
async def held(rows: int, tag: str) -> int:
    """A step's frame, then a wait for a message (so the run can be replayed later)."""
    df = await make_frame(rows, tag)
    await durable.recv("go")
    return len(df)


@durable.step(name="blobs.lazy_frame")
def lazy_frame(rows: int) -> durable.Ref:
    return durable.Ref.put(frame(rows))


@durable.step(name="blobs.count")
def count(ref: durable.Ref) -> int:
    return len(ref.get())


@durable.workflow(name="blobs.lazy")
async def lazy(rows: int, use: bool) -> int:
    """A Ref the workflow passes along; replaying it fetches nothing."""
    ref = await lazy_frame(rows)
    await durable.recv("go")
    if use:
        return await count(ref)
    return ref.size


@durable.step(name="blobs.unique_frame")
def unique_frame(rows: int) -> pd.DataFrame:
    """A frame that differs on every execution (so a re-executed step writes a new blob)."""
    return frame(rows, tag=uuid.uuid4().hex[:8])


@durable.workflow(name="blobs.crashy")
async def crashy(rows: int) -> int:
    df = await unique_frame(rows)
    return len(df) + await small(1)


@durable.workflow(name="blobs.echo")
async def echo(text: str) -> int:
    return len(text)
