"""`durable worker`: a process that imports workflow modules and executes their runs.

A worker is an `Engine` with a slot limit (``--concurrency``), a queue filter
(``--queue``), and sleeping runs released instead of held.  It takes over runnable
runs every `poll_interval` (highest priority first, then oldest), until SIGTERM or
SIGINT: then it stops taking runs, lets the steps in flight finish and be journaled
for up to ``--grace`` seconds, and releases every run it holds so that other workers
take them over at once.  ``--burst`` exits once no runnable run is left (for tests
and batch jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import sys
import time
from collections.abc import Sequence

from durable import errors
from durable.engine import Engine
from durable.worker import recovery

__all__ = ["Worker", "main"]

logger = logging.getLogger(__name__)


class Worker:
    """Runs an engine as a worker until stopped (see the module docstring)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 16,
        burst: bool = False,
        grace: float = 30.0,
        poll_interval: float = 0.5,
        lease: float = 30.0,
        suspend_sleeps: float | None = 5.0,
        telemetry: bool = False,
    ) -> None:
        self.engine = Engine(
            url,
            concurrency=concurrency,
            queues=queues,
            poll_interval=poll_interval,
            lease=lease,
            suspend_sleeps=suspend_sleeps,
            telemetry=telemetry,
        )
        self.burst = burst
        self.grace = grace
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the worker to shut down gracefully (what SIGTERM does)."""
        self._stop.set()

    async def run(self) -> None:
        """Work until `stop()` (or, in burst mode, until nothing is left to run)."""
        engine = self.engine
        await engine.open()
        started = time.monotonic()
        logger.info(
            "worker %s started (concurrency %s, queues %s)",
            engine.owner,
            engine.scheduler.concurrency,
            sorted(engine.scheduler.queues) if engine.scheduler.queues else "all",
            extra={"action": "worker_start", "workflow_id": None},
        )
        runner = engine.scheduler
        try:
            while not self._stop.is_set():
                if self.burst and runner.idle and await engine.recover() == 0:
                    break
                with contextlib.suppress(TimeoutError):
                    # pushed work is claimed meanwhile (see durable.worker.dispatch)
                    wait = min(recovery.tick(runner), 0.05) if self.burst else recovery.tick(runner)
                    await asyncio.wait_for(self._stop.wait(), timeout=wait)
                if self.burst:
                    await asyncio.sleep(0)
        finally:
            await self._shutdown()
            logger.info(
                "worker %s stopped after %.1fs",
                engine.owner,
                time.monotonic() - started,
                extra={"action": "worker_stop", "workflow_id": None},
            )

    async def _shutdown(self) -> None:
        engine = self.engine
        engine.drain()
        deadline = time.monotonic() + self.grace
        while not engine.scheduler.idle and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await engine.close()  # cancels what is left and releases every lease


def _import(modules: Sequence[str]) -> None:
    sys.path.insert(0, "")
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise errors.DurableError(
                f"cannot import workflow module {name!r}: {type(exc).__name__}: {exc}"
            ) from exc


def parser() -> argparse.ArgumentParser:
    """The arguments of `durable worker`."""
    parse = argparse.ArgumentParser(prog="durable worker", description=__doc__)
    parse.add_argument("modules", nargs="+", help="modules that define the workflows")
    parse.add_argument("--db", default=None, help="database URL (or DURABLE_DATABASE_URL)")
    parse.add_argument("--queue", action="append", dest="queues", help="queue to serve")
    parse.add_argument("--concurrency", type=int, default=16, help="runs at once")
    parse.add_argument("--burst", action="store_true", help="exit when nothing is left")
    parse.add_argument("--grace", type=float, default=30.0, help="seconds to finish steps")
    parse.add_argument("--poll", type=float, default=0.5, help="seconds between looks")
    parse.add_argument("--lease", type=float, default=30.0, help=LEASE_HELP)
    parse.add_argument("--telemetry", action="store_true", help=TELEMETRY_HELP)
    return parse


LEASE_HELP = "seconds a run's lease lasts without a heartbeat (renewed every third)"
TELEMETRY_HELP = (
    "report traces and metrics to OpenTelemetry's global providers (set up by the modules "
    "or by opentelemetry-instrument; needs the otel extra)"
)


async def serve(options: argparse.Namespace) -> int:
    """Import the modules and run a worker in the running event loop until SIGTERM/SIGINT
    (what `durable worker` does); returns the exit status."""
    if logging.getLogger().level > logging.INFO or not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            force=True,
        )
    modules = getattr(options, "worker_modules", None) or options.modules
    try:
        _import(modules)
    except errors.DurableError as exc:
        print(f"durable worker: {exc}", file=sys.stderr)
        return 2
    worker = Worker(
        getattr(options, "db", None),
        queues=getattr(options, "queues", None),
        concurrency=getattr(options, "concurrency", None) or 16,
        burst=getattr(options, "burst", False),
        grace=getattr(options, "grace", 30.0),
        poll_interval=getattr(options, "poll", 0.5),
        lease=getattr(options, "lease", None) or 30.0,
        telemetry=getattr(options, "telemetry", False),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run()
    except errors.JournalError as exc:
        print(f"durable worker: {exc}", file=sys.stderr)
        return 1
    return 0


def main(args: Sequence[str] | None = None) -> int:
    """Run a worker process (``python -m durable.worker.process``); the exit status."""
    return asyncio.run(serve(parser().parse_args(args)))


if __name__ == "__main__":
    sys.exit(main())
