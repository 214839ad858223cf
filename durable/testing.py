"""Helpers for testing workflows: an engine on a temporary database, waiting until idle,
and simulated crashes.  Helpers only: every engine here uses a real journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from durable.engine import Engine

__all__ = ["crash", "run_until_idle", "temp_engine"]


@contextlib.asynccontextmanager
async def temp_engine(**options: Any) -> AsyncIterator[Engine]:
    """An open engine on a fresh SQLite file in a temporary folder, removed afterwards.

    Examples
    --------
    >>> import asyncio, durable
    >>> @durable.workflow(name="doc.testing.double")
    ... async def double(x: int) -> int:
    ...     return 2 * x
    >>> async def main():
    ...     async with temp_engine() as engine:
    ...         return await engine.run(double, 21)
    >>> asyncio.run(main())
    42
    """
    options.setdefault("poll_interval", 0)
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(f"sqlite:///{os.path.join(folder, 'journal.db')}", **options)
        await engine.open()
        try:
            yield engine
        finally:
            await engine.close()


async def run_until_idle(engine: Engine, timeout: float = 30.0) -> None:
    """Wait until this engine executes no run (every run finished or stopped here)."""
    async with asyncio.timeout(timeout):
        await engine.scheduler.until_idle()


def crash(engine: Engine) -> None:
    """Abandon `engine` as a SIGKILL would: no further write, no cleanup; its runs are
    free for the next engine opened on the same database."""
    engine.abandon()
