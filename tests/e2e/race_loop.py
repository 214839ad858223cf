"""Driver for the race-loop crash test: Temporal's "polling with a stop signal" sample.

Run as ``python -m tests.e2e.race_loop --db URL --effects FILE COMMAND``:

``crash``
    Start run ``poller`` and SIGKILL this process inside the body of tick 3, after three
    iterations in which the sleep won the race against ``recv("stop")``.
``resume``
    Open an engine (which resumes the run), send ``stop`` once tick 5 has run, wait for
    the result and print it as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time

import durable

EFFECTS = ""
CRASH_AT: int | None = None


def _effect(label: str) -> None:
    with open(EFFECTS, "a") as out:
        out.write(json.dumps({"run": "poller", "label": label, "t": time.time()}) + "\n")


def _ticks() -> int:
    if not os.path.exists(EFFECTS):
        return 0
    with open(EFFECTS) as log:
        return sum(1 for line in log if '"tick-' in line)


@durable.step(name="samples.tick")
async def tick(i: int) -> int:
    _effect(f"tick-{i}")
    if i == CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
    return i


@durable.workflow(name="samples.poller")
async def poller(period: float) -> dict[str, object]:
    i = 0
    while True:
        await tick(i)
        stop = await durable.race(durable.sleep(period), durable.recv("stop"))
        if stop is not None:
            return {"ticks": i + 1, "stop": stop}
        i += 1


async def _crash(db: str) -> None:
    async with durable.Engine(db) as engine:
        run = await engine.start(poller, 0.05, workflow_id="poller")
        await run.result()  # never returns: tick 3 kills the process


async def _resume(db: str) -> None:
    async with durable.Engine(db) as engine:
        run = engine.get("poller")
        deadline = time.monotonic() + 60
        while _ticks() < 6:  # ticks 0-3 before the crash (3 again after it), then 4, 5
            if time.monotonic() > deadline:
                raise SystemExit(f"the resumed run made no progress: {_ticks()} ticks")
            await asyncio.sleep(0.01)
        await engine.send("poller", "stop", "halt")
        result = await asyncio.wait_for(run.result(), 60)
        print(json.dumps({"id": "poller", "status": "SUCCEEDED", "result": result}))


def main() -> None:
    global EFFECTS, CRASH_AT
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("command", choices=["crash", "resume"])
    options = parser.parse_args()
    EFFECTS = options.effects
    if options.command == "crash":
        CRASH_AT = 3
        asyncio.run(_crash(options.db))
    else:
        asyncio.run(_resume(options.db))


if __name__ == "__main__":
    main()
