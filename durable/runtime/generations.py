"""`durable.continue_as_new`: a run ends its journal's generation and starts the next one
with new arguments, under the same id.

The call is numbered and matched like any durable call (kind ``continue``, the
workflow's name, the new arguments' fingerprint), then raises `ContinueAsNew`, which
unwinds the workflow code.  The executor then writes the switch in one transaction
(`Journal.continue_as_new`): the generation's entries, with the pending instants and
the call's own entry, move to the generations tables; the run's input becomes the new
arguments.  A crash before that commit replays the old generation, which reaches the
same call and switches; after it, the run executes the new generation from an empty
journal.  Neither both nor neither: the switch is one commit.

The engine executes the next generation at once in the same process
(`Executor.continued`); replay reads the current generation only, so its cost does not
grow with the number of generations.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.journal import generations as gens
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["ContinueAsNew", "child_prefix", "continue_as_new", "switch"]


class ContinueAsNew(BaseException):
    """Unwinds a workflow that called `durable.continue_as_new` (a `BaseException`, like
    `asyncio.CancelledError`: an ``except Exception`` lets it through; do not catch it)."""

    def __init__(self, call: Call, input: bytes) -> None:
        super().__init__(f"run {call.run_id!r} continues as new")
        self.call = call
        self.input = input


def continue_as_new(executor: Executor, args: tuple[Any, ...], kwargs: dict[str, Any]) -> NoReturn:
    """Number the call, check it against the journal and unwind the workflow code."""
    from durable.runtime.executor import encode_input

    run_id = executor.run.id
    if executor.outstanding:
        raise errors.DurableError(
            f"workflow {run_id!r} called continue_as_new with {executor.outstanding} durable "
            "call(s) still in flight; await every step, child and timer first (the new "
            "generation starts from an empty journal and could not hand their results back)"
        )
    encoded = encode_input(executor.host.codec, args, kwargs, run_id)
    fingerprint = codec_mod.fingerprint(args, kwargs)
    call = executor.issue(Kind.CONTINUE, executor.run.name, fingerprint, (*args, *kwargs.items()))
    if call.recorded is not None:  # a past generation replayed: its last call is reached
        call.replay_now()
    raise ContinueAsNew(call, encoded)


async def switch(executor: Executor, signal: ContinueAsNew) -> base.RunLoad:
    """Journal the end of the executor's generation; return the next generation's load.
    Raises what the journal raises (`LeaseLost`, `JournalError`): nothing is written then."""
    call = signal.call
    entry = call.entry("ok", output=signal.input)
    entry.ord = executor.sequencer.reserve_instant()
    change = gens.GenerationSwitch(
        run_id=executor.run.id,
        generation=executor.generation,
        input=signal.input,
        at=time.time(),
        entries=[*executor.recorder.take_instants(), entry],
    )
    await executor.host.journal.continue_as_new(executor.host.owner, change)
    run = msgspec.structs.replace(
        executor.run, input=signal.input, status=base.Status.RUNNING, wake_at=None
    )
    return base.RunLoad(
        run=run, entries=[], attempts=[], timers=[], generation=executor.generation + 1
    )


def child_prefix(executor: Executor) -> str:
    """The start of the ids of the children a run starts without naming them: the run's id,
    and from its second generation on, the generation (call numbers start again at 0)."""
    if executor.generation == 1:
        return executor.run.id
    return f"{executor.run.id}.g{executor.generation}"
