"""One harness per event source, so that one conformance suite runs against them all.

A harness makes a source on a fresh stream (or topic, folder, bucket prefix) of its
own, produces records into it (each carrying a number ``n``), says how many records
the source still holds unacknowledged, and deletes what it made.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import uuid
from typing import Any

import durable
from durable.sources import JetStream, Objects, RedisStream, Topic


class Harness:
    kind = ""
    # whether the source counts deliveries (dead letters apply)
    counts_deliveries = False

    def __init__(self) -> None:
        self.name = f"t{uuid.uuid4().hex[:12]}"
        self.engine: durable.Engine | None = None

    def source(self, **tuning: Any) -> Any:
        raise NotImplementedError

    async def produce(self, numbers: list[int]) -> None:
        raise NotImplementedError

    async def unacknowledged(self) -> int:
        """Records produced that the source would still hand out (or has handed out
        and not had acknowledged)."""
        raise NotImplementedError

    @staticmethod
    def n_of(value: Any) -> int:
        return int(value["n"])

    async def close(self) -> None:
        return None


class TopicHarness(Harness):
    kind = "topic"

    def __init__(self, publisher: durable.Engine) -> None:
        super().__init__()
        self.publisher = publisher
        self.consumer = ""

    def source(self, **tuning: Any) -> Topic:
        tuning.pop("max_deliveries", None)
        return Topic(self.name, **tuning)

    async def produce(self, numbers: list[int]) -> None:
        await self.publisher.publish(self.name, [{"n": n} for n in numbers])

    async def unacknowledged(self) -> int:
        journal = self.publisher.journal
        stored = await journal.get_offset(self.consumer, f"topic:{self.name}")
        after = 0 if stored is None else int(stored)
        return len(await journal.read_topic(self.name, after, 100_000))


class RedisHarness(Harness):
    kind = "redis"
    counts_deliveries = True

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis_asyncio

        self.url = url
        self.client = redis_asyncio.from_url(url, decode_responses=True)
        self.group = "durable"

    def source(self, **tuning: Any) -> RedisStream:
        return RedisStream(self.url, self.name, group=self.group, **tuning)

    async def produce(self, numbers: list[int]) -> None:
        for n in numbers:
            await self.client.xadd(self.name, {"n": str(n)})

    async def unacknowledged(self) -> int:
        groups = await self.client.xinfo_groups(self.name)
        group = next(g for g in groups if g["name"] == self.group)
        lag = group.get("lag") or 0
        return int(group["pending"]) + int(lag)

    async def close(self) -> None:
        await self.client.delete(self.name)
        await self.client.aclose()


class JetStreamHarness(Harness):
    kind = "jetstream"
    counts_deliveries = True

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.stream = self.name.upper()
        self.subject = f"{self.name}.>"
        self.nc: Any = None
        self.durable = ""

    def source(self, **tuning: Any) -> JetStream:
        tuning.setdefault("ack_wait", 3.0)
        return JetStream(self.url, self.stream, subject=self.subject, **tuning)

    async def _js(self) -> Any:
        import nats

        if self.nc is None:
            self.nc = await nats.connect(self.url)
            js = self.nc.jetstream()
            await js.add_stream(name=self.stream, subjects=[self.subject])
        return self.nc.jetstream()

    async def produce(self, numbers: list[int]) -> None:
        js = await self._js()
        for n in numbers:
            await js.publish(f"{self.name}.orders", json.dumps({"n": n}).encode())

    async def unacknowledged(self) -> int:
        js = await self._js()
        info = await js.consumer_info(self.stream, self.durable)
        return int(info.num_ack_pending) + int(info.num_pending)

    async def close(self) -> None:
        if self.nc is not None:
            import contextlib

            with contextlib.suppress(Exception):
                await self.nc.jetstream().delete_stream(self.stream)
            await self.nc.close()


class ObjectsHarness(Harness):
    """Objects as rows of JSON lines files (``records=True``) or one file per
    number (``records=False``), in a local folder or in moto's S3."""

    def __init__(
        self, url: str, fs: Any, root: str, *, records: bool, options: dict[str, Any]
    ) -> None:
        super().__init__()
        self.kind = f"objects-{'rows' if records else 'files'}-{url.split(':')[0]}"
        self.url = url
        self.fs = fs
        self.root = root
        self.records = records
        self.options = options
        self.consumer = ""
        self.produced = 0

    def source(self, **tuning: Any) -> Objects:
        tuning.pop("max_deliveries", None)
        return Objects(self.url, records=self.records, poll=0.2, options=self.options, **tuning)

    async def produce(self, numbers: list[int]) -> None:
        self.produced += len(numbers)
        if self.records:
            path = f"{self.root}/batch-{uuid.uuid4().hex[:8]}.jsonl"
            body = "".join(json.dumps({"n": n}) + "\n" for n in numbers)
            await asyncio.to_thread(self.fs.pipe_file, path, body.encode())
            return
        for n in numbers:
            await asyncio.to_thread(self.fs.pipe_file, f"{self.root}/obj-{n}.json", b"{}")

    def n_of(self, value: Any) -> int:
        if self.records:
            return int(value["n"])
        found = re.search(r"obj-(\d+)\.json$", value["path"])
        assert found, value
        return int(found.group(1))

    async def unacknowledged(self) -> int:
        journal = self.engine.journal if self.engine else None
        assert journal is not None
        left = 0
        found = await asyncio.to_thread(self.fs.find, self.root, detail=True)
        for path in found:
            relative = path[len(self.root.rstrip("/")) + 1 :]
            stored = await journal.get_offset(self.consumer, f"objects:{self.url}|{relative}")
            if stored is None or not stored.endswith("#end"):
                left += 1
        return left

    async def close(self) -> None:
        await asyncio.to_thread(self.fs.rm, self.root, recursive=True)


def local_objects(tmp: pathlib.Path, *, records: bool) -> ObjectsHarness:
    import fsspec

    folder = tmp / "objects"
    folder.mkdir()
    fs = fsspec.filesystem("file")
    return ObjectsHarness(f"file://{folder}/", fs, str(folder), records=records, options={})


def s3_objects(endpoint: str, *, records: bool) -> ObjectsHarness:
    import fsspec

    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    fs = fsspec.filesystem("s3", **options, skip_instance_cache=True)
    bucket = "durable-tests"
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    prefix = f"{bucket}/{uuid.uuid4().hex[:10]}"
    return ObjectsHarness(f"s3://{prefix}/", fs, prefix, records=records, options=options)
