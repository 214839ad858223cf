"""Champion/challenger with two durable Pydantic AI agents raced on the same prompt.

    pip install -e '.[ai]'
    python examples/champion_challenger_agents.py                   # the challenger is faster
    python examples/champion_challenger_agents.py --id slow --challenger-latency 2
    python examples/champion_challenger_agents.py                   # again: from the journal

Both agents carry the `Durability` capability and run as workflows of their own
(`agent_workflow`), so each agent run is a child run of ``agents.compare``, its model
request a journaled step.  Their models are `FunctionModel`s that answer after a
simulated latency (no network).  `durable.race` returns the first answer; the loser's
model request gets `asyncio.CancelledError` and its child run becomes CANCELLED.  The
journal records the winner (a ``race`` entry), so a replay picks the same one.
(`examples/champion_challenger.py` shows the same race with plain steps.)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

import durable
from durable.contrib.pydantic_ai import AgentOutput, Durability, agent_workflow

LATENCY = {"champion": 1.0, "challenger": 0.2}  # set from the command line


def simulated(name: str) -> FunctionModel:
    """A stand-in LLM that answers after `LATENCY[name]` seconds."""

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        print(f"  {name}: thinking ({LATENCY[name]:.1f}s)")
        try:
            await asyncio.sleep(LATENCY[name])
        except asyncio.CancelledError:
            print(f"  {name}: cancelled, it lost the race")
            raise
        prompt = str(messages[0].parts[-1].content)  # type: ignore[union-attr]
        print(f"  {name}: answered")
        return ModelResponse(parts=[TextPart(f"{name}: {len(prompt.split())} words")])

    return FunctionModel(respond)


champion = agent_workflow(
    Agent(simulated("champion"), name="champion", capabilities=[Durability()])
)
challenger = agent_workflow(
    Agent(simulated("challenger"), name="challenger", capabilities=[Durability()])
)


@durable.workflow(name="agents.compare")
async def compare(prompt: str) -> str:
    # the same prompt to both agents, each a child run; the first answer wins
    won: AgentOutput = await durable.race(champion(prompt), challenger(prompt))
    return str(won.output)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///champion_challenger_agents.db")
    parser.add_argument("--id", default="agents-compare", help="the run's workflow id")
    parser.add_argument("--prompt", default="which agent answers first?")
    parser.add_argument("--champion-latency", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--challenger-latency", type=float, default=0.2, metavar="SECONDS")
    args = parser.parse_args()
    LATENCY.update(champion=args.champion_latency, challenger=args.challenger_latency)

    async with durable.Engine(args.db) as engine:
        try:
            status = await engine.get(args.id).status()
            print(f"run {args.id!r} is already in the journal ({status.value})")
        except durable.WorkflowNotFound:
            print(f"starting run {args.id!r}: {args.prompt!r} to champion and challenger")
        run = await engine.start(compare, args.prompt, workflow_id=args.id)
        answer = await run.result()
        decided = next(h for h in await engine.history(run.id) if h.kind == "race")
        for child in (await engine.lineage(run.id)).children:
            try:  # the loser is cancelled through the journal: wait until its run says so
                await engine.get(child.id).result(timeout=10)
                status = durable.Status.SUCCEEDED
            except durable.Cancelled:
                status = durable.Status.CANCELLED
            print(f"agent run {child.id} ({child.name}): {status.value}")
    print(f"journal: race entry seq {decided.seq} won by awaitable #{decided.output}")
    print(f"answer: {answer}")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(main())
