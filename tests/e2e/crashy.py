"""Driver for the crash tests: workflows that log their side effects and SIGKILL their process.

Run as ``python -m tests.e2e.crashy --db URL --effects FILE COMMAND ...``:

``crash SPEC_JSON``
    Start the runs in SPEC_JSON (a list of ``{"id", "workflow", "args", "crash"}``), print
    one JSON line per run that finishes, and SIGKILL this process once every run has
    either finished or reached its crash point.  ``crash`` is null (a crash-free
    reference run) or a crash point:

    - ``after:K``: in workflow code, right after the result of call position K came back
      (so it is journaled);
    - ``in:LABEL``: inside the body of the step labelled LABEL, after its side effect;
    - ``count:M``: inside the M-th step body of the run to finish its latency;
    - ``timer:LABEL:SECONDS``: when the body of LABEL runs (``e2e.flaky``: fails), SIGKILL
      the process SECONDS later, whatever it is doing then (used to land in a retry
      backoff or a durable sleep).

``resume ID...``
    Open an engine (which resumes every unfinished run), wait for the given runs and print
    one JSON line per run.  ``--swap I J`` exchanges call positions I and J of the
    ``e2e.sequential`` workflow, to simulate a code change between crash and resume.

Batching: many runs share one crashing process.  A run that reaches its crash point
*freezes* (its workflow code or step bodies await forever, so it writes nothing more), and
the process kills itself when the last run freezes or finishes.  Each run's journal then
holds what a kill at its own crash point would leave: its journaled entries plus, at
most, the writes already in flight when it froze.

Every step body appends ``{"run", "label", "t", "pid"}`` to the effects file before doing
anything else, so the tests can count how often each body ran.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import sys
import threading
import time
from typing import Any

import durable

EFFECTS = ""
CRASH: dict[str, str] = {}  # run id -> crash point, only in the crashing process
SWAP: tuple[int, int] | None = None
PHASE = "run"

_frozen: set[str] = set()
_done: set[str] = set()
_expected: set[str] = set()
_finished_bodies: dict[str, int] = {}


def effect(run_id: str, label: str) -> None:
    """Record that a step body ran (one line, appended atomically)."""
    line = json.dumps({"run": run_id, "label": label, "t": time.time(), "pid": os.getpid()})
    with open(EFFECTS, "a") as handle:
        handle.write(line + "\n")


def digest(previous: str, label: str) -> str:
    return f"{label}:{hashlib.sha256(f'{previous}|{label}'.encode()).hexdigest()[:10]}"


def kill_now() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _maybe_kill() -> None:
    if _expected and _frozen and _frozen | _done >= _expected:
        kill_now()


async def freeze(run_id: str) -> None:
    """Stop this run here for good; the last run to stop kills the process."""
    _frozen.add(run_id)
    _maybe_kill()
    await asyncio.Event().wait()


async def checkpoint(position: int) -> None:
    """Called by workflow code after each result: the ``after:K`` crash points."""
    run_id = durable.context().workflow_id
    if CRASH.get(run_id) == f"after:{position}":
        await freeze(run_id)


def latency(label: str, max_delay: float) -> float:
    """A random latency, different per label, per phase (crash or resume) and per process."""
    return random.Random(f"{label}|{PHASE}|{os.getpid()}").uniform(0, max_delay)


@durable.step(name="e2e.work")
async def work(label: str, previous: str, max_delay: float = 0.0) -> str:
    """A step with a side effect, a random latency, and the crash points that fall in it."""
    run_id = durable.context().workflow_id
    effect(run_id, label)
    arm_timer(run_id, label)
    if CRASH.get(run_id) == f"in:{label}":
        await freeze(run_id)
    if max_delay:
        await asyncio.sleep(latency(label, max_delay))
    _finished_bodies[run_id] = _finished_bodies.get(run_id, 0) + 1
    if run_id in _frozen or CRASH.get(run_id) == f"count:{_finished_bodies[run_id]}":
        await freeze(run_id)
    return digest(previous, label)


@durable.step(
    name="e2e.flaky",
    retry=durable.Retry(max_attempts=3, initial=3.0, backoff=1.0, jitter=0.0),
)
async def flaky(label: str) -> str:
    """Fails its first attempt ever (counted in the effects file, across processes)."""
    run_id = durable.context().workflow_id
    earlier = count_effects().get((run_id, label), 0)
    effect(run_id, label)
    if earlier == 0:
        arm_timer(run_id, label)
        raise ConnectionError(f"{label}: first attempt fails")
    return f"{label}:ok after {earlier + 1} attempts"


def arm_timer(run_id: str, label: str) -> None:
    point = CRASH.get(run_id, "")
    if point.startswith(f"timer:{label}:"):
        seconds = float(point.rsplit(":", 1)[1])
        timer = threading.Timer(seconds, kill_now)
        timer.daemon = True
        timer.start()


@durable.workflow(name="e2e.sequential")
async def sequential(n: int) -> list[str]:
    """n steps in a row, each fed the previous result."""
    order = list(range(n))
    if SWAP is not None:
        i, j = SWAP
        order[i], order[j] = order[j], order[i]
    results: list[str] = []
    previous = "start"
    for position, index in enumerate(order):
        previous = await work(f"s{index}", previous)
        results.append(previous)
        await checkpoint(position)
    return results


@durable.workflow(name="e2e.fanout")
async def fanout(n: int, max_delay: float) -> list[str]:
    """One gather of n independent steps that finish in random order."""
    return list(await asyncio.gather(*(work(f"g{i}", "", max_delay) for i in range(n))))


@durable.workflow(name="e2e.branches")
async def branches(width: int, chain: int, max_delay: float) -> list[str]:
    """A gather of `width` branches, each chaining `chain` steps with random latencies."""

    async def branch(b: int) -> str:
        value = f"b{b}"
        for j in range(chain):
            value = await work(f"b{b}.{j}", value, max_delay)
        return value

    return list(await asyncio.gather(*(branch(b) for b in range(width))))


@durable.workflow(name="e2e.backoff")
async def backoff() -> list[str]:
    """A step whose first attempt fails, so the run waits out a durable retry backoff."""
    first = await work("before", "")
    return [first, await flaky("flaky"), await work("after", "")]


@durable.workflow(name="e2e.napper")
async def napper(seconds: float) -> list[str]:
    """A durable sleep between two steps."""
    first = await work("before", "")
    await durable.sleep(seconds)
    return [first, await work("after", "")]


WORKFLOWS = {wf.name: wf for wf in (sequential, fanout, branches, backoff, napper)}


def count_effects() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    if os.path.exists(EFFECTS):
        with open(EFFECTS) as handle:
            for line in handle:
                record = json.loads(line)
                key = (record["run"], record["label"])
                counts[key] = counts.get(key, 0) + 1
    return counts


async def outcome(run: durable.Run) -> dict[str, Any]:
    """What a run ended with, as one JSON-able dict."""
    try:
        return {"id": run.id, "status": "SUCCEEDED", "result": await run.result()}
    except durable.WorkflowFailed as exc:
        cause = exc.__cause__
        return {
            "id": run.id,
            "status": "FAILED",
            "cause_type": type(cause).__name__,
            "cause_message": str(cause),
            "cause_seq": getattr(cause, "seq", None),
            "cause_workflow_id": getattr(cause, "workflow_id", None),
        }


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def crash(db: str, specs: list[dict[str, Any]]) -> None:
    async with durable.Engine(db, poll_interval=0) as engine:
        runs = []
        for spec in specs:
            if spec.get("crash"):
                CRASH[spec["id"]] = spec["crash"]
            _expected.add(spec["id"])
        for spec in specs:
            wf = WORKFLOWS[spec["workflow"]]
            runs.append(await engine.start(wf, *spec["args"], workflow_id=spec["id"]))

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
            emit(await outcome(engine.get(run_id)))


def main(argv: list[str] | None = None) -> None:
    global EFFECTS, SWAP, PHASE
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.crashy")
    parser.add_argument("--db", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--swap", nargs=2, type=int)
    parser.add_argument("command", choices=["crash", "resume"])
    parser.add_argument("rest", nargs="+")
    args = parser.parse_args(argv)
    EFFECTS, PHASE = args.effects, args.command
    SWAP = tuple(args.swap) if args.swap else None  # type: ignore[assignment]
    if args.command == "crash":
        asyncio.run(crash(args.db, json.loads(args.rest[0])))
    else:
        asyncio.run(resume(args.db, args.rest))


if __name__ == "__main__":
    main()
