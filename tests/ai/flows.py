"""Agents and workflows the AI tests run, in this process or in subprocesses
(``python -m tests.ai.flows DB_URL WORKDIR MODE RUN_ID``).

The FunctionModel appends one line per call to ``WORKDIR/model_calls`` and the tool one
per execution to ``WORKDIR/tool_calls``: the files outlive a SIGKILLed process, so a
test counts what each real call did.  In mode ``crash`` the tool SIGKILLs its own
process the first time it runs (the model request before it is journaled, the tool
call is not); in mode ``resume`` the process only carries the run on.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

import durable
from durable.contrib.pydantic_ai import Durability, agent_workflow

WORKDIR = pathlib.Path(os.environ.get("DURABLE_TEST_AI_DIR", "."))


def _append(name: str, line: str) -> None:
    with open(WORKDIR / name, "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Ask for the weather tool first, then answer with what it returned."""
    _append("model_calls", f"request {len(messages)}")
    if len(messages) == 1:
        return ModelResponse(parts=[ToolCallPart("weather", {"city": "Paris"})])
    returned = messages[-1].parts[0]
    return ModelResponse(parts=[TextPart(f"forecast: {returned.content}")])  # type: ignore[union-attr]


agent = Agent(FunctionModel(answer), name="forecaster", capabilities=[Durability()])


@agent.tool_plain
def weather(city: str) -> str:
    _append("tool_calls", city)
    marker = WORKDIR / "crashed"
    if os.environ.get("DURABLE_TEST_AI_MODE") == "crash" and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return f"sunny in {city}"


@durable.workflow(name="ai.forecast")
async def forecast(city: str) -> str:
    result = await agent.run(f"weather in {city}?")
    return str(result.output)


forecaster = agent_workflow(agent)


@durable.workflow(name="ai.parent")
async def parent(prompt: str) -> str:
    answer = await forecaster(prompt)  # the agent's run: a child run of this one
    return str(answer.output)


async def _main(db_url: str, mode: str, run_id: str) -> None:
    async with durable.Engine(db_url, poll_interval=0.2) as engine:
        if mode == "crash":
            await engine.start(forecast, "Paris", workflow_id=run_id)
        print(await engine.get(run_id).result(timeout=60), flush=True)


if __name__ == "__main__":
    os.environ["DURABLE_TEST_AI_MODE"] = sys.argv[3]
    asyncio.run(_main(sys.argv[1], sys.argv[3], sys.argv[4]))
