"""Replay for debugging: re-execute a run's workflow code against its journal, running
no step body and writing nothing.

Every durable call is answered from the journal.  The replay stops at the first
divergence (reported as `NonDeterminismError`), at the first call the journal does
not answer (where a live run would continue), or when the workflow returns.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durable import codec as codec_mod
from durable import errors, wakeups
from durable.journal import base
from durable.runtime import context, generations, registry, signals
from durable.runtime.executor import Executor, Host, Observer, decode_input

__all__ = ["ReplayReport", "replay"]


@dataclass
class ReplayReport:
    """What a debugging replay found."""

    workflow_id: str
    name: str
    calls: list[tuple[int, str, str, bool]] = field(default_factory=list)
    divergence: errors.NonDeterminismError | None = None
    # a journal row the replay could not read (a corrupt payload, a missing type)
    corrupt: errors.DurableError | None = None
    live_at: signals.ReplayReachedLive | None = None
    finished: bool = False
    # the replayed generation ended with `durable.continue_as_new` (it is `finished`)
    continued: bool = False
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True unless the code diverged from the journal or a row could not be read."""
        return self.divergence is None and self.corrupt is None

    @property
    def problem(self) -> errors.DurableError | None:
        """What makes the report not ok: the divergence, or the unreadable row."""
        return self.divergence or self.corrupt


class _NoWrites:
    """Wraps the run control so a replay can neither start nor cancel anything."""

    poll_interval = 0.05

    def __getattr__(self, name: str) -> Any:
        raise errors.DurableError(f"replay for debugging tried to {name}: it must not")

    def changed(self, run_id: str) -> wakeups.News:
        return wakeups.News()


async def replay(
    load: base.RunLoad,
    definition: registry.WorkflowDef,
    codec: codec_mod.Codec,
    *,
    on_call: Callable[[int, str, str, bool], None] | None = None,
    break_at: int | None = None,
    on_break: Callable[[int], None] | None = None,
    idle_timeout: float = 2.0,
) -> ReplayReport:
    """Replay `load` (a run and its journal) with the current code of `definition`.

    The journal object is never touched: `load` was read before.  `on_call` sees each
    call as it is matched (seq, kind, name, matched); `on_break(seq)` runs before call
    `break_at` is made.
    """
    report = ReplayReport(workflow_id=load.run.id, name=load.run.name)

    def observe(seq: int, kind: str, name: str, matched: bool) -> None:
        report.calls.append((seq, kind, name, matched))
        if on_call is not None:
            on_call(seq, kind, name, matched)

    host = Host(journal=_ReadOnlyJournal(), codec=codec, owner="replay", runs=_NoWrites())
    observer = Observer(on_call=observe, break_at=break_at, on_break=on_break)
    executor = Executor(host, load, definition, observer)
    args, kwargs = decode_input(codec, load.run.input, load.run.id)
    executor.metadata = codec.decode(load.run.metadata, what="metadata", workflow_id=load.run.id)
    ctx = contextvars.copy_context()
    ctx.run(context.current_run.set, executor)
    ctx.run(context.workflow_code.set, executor)
    task = asyncio.get_running_loop().create_task(executor.call_workflow(args, kwargs), context=ctx)
    executor.task = task
    executor.sequencer.main_task = task
    await _wait(task, executor, idle_timeout)
    _conclude(report, task, executor)
    executor.sequencer.close()
    return report


async def _wait(task: asyncio.Task[Any], executor: Executor, idle_timeout: float) -> None:
    """Until the workflow ends, or stops making progress (a call nobody answers)."""
    last, idle_since = -1, time.monotonic()
    while not task.done():
        await asyncio.sleep(0.001)
        if executor.next_seq != last:
            last, idle_since = executor.next_seq, time.monotonic()
        elif time.monotonic() - idle_since > idle_timeout:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _conclude(report: ReplayReport, task: asyncio.Task[Any], executor: Executor) -> None:
    error = None if task.cancelled() else task.exception()  # read, even when unused
    if isinstance(executor.divergence, errors.NonDeterminismError):
        report.divergence = executor.divergence
        return
    if executor.divergence is not None:  # a row that cannot be decoded
        report.corrupt = executor.divergence
        return
    if task.cancelled():
        return
    if isinstance(error, signals.ReplayReachedLive):
        report.live_at = error
    elif isinstance(error, generations.ContinueAsNew):
        report.finished, report.continued = True, True
    elif isinstance(error, errors.NonDeterminismError):
        report.divergence = error
    elif error is not None:
        report.finished, report.error = True, error
    else:
        report.finished, report.result = True, task.result()


class _ReadOnlyJournal:
    """Stands in for the journal during a replay: every operation is refused."""

    url = "replay"
    dialect = "replay"

    def __getattr__(self, name: str) -> Any:
        raise errors.DurableError(
            f"replay for debugging attempted journal operation {name!r}; it never writes"
        )
