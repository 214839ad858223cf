"""`durable.write_stream` and `durable.close_stream`: chunks appended to a run's
durable stream from its workflow code or its step bodies.

A chunk is not a journal entry: it is written at once (readers see it while the step
that writes it still runs) and identified by its *writer*, unique within the stream:

- in workflow code, the position of the write in the code (the sequence number the
  next durable call gets, and how many writes came before it at that number): a
  replay after a crash re-issues the same writes, finds their chunks and adds none;
- in a step body, the step's sequence number, the run's attempt, the step's attempt
  and the write's index in that attempt: a retried attempt (or a step re-executed
  after a crash) writes new chunks, each carrying its attempt numbers, so a reader
  sees where an answer restarted.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal.stream_records import NewChunk
from durable.runtime import context

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["close_stream", "write_stream"]

# per run: how many writes each writer position has made so far
_counts: weakref.WeakKeyDictionary[Executor, dict[str, int]] = weakref.WeakKeyDictionary()


def _running(what: str) -> Executor:
    executor = context.current_run.get()
    if executor is None:
        raise errors.DurableError(
            f"durable.{what} was called outside a workflow or step; streams belong to a "
            "run: call it from workflow code or a step body"
        )
    return executor


def _next_writer(executor: Executor, prefix: str) -> str:
    counts = _counts.setdefault(executor, {})
    index = counts.get(prefix, 0)
    counts[prefix] = index + 1
    return f"{prefix}.{index}"


def _validated(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise errors.DurableError(f"a stream key is a non-empty string, got {key!r}")
    return key


async def write_stream(key: str, value: Any) -> None:
    """Append `value` to the run's stream `key` (see the module docstring)."""
    executor = _running("write_stream")
    key = _validated(key)
    host = executor.host
    data = host.codec.encode(value, what=f"chunk of stream {key!r}", workflow_id=executor.run.id)
    in_workflow_code = context.workflow_code.get() is executor
    step = None if in_workflow_code else context.current_step.get()
    attempt = 1 if in_workflow_code else (context.current_attempt.get() or 1)
    if in_workflow_code:
        writer = _next_writer(executor, f"w{executor.next_seq}")
    else:
        writer = _next_writer(executor, f"s{step}.{executor.run.attempt}.{attempt}")
    if executor.replay_only:
        return  # `durable replay` executes no write
    chunk = NewChunk(
        run_id=executor.run.id,
        key=key,
        writer=writer,
        step=step,
        attempt=attempt,
        run_attempt=executor.run.attempt,
        value=data,
    )
    write = executor.recorder.durably(host.journal.append_chunk(host.owner, chunk))
    if in_workflow_code:
        await executor.machinery(write)
    else:
        await write


async def close_stream(key: str) -> None:
    """Close the run's stream `key`: its readers end after its last chunk."""
    executor = _running("close_stream")
    key = _validated(key)
    if executor.replay_only:
        return
    host = executor.host
    write = executor.recorder.durably(host.journal.close_stream(host.owner, executor.run.id, key))
    if context.workflow_code.get() is executor:
        await executor.machinery(write)
    else:
        await write
