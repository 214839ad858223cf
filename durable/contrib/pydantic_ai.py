"""Durable Pydantic AI agents: every model request and tool call a journaled step.

``pip install 'durable[ai]'``.  Attach `Durability` to an agent and call
``agent.run(...)`` inside a `durable.workflow`: each model request and each tool
call becomes one step, retried per its `durable.Retry` and journaled once it
succeeds, so a run resumed after a crash gets the model's answers from the journal
instead of asking the model again.  Outside a workflow the capability is transparent.

This is built on Pydantic AI's public engine surface (`pydantic_ai.durable_exec`:
a `BaseDurabilityCapability` and a `CallableOperationBackend`), the one its own
Temporal, DBOS and Prefect integrations use; the wrapper-agent classes those
integrations used earlier are deprecated upstream in favour of the capability.
Values cross the step boundary through Pydantic AI's JSON codec (its type adapters,
``ModelMessagesTypeAdapter`` for messages), so the journal holds plain JSON values
that `durable`'s msgspec codec stores without pickling.

`workflow_tool` makes a tool of a `durable.workflow`: it is not wrapped in a step, so
the workflow runs as a child run of the agent's workflow, with lineage (any tool whose
function awaits a workflow opts out of its step the same way, with
``metadata={"durable": False}``).  `agent_workflow`
makes a workflow of an agent, so an agent run started from another workflow is a
child run too.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pydantic_core
from pydantic_ai import Agent, Tool
from pydantic_ai.agent import EventStreamHandler
from pydantic_ai.durable_exec import (
    JSON_CODEC,
    BaseDurabilityCapability,
    DurabilityEngineSpec,
    DurableOperationBackend,
    DurableOperationId,
    JournalCallableOperationBackend,
    RoleBasedOperationConfig,
    conversation_id_from_run_id,
)
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelMessagesTypeAdapter,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import Model
from pydantic_ai.tools import AgentDepsT, RunContext

from durable import api, errors
from durable.runtime import context as context_mod
from durable.runtime import streams as api_streams
from durable.runtime.retry import Retry

__all__ = ["AgentOutput", "Durability", "agent_workflow", "stream_text", "workflow_tool"]

# a step per model request / tool call; a failed model request is retried by default
# (providers fail transiently), a tool call once unless its metadata says otherwise
DEFAULT_MODEL_RETRY = Retry(max_attempts=3, initial=1.0, backoff=2.0, max_interval=30.0)
DEFAULT_TOOL_RETRY = Retry(max_attempts=1)

UnitConfig = Retry | None


def _in_workflow_code() -> bool:
    executor = context_mod.workflow_code.get()
    return executor is not None and context_mod.current_run.get() is executor


class _StepBackend(JournalCallableOperationBackend[UnitConfig]):
    """Runs each Pydantic AI durable unit as one `durable` step named after it."""

    async def execute(
        self,
        *,
        operation_id: DurableOperationId,
        name: str,
        body: Callable[[], Awaitable[object]],
        cache_key: tuple[object, ...],
        config: UnitConfig,
    ) -> object:
        # The step takes no arguments: its identity in the journal is its sequence
        # number and its name (the cache key holds live objects, a RunContext among
        # them, whose fingerprint would not be stable across processes).
        async def unit() -> object:
            return await body()

        return await api.step(name=name, retry=config)(unit)()


@dataclass(init=False, kw_only=True)
class Durability(BaseDurabilityCapability[AgentDepsT]):
    """Makes an agent durable inside `durable` workflows.

    Parameters
    ----------
    name:
        The agent's stable name in step names (defaults to the agent's ``name``).
    models:
        More models by key, for ``agent.run(model=key)`` inside a workflow.
    event_stream_handler:
        Called inside the model-request step with the streamed response; a handler
        that calls `durable.write_stream` publishes tokens as they arrive.
    model_retry, tool_retry:
        The `durable.Retry` of model-request steps and of tool-call steps; one tool
        overrides it with ``metadata={"durable": Retry(...)}``, or opts out of a step
        with ``metadata={"durable": False}`` (a tool that awaits a workflow).

    Examples
    --------
    >>> from pydantic_ai import Agent
    >>> from pydantic_ai.models.test import TestModel
    >>> agent = Agent(TestModel(), name="assistant", capabilities=[Durability()])
    >>> agent.name  # run it inside a durable.workflow: its calls become steps
    'assistant'
    """

    engine_spec = DurabilityEngineSpec(
        engine_name="durable",
        durable_unit_noun="step",
        durable_container_noun="workflow",
        codec=JSON_CODEC,
        unsupported_runtime_toolset_kinds=frozenset({"function", "mcp", "dynamic"}),
        wrapped_toolset_kinds=frozenset({"function", "mcp", "dynamic"}),
        toolset_lifecycles={
            "function": "enter-always",
            "mcp": "enter-in-durable-unit",
            "dynamic": "enter-never",
        },
        journal_discovery=True,
        sequential_tools_in_durable_context=False,
        tool_config_key="durable",
    )

    def __init__(
        self,
        *,
        name: str | None = None,
        models: Mapping[str, Model] | None = None,
        event_stream_handler: EventStreamHandler[AgentDepsT] | None = None,
        model_retry: Retry | None = DEFAULT_MODEL_RETRY,
        tool_retry: Retry | None = DEFAULT_TOOL_RETRY,
    ) -> None:
        super().__init__(models=models, event_stream_handler=event_stream_handler, name=name)
        self._model_retry = model_retry
        self._tool_retry = tool_retry

    @property
    def in_durable_context(self) -> bool:
        return _in_workflow_code()

    def get_default_run_id(self) -> str | None:
        if not _in_workflow_code():
            return None
        # journaled, so a replay draws the same agent run id
        return f"{api.context().workflow_id}:{api.uuid4()}"

    def get_default_conversation_id(self, run_id: str) -> str | None:
        return conversation_id_from_run_id(run_id) if _in_workflow_code() else None

    async def get_run_start_time(self, run_id: str) -> datetime | None:
        # journaled: a resumed run counts the agent's timeout from its first start
        return api.now() if _in_workflow_code() else None

    def get_durable_operation_backend(self) -> DurableOperationBackend[UnitConfig]:
        def tool_config(
            operation_id: DurableOperationId, tool: object | None, tool_name: str
        ) -> UnitConfig | Literal[False]:
            return _tool_retry(tool, tool_name, self._tool_retry)

        return _StepBackend(
            agent_name=self.name,
            default_model_id=self.default_model_id,
            config=RoleBasedOperationConfig(
                model=self._model_retry,
                event=self._model_retry,
                capability=self._tool_retry,
                tool=self._tool_retry,
                resolve_tool=tool_config,
            ),
        )


def _tool_retry(
    tool: object | None, tool_name: str, default: Retry | None
) -> UnitConfig | Literal[False]:
    """A tool's step policy, from its public ``tool_def.metadata["durable"]``: a `Retry`,
    False (no step: the tool awaits a workflow), or absent (the capability's default)."""
    tool_def = getattr(tool, "tool_def", None)
    metadata = getattr(tool_def, "metadata", None) or {}
    value = metadata.get("durable") if isinstance(metadata, Mapping) else None
    if value is None or value is True:
        return default
    if value is False or isinstance(value, Retry):
        return value
    raise errors.DurableError(
        f"tool {tool_name!r}: metadata['durable'] is a durable.Retry, or False for no step "
        f"around the tool; got {value!r}"
    )


@dataclass(frozen=True)
class AgentOutput:
    """What an agent workflow returns: the output and the run's messages, as JSON.

    ``output`` is the agent's output in its JSON form (a string as it is, a Pydantic
    model as a dict: rebuild it with ``Model.model_validate``), so the journal holds no
    pickle; ``messages`` load back with ``ModelMessagesTypeAdapter.validate_python``.
    """

    output: Any
    messages: list[Any]


_names = itertools.count()


def agent_workflow(
    agent: Agent[Any, Any], *, name: str | None = None
) -> api.Workflow[[str], AgentOutput]:
    """A workflow that runs `agent` on a prompt: awaited from a workflow, a child run.

    The agent must carry a `Durability` capability (its model requests and tool
    calls are then the steps of this workflow).  The result's ``messages`` are the
    run's messages dumped by ``ModelMessagesTypeAdapter`` (load them back with
    ``ModelMessagesTypeAdapter.validate_python``).

    Parameters
    ----------
    agent:
        The agent to run.
    name:
        The workflow's stable name; defaults to ``pydantic_ai.<agent name>``.
    """
    if agent.name is None and name is None:
        raise errors.DurableError(
            "agent_workflow needs a named agent (Agent(..., name=...)) or name=: the "
            "name identifies its runs in the journal"
        )

    async def run_agent(prompt: str) -> AgentOutput:
        result = await agent.run(prompt)
        messages = ModelMessagesTypeAdapter.dump_python(result.all_messages(), mode="json")
        output = pydantic_core.to_jsonable_python(result.output)
        return AgentOutput(output=output, messages=messages)

    run_agent.__qualname__ = f"run_agent_{next(_names)}"
    return api.workflow(name=name or f"pydantic_ai.{agent.name}")(run_agent)


def stream_text(key: str) -> EventStreamHandler[Any]:
    """An event stream handler that writes the model's text, as it streams, to the
    run's durable stream `key` (`durable.write_stream`), one chunk per delta.

    Pass it as ``Durability(event_stream_handler=stream_text("answer"))``: it runs
    inside the model-request step, so a retried request's chunks carry the attempt
    that wrote them, and readers (`Engine.read_stream`, the HTTP API) see each token
    as it arrives.
    """

    async def handler(ctx: RunContext[Any], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                if event.part.content:
                    await api_streams.write_stream(key, event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                if event.delta.content_delta:
                    await api_streams.write_stream(key, event.delta.content_delta)

    return handler


def workflow_tool(
    workflow: api.Workflow[..., Any], *, name: str | None = None, description: str | None = None
) -> Tool[Any]:
    """A tool that runs `workflow`: called by a durable agent in a workflow, a child run.

    The tool takes the workflow's parameters (its schema is built from the workflow
    function's signature and docstring) and is not wrapped in a step (its metadata says
    ``{"durable": False}``): the workflow it awaits is the step-like unit, journaled as
    a child of the agent's run, with its own journal and lineage.

    Parameters
    ----------
    workflow:
        A `durable.workflow`.
    name, description:
        The tool's name (the function's name by default) and description (its docstring).
    """

    async def call(*args: Any, **kwargs: Any) -> Any:
        return await workflow(*args, **kwargs)

    functools.update_wrapper(call, workflow.definition.fn)
    return Tool(
        call,
        takes_ctx=False,
        name=name or workflow.definition.fn.__name__,
        description=description,
        metadata={"durable": False},
    )
