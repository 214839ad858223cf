"""Replay semantics on both backends: crash in-process, resume, compare."""

from __future__ import annotations

import asyncio
import random

import pytest

import durable
from durable import testing
from tests.waiting import wait_until

body_runs: dict[str, int] = {}
crash_at: dict[str, object] = {"engine": None, "after": -1, "count": 0}


def _ran(key: str) -> None:
    body_runs[key] = body_runs.get(key, 0) + 1
    crash_at["count"] = int(crash_at["count"]) + 1  # type: ignore[call-overload]
    engine = crash_at["engine"]
    if engine is not None and crash_at["count"] == crash_at["after"]:
        testing.crash(engine)  # type: ignore[arg-type]


@durable.step(name="tests.replay.link")
async def link(branch: int, index: int, delay: float) -> str:
    _ran(f"{branch}.{index}")
    await asyncio.sleep(delay)
    return f"{branch}.{index}"


@durable.workflow(name="tests.replay.chains")
async def chains(seed: int, branches: int, length: int) -> list[list[str]]:
    rng = random.Random(seed)
    delays = [[rng.random() * 0.004 for _ in range(length)] for _ in range(branches)]

    async def chain(branch: int) -> list[str]:
        out = []
        for index in range(length):
            out.append(await link(branch, index, delays[branch][index]))
        return out

    return list(await asyncio.gather(*(chain(b) for b in range(branches))))


@pytest.mark.parametrize("seed", range(6))
async def test_chained_branches_replay_after_crash(make_engine, seed: int) -> None:
    """Crash while branches are mid-chain; the resumed run returns the crash-free result,
    and no step whose result was journaled runs again."""
    body_runs.clear()
    first = await make_engine()
    crash_at.update(engine=first, after=7 + seed, count=0)
    await first.start(chains, seed, 4, 4, workflow_id=f"chains-{seed}")
    await wait_until(lambda: not first.is_open, what=f"the crash after step body {7 + seed}")
    crash_at.update(engine=None)
    inspector = await make_engine(execute=False)
    journaled_before = {h.output for h in await inspector.history(f"chains-{seed}")}
    runs_before = dict(body_runs)
    second = await make_engine()
    result = await second.get(f"chains-{seed}").result(timeout=30)
    assert result == [[f"{b}.{i}" for i in range(4)] for b in range(4)]
    for key in journaled_before:
        assert body_runs[key] == runs_before[key], f"step {key} ran again after it was journaled"
    history = await second.history(f"chains-{seed}")
    assert [h.seq for h in history] == list(range(16))


@durable.step(name="tests.replay.flaky")
async def flaky(key: str) -> str:
    _ran(key)
    raise ValueError(f"bad {key}")


@durable.workflow(name="tests.replay.catches")
async def catches() -> str:
    try:
        await flaky("a")
    except ValueError as exc:
        return f"caught {type(exc).__name__}: {exc}"
    return "not raised"


async def test_journaled_error_is_reraised_with_its_type(make_engine) -> None:
    body_runs.clear()
    engine = await make_engine()
    assert await engine.run(catches, workflow_id="errs") == "caught ValueError: bad a"
    history = await engine.history("errs")
    assert history[0].status == "error"
    assert history[0].error == "builtins.ValueError: bad a"
    # a fork from step 1 replays the journaled error instead of running the body again
    fork = await engine.fork("errs", from_step=1)
    assert await fork.result() == "caught ValueError: bad a"
    assert body_runs["a"] == 1
