"""A small data pipeline as a durable workflow: fetch three sources at once, parse each,
summarize.

    python examples/quickstart.py                   # runs it; a second call prints the result
    python examples/quickstart.py --crash-after 2   # SIGKILLs itself once 2 steps are journaled
    python examples/quickstart.py                   # resumes: journaled steps are not run again

Each step prints a line when its body runs; a step answered from the journal prints
nothing.  The run has a fixed id (``--id``), so running the script again never starts a
second pipeline: it resumes the unfinished run or prints the finished one's result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time

import durable

# simulated sources: (latency in seconds, raw payload)
SOURCES = {
    "weather": (0.3, "temp=21,23,19,25"),
    "traffic": (0.6, "cars=120,340,95"),
    "air": (0.9, "pm25=12,8,30,14,9"),
}
ran: list[str] = []  # step bodies that ran in this process


def say(line: str) -> None:
    ran.append(line)
    print(f"  ran {line}")


@durable.step(name="quickstart.fetch")
async def fetch(source: str) -> str:
    say(f"fetch({source!r})")
    latency, payload = SOURCES[source]
    await asyncio.sleep(latency)  # a slow network call
    return payload


@durable.step(name="quickstart.parse")
def parse(source: str, raw: str) -> dict[str, float]:
    """A plain function: it runs in a thread."""
    say(f"parse({source!r})")
    time.sleep(0.1)  # CPU-heavy parsing
    _, values = raw.split("=")
    numbers = [float(v) for v in values.split(",")]
    return {"count": len(numbers), "mean": statistics.mean(numbers), "max": max(numbers)}


@durable.step(name="quickstart.summarize")
async def summarize(parsed: dict[str, dict[str, float]]) -> str:
    say("summarize()")
    return "; ".join(
        f"{source}: {s['count']:.0f} readings, mean {s['mean']:.1f}, max {s['max']:.0f}"
        for source, s in sorted(parsed.items())
    )


@durable.workflow(name="quickstart.pipeline")
async def pipeline(sources: list[str]) -> str:
    raws = await asyncio.gather(*(fetch(source) for source in sources))  # fan-out, fan-in
    parsed = {source: await parse(source, raw) for source, raw in zip(sources, raws, strict=True)}
    return await summarize(parsed)


async def crash_after(engine: durable.Engine, run: durable.Run, steps: int) -> None:
    """SIGKILL this process once `steps` steps of `run` are journaled (a demo of a crash)."""
    while len(await engine.history(run.id)) < steps:
        await asyncio.sleep(0.01)
    print(f"--- {steps} steps journaled: killing the process (SIGKILL) ---")
    os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///quickstart.db", help="journal database URL")
    parser.add_argument("--id", default="quickstart", help="the run's workflow id")
    parser.add_argument("--crash-after", type=int, metavar="N", help="SIGKILL after N steps")
    args = parser.parse_args()

    # opening the engine resumes unfinished runs, such as one killed earlier
    async with durable.Engine(args.db) as engine:
        try:
            status = await engine.get(args.id).status()
            print(f"run {args.id!r} is already in the journal ({status.value})")
        except durable.WorkflowNotFound:
            print(f"starting run {args.id!r}")
        run = await engine.start(pipeline, list(SOURCES), workflow_id=args.id)
        crasher = None
        if args.crash_after is not None:
            crasher = asyncio.create_task(crash_after(engine, run, args.crash_after))
        result = await run.result()
        if crasher is not None:
            crasher.cancel()
        journaled = len(await engine.history(run.id))
    print(f"{journaled} steps journaled, {len(ran)} step bodies ran in this process")
    print(f"result: {result}")


if __name__ == "__main__":
    # line buffering: a SIGKILL must not swallow lines already printed
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
