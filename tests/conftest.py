"""Fixtures shared by every test: the backend parameter and engine factories.

Every engine test runs once per backend (`backend` fixture: ``sqlite`` and
``postgres``).  The Postgres side comes from `tests.postgres` (a throwaway cluster
started from the machine's binaries, or ``DURABLE_TEST_POSTGRES_URL``); with
``CI=true`` a missing Postgres fails the run instead of skipping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import hypothesis  # noqa: F401  imported early: CPython 3.11.7 can fail to parse it lazily
import pytest

import durable
from tests.postgres import (  # noqa: F401  (fixtures)
    postgres_admin_url,
    postgres_cluster,
    postgres_server,
    postgres_url,
)

BACKENDS = ["sqlite", "postgres"]

# run only as a subprocess with a module the test process must not import (doctest
# collection would import it)
collect_ignore = ["e2e/parcels_writer.py"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The journal backend of this test run."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, empty journal database of the current backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/journal.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A fresh SQLite journal file, for tests that are about SQLite itself."""
    return f"sqlite:///{tmp_path}/journal.db"


EngineFactory = Callable[..., Any]


@pytest.fixture
async def make_engine(db_url: str) -> AsyncIterator[EngineFactory]:
    """Open engines on the test's database; every one is closed at the end."""
    opened: list[durable.Engine] = []

    async def factory(url: str | None = None, **options: Any) -> durable.Engine:
        options.setdefault("poll_interval", 0)
        engine = durable.Engine(url or db_url, **options)
        await engine.open()
        opened.append(engine)
        return engine

    yield factory
    for engine in reversed(opened):
        if engine.is_open:
            await engine.close()


@pytest.fixture
async def engine(make_engine: EngineFactory) -> durable.Engine:
    """One open engine on the test's database."""
    result: durable.Engine = await make_engine()
    return result
