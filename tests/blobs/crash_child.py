"""Run `flows.crashy` until its frame's blob is written, then freeze before the journal
commit (the parent SIGKILLs this process there).

Usage: python -m tests.blobs.crash_child DB_URL STORE_URL OPTIONS_JSON MARKER RUN_ID
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import time
from typing import Any

import durable
from durable.blobs import store as store_mod
from tests.blobs import flows


def freeze_after_writing(marker: pathlib.Path) -> None:
    real = store_mod.Store.put_stream

    def put_stream(self: store_mod.Store, write: Any, ext: str) -> tuple[str, str, int]:
        written = real(self, write, ext)
        # the blob is whole in the store, nothing committed; the marker appears whole
        # (renamed into place) so the parent never reads it half-written
        partial = marker.with_suffix(".partial")
        partial.write_text(written[0])
        partial.replace(marker)
        time.sleep(600)
        return written

    store_mod.Store.put_stream = put_stream  # type: ignore[method-assign]


async def main(db_url: str, store_url: str, options: str, marker: str, run_id: str) -> None:
    freeze_after_writing(pathlib.Path(marker))
    engine = durable.Engine(
        db_url, store=store_url, store_options=json.loads(options), offload_over=65536
    )
    async with engine:
        run = await engine.start(flows.crashy, 5000, workflow_id=run_id)
        await run.result()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
