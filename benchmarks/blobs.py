"""Large values: a step returning a 10 MB and a 100 MB DataFrame, inline in the journal vs
offloaded to a blob store (a folder), on SQLite and Postgres; and the replay of a run
holding 20 such values that the workflow does not touch.

    python -m benchmarks.blobs                          # SQLite only
    python -m benchmarks.blobs --pg postgresql://postgres@127.0.0.1/bench_blobs

Each figure comes from a fresh process, so that its peak memory (``VmHWM``, reset
through ``/proc/self/clear_refs`` once the DataFrame is built) is its own: the peak is
what the step costs above holding the DataFrame.  "step" is the step's latency
(encode, journal commit and, as the workflow receives it, the value read back),
"encode" the codec's encoding alone (for offloaded: the Parquet written, streamed),
"journal" the journal's growth and "blobs" the store's.  **The Postgres database given
is dropped and created again.**
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

import durable

_FRAME: pd.DataFrame | None = None


def _frame(megabytes: int) -> pd.DataFrame:
    rows = megabytes * 1024 * 1024 // 32
    rng = np.random.default_rng(7)
    return pd.DataFrame({f"c{i}": rng.random(rows) for i in range(4)})


@durable.step(name="bench.blobs.produce")
def produce() -> Any:
    return _FRAME


@durable.workflow(name="bench.blobs.one")
async def one() -> int:
    return len(await produce())


@durable.step(name="bench.blobs.produce_ref")
def produce_ref() -> Any:
    return durable.Ref.put(_FRAME)


@durable.workflow(name="bench.blobs.twenty")
async def twenty(lazy: bool) -> int:
    """20 values the workflow only counts, then a wait (the run is replayed after it)."""
    total = 0
    for _ in range(20):
        value = await (produce_ref() if lazy else produce())
        total += 1 if value is not None else 0
    await durable.recv("go")
    return total


def _vm(field: str) -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _reset_peak() -> None:
    pathlib.Path("/proc/self/clear_refs").write_text("5")


def _size(path: str) -> int:
    return sum(p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file())


async def _db_size(url: str, folder: str) -> int:
    if url.startswith("sqlite"):
        return _size(folder) - (_size(folder + "/blobs") if os.path.isdir(folder + "/blobs") else 0)
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT pg_database_size(current_database())")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


def _options(mode: str, folder: str) -> dict[str, Any]:
    if mode == "inline":
        return {}
    return {"store": f"file://{folder}/blobs", "offload_over": 262144}


async def child_step(url: str, folder: str, mode: str, megabytes: int) -> dict[str, float]:
    global _FRAME
    _FRAME = _frame(megabytes)
    async with durable.Engine(url, poll_interval=0, **_options(mode, folder)) as engine:
        engine.codec.decode(engine.codec.encode(_frame(1)))  # imports pyarrow when offloading
        held = _vm("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        data = engine.codec.encode(_FRAME, what="bench")
        encode = time.perf_counter() - started
        encode_peak = _vm("VmHWM") - held
        del data
        before = await _db_size(url, folder)
        held = _vm("VmRSS")
        _reset_peak()
        started = time.perf_counter()
        await engine.run(one)
        step = time.perf_counter() - started
        step_peak = _vm("VmHWM") - held
        journal = await _db_size(url, folder) - before
    blobs = _size(folder + "/blobs") if mode == "offload" else 0  # same frame: one blob
    return {
        "step_s": step,
        "step_peak": step_peak,
        "encode_s": encode,
        "encode_peak": encode_peak,
        "journal": journal,
        "blobs": blobs,
    }


async def child_replay(url: str, folder: str, mode: str, megabytes: int) -> dict[str, float]:
    global _FRAME
    _FRAME = _frame(megabytes)
    options = _options("offload", folder)
    async with durable.Engine(url, poll_interval=0, **options) as engine:
        run = await engine.start(twenty, mode == "ref", workflow_id=f"twenty-{mode}")
        while len(await engine.history(run.id)) < 20:
            await asyncio.sleep(0.05)
    _FRAME = None
    started = time.perf_counter()  # opening the engine resumes (replays) the run
    async with durable.Engine(url, poll_interval=0, **options) as engine:
        await engine.send(run.id, "go", None)
        await engine.get(run.id).result()
        return {"replay_s": time.perf_counter() - started}


def _measure(kind: str, url: str, mode: str, megabytes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        db = url if not url.startswith("sqlite") else f"sqlite:///{folder}/journal.db"
        if not url.startswith("sqlite"):
            _recreate(url)
        argv = [sys.executable, "-m", "benchmarks.blobs", "--child", kind, db, folder, mode]
        out = subprocess.run(
            [*argv, str(megabytes)], check=True, capture_output=True, text=True
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))


def _recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _mb(value: float) -> str:
    return f"{value / 1e6:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="a Postgres database URL to drop, create and measure")
    parser.add_argument("--sizes", default="10,100", help="DataFrame sizes in MB")
    parser.add_argument(
        "--offload-only", action="store_true", help="skip inline (e.g. --sizes 1024)"
    )
    parser.add_argument("--no-replay", action="store_true", help="skip the replay figures")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, folder, mode, megabytes = args.child
        child = child_step if kind == "step" else child_replay
        print(json.dumps(asyncio.run(child(url, folder, mode, int(megabytes)))))
        return
    backends = [("sqlite", "sqlite")] + ([("postgres", args.pg)] if args.pg else [])
    sizes = [int(s) for s in args.sizes.split(",")]
    print("step returning a DataFrame: inline (pickled into the journal) vs offloaded (Parquet)")
    print(
        f"{'backend':9} {'MB':>4} {'mode':8} {'step s':>7} {'peak MB':>8} "
        f"{'encode s':>8} {'peak MB':>8} {'journal MB':>10} {'blobs MB':>8}"
    )
    for name, url in backends:
        for megabytes in sizes:
            modes = ("offload",) if args.offload_only else ("inline", "offload")
            rows = {mode: _measure("step", url, mode, megabytes) for mode in modes}
            for mode, r in rows.items():
                print(
                    f"{name:9} {megabytes:4} {mode:8} {r['step_s']:7.2f} {_mb(r['step_peak'])} "
                    f"{r['encode_s']:8.2f} {_mb(r['encode_peak'])} {_mb(r['journal']):>10} "
                    f"{_mb(r['blobs'])}"
                )
            if "inline" in rows:
                ratio = rows["inline"]["step_s"] / rows["offload"]["step_s"]
                print(f"{'':9} {'':4} inline/offload step time: {ratio:.2f}x")
    if args.no_replay:
        return
    print("\nreplay of a run holding 20 values of 10 MB it does not touch")
    for name, url in backends:
        implicit = _measure("replay", url, "implicit", 10)["replay_s"]
        lazy = _measure("replay", url, "ref", 10)["replay_s"]
        print(
            f"{name:9} offloaded values: {implicit:6.2f} s   durable.Ref: {lazy:6.2f} s   "
            f"ratio {implicit / lazy:.1f}x"
        )


if __name__ == "__main__":
    main()
