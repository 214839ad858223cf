"""Fixtures of the HTTP tests: the API on real sockets, in-process or as a process.

`api` serves `create_app` on uvicorn inside the test's event loop (so a test can look
at the server's own state, as its watcher count); `serve` starts ``durable serve`` as a
real process; `worker` starts a ``durable worker`` process.  Every server and worker
is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

import durable
import durable.http
from durable.http import routes
from tests.http import flows  # noqa: F401  (registers the workflows and the hook)

ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclass
class Served:
    """A running API: its base URL, its engine and app (in-process only)."""

    url: str
    engine: durable.Engine | None = None
    app: Any = None

    @property
    def state(self) -> routes.Api:
        assert self.app is not None
        api: routes.Api = self.app.state.durable
        return api

    def client(self, token: str | None = None, **options: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **options)


@pytest.fixture
async def api_factory(db_url: str) -> AsyncIterator[Callable[..., Any]]:
    """``await api_factory(execute=True, **create_app options)`` -> `Served`."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None], durable.Engine]] = []

    async def factory(*, execute: bool = True, mount: str = "", **options: Any) -> Served:
        engine = durable.Engine(db_url, execute=execute, poll_interval=0.5)
        await engine.open()
        app = durable.http.create_app(engine, **options)
        served_app: Any = app
        if mount:  # inside a service of its own, under a prefix
            served_app = Starlette(routes=[Mount(mount, app=app)])
        config = uvicorn.Config(
            served_app, host="127.0.0.1", port=0, lifespan="off", log_level="error"
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        servers.append((server, task, engine))
        port = server.servers[0].sockets[0].getsockname()[1]
        return Served(f"http://127.0.0.1:{port}{mount}", engine, app)

    yield factory
    for server, task, engine in reversed(servers):
        server.should_exit = True
        await task
        await engine.close()


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> Served:
    """The API of an executing engine, open (no token)."""
    served: Served = await api_factory()
    return served


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    for name in ("DURABLE_DATABASE_URL", "DURABLE_MODULES", "DURABLE_API_TOKEN"):
        if name not in extra:
            env.pop(name, None)
    return env


class Processes:
    """The subprocesses of one test, stopped (SIGTERM, then SIGKILL) at its end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "durable.cli", *args],
            cwd=ROOT,
            env=_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(process)
        return process

    def serve(self, db_url: str, *args: str, **env: str) -> Served:
        """``durable serve --port 0`` until it says where it listens."""
        process = self.spawn("--db", db_url, "serve", "--port", "0", *args, **env)
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            found = re.search(r"serving (http://\S+)", line)
            if found:
                return Served(found.group(1))
        process.wait(timeout=30)
        raise AssertionError(f"durable serve did not start: {''.join(seen)}")

    def worker(self, db_url: str) -> subprocess.Popen[str]:
        return self.spawn("--db", db_url, "worker", "tests.http.flows", "--poll", "0.2")

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


@pytest.fixture
def processes(db_url: str) -> Iterator[Processes]:
    """Spawn ``durable`` processes (servers, workers); all stopped at the end, before
    the test's database is dropped (it depends on `db_url` for that order: a Postgres
    worker whose database is dropped under it has nothing to stop cleanly with)."""
    spawned = Processes()
    yield spawned
    spawned.stop()
