"""Executes one run: its workflow code, answered from the journal where it can be.

Every durable call (step, sleep, now, uuid4, random) gets the next sequence number
when the workflow *calls* it.  If the journal holds an entry for that number, the
call must match it (kind, name, argument fingerprint) or the run stops with
`NonDeterminismError` before anything runs; the journaled outcome is handed back
by the `Sequencer`, in the original completion order.  Otherwise the call runs
live and its outcome is journaled before the workflow sees it.

Primitives see none of this: `issue` gives them a `calls.Call`, the one interface
through which they replay, run live and journal.  The executor keeps the run as a
whole: its task, its end, aborts and divergences.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random as _random
import time
import uuid as _uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from durable import codec as codec_mod
from durable import errors, wakeups
from durable.journal import base
from durable.runtime import context, generations, heartbeats, registry, signals
from durable.runtime import hooks as hooks_mod
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind
from durable.runtime.recorder import Recorder
from durable.runtime.sequencer import Sequencer

__all__ = ["Executor", "Host", "Observer"]

logger = logging.getLogger(__name__)


class RunControl(Protocol):
    """What workflows need of the engine beyond the journal: children, waits, cancels."""

    async def start_child(
        self,
        parent: Executor,
        seq: int,
        child_id: str,
        definition: registry.WorkflowDef,
        input: bytes,
        *,
        detached: bool = False,
    ) -> base.RunRecord:
        """Create the child run (idempotent per id) and see that it executes; a
        `detached` one is left out of its parent's cancellation."""

    async def wait_finished(self, run_id: str) -> base.RunRecord:
        """Wait until a run is SUCCEEDED, FAILED or CANCELLED; return its row."""

    @property
    def cancel(self) -> Callable[[str], Awaitable[None]]:
        """Cancel a run and its descendants: ``await runs.cancel(run_id)``."""

    def changed(self, run_id: str) -> wakeups.News:
        """The news flag of `run_id`: set when a message or event for it arrives in this
        process, or the journal says it changed."""

    async def wait_changed(self, run_id: str, timeout: float, *, since: int | None = None) -> None:
        """Wait at most `timeout` seconds for news of `run_id` since ``changed().count``
        was `since` (from any process if the journal can tell)."""

    @property
    def poll_interval(self) -> float:
        """Seconds between looks at the journal for what other processes did."""

    @property
    def suspend_sleeps(self) -> float | None:
        """Sleeps at least this long release the run instead of holding it (None: never)."""


@dataclass
class Host:
    """What an executor needs from the engine that runs it."""

    journal: base.Journal
    codec: codec_mod.Codec
    owner: str
    runs: RunControl
    # told of live work (telemetry); None when nobody observes
    hooks: hooks_mod.Hooks | None = None


@dataclass(frozen=True)
class Observer:
    """Hooks of a replay for debugging: such an executor writes nothing and runs no body.

    `on_call(seq, kind, name, matched)` sees each call as it is matched; `on_break(seq)`
    runs just before call number `break_at` is made.
    """

    on_call: Callable[[int, str, str, bool], None] | None = None
    break_at: int | None = None
    on_break: Callable[[int], None] | None = None


class _InFlight:
    """Counts the live calls in flight (`Executor.outstanding`); a class, not a generator,
    because every step enters it."""

    __slots__ = ("_executor",)

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def __enter__(self) -> None:
        self._executor.outstanding += 1

    def __exit__(self, *exc_info: object) -> None:
        self._executor.outstanding -= 1


def _describe(kind: str, name: str, fingerprint: str, args: Any = None) -> str:
    if args is None:
        return f"{kind} {name!r} (arguments fingerprint {fingerprint})"
    shown = repr(args)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return f"{kind} {name!r} with arguments {shown} (fingerprint {fingerprint})"


def encode_input(
    codec: codec_mod.Codec, args: tuple[Any, ...], kwargs: dict[str, Any], workflow_id: str
) -> bytes:
    """Workflow arguments as journaled: positional, keyword names, keyword values."""
    return codec.encode(
        (tuple(args), tuple(kwargs), tuple(kwargs.values())),
        what="workflow input",
        workflow_id=workflow_id,
    )


def decode_input(
    codec: codec_mod.Codec, data: bytes, workflow_id: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inverse of `encode_input`."""
    args, names, values = codec.decode(data, what="workflow input", workflow_id=workflow_id)
    return tuple(args), dict(zip(names, values, strict=True))


class Executor:
    """One run being executed in this process (see the module docstring)."""

    def __init__(
        self,
        host: Host,
        load: base.RunLoad,
        definition: registry.WorkflowDef,
        observer: Observer | None = None,
    ) -> None:
        self.host = host
        self.run = load.run
        self.definition = definition
        self.generation = load.generation
        # the next generation, once this one continued as new (`generations.switch`)
        self.continued: base.RunLoad | None = None
        self.continuing: generations.ContinueAsNew | None = None
        # heartbeat details journaled by steps before a restart, by seq (read when needed)
        self.step_heartbeats: dict[int, Any] | None = None
        self.entries = {entry.seq: entry for entry in load.entries}
        self.attempts: dict[int, list[base.AttemptRecord]] = {}
        for attempt in load.attempts:
            self.attempts.setdefault(attempt.seq, []).append(attempt)
        self.timers = {timer.seq: timer.wake_at for timer in load.timers}
        journaled = [(e.ord, e.seq) for e in load.entries if not Kind.is_instant(e.kind)]
        next_ord = max((e.ord for e in load.entries), default=-1) + 1
        self.sequencer = Sequencer(self, journaled, next_ord, self._stalled, lambda: self.busy > 0)
        self.next_seq = 0
        self.outstanding = 0
        # the highest call number the journal knows of: a patch check below it belongs
        # to a run that was already past that point when the patch was deployed
        self.journal_end = max(
            [e.seq for e in load.entries]
            + [t.seq for t in load.timers]
            + [a.seq for a in load.attempts],
            default=-1,
        )
        # replay for debugging: no write, no body; the observer sees each matched call
        self.observer = observer
        self.replay_only = observer is not None
        self.hooks = host.hooks
        # set when this process stops the run on purpose (draining, a long sleep): it is
        # released for another engine, not failed
        self.suspended = False
        # workflow code waiting on engine work that resumes it without a delivery (a
        # child being created, a deadline being journaled): it is not stuck
        self.busy = 0
        # set when the run cannot go on whatever the workflow code does (a divergence, a
        # corrupt journal row): the run ends FAILED with it even if the code catches it
        self.divergence: errors.DurableError | None = None
        self.aborted: BaseException | None = None
        self.cancel_requested = False
        self.task: asyncio.Task[Any] | None = None
        self.metadata: dict[str, Any] = {}
        # now/uuid4/random entries not yet written: they go out with the run's next
        # write, so nothing that depends on their values is journaled without them.
        self.background: set[asyncio.Task[Any]] = set()
        # background tasks only waiting for something outside this run (a child that is
        # still running): the run's end does not wait for them
        self.waiting: set[asyncio.Task[Any]] = set()
        self.flight = _InFlight(self)  # `with executor.flight:` a live call is in flight
        self.recorder = Recorder(
            host.journal, host.owner, self.run.id, self.sequencer, self.abort, self.spawn
        )

    @property
    def workflow_id(self) -> str:
        return self.run.id

    # -- the run as a whole ---------------------------------------------------------

    async def execute(self) -> base.Status | None:
        """Run the workflow to its end; returns the final status written, or None if stopped
        here (`aborted` says why: a lost lease, an unusable journal, a suspension)."""
        journal, owner, run_id = self.host.journal, self.host.owner, self.run.id
        started = time.time()
        try:
            args, kwargs = decode_input(self.host.codec, self.run.input, run_id)
            self.metadata = self.host.codec.decode(
                self.run.metadata, what="metadata", workflow_id=run_id
            )
        except (errors.SerializationError, errors.JournalError) as exc:
            # a corrupt input: the run cannot start, whatever its code; it ends FAILED
            return await self._finish(self._ending(exc), started)
        if self.run.status is not base.Status.RUNNING:
            running = base.RunUpdate(run_id=run_id, status=base.Status.RUNNING, at=started)
            if not await self._write_final(journal.update_run(owner, running)):
                return None
        ctx = contextvars.copy_context()
        ctx.run(context.current_run.set, self)
        ctx.run(context.workflow_code.set, self)
        self.task = asyncio.get_running_loop().create_task(
            self.call_workflow(args, kwargs), context=ctx
        )
        self.sequencer.main_task = self.task
        if self.cancel_requested:  # before its task existed (between two generations)
            self.task.cancel()
        update = await self._outcome_of(self.task)
        if self.continuing is not None:
            return await self._continue(self.continuing)
        if update is None:
            return None
        return await self._finish(update, started)

    async def _continue(self, signal: generations.ContinueAsNew) -> base.Status | None:
        """End this generation; `continued` is the next one's load (None when stopped)."""
        try:
            self.continued = await generations.switch(self, signal)
        except (base.LeaseLost, errors.JournalError) as exc:
            self.abort(exc)
            return None
        logger.info(
            "run %s continues as new: generation %d",
            self.run.id,
            self.generation + 1,
            extra={"action": "continue_as_new", "workflow_id": self.run.id},
        )
        return base.Status.RUNNING

    async def _finish(self, update: base.RunUpdate | None, started: float) -> base.Status | None:
        """Write the run's end (after its pending instants)."""
        if update is None:
            return None
        journal, owner = self.host.journal, self.host.owner
        instants = self.recorder.take_instants()
        if instants and not await self._write_final(journal.append_entries(owner, instants)):
            return None
        if not await self._write_final(journal.update_run(owner, update)):
            return None
        logger.info(
            "run %s %s in %.3fs",
            update.run_id,
            update.status.value.lower(),
            time.time() - started,
            extra={"action": "finish", "workflow_id": update.run_id, "status": update.status},
        )
        return update.status

    async def _write_final(self, write: Coroutine[Any, Any, None]) -> bool:
        """A write of the run as a whole; False (the run stops here) when it failed."""
        try:
            await write
        except (base.LeaseLost, errors.JournalError) as exc:
            self.abort(exc)
            return False
        return True

    async def call_workflow(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The workflow function itself, within its `timeout=` if it has one."""
        fn = self.definition.fn
        if self.definition.timeout is not None:
            from durable.runtime import racing

            async with racing.Timeout(self.definition.timeout):
                return await fn(*args, **kwargs)
        return await fn(*args, **kwargs)

    async def _outcome_of(self, task: asyncio.Task[Any]) -> base.RunUpdate | None:
        """The final status of the run, or None when this process stops without one."""
        try:
            value = await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not task.done() or (current is not None and current.cancelling()):
                task.cancel()  # the engine is shutting down: stop, finish nothing
                await asyncio.gather(task, return_exceptions=True)
                raise
            return self._ending(None, cancelled=True)
        except signals.RunAborted:
            return None
        except generations.ContinueAsNew as signal:
            await self._settle_background()
            if self.divergence is None and self.aborted is None:
                self.continuing = signal
                return None
            return self._ending(None)
        except Exception as exc:
            await self._settle_background()
            return self._ending(exc)
        else:
            await self._settle_background()
        finally:
            self.sequencer.close()
            for task in list(self.background):
                task.cancel()
        return self._ending(None, value=value)

    async def _settle_background(self, limit: float = 1.0) -> None:
        """Let engine work still journaling this run's outcomes (a group write, a child's
        creation or its finished outcome) land before the run's own end is written.  A
        child still running is not waited for: its outcome comes after the run's end."""
        pending = [t for t in self.background if not t.done() and t not in self.waiting]
        if pending:
            await asyncio.wait(pending, timeout=limit)

    def _ending(
        self, error: Exception | None, *, cancelled: bool = False, value: Any = None
    ) -> base.RunUpdate | None:
        codec = self.host.codec
        if self.aborted is not None:
            return None
        if self.divergence is not None:
            error = self.divergence
        elif cancelled:
            if not self.cancel_requested:
                raise asyncio.CancelledError
            return self._update(base.Status.CANCELLED)
        if error is None:
            try:
                output = codec.encode(value, what="workflow result", workflow_id=self.run.id)
            except errors.SerializationError as exc:
                error = exc
            else:
                return self._update(base.Status.SUCCEEDED, output=output)
        return self._update(base.Status.FAILED, error=codec.encode_error(error))

    def _update(
        self, status: base.Status, *, output: bytes | None = None, error: bytes | None = None
    ) -> base.RunUpdate:
        return base.RunUpdate(
            run_id=self.run.id, status=status, at=time.time(), output=output, error=error
        )

    def cancel(self) -> None:
        """Cancel the workflow (it becomes CANCELLED); its children are the engine's to cancel."""
        self.cancel_requested = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def machinery(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Await engine work on behalf of workflow code (see `busy`)."""
        self.busy += 1
        token = context.workflow_code.set(None)
        try:
            return await work
        finally:
            context.workflow_code.reset(token)
            self.busy -= 1

    def drain(self) -> None:
        """Stop at the next durable call (calls in flight finish and are journaled)."""
        self.suspend("the engine is shutting down")

    def suspend(self, why: str) -> signals.RunAborted:
        """Stop executing the run here without an error; the engine releases it."""
        self.suspended = True
        return self.abort(signals.Suspended(why))

    def abort(self, reason: BaseException) -> signals.RunAborted:
        """Stop executing here without finishing the run (lease lost, journal unusable)."""
        if self.aborted is None:
            self.aborted = reason
            quiet = isinstance(reason, base.LeaseLost | signals.Suspended)
            level = logging.DEBUG if quiet else logging.ERROR
            logger.log(
                level,
                "run %s stopped in this process: %s",
                self.run.id,
                reason,
                extra={"action": "abort", "workflow_id": self.run.id},
            )
            if self.task is not None and not self.task.done() and not self.suspended:
                asyncio.get_running_loop().call_soon(self.task.cancel)
        return signals.RunAborted(self.run.id, reason)

    def _stalled(self, seq: int) -> None:
        entry = self.entries.get(seq)
        recorded = (
            "an entry" if entry is None else _describe(entry.kind, entry.name, entry.fingerprint)
        )
        self.diverge(
            errors.NonDeterminismError(
                workflow_id=self.run.id,
                seq=seq,
                recorded=recorded,
                expected="no such call (the workflow stopped calling before reaching it)",
            )
        )
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _stop_diverged(self) -> None:
        self.sequencer.fail()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def diverge(self, error: errors.DurableError) -> errors.DurableError:
        if self.divergence is None:
            self.divergence = error
            # nothing more is delivered: the calls still waiting unwind, and the run ends
            # FAILED with `error` (`_ending`)
            asyncio.get_running_loop().call_soon(self._stop_diverged)
            level = logging.DEBUG if self.replay_only else logging.ERROR
            logger.log(level, "%s", error, extra={"action": "diverge", "workflow_id": self.run.id})
        return self.divergence

    # -- calls ------------------------------------------------------------------------

    def issue(self, kind: Kind, name: str, fingerprint: str, args: Any = None) -> Call:
        """Number a call and match it against the journal."""
        if self.aborted is not None:
            raise signals.RunAborted(self.run.id, self.aborted)
        if self.divergence is not None:
            raise self.divergence
        seq = self.next_seq
        observer = self.observer
        if observer is not None and seq == observer.break_at and observer.on_break is not None:
            observer.on_break(seq)
        self.next_seq += 1
        recorded = self.entries.pop(seq, None)
        if observer is not None:
            self._observe(seq, kind, name, fingerprint, args, recorded)
        if recorded is not None:
            if (recorded.kind, recorded.name, recorded.fingerprint) != (kind, name, fingerprint):
                raise self.diverge(
                    errors.NonDeterminismError(
                        workflow_id=self.run.id,
                        seq=seq,
                        expected=_describe(kind, name, fingerprint, args),
                        recorded=_describe(recorded.kind, recorded.name, recorded.fingerprint),
                    )
                )
        elif seq in self.timers and not kind.has_deadline:
            raise self.diverge(
                errors.NonDeterminismError(
                    workflow_id=self.run.id,
                    seq=seq,
                    expected=_describe(kind, name, fingerprint),
                    recorded="a durable timer (sleep, timeout or recv deadline)",
                )
            )
        call = Call(self, seq, kind, name, fingerprint, recorded)
        if recorded is None and self.hooks is not None:
            self.hooks.call_started(call)
        return call

    def peek(self) -> base.EntryRecord | None:
        """The journaled entry of the next call, without numbering it."""
        return self.entries.get(self.next_seq)

    def _observe(
        self,
        seq: int,
        kind: str,
        name: str,
        fingerprint: str,
        args: Any,
        recorded: base.EntryRecord | None,
    ) -> None:
        matched = recorded is not None and (recorded.kind, recorded.name, recorded.fingerprint) == (
            kind,
            name,
            fingerprint,
        )
        assert self.observer is not None
        if self.observer.on_call is not None:
            self.observer.on_call(seq, kind, name, matched)
        if recorded is None:
            raise signals.ReplayReachedLive(seq, _describe(kind, name, fingerprint, args))

    def outcome_of(self, entry: base.EntryRecord) -> Any:
        """The value a journal entry hands back, or the exception it raises."""
        codec, what = self.host.codec, f"result of {entry.kind} {entry.name!r} (seq {entry.seq})"
        run_id, seq = self.run.id, entry.seq
        try:
            if entry.status == "ok":
                if entry.output is None:
                    return None
                return codec.decode(entry.output, what=what, workflow_id=run_id, seq=seq)
            if entry.status == "cancelled":
                if entry.kind == Kind.CHILD:
                    raise errors.Cancelled(workflow_id=entry.child_id)
                reason = None
                if entry.output:
                    text = codec_mod.unframe(entry.output, what=what, workflow_id=run_id, seq=seq)
                    reason = text.decode(errors="replace")
                raise asyncio.CancelledError(reason)
            if entry.error is None or entry.status != "error":
                raise errors.JournalError(
                    f"{what} of workflow {self.run.id!r} has status {entry.status!r} and "
                    "no usable outcome; the row was left as it is. "
                    f"{codec_mod.corrupt_advice(run_id, seq)}",
                    workflow_id=self.run.id,
                    seq=entry.seq,
                )
            error = codec.decode_error(entry.error, workflow_id=run_id, seq=seq)
        except (errors.JournalError, errors.SerializationError) as exc:
            exc.seq = entry.seq
            raise self.diverge(exc) from exc.__cause__
        if entry.kind == Kind.CHILD:
            record = codec.decode_error_record(entry.error, workflow_id=run_id, seq=seq)
            failed = errors.WorkflowFailed(
                workflow_id=entry.child_id,
                error_type=record.type.replace(":", "."),
                error_message=record.message,
                traceback=record.traceback,
            )
            raise failed from error
        raise error

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run engine work for this run (not workflow code) in the background; it is
        cancelled when the run stops executing here."""
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    @contextlib.contextmanager
    def waiting_outside(self) -> Iterator[None]:
        """The current background task only waits for something outside this run."""
        task = asyncio.current_task()
        assert task is not None
        self.waiting.add(task)
        try:
            yield
        finally:
            self.waiting.discard(task)

    def execution_context(self) -> context.ExecutionContext:
        """What `durable.context()` returns inside this run."""
        step = context.current_step.get()
        attempt = heartbeats.current()
        return context.ExecutionContext(
            workflow_id=self.run.id,
            name=self.run.name,
            parent_id=self.run.parent_id,
            root_id=self.run.root_id,
            attempt=self.run.attempt,
            step=self.next_seq if step is None else step,
            metadata=dict(self.metadata),
            step_attempt=0 if attempt is None else attempt.number,
            heartbeat_details=None if attempt is None else attempt.previous,
        )


def instant_now() -> Any:
    """The current time, as `durable.now()` journals it (timezone-aware UTC)."""
    import datetime

    return datetime.datetime.now(datetime.UTC)


def instant_uuid() -> _uuid.UUID:
    return _uuid.uuid4()


def instant_random() -> float:
    return _random.random()
