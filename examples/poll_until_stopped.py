"""Poll until stopped: a workflow checks a job every few seconds until told to stop.

    python examples/poll_until_stopped.py            # polls, then the script sends "stop"
    python examples/poll_until_stopped.py            # again: the result is read back

Each iteration runs a step, then races a durable sleep against `durable.recv("stop")`.
When the sleep wins, the recv that lost journals a ``cancelled`` entry and takes no
message, so the loop survives any number of crashes and the stop message is never lost.
The script prints the journal's kinds and outcomes at the end.
"""

from __future__ import annotations

import argparse
import asyncio

import durable


@durable.step(name="poll_until_stopped.check")
async def check(job: str, i: int) -> str:
    """A simulated status check of a long-running job."""
    print(f"  check {i}: {job} still running")
    return "running"


@durable.workflow(name="poll_until_stopped.poller")
async def poller(job: str, period: float) -> str:
    i = 0
    while True:
        await check(job, i)
        stop = await durable.race(durable.sleep(period), durable.recv("stop"))
        if stop is not None:
            return f"{job}: stopped after {i + 1} checks ({stop})"
        i += 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///poll_until_stopped.db")
    parser.add_argument("--id", default="poller")
    parser.add_argument("--period", type=float, default=0.2)
    parser.add_argument("--checks", type=int, default=3, help="checks before 'stop' is sent")
    options = parser.parse_args()
    async with durable.Engine(options.db) as engine:
        run = await engine.start(poller, "nightly-export", options.period, workflow_id=options.id)
        if await run.status() not in (durable.Status.SUCCEEDED, durable.Status.FAILED):
            while sum(h.kind == "step" for h in await engine.history(run.id)) < options.checks:
                await asyncio.sleep(options.period / 4)
            await engine.send(run.id, "stop", "operator said so")
        print(await run.result())
        history = await engine.history(run.id)
        shown = [f"{h.kind}:{h.status}" for h in history if h.kind in ("sleep", "recv")]
        print("journal (sleep and recv outcomes):", " ".join(shown))


if __name__ == "__main__":
    asyncio.run(main())
