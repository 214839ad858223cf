"""Workflows the crash tests of generations and heartbeats run in real `durable worker`
processes (imported by the worker and by the test, which starts and inspects runs).

With ``GENJOB_EFFECTS`` set, every `add` body appends its addend to that file.  With
``GENJOB_HOLD=before:N`` (or ``after:N``) the worker stops for good just before (or just
after) the journal commits the switch that ends generation N: it writes
``GENJOB_HOLD_FILE`` and sleeps, for the test to SIGKILL it there.  The switch itself is
the real one."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import durable
from durable.journal import generations as gens
from durable.journal import sqlite_generations
from durable.journal.postgres import generations as pg_generations


def _hold(mixin: Any, where: str, number: int, marker: str) -> None:
    real = mixin.continue_as_new

    async def held(self: Any, owner: str, switch: gens.GenerationSwitch) -> None:
        if where == "before" and switch.generation == number:
            _stop_here(marker)
        await real(self, owner, switch)
        if where == "after" and switch.generation == number:
            _stop_here(marker)

    mixin.continue_as_new = held


def _stop_here(marker: str) -> None:
    with open(marker, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(3600)  # the whole process stops here (the event loop with it) until killed


if os.environ.get("GENJOB_HOLD"):
    _where, _number = os.environ["GENJOB_HOLD"].split(":")
    for _mixin in (sqlite_generations.SqliteGenerations, pg_generations.PostgresGenerations):
        _hold(_mixin, _where, int(_number), os.environ["GENJOB_HOLD_FILE"])


@durable.step(name="genjob.add")
def add(total: int, n: int) -> int:
    effects = os.environ.get("GENJOB_EFFECTS")
    if effects:
        with open(effects, "a") as handle:
            handle.write(f"{n}\n")
    time.sleep(0.001)
    return total + n


@durable.workflow(name="genjob.chain")
async def chain(i: int, total: int, until: int) -> int:
    """Adds 0..until-1, five steps per generation."""
    for _ in range(5):
        if i == until:
            return total
        total = await add(total, i)
        i += 1
    durable.continue_as_new(i, total, until)


@durable.step(
    name="genjob.beating", heartbeat_timeout=30, retry=durable.Retry(max_attempts=3, initial=0)
)
def beating() -> list[Any]:
    """Heartbeats until the process is killed; the attempt after the crash returns what it
    was handed."""
    ctx = durable.context()
    if ctx.heartbeat_details is None:
        for i in itertools.count():
            durable.heartbeat({"done": i})
            time.sleep(0.005)
    return [ctx.step_attempt, ctx.heartbeat_details]


@durable.workflow(name="genjob.beater")
async def beater() -> list[Any]:
    return await beating()
