"""Runs the interpreter on one program in this process, for the real-SIGKILL sample.

``python -m property_tests.driver URL RUN_ID PROGRAM_JSON CRASH_AT`` opens an engine on
URL (resuming RUN_ID if it exists), starts the program under RUN_ID (a no-op when it
exists), SIGKILLs itself at body point CRASH_AT (0: never), and prints the outcome as
one JSON line.  Bodies log to ``$PROP_LOG_FILE``, tagged with ``$PROP_INCARNATION``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import durable
from property_tests import effects, harness, programs


def _load_log(path: str | None) -> None:
    """What earlier processes logged: injected failures are counted across processes."""
    for run_id, event in effects.read_log(path):
        effects.LOG.setdefault(run_id, []).append(event)


async def main(url: str, run_id: str, text: str, crash_at: int) -> None:
    _load_log(effects.CRASHER.log_file)
    effects.CRASHER.arm(crash_at, lambda: os.kill(os.getpid(), signal.SIGKILL))
    async with durable.Engine(url, poll_interval=0) as engine:
        dialect = "postgres" if url.startswith(("postgres:", "postgresql:")) else "sqlite"
        await engine.start(programs.interpret, text, dialect, workflow_id=run_id)
        outcome, _ = await harness._outcome(engine, run_id)
    print(json.dumps(list(outcome)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
