"""A `durable worker` process that imports a module with ``@workflow(on=Topic(...))``
consumes the topic: records published by another process become runs there."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
from typing import Any

import durable
from tests.waiting import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


async def test_durable_worker_consumes_the_topics_of_its_modules(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--db", url, "worker", "tests.sources.worker_flows"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        async with durable.Engine(url, execute=False) as client:
            orders = [{"qty": n, "price": 10} for n in range(1, 6)]
            assert await client.publish("worker-orders", orders, keys=[f"o{n}" for n in range(5)])

            async def all_done() -> bool:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                runs = await client.list(name="worker_flows.order", status="SUCCEEDED")
                return len(runs) == 5

            await wait_until(all_done, what="the 5 orders' runs in the worker", timeout=30)
            results = [
                await client.get(f"worker_flows.order@topic:worker-orders/{p}").result()
                for p in range(1, 6)
            ]
            assert results == [10, 20, 30, 40, 50]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, (tmp_path / "worker.log").read_text()
        log.close()
