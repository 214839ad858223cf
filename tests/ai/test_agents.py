"""Durable Pydantic AI agents: model requests and tool calls are journaled steps, a run
SIGKILLed between a model request and a tool call resumes in a new process without
asking the model again, and agent runs started from workflows are child runs."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models.test import TestModel

import durable
from durable.contrib.pydantic_ai import Durability, agent_workflow, workflow_tool
from tests.ai import flows

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _lines(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _process(db_url: str, workdir: pathlib.Path, mode: str, run_id: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DURABLE_TEST_AI_DIR": str(workdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ai.flows", db_url, str(workdir), mode, run_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_killed_between_model_request_and_tool_resumes_without_asking_again(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    crashed = _process(db_url, tmp_path, "crash", "forecast-1")
    _, err = crashed.communicate(timeout=90)
    assert crashed.returncode == -9, err  # SIGKILLed inside the tool call
    assert _lines(tmp_path / "model_calls") == ["request 1"]
    assert _lines(tmp_path / "tool_calls") == ["Paris"]

    resumed = _process(db_url, tmp_path, "resume", "forecast-1")
    out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, err
    assert out.strip() == "forecast: sunny in Paris"
    # the first request was answered before the crash: asked once; the tool call was
    # not journaled: executed again; the final request once
    assert _lines(tmp_path / "model_calls") == ["request 1", "request 3"]
    assert _lines(tmp_path / "tool_calls") == ["Paris", "Paris"]

    async with durable.Engine(db_url, execute=False) as engine:
        steps = [h for h in await engine.history("forecast-1") if h.kind == "step"]
    assert [h.name for h in steps] == [
        "forecaster__model.request",
        "forecaster__function_toolset__<agent>.call_tool:weather",
        "forecaster__model.request",
    ]
    # the journal holds plain JSON (pydantic-ai's codec), not pickles
    assert steps[0].output["parts"][0]["tool_name"] == "weather"


async def test_agent_run_from_a_workflow_is_a_child_run(
    make_engine, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flows, "WORKDIR", tmp_path)
    engine = await make_engine()
    assert await engine.run(flows.parent, "hi", workflow_id="p") == "forecast: sunny in Paris"
    tree = await engine.lineage("p")
    assert [child.name for child in tree.children] == ["pydantic_ai.forecaster"]
    child = tree.children[0]
    result = await engine.get(child.id).result()
    messages = ModelMessagesTypeAdapter.validate_python(result.messages)
    assert [m.kind for m in messages] == ["request", "response", "request", "response"]
    kinds = [h.kind for h in await engine.history(child.id)]
    assert kinds.count("step") == 3


async def test_a_failed_model_request_is_retried_as_a_step(make_engine) -> None:
    failures = []

    def flaky(messages, info):
        from pydantic_ai.messages import ModelResponse, TextPart

        if not failures:
            failures.append(1)
            raise ConnectionError("provider hiccup")
        return ModelResponse(parts=[TextPart("fine")])

    from pydantic_ai.models.function import FunctionModel

    retry = durable.Retry(max_attempts=2, initial=0.01, jitter=0)
    agent = Agent(FunctionModel(flaky), name="flaky", capabilities=[Durability(model_retry=retry)])

    @durable.workflow(name="ai.flaky")
    async def ask() -> str:
        return str((await agent.run("hi")).output)

    engine = await make_engine()
    assert await engine.run(ask, workflow_id="f") == "fine"
    (request,) = [h for h in await engine.history("f") if h.kind == "step"]
    assert request.attempts == 2


async def test_a_tool_that_awaits_a_workflow_makes_a_child_run(make_engine) -> None:
    @durable.workflow(name="ai.lookup")
    async def lookup(term: str) -> str:
        return f"{term} is a word"

    agent = Agent(TestModel(), name="childish", capabilities=[Durability()])

    @agent.tool_plain(metadata={"durable": False})
    async def define(term: str) -> str:
        return await lookup(term)

    @durable.workflow(name="ai.define")
    async def ask() -> str:
        return str((await agent.run("define")).output)

    engine = await make_engine()
    output = await engine.run(ask, workflow_id="d")
    assert "is a word" in output
    tree = await engine.lineage("d")
    assert [child.name for child in tree.children] == ["ai.lookup"]


async def test_outside_a_workflow_the_agent_runs_as_usual() -> None:
    agent = Agent(TestModel(), name="plain", capabilities=[Durability()])
    assert (await agent.run("hi")).output == "success (no tool calls)"


@durable.workflow(name="ai.count_letters")
async def count_letters(word: str) -> int:
    """Count the letters of a word."""
    return len(word)


async def test_workflow_tool_is_a_child_run_with_the_workflows_schema(make_engine) -> None:
    agent = Agent(
        TestModel(),
        name="counter",
        tools=[workflow_tool(count_letters)],
        capabilities=[Durability()],
    )

    @durable.workflow(name="ai.count")
    async def ask() -> str:
        return str((await agent.run("count")).output)

    engine = await make_engine()
    output = await engine.run(ask, workflow_id="n")
    assert output == '{"count_letters":1}'  # TestModel called it with word="a"
    tree = await engine.lineage("n")
    assert [(c.name, c.status) for c in tree.children] == [("ai.count_letters", "SUCCEEDED")]
    assert await engine.get(tree.children[0].id).result() == 1
    steps = [h.name for h in await engine.history("n") if h.kind == "step"]
    assert not any("call_tool" in name for name in steps)  # the child run, no step around it
    tool = workflow_tool(count_letters)
    assert (tool.name, tool.description) == ("count_letters", "Count the letters of a word.")


class Verdict(BaseModel):
    label: str
    score: float


async def test_an_agent_workflows_structured_output_is_journaled_as_json(make_engine) -> None:
    agent = Agent(
        TestModel(custom_output_args={"label": "spam", "score": 0.9}),
        name="judge",
        output_type=Verdict,
        capabilities=[Durability()],
    )
    judge = agent_workflow(agent)
    engine = await make_engine(pickle=False)  # a pickled value would fail the run
    result = await engine.run(judge, "is this spam?", workflow_id="j")
    assert Verdict.model_validate(result.output) == Verdict(label="spam", score=0.9)


async def test_a_retried_model_requests_streamed_tokens_are_marked(make_engine) -> None:
    from pydantic_ai.models.function import FunctionModel

    from durable.contrib.pydantic_ai import stream_text

    attempts: list[int] = []

    async def tokens(messages, info):
        attempts.append(1)
        yield "hel"
        yield "lo"
        if len(attempts) == 1:
            raise ConnectionError("stream cut")
        yield "!"

    retry = durable.Retry(max_attempts=2, initial=0.01, jitter=0)
    agent = Agent(
        FunctionModel(stream_function=tokens),
        name="talker",
        capabilities=[Durability(event_stream_handler=stream_text("answer"), model_retry=retry)],
    )

    @durable.workflow(name="ai.talk")
    async def talk() -> str:
        return str((await agent.run("hi")).output)

    engine = await make_engine()
    assert await engine.run(talk, workflow_id="t") == "hello!"
    chunks = [c async for c in engine.read_stream("t", "answer")]
    assert [(c.value, c.attempt) for c in chunks] == [
        ("hel", 1),
        ("lo", 1),  # the cut answer of attempt 1
        ("hel", 2),
        ("lo", 2),
        ("!", 2),
    ]
    assert len({c.step for c in chunks}) == 1  # one model-request step


async def test_a_tools_retry_comes_from_its_metadata(make_engine) -> None:
    failures: list[str] = []
    agent = Agent(TestModel(), name="retrier", capabilities=[Durability()])

    @agent.tool_plain(metadata={"durable": durable.Retry(max_attempts=3, initial=0.01)})
    def fetch(key: str) -> str:
        if not failures:
            failures.append(key)
            raise ConnectionError("once")
        return "fetched"

    @durable.workflow(name="ai.retrier")
    async def ask() -> str:
        return str((await agent.run("go")).output)

    engine = await make_engine()
    assert "fetched" in await engine.run(ask, workflow_id="t")
    (call,) = [h for h in await engine.history("t") if "call_tool" in h.name]
    assert (call.status, call.attempts) == ("ok", 2)


async def test_a_bad_durable_metadata_fails_the_run_naming_the_tool(make_engine) -> None:
    agent = Agent(TestModel(), name="badmeta", capabilities=[Durability()])

    @agent.tool_plain(metadata={"durable": 3})
    def fetch(key: str) -> str:
        return key

    @durable.workflow(name="ai.badmeta")
    async def ask() -> str:
        return str((await agent.run("go")).output)

    engine = await make_engine()
    with pytest.raises(durable.WorkflowFailed) as failed:
        await engine.run(ask, workflow_id="b")
    assert "tool 'fetch'" in str(failed.value.__cause__)
