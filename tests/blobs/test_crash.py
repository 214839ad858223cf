"""SIGKILL between a blob's write and its journal commit: no dangling reference, the resumed
run ends as a crash-free one would, and the orphan blob is what a sweep removes."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

from durable import codec
from durable.blobs import refs, sweep
from durable.blobs.store import open_store
from tests.blobs import flows  # noqa: F401  (registers the workflow the child started)
from tests.blobs.conftest import StoreSpec
from tests.conftest import EngineFactory
from tests.waiting import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


async def test_kill_between_blob_write_and_commit(
    make_engine: EngineFactory, db_url: str, shared_store: StoreSpec, tmp_path: pathlib.Path
) -> None:
    marker = tmp_path / "written"
    argv = [
        sys.executable,
        "-m",
        "tests.blobs.crash_child",
        db_url,
        shared_store.url,
        json.dumps(shared_store.options),
        str(marker),
        "crash-1",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(argv, cwd=ROOT, env=env)
    try:
        await wait_until(marker.exists, what="the child to write the blob", timeout=60)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    orphan = marker.read_text()
    blobs = open_store(shared_store.url, shared_store.options)
    assert blobs.exists(orphan)

    engine = await make_engine(**shared_store.engine_options())  # resumes crash-1
    assert await engine.get("crash-1").result(timeout=60) == 5000 + 2
    load = await engine.journal.load("crash-1")
    assert load is not None
    ref = refs.ref_of(codec.unframe(bytes(load.entries[0].output or b"")))
    referenced = blobs.key_of(ref.uri)
    assert referenced is not None and referenced != orphan  # the step ran again: new frame
    assert sorted(key for key, _ in blobs.listing()) == sorted([orphan, referenced])

    assert await sweep.sweep(engine.journal, blobs, older_than=-1) == 1
    assert [key for key, _ in blobs.listing()] == [referenced]
    assert len((await engine.history("crash-1"))[0].output) == 5000
