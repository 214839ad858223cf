"""Event sources: records per second from publish to run start, and p50/p99 of that
latency, for the journal topic, Redis Streams and NATS JetStream, with 1 and 2 workers.

    python -m benchmarks.sources                       # 2,000 records per scenario
    python -m benchmarks.sources --records 5000 --sources topic redis

Each scenario starts worker processes (``python -m benchmarks.sources --worker``, an
engine on a fresh SQLite journal consuming one source, one run per record), waits for
a warm-up record's run, then publishes N records, each carrying the time it was
published; each run returns how long after its record's publication it started.
Throughput: N over the time from the first publication to the last run's start.
Redis and NATS are this machine's (``--redis``, ``--nats``); a scenario whose broker
does not answer is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import durable


def _source() -> Any:
    from durable.sources import JetStream, RedisStream

    kind, broker = os.environ["BENCH_SOURCE"], os.environ.get("BENCH_BROKER", "")
    stream, batch = os.environ["BENCH_STREAM"], int(os.environ.get("BENCH_BATCH", "1"))
    tuning: dict[str, Any] = {"batch_size": batch, "max_wait": 0.0}
    if kind == "redis":
        return RedisStream(broker, stream, consumer=f"bench-{os.getpid()}", **tuning)
    if kind == "nats":
        return JetStream(broker, stream, subject=f"{stream.lower()}.>", **tuning)
    return durable.Topic(stream, **tuning)


async def _serve() -> None:
    """Worker mode: consume until SIGTERM."""

    @durable.workflow(name=os.environ["BENCH_NAME"], on=_source())
    async def started(records: Any) -> list[list[float]]:
        now = time.time()  # (published, started) of each record of the run
        batch = records if isinstance(records, list) else [records]
        return [[float(record["t"]), now] for record in batch]

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with durable.Engine(os.environ["BENCH_JOURNAL"]):
        await stop.wait()


class Publisher:
    """Publishes records to one source from the benchmark process."""

    def __init__(self, kind: str, broker: str, stream: str, journal: str) -> None:
        self.kind, self.broker, self.stream, self.journal = kind, broker, stream, journal
        self.client: Any = None

    async def open(self) -> None:
        if self.kind == "redis":
            import redis.asyncio as redis_asyncio

            self.client = redis_asyncio.from_url(self.broker, decode_responses=True)
            await self.client.ping()
        elif self.kind == "nats":
            import nats

            self.client = await nats.connect(self.broker, connect_timeout=2)
            js = self.client.jetstream()
            await js.add_stream(name=self.stream, subjects=[f"{self.stream.lower()}.>"])
        else:
            self.client = durable.Engine(self.journal, execute=False)
            await self.client.open()

    async def publish(self, count: int) -> None:
        if self.kind == "redis":
            for start in range(0, count, 500):
                pipe = self.client.pipeline(transaction=False)
                for _ in range(min(500, count - start)):
                    pipe.xadd(self.stream, {"t": repr(time.time())})
                await pipe.execute()
        elif self.kind == "nats":
            js = self.client.jetstream()
            for _ in range(count):
                await js.publish(
                    f"{self.stream.lower()}.x", json.dumps({"t": time.time()}).encode()
                )
        else:
            for start in range(0, count, 500):
                n = min(500, count - start)
                await self.client.publish(self.stream, [{"t": time.time()} for _ in range(n)])

    async def close(self) -> None:
        if self.kind == "redis":
            await self.client.delete(self.stream)
            await self.client.aclose()
        elif self.kind == "nats":
            await self.client.jetstream().delete_stream(self.stream)
            await self.client.close()
        elif self.client is not None:
            await self.client.close()


async def _times(
    engine: durable.Engine, name: str, count: int, timeout: float, pause: float = 0.1
) -> list[tuple[float, float]]:
    """(published, started) of each record, once the runs of `count` records have
    succeeded (the results of runs already read are kept in `_seen`)."""
    deadline = time.monotonic() + timeout
    while True:
        for run in await engine.list(name=name, status="SUCCEEDED", limit=1_000_000):
            if run.id not in _seen:
                _seen[run.id] = [(p[0], p[1]) for p in await engine.get(run.id).result()]
        found = [
            pair for run_id, pairs in _seen.items() if run_id.startswith(name) for pair in pairs
        ]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {count} records run within {timeout:.0f}s")
        await asyncio.sleep(pause)


_seen: dict[str, list[tuple[float, float]]] = {}


async def scenario(
    kind: str, broker: str, workers: int, records: int, batch: int, samples: int
) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="durable-bench-sources-")
    journal = f"sqlite:///{folder}/journal.db"
    tag = uuid.uuid4().hex[:8]
    stream = f"BENCH{tag}".upper() if kind == "nats" else f"bench-{tag}"
    name = f"bench.sources.{kind}.{tag}"
    env = {
        **os.environ,
        "BENCH_SOURCE": kind,
        "BENCH_BROKER": broker,
        "BENCH_STREAM": stream,
        "BENCH_NAME": name,
        "BENCH_JOURNAL": journal,
        "BENCH_BATCH": str(batch),
    }
    publisher = Publisher(kind, broker, stream, journal)
    try:
        await publisher.open()
    except Exception as exc:
        return {"source": kind, "workers": workers, "skipped": f"{type(exc).__name__}: {exc}"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "benchmarks.sources", "--worker"], env=env)
        for _ in range(workers)
    ]
    try:
        async with durable.Engine(journal, execute=False) as reader:
            await publisher.publish(1)  # warm-up: the workers consume once it has run
            await _times(reader, name, 1, 60)
            await asyncio.sleep(1.0)  # every worker's loop is waiting in its read by now
            began = time.time()
            await publisher.publish(records)
            published = time.time() - began
            times = [t for t in await _times(reader, name, records + 1, 600) if t[0] >= began]
            lat = [start - sent for sent, start in times]
            elapsed = max(start for _, start in times) - began
            alone = []  # one record at a time: publication to run start with nothing queued
            for k in range(samples):
                await publisher.publish(1)
                found = await _times(reader, name, records + 2 + k, 60, pause=0.001)
                alone.append(max(found)[1] - max(found)[0])
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        await publisher.close()
    ordered, single = sorted(lat), sorted(alone) or [float("nan")]
    return {
        "alone_p50_ms": statistics.median(single) * 1000,
        "alone_p99_ms": single[max(0, int(len(single) * 0.99) - 1)] * 1000,
        "source": kind,
        "workers": workers,
        "records": records,
        "records_per_s": records / elapsed,
        "publish_s": published,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


async def main(args: argparse.Namespace) -> None:
    brokers = {"topic": "", "redis": args.redis, "nats": args.nats}
    print(
        f"{'source':8} {'workers':>7} {'batch':>5} {'records/s':>10} {'burst p50':>10} "
        f"{'burst p99':>10} {'alone p50':>10} {'alone p99':>10}  (ms)"
    )
    for kind in args.sources:
        for workers in args.workers:
            result = await scenario(
                kind, brokers[kind], workers, args.records, args.batch, args.samples
            )
            if "skipped" in result:
                print(f"{kind:8} {workers:>7}  skipped: {result['skipped']}")
                continue
            print(
                f"{kind:8} {workers:>7} {args.batch:>5} {result['records_per_s']:>10,.0f} "
                f"{result['p50_ms']:>10.1f} {result['p99_ms']:>10.1f} "
                f"{result['alone_p50_ms']:>10.1f} {result['alone_p99_ms']:>10.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sources", nargs="+", default=["topic", "redis", "nats"])
    parser.add_argument("--batch", type=int, default=1, help="records per run")
    parser.add_argument("--samples", type=int, default=100, help="one-at-a-time latencies")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parsed = parser.parse_args()
    asyncio.run(_serve() if parsed.worker else main(parsed))
