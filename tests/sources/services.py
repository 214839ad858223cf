"""The brokers and stores the source tests use: real Redis, real NATS JetStream, a
real S3-compatible server (moto's server mode), each in a subprocess where this
machine's service is missing.

Redis and NATS are the machine's (127.0.0.1:6379 and :4222) when they answer (NATS
only if JetStream is enabled), else a server started here from the binary on PATH on a
free port.  Without either, a test is skipped, or fails when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.postgres import in_ci

REDIS_URL = os.environ.get("DURABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
NATS_URL = os.environ.get("DURABLE_TEST_NATS_URL", "nats://127.0.0.1:4222")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing(what: str) -> None:
    """Skip the test, or fail it under CI, for want of `what`."""
    if in_ci():
        pytest.fail(f"{what} is not available (CI=true: a missing service fails)")
    pytest.skip(f"{what} is not available")


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start ({process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 20 s")


@contextlib.contextmanager
def _server(argv: list[str], port: int, what: str) -> Iterator[None]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, process, what)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(check: Any, url: str) -> bool:
    """Run the async `check` on a loop of its own, in a thread (a session fixture may be
    set up from inside a test's running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return bool(pool.submit(asyncio.run, check(url)).result())


async def _redis_answers(url: str) -> bool:
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def _jetstream_answers(url: str) -> bool:
    import nats

    try:
        nc = await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        await nc.jetstream().account_info()
        return True
    except Exception:
        return False
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server's URL."""
    if _answers(_redis_answers, REDIS_URL):
        yield REDIS_URL
        return
    binary = shutil.which("redis-server")
    if binary is None:
        missing("Redis (127.0.0.1:6379, or redis-server on PATH)")
    port = free_port()
    argv = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    with _server(argv, port, "redis-server"):
        yield f"redis://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream enabled."""
    if _answers(_jetstream_answers, NATS_URL):
        yield NATS_URL
        return
    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None
    )
    if binary is None:
        missing("NATS with JetStream (127.0.0.1:4222 with -js, or nats-server on PATH)")
    port = free_port()
    with tempfile.TemporaryDirectory() as store:
        argv = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store]
        with _server(argv, port, "nats-server -js"):
            yield f"nats://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server: moto's server mode, in a subprocess."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto[server] (pip install -e '.[dev]')")
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _server(argv, port, "moto server"):
        yield f"http://127.0.0.1:{port}"
