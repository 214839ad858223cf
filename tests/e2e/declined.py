"""A script whose step raises an exception class defined in the script (``__main__``).

Run as ``python -m tests.e2e.declined --db URL crash|resume`` (for
`test_main_exceptions.py`).  ``crash`` starts the run: its step raises `Declined`, the
workflow catches it and SIGKILLs the process in the step after the catch.  ``resume``
opens an engine, which replays the journaled `Declined` into the same ``except``, and
prints the run's outcome as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

import durable

PHASE = "crash"


class Declined(Exception):
    """The card was declined."""


@durable.step(name="e2e.declined.charge")
async def charge(amount: int) -> str:
    raise Declined(f"card declined for {amount}")


@durable.step(name="e2e.declined.apologize")
async def apologize(reason: str) -> str:
    if PHASE == "crash":  # the error is journaled and was caught: die before this step's is
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return f"sorry: {reason}"


@durable.workflow(name="e2e.declined.order")
async def order(amount: int) -> str:
    try:
        await charge(amount)
    except Declined as exc:
        return await apologize(str(exc))
    return "charged"


async def main(db: str) -> None:
    async with durable.Engine(db, poll_interval=0) as engine:
        run = await engine.start(order, 5, workflow_id="order-1")
        try:
            line = {"status": "SUCCEEDED", "result": await run.result()}
        except durable.WorkflowFailed as exc:
            cause = exc.__cause__
            kind = type(cause)
            line = {
                "status": "FAILED",
                "cause": f"{kind.__module__}.{kind.__qualname__}: {cause}",
                "cause_is_script_class": kind is Declined,
            }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.declined")
    parser.add_argument("--db", required=True)
    parser.add_argument("phase", choices=["crash", "resume"])
    args = parser.parse_args()
    PHASE = args.phase
    asyncio.run(main(args.db))
