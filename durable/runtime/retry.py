"""Retry policies for steps, and the backoff arithmetic."""

from __future__ import annotations

import random as _random
from dataclasses import dataclass, field

__all__ = ["Retry"]


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a failing step is retried.

    Attempt ``n`` (counting from 1) that fails waits
    ``min(initial * backoff ** (n - 1), max_interval)`` seconds, spread by ``jitter``
    (a fraction: 0.1 means ±10 %), before attempt ``n + 1``.  The wait is durable: a
    crash during it resumes the remaining wait.  Each failed attempt's error is
    journaled.

    Parameters
    ----------
    max_attempts:
        Attempts in all, the first included; 1 means no retry, None retries forever
        (bound it with `total_timeout`, or let `non_retryable` errors end it).
    initial, backoff, max_interval:
        The first wait, its growth factor, and the cap on any wait, in seconds.
    jitter:
        Random spread of each wait, as a fraction of it.
    retry_on:
        Exception types that are retried; others fail the step at once.
    non_retryable:
        Exception types that are never retried, even if listed in `retry_on`.
    total_timeout:
        Seconds for all attempts of a step together, backoff waits included: an attempt
        still running then fails with `TimeoutError`, and no retry starts after it.
        Measured from the step's call in the process executing it (after a restart, from
        its first journaled failure).

    Examples
    --------
    >>> Retry(max_attempts=4, initial=1.0, backoff=2.0, jitter=0).delay(3)
    4.0
    """

    max_attempts: int | None = 3
    initial: float = 1.0
    backoff: float = 2.0
    max_interval: float = 60.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    non_retryable: tuple[type[BaseException], ...] = field(default=())
    total_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("Retry.max_attempts must be at least 1, or None (no limit)")
        if self.total_timeout is not None and self.total_timeout <= 0:
            raise ValueError("Retry.total_timeout must be > 0 seconds, or None (no limit)")
        if self.initial < 0 or self.max_interval < 0 or self.backoff < 1 or self.jitter < 0:
            raise ValueError("Retry waits must be >= 0, backoff >= 1 and jitter >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (from 1)."""
        base = min(self.initial * self.backoff ** (attempt - 1), self.max_interval)
        if self.jitter:
            base *= 1 + _random.uniform(-self.jitter, self.jitter)
        return max(0.0, base)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether failed attempt `attempt` (from 1) with `error` gets another try."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return False
        if isinstance(error, self.non_retryable):
            return False
        return isinstance(error, self.retry_on)


NO_RETRY = Retry(max_attempts=1)
