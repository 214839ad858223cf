"""The writer of the stream crash test (``python -m tests.streams.writer DB_URL MODE``,
``DURABLE_TEST_STREAM_DIR`` naming the folder shared with the test).

Run ``talk``: its workflow code writes ``begin``, its step waits for the test's ``go``
file (the reader is live by then), writes three chunks and, in mode ``crash``, SIGKILLs
its process the first time; then the workflow code writes ``end``.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys

import durable

WORKDIR = pathlib.Path(os.environ.get("DURABLE_TEST_STREAM_DIR", "."))
RUN_ID = "talk-1"


@durable.step(name="streams.speak")
async def speak() -> int:
    for _ in range(600):
        if (WORKDIR / "go").exists():
            break
        await asyncio.sleep(0.05)
    for n in range(3):
        await durable.write_stream("answer", f"word{n}")
    marker = WORKDIR / "crashed"
    if os.environ.get("DURABLE_TEST_STREAM_MODE") == "crash" and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return 3


@durable.workflow(name="streams.talk")
async def talk() -> int:
    await durable.write_stream("answer", "begin")
    words = await speak()
    await durable.write_stream("answer", "end")
    return words


async def _main(db_url: str, mode: str) -> None:
    async with durable.Engine(db_url, poll_interval=0.2) as engine:
        if mode == "crash":
            await engine.start(talk, workflow_id=RUN_ID)
        print(await engine.get(RUN_ID).result(timeout=60), flush=True)


if __name__ == "__main__":
    os.environ["DURABLE_TEST_STREAM_MODE"] = sys.argv[2]
    asyncio.run(_main(sys.argv[1], sys.argv[2]))
