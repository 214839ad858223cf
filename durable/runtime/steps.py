"""Steps and transactions: attempts, retries with durable backoff, timeouts, and the
transaction of a `@durable.transaction` step, whose statements commit with its entry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from durable import codec as codec_mod
from durable import errors
from durable.journal import base
from durable.runtime import context, heartbeats, registry
from durable.runtime.calls import Call
from durable.runtime.kinds import Kind

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["call_step"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def call_step(
    executor: Executor, step: registry.StepDef, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Coroutine[Any, Any, Any]:
    """A step called from workflow code: numbered and matched now, run when awaited."""
    kind = Kind.TRANSACTION if step.transaction else Kind.STEP
    fingerprint = codec_mod.fingerprint(args, kwargs)
    call = executor.issue(kind, step.name, fingerprint, (*args, *kwargs.items()))
    if call.recorded is not None:
        return call.replay()
    return call.run(_transaction if step.transaction else _attempts, step, args, kwargs)


async def _bounded(call: Any, timeout: float | None) -> Any:
    """Await one attempt, within the step's timeout when it has one."""
    if timeout is None:
        return await call
    async with asyncio.timeout(timeout):
        return await call


def _observed(call: Call, attempt: int, work: Awaitable[T]) -> Awaitable[T]:
    """One attempt's work, as the run's `hooks.Hooks` observe it (when any do)."""
    hooks = call.executor.hooks
    return work if hooks is None else hooks.attempt(call, attempt, work)


async def _wait_for_retry(prior: list[base.AttemptRecord]) -> tuple[int, int]:
    """Resume a backoff cut short by a crash.

    Returns the next attempt number and how many attempts precede the retry
    budget: a final failure archived by `Engine.resume` (its ``retry_at`` equals
    its ``failed_at``) starts a fresh budget, so a resumed step is retried anew.
    """
    budget_start = max((a.attempt for a in prior if a.retry_at == a.failed_at), default=0)
    delay = prior[-1].retry_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    return prior[-1].attempt + 1, budget_start


class _Budget:
    """What `Retry(total_timeout=)` leaves of a step's time: measured from the call's
    start in this process, or, after a restart, from its first journaled failure."""

    __slots__ = ("deadline", "total")

    def __init__(self, call: Call, step: registry.StepDef, prior: list[Any] | None) -> None:
        self.total = step.retry.total_timeout
        began = call.started if not prior else min(a.failed_at for a in prior)
        self.deadline = None if self.total is None else began + self.total

    def limit(self, timeout: float | None) -> tuple[float | None, bool]:
        """The bound of the next attempt, and whether it is the total budget's."""
        if self.deadline is None:
            return timeout, False
        left = max(0.0, self.deadline - time.time())
        return (left, True) if timeout is None or left < timeout else (timeout, False)

    def spent(self) -> bool:
        return self.deadline is not None and time.time() >= self.deadline

    def allows(self, delay: float) -> bool:
        """Whether a retry after waiting `delay` seconds starts within the budget."""
        return self.deadline is None or time.time() + delay < self.deadline


async def _one_attempt(
    call: Call,
    step: registry.StepDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: heartbeats.Attempt,
    budget: _Budget,
) -> Any:
    """Run the body once, within its timeouts; its heartbeats reach `attempt`."""
    with heartbeats.entered(attempt):
        if step.is_async:
            body = step.fn(*args, **kwargs)
        else:
            body = asyncio.to_thread(step.fn, *args, **kwargs)
        if step.heartbeat_timeout is not None:
            body = heartbeats.watched(body, attempt, step.heartbeat_timeout, step.name)
        limit, total = budget.limit(step.timeout)
        work = body if limit is None else _bounded(body, limit)
        try:
            return await _observed(call, attempt.number, work)
        except asyncio.CancelledError:
            attempt.stop("durable: the step was cancelled")  # a sync body learns it here
            raise
        except TimeoutError as exc:
            attempt.stop("durable: the attempt timed out")
            if total and budget.spent():
                raise _OutOfTime(
                    f"step {step.name!r} (seq {call.seq}) ran out of its total_timeout of "
                    f"{budget.total:g}s in attempt {attempt.number}"
                ) from exc
            raise


class _OutOfTime(TimeoutError):
    """`Retry(total_timeout=)` ran out during an attempt: not retried."""


async def _attempts(
    call: Call, step: registry.StepDef, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> base.EntryRecord:
    """Run a step's attempts until one succeeds or the retry policy gives up."""
    step_token = context.current_step.set(call.seq)
    attempt_token = context.current_attempt.set(None)
    try:
        with call.in_flight():
            prior = call.prior_attempts()
            budget = _Budget(call, step, prior)
            number, spent = (1, 0) if prior is None else await _wait_for_retry(prior)
            number, details = await heartbeats.previous_details(call, number)
            while True:
                attempt = heartbeats.Attempt(call, number, details)
                context.current_attempt.set(number)  # undone with `attempt_token`
                try:
                    value = await _one_attempt(call, step, args, kwargs, attempt, budget)
                    what = f"result of step {step.name!r} (seq {call.seq})"
                    # off the event loop when it may write a blob (fsspec blocks)
                    output = await call.codec.encode_async(
                        value, what=what, workflow_id=call.run_id
                    )
                    return call.entry("ok", output=output, attempts=number)
                except Exception as exc:
                    await attempt.flush()  # the next attempt gets them, even after a crash
                    if not isinstance(exc, _OutOfTime) and await _retrying(
                        call, step, exc, number, spent, budget
                    ):
                        number, details = number + 1, attempt.details
                        continue
                    error = call.codec.encode_error(exc)
                    return call.entry("error", error=error, attempts=number)
    finally:
        context.current_attempt.reset(attempt_token)
        context.current_step.reset(step_token)


async def _retrying(
    call: Call,
    step: registry.StepDef,
    exc: Exception,
    attempt: int,
    spent: int,
    budget: _Budget | None = None,
) -> bool:
    """Whether the policy retries after `exc`; if so, journal the attempt and back off."""
    if isinstance(exc, errors.SerializationError) or not step.retry.should_retry(
        exc, attempt - spent
    ):
        return False
    delay = step.retry.delay(attempt - spent)
    if budget is not None and not budget.allows(delay):
        return False  # the retry would start after the total_timeout
    now = time.time()
    record = base.AttemptRecord(
        run_id=call.run_id,
        seq=call.seq,
        attempt=attempt,
        error=call.codec.encode_error(exc),
        failed_at=now,
        retry_at=now + delay,
    )
    await call.durably(call.journal.record_attempt(call.owner, record))
    if call.executor.hooks is not None:
        call.executor.hooks.retrying(call, attempt, exc, delay)
    logger.warning(
        "run %s: attempt %d of step seq %d failed (%s); retrying in %.2fs",
        call.run_id,
        attempt,
        call.seq,
        exc,
        delay,
        extra={"action": "retry", "workflow_id": call.run_id, "seq": call.seq},
    )
    await asyncio.sleep(delay)
    return True


async def _transaction(
    call: Call, step: registry.StepDef, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> base.EntryRecord:
    """A `@durable.transaction` step: its statements and its entry commit together (an
    error entry is journaled afterwards, as any outcome)."""
    step_token = context.current_step.set(call.seq)
    try:
        with call.in_flight():
            prior = call.prior_attempts()
            attempt, spent = (1, 0) if prior is None else await _wait_for_retry(prior)
            return await _transact_until_done(call, step, args, kwargs, attempt, spent)
    finally:
        context.current_step.reset(step_token)


async def _transact_until_done(
    call: Call,
    step: registry.StepDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
    spent: int,
) -> base.EntryRecord:
    what = f"result of transaction {step.name!r}"
    await call.durably(asyncio.sleep(0))  # pending instants first
    while True:
        try:
            async with call.journal.transaction(call.owner, call.run_id) as tx:
                with heartbeats.entered(heartbeats.Attempt(call, attempt, None)):
                    work = _bounded(step.fn(tx.conn, *args, **kwargs), step.timeout)
                    value = await _observed(call, attempt, work)
                output = call.codec.encode(value, what=what, workflow_id=call.run_id)
                entry = call.entry("ok", output=output, attempts=attempt)
                call.reserve(entry)
                tx.entry = entry
        except (base.LeaseLost, errors.JournalError) as exc:
            call.forget()
            raise call.abort(exc) from exc
        except Exception as exc:
            call.forget()
            if await _retrying(call, step, exc, attempt, spent):
                attempt += 1
                continue
            return call.entry("error", error=call.codec.encode_error(exc), attempts=attempt)
        return entry
