"""Fixtures of the event source tests: the services, and `harness`, one per source kind
(the conformance suite runs over all of them), with `subscribe` to declare a workflow
on the harness's source for one test."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import durable
from durable.sources import registry as sources_registry
from tests.sources import harness as harness_mod
from tests.sources.services import nats_url, redis_url, s3_endpoint  # noqa: F401  (fixtures)

# run only as a subprocess, with its environment (doctest collection would import it)
collect_ignore = ["crash_consumer.py", "worker_flows.py"]

KINDS = [
    "topic-sqlite",
    "topic-postgres",
    "redis",
    "redis-postgres",
    "jetstream",
    "objects-rows-file",
    "objects-files-file",
    "objects-rows-s3",
    "objects-files-s3",
]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def journal_url(kind: str, tmp_path: Any, request: pytest.FixtureRequest) -> str:
    """The journal of the test: Postgres for the ``*-postgres`` kinds, else a SQLite file."""
    if kind.endswith("-postgres"):
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/journal.db"


@pytest.fixture
async def engines(journal_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Open engines on the test's journal; all closed at the end."""
    opened: list[durable.Engine] = []

    async def factory(**options: Any) -> durable.Engine:
        options.setdefault("poll_interval", 0)
        engine = durable.Engine(journal_url, **options)
        await engine.open()
        opened.append(engine)
        return engine

    yield factory
    for engine in reversed(opened):
        if engine.is_open:
            await engine.close()


@pytest.fixture
async def harness(
    kind: str, engines: Callable[..., Any], tmp_path: Any, request: pytest.FixtureRequest
) -> AsyncIterator[harness_mod.Harness]:
    made: harness_mod.Harness
    if kind.startswith("topic"):
        made = harness_mod.TopicHarness(await engines(execute=False))
    elif kind.startswith("redis"):
        made = harness_mod.RedisHarness(request.getfixturevalue("redis_url"))
    elif kind == "jetstream":
        made = harness_mod.JetStreamHarness(request.getfixturevalue("nats_url"))
    elif kind.endswith("-file"):
        made = harness_mod.local_objects(tmp_path, records="rows" in kind)
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        made = harness_mod.s3_objects(endpoint, records="rows" in kind)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def subscribe(harness: harness_mod.Harness) -> Iterator[Callable[..., Any]]:
    """``subscribe(fn, **tuning)``: `fn` as a workflow of a fresh name on the harness's
    source; unsubscribed at the end so later engines do not consume it."""
    names: list[str] = []

    def declare(fn: Callable[..., Any], **tuning: Any) -> Any:
        name = f"src.{harness.kind}.{uuid.uuid4().hex[:8]}"
        names.append(name)
        harness.consumer = name  # type: ignore[attr-defined]
        harness.durable = re.sub(r"[^A-Za-z0-9_-]", "_", name)  # type: ignore[attr-defined]
        return durable.workflow(name=name, on=harness.source(**tuning))(fn)

    yield declare
    for name in names:
        sources_registry.unregister(name)
