"""examples/orders_from_redis.py runs as documented against a real Redis: each run of
the script adds three orders and prints their three runs' results."""

from __future__ import annotations

import os
import pathlib
import sqlite3
import subprocess
import sys
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "orders_from_redis.py"


def _run(tmp_path: pathlib.Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_orders_example_gives_each_order_one_run(tmp_path: pathlib.Path, redis_url: str) -> None:
    import redis

    stream = f"orders-example-{uuid.uuid4().hex[:8]}"
    env = {"ORDERS_REDIS_URL": redis_url, "ORDERS_STREAM": stream}
    try:
        for _ in range(2):
            done = _run(tmp_path, env)
            assert done.returncode == 0, done.stderr
            lines = done.stdout.splitlines()
            assert lines[0] == f"added 3 orders to stream {stream!r}"
            assert [line.split(": ", 1)[1].split(" for ")[0] for line in lines[1:]] == [
                "charged 12.50",
                "charged 40.00",
                "charged 7.25",
            ]
        with sqlite3.connect(tmp_path / "orders.db") as db:
            rows = db.execute("SELECT status FROM durable_runs").fetchall()
        assert rows == [("SUCCEEDED",)] * 6
    finally:
        client = redis.from_url(redis_url)
        client.delete(stream)
        client.close()
