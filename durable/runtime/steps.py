"""Running a step live: its attempts, retries with durable backoff, timeouts, and the
transaction of a `@durable.transaction` step.  The outcome becomes a journal entry
(`Executor._journal` hands it back in its turn)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.journal import base
from durable.runtime import registry

if TYPE_CHECKING:
    from durable.runtime.executor import Executor

__all__ = ["run_attempts", "run_transaction"]

logger = logging.getLogger(__name__)


async def _invoke(
    executor: Executor, step: registry.StepDef, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if step.is_async:
        return await _bounded(step.fn(*args, **kwargs), step.timeout)
    return await _bounded(asyncio.to_thread(step.fn, *args, **kwargs), step.timeout)


async def _bounded(call: Any, timeout: float | None) -> Any:
    """Await one attempt, within the step's timeout when it has one."""
    if timeout is None:
        return await call
    async with asyncio.timeout(timeout):
        return await call


async def _wait_for_retry(executor: Executor, seq: int) -> tuple[int, int]:
    """Resume a backoff cut short by a crash.

    Returns the next attempt number and how many attempts precede the retry
    budget: a final failure archived by `Engine.resume` (its ``retry_at`` equals
    its ``failed_at``) starts a fresh budget, so a resumed step is retried anew.
    """
    prior = executor.attempts.pop(seq, [])
    if not prior:
        return 1, 0
    budget_start = max((a.attempt for a in prior if a.retry_at == a.failed_at), default=0)
    delay = prior[-1].retry_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    return prior[-1].attempt + 1, budget_start


async def run_attempts(
    executor: Executor,
    seq: int,
    step: registry.StepDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    fingerprint: str,
) -> base.EntryRecord:
    """Run a step's attempts until one succeeds or the retry policy gives up."""
    codec = executor.host.codec
    started = time.time()
    attempt, spent = await _wait_for_retry(executor, seq)
    while True:
        try:
            value = await _invoke(executor, step, args, kwargs)
            output = codec.encode(
                value, what=f"result of step {step.name!r} (seq {seq})", workflow_id=executor.run.id
            )
            return executor._entry(
                seq,
                "step",
                step.name,
                fingerprint,
                started,
                status="ok",
                output=output,
                attempts=attempt,
            )
        except errors.SerializationError as exc:
            error: Exception = exc
        except Exception as exc:
            error = exc
            if step.retry.should_retry(exc, attempt - spent):
                await _record_attempt(
                    executor, seq, attempt, exc, step.retry.delay(attempt - spent)
                )
                attempt += 1
                continue
        return executor._entry(
            seq,
            "step",
            step.name,
            fingerprint,
            started,
            status="error",
            error=codec.encode_error(error),
            attempts=attempt,
        )


async def _record_attempt(
    executor: Executor, seq: int, attempt: int, exc: Exception, delay: float
) -> None:
    now = time.time()
    record = base.AttemptRecord(
        run_id=executor.run.id,
        seq=seq,
        attempt=attempt,
        error=executor.host.codec.encode_error(exc),
        failed_at=now,
        retry_at=now + delay,
    )
    try:
        await executor.host.journal.record_attempt(executor.host.owner, record)
    except (base.LeaseLost, errors.JournalError) as journal_error:
        raise executor._abort(journal_error) from journal_error
    logger.warning(
        "run %s: attempt %d of step seq %d failed (%s); retrying in %.2fs",
        executor.run.id,
        attempt,
        seq,
        exc,
        delay,
        extra={"action": "retry", "workflow_id": executor.run.id, "seq": seq},
    )
    await asyncio.sleep(delay)


async def run_transaction(
    executor: Executor,
    seq: int,
    step: registry.StepDef,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    fingerprint: str,
) -> tuple[base.EntryRecord, bool]:
    """A `@durable.transaction` step: its statements and its entry commit together.

    Returns the entry and whether it is already committed (an error entry is not).
    """
    codec, journal = executor.host.codec, executor.host.journal
    started = time.time()
    attempt, spent = await _wait_for_retry(executor, seq)
    if executor.instants:
        await executor._durably(asyncio.sleep(0))
    while True:
        entry: base.EntryRecord | None = None
        try:
            async with journal.transaction(executor.host.owner, executor.run.id) as tx:
                value = await _bounded(step.fn(tx.conn, *args, **kwargs), step.timeout)
                output = codec.encode(
                    value, what=f"result of transaction {step.name!r}", workflow_id=executor.run.id
                )
                entry = executor._entry(
                    seq,
                    "transaction",
                    step.name,
                    fingerprint,
                    started,
                    status="ok",
                    output=output,
                    attempts=attempt,
                )
                entry.ord = executor.sequencer.reserve([entry.seq])
                tx.entry = entry
        except (base.LeaseLost, errors.JournalError) as exc:
            if entry is not None:
                executor.sequencer.abandon([entry.seq])
            raise executor._abort(exc) from exc
        except Exception as exc:
            if entry is not None:
                executor.sequencer.abandon([entry.seq])
            if not isinstance(exc, errors.SerializationError) and step.retry.should_retry(
                exc, attempt - spent
            ):
                await _record_attempt(
                    executor, seq, attempt, exc, step.retry.delay(attempt - spent)
                )
                attempt += 1
                continue
            failed = executor._entry(
                seq,
                "transaction",
                step.name,
                fingerprint,
                started,
                status="error",
                error=codec.encode_error(exc),
                attempts=attempt,
            )
            return failed, False
        return entry, True
