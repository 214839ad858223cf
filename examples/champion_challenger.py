"""Champion/challenger: the same question to two models, the first answer wins.

    python examples/champion_challenger.py                        # the challenger is faster
    python examples/champion_challenger.py --id slow-challenger --challenger-latency 2
    python examples/champion_challenger.py                        # again: read from the journal

Each "model" is a child workflow whose one step answers after a simulated latency (no
network).  `durable.race` returns the first answer; the other model's step gets
`asyncio.CancelledError` inside its body and its child run becomes CANCELLED.  The
journal records which awaitable won (a ``race`` entry), so a replay picks the same
winner whatever the timings; the script reads the winner back with `engine.history`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import durable

MODELS = ("champion", "challenger")


@durable.step(name="champion_challenger.predict")
async def predict(model: str, question: str, latency: float) -> str:
    """A simulated model: answers after `latency` seconds, unless cancelled first."""
    print(f"  {model}: thinking ({latency:.1f}s)")
    try:
        await asyncio.sleep(latency)
    except asyncio.CancelledError:
        print(f"  {model}: cancelled, it lost the race")
        raise
    print(f"  {model}: answered")
    words = len(question.split())
    return f"{model} says: {words} words, {'short' if words < 8 else 'long'} question"


@durable.workflow(name="champion_challenger.model")
async def model(name: str, question: str, latency: float) -> str:
    return await predict(name, question, latency)


@durable.workflow(name="champion_challenger.compare")
async def compare(question: str, latencies: list[float]) -> str:
    # the same input to both models, each a child run; the first answer wins
    return await durable.race(
        *(model(name, question, latency) for name, latency in zip(MODELS, latencies, strict=True))
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///champion_challenger.db", help="journal URL")
    parser.add_argument("--id", default="champion-challenger", help="the run's workflow id")
    parser.add_argument("--question", default="which model answers first?")
    parser.add_argument("--champion-latency", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--challenger-latency", type=float, default=0.2, metavar="SECONDS")
    args = parser.parse_args()
    latencies = [args.champion_latency, args.challenger_latency]

    async with durable.Engine(args.db) as engine:
        try:
            status = await engine.get(args.id).status()
            print(f"run {args.id!r} is already in the journal ({status.value})")
        except durable.WorkflowNotFound:
            print(f"starting run {args.id!r}: {args.question!r} to {' and '.join(MODELS)}")
        run = await engine.start(compare, args.question, latencies, workflow_id=args.id)
        answer = await run.result()
        history = await engine.history(run.id)
        entries = {h.seq: h for h in history}
        decided = next(h for h in history if h.kind == "race")
        for seq, name in enumerate(MODELS):  # the racers are the calls numbered 0 and 1
            child = engine.get(f"{run.id}.{seq}")
            try:  # the loser is cancelled through the journal: wait until its run says so
                await child.result(timeout=10)
                status = durable.Status.SUCCEEDED
            except durable.Cancelled:
                status = durable.Status.CANCELLED
            entry = entries[seq].status if seq in entries else "not written"
            print(f"model run {child.id} ({name}): {status.value}, journal entry {entry}")
        winner = MODELS[decided.output]
    print(f"journal: race entry seq {decided.seq} won by awaitable #{decided.output} ({winner})")
    print(f"answer: {answer}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
