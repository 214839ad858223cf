"""Driver for the composition crash tests: children, races, messages and timeouts, SIGKILLed.

Run as ``python -m tests.e2e.composer --db URL --effects FILE COMMAND ...``, with the
commands of `tests.e2e.crashy` (``crash SPEC_JSON`` and ``resume ID...``) and the same
batching: many runs share one crashing process, a run that reaches its crash point
freezes, and the process SIGKILLs itself once every run has frozen or finished.

Crash points are keyed by the *root* run, so they cover the root's children too:

- ``in:LABEL``: inside the body of the step labelled LABEL (anywhere in the tree), after
  its side effect;
- ``started:M``: when the M-th step body of the tree starts (after its side effect);
- ``count:M``: when the M-th step body of the tree finishes its latency;
- ``after:NAME``: in the root's workflow code, at ``checkpoint(NAME)``;
- ``recv:K``: once the root has announced (event ``waiting``) that it waits in its K-th
  ``durable.recv``, plus a moment so that it really waits.

Once a tree froze, every other step body of it that finishes its latency freezes too, so
the journal keeps what a kill at the crash point would leave, give or take the writes in
flight.  A spec may carry ``send``: messages (topic ``jobs``) sent to the run at start.

Every step body appends ``{"run": ROOT, "label", "t", "pid"}`` to the effects file before
anything else, and ``LABEL:cancelled`` when it gets `asyncio.CancelledError`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import sys
import time
from typing import Any

import durable
from tests.e2e.crashy import digest, emit, outcome

EFFECTS = ""
PHASE = "run"
CRASH: dict[str, str] = {}  # root id -> crash point, only in the crashing process

_frozen: set[str] = set()
_done: set[str] = set()
_expected: set[str] = set()
_started: collections.Counter[str] = collections.Counter()
_finished: collections.Counter[str] = collections.Counter()


def effect(root: str, label: str) -> None:
    line = json.dumps({"run": root, "label": label, "t": time.time(), "pid": os.getpid()})
    with open(EFFECTS, "a") as handle:
        handle.write(line + "\n")


def kill_now() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _maybe_kill() -> None:
    if _expected and _frozen and _frozen | _done >= _expected:
        kill_now()


async def freeze(root: str) -> None:
    """Stop this tree here for good; the last run to stop kills the process."""
    _frozen.add(root)
    _maybe_kill()
    await asyncio.Event().wait()


async def checkpoint(name: str) -> None:
    root = durable.context().root_id
    if CRASH.get(root) == f"after:{name}":
        await freeze(root)


def latency(label: str, spread: float) -> float:
    return random.Random(f"{label}|{PHASE}|{os.getpid()}").uniform(0, spread)


@durable.step(name="compose.work")
async def work(label: str, previous: str, delay: float = 0.0, spread: float = 0.0) -> str:
    """A step with a side effect, a latency, and the crash points that fall in it."""
    root = durable.context().root_id
    effect(root, label)
    _started[root] += 1
    point = CRASH.get(root)
    if point in (f"in:{label}", f"started:{_started[root]}"):
        await freeze(root)
    try:
        await asyncio.sleep(delay + (latency(label, spread) if spread else 0.0))
    except asyncio.CancelledError:
        effect(root, f"{label}:cancelled")
        raise
    _finished[root] += 1
    if root in _frozen or point == f"count:{_finished[root]}":
        await freeze(root)
    return digest(previous, label)


# -- children ------------------------------------------------------------------------------


@durable.workflow(name="compose.leaf")
async def leaf(name: str, chain: int, spread: float) -> str:
    """A child: `chain` steps in a row."""
    value = name
    for j in range(chain):
        value = await work(f"{name}.{j}", value, 0.0, spread)
    return value


@durable.workflow(name="compose.family")
async def family(width: int, chain: int, spread: float) -> list[str]:
    """`width` children at once (`start_child`), then one more awaited directly."""
    # started in one gather: every child is numbered before any start is awaited (started
    # one by one instead, a replay can stall: see the report in test_compose_crash.py)
    handles = await asyncio.gather(
        *(durable.start_child(leaf, f"c{b}", chain, spread) for b in range(width))
    )
    values = list(await asyncio.gather(*handles))
    await checkpoint("gathered")
    return [*values, await leaf("final", 2, 0.0)]


# -- races -----------------------------------------------------------------------------------


@durable.workflow(name="compose.model")
async def model(delay: float) -> str:
    return await work("child", "model", delay)


@durable.workflow(name="compose.race")
async def racer(step_delay: float, child_delay: float) -> str:
    """A step (seq 0) against a child run (seq 1); the race is seq 2."""
    winner = await durable.race(work("step", "race", step_delay), model(child_delay))
    await checkpoint("raced")
    return await work("after", winner)


# -- messages and timeouts -------------------------------------------------------------------


@durable.workflow(name="compose.inbox")
async def inbox(count: int) -> list[Any]:
    """`count` messages, a step after each one."""
    got: list[Any] = [await work("before", "")]
    for k in range(count):
        await durable.set_event("waiting", k)
        message = await durable.recv("jobs")
        got.append(message)
        await work(f"got{k}", json.dumps(message))
    return got


@durable.workflow(name="compose.patient")
async def patient(seconds: float) -> list[Any]:
    """A `recv` with a durable deadline."""
    await durable.set_event("waiting", 0)
    return ["got", await durable.recv("jobs", timeout=seconds)]


@durable.workflow(name="compose.bounded")
async def bounded(seconds: float) -> str:
    """A slow step inside `durable.timeout`."""
    first = await work("before", "")
    try:
        async with durable.timeout(seconds):
            await work("slow", first, 60.0)
    except TimeoutError:
        return "timed out"
    return "finished"


@durable.workflow(name="compose.whole", timeout=1.5)
async def whole() -> str:
    """A workflow-level timeout around a slow step."""
    return await work("slow", "", 60.0)


WORKFLOWS = {wf.name: wf for wf in (family, racer, inbox, patient, bounded, whole)}


async def wait_in_recv(engine: durable.Engine, run_id: str, k: int) -> None:
    """Freeze `run_id` once it waits in its k-th `recv` (announced by its event)."""
    while await engine.get_event(run_id, "waiting", timeout=0.05) != k:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    await freeze(run_id)


async def crash(db: str, specs: list[dict[str, Any]]) -> None:
    async with durable.Engine(db, poll_interval=0) as engine:
        for spec in specs:
            if spec.get("crash"):
                CRASH[spec["id"]] = spec["crash"]
            _expected.add(spec["id"])
        runs, watchers = [], []
        for spec in specs:
            wf = WORKFLOWS[spec["workflow"]]
            run = await engine.start(wf, *spec["args"], workflow_id=spec["id"])
            runs.append(run)
            for value in spec.get("send", []):
                await engine.send(run.id, "jobs", value)
            point = spec.get("crash") or ""
            if point.startswith("recv:"):
                k = int(point.split(":")[1])
                watchers.append(asyncio.create_task(wait_in_recv(engine, run.id, k)))

        async def watch(run: durable.Run) -> None:
            emit(await outcome(run))
            _done.add(run.id)
            _maybe_kill()

        await asyncio.gather(*(watch(run) for run in runs))
    emit({"crashed": False})


async def resume(db: str, ids: list[str]) -> None:
    opened = time.time()
    async with durable.Engine(db, poll_interval=0) as engine:
        emit({"opened": opened})
        for run_id in ids:
            emit({**await outcome(engine.get(run_id)), "at": time.time()})


def main(argv: list[str] | None = None) -> None:
    global EFFECTS, PHASE
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.composer")
    parser.add_argument("--db", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("command", choices=["crash", "resume"])
    parser.add_argument("rest", nargs="+")
    args = parser.parse_args(argv)
    EFFECTS, PHASE = args.effects, args.command
    if args.command == "crash":
        asyncio.run(crash(args.db, json.loads(args.rest[0])))
    else:
        asyncio.run(resume(args.db, args.rest))


if __name__ == "__main__":
    main()
