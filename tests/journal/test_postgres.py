"""What only the Postgres journal has: bad connection input, its own schema, the
server going away mid-run, and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.parse
from typing import Any

import psycopg
import pytest

import durable
from durable import errors
from durable.journal import base, open_journal
from durable.journal.postgres import PostgresJournal
from tests.postgres import PASSWORD_ROLE, Cluster
from tests.waiting import wait_journaled

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def backend() -> str:
    """Every test here is about Postgres (overrides the sqlite/postgres parameter)."""
    return "postgres"


def _replace(url: str, **parts: Any) -> str:
    split = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(split._replace(**parts))


async def _open_fails(url: str, *needles: str) -> errors.JournalError:
    journal = open_journal(url)
    with pytest.raises(errors.JournalError) as failure:
        await journal.open()
    for needle in needles:
        assert needle in str(failure.value), str(failure.value)
    return failure.value


# -- bad input ----------------------------------------------------------------------------


async def test_wrong_password(postgres_server: Cluster | None, postgres_url: str) -> None:
    if postgres_server is None:
        pytest.skip("needs the throwaway cluster's password rule")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")
        conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD 'right'")
    host = urllib.parse.urlsplit(postgres_url).netloc.split("@")[1]
    wrong = _replace(postgres_url, netloc=f"{PASSWORD_ROLE}:wrong@{host}")
    error = await _open_fails(wrong, "password", "PGPASSWORD")
    assert "wrong" not in str(error), "the password leaked into the message"
    right = open_journal(_replace(postgres_url, netloc=f"{PASSWORD_ROLE}:right@{host}"))
    await right.open()
    await right.close()


async def test_missing_database(postgres_url: str) -> None:
    await _open_fails(_replace(postgres_url, path="/no_such_db"), "no_such_db", "createdb")


async def test_unreachable_server(postgres_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{port}/x?connect_timeout=2"
    await _open_fails(url, "server is running")


async def test_malformed_url() -> None:
    await _open_fails("postgresql://postgres@127.0.0.1:notaport/x", "fix the URL")
    with pytest.raises(errors.JournalError, match="invalid Postgres schema name"):
        open_journal("postgresql://h/db?schema=bad-name")


async def test_newer_schema_version(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO durable.schema_version (version) VALUES (%s)", (999,))
    await _open_fails(postgres_url, "schema version 999", "upgrade durable")


async def test_foreign_schema_of_the_same_name(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA theirs")
        conn.execute("CREATE TABLE theirs.runs (id int)")
        conn.execute("CREATE SCHEMA empty")
    await _open_fails(f"{postgres_url}?schema=theirs", "not created by durable", "?schema=")
    # an empty schema made beforehand (say, by an administrator) is used
    journal = open_journal(f"{postgres_url}?schema=empty")
    await journal.open()
    await journal.close()


# -- schemas and migration -----------------------------------------------------------------


def _run(run_id: str, owner: str = "o") -> base.NewRun:
    return base.NewRun(
        id=run_id,
        name="wf",
        input=b"",
        root_id=run_id,
        metadata=b"",
        owner=owner,
        created_at=time.time(),
        status=base.Status.RUNNING,
    )


async def test_schemas_keep_journals_apart(postgres_url: str) -> None:
    first = PostgresJournal(postgres_url, schema="app_one")
    second = open_journal(f"{postgres_url}?schema=app_two&application_name=durable-test")
    await first.open()
    await second.open()
    try:
        await first.create_run(_run("only-in-one"))
        assert await second.get_run("only-in-one") is None
        assert (await first.get_run("only-in-one")) is not None
    finally:
        await first.close()
        await second.close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'app_%' ORDER BY 1"
        ).fetchall()
    assert rows == [("app_one",), ("app_two",)]


async def test_concurrent_opens_create_the_schema_once(
    postgres_admin_url: str, postgres_url: str
) -> None:
    url = f"{postgres_url}?schema=raced"
    journals = [open_journal(url) for _ in range(6)]
    await asyncio.gather(*(journal.open() for journal in journals))
    await asyncio.gather(*(journal.close() for journal in journals))
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM raced.schema_version").fetchall() == [
            (base.SCHEMA_VERSION,)
        ]


# -- faults ----------------------------------------------------------------------------------

executions: dict[int, int] = {}


@durable.step(name="tests.pg.double")
async def double(i: int) -> int:
    executions[i] = executions.get(i, 0) + 1
    await asyncio.sleep(0.01)
    return 2 * i


@durable.workflow(name="tests.pg.many")
async def many(n: int) -> int:
    total = 0
    for i in range(n):
        total += await double(i)
    return total


async def _check_journal(engine: durable.Engine, run_id: str, n: int) -> None:
    history = await engine.history(run_id)
    assert [h.seq for h in history] == list(range(n)), "an entry was lost or doubled"
    assert all(executions.get(i, 0) >= 1 for i in range(n))


async def test_server_restart_mid_run(postgres_server: Cluster | None, make_engine: Any) -> None:
    if postgres_server is None:
        pytest.skip("the server is not ours to restart")
    executions.clear()
    engine = await make_engine()
    run = await engine.start(many, 60, workflow_id="restarted")
    await wait_journaled(engine, "restarted", 15, timeout=20)
    await postgres_server.restart_async("fast")
    assert await run.result(timeout=60) == sum(2 * i for i in range(60))
    await _check_journal(engine, "restarted", 60)


async def test_server_crash_mid_run(postgres_server: Cluster | None, make_engine: Any) -> None:
    if postgres_server is None:
        pytest.skip("the server is not ours to restart")
    executions.clear()
    engine = await make_engine()
    runs = [await engine.start(many, 30, workflow_id=f"crashed-{k}") for k in range(5)]
    await wait_journaled(engine, "crashed-0", 8, timeout=20)
    await postgres_server.restart_async("immediate")  # no shutdown checkpoint: WAL replay
    for run in runs:
        assert await run.result(timeout=60) == sum(2 * i for i in range(30))
        await _check_journal(engine, run.id, 30)


async def test_dropped_connections_mid_run(postgres_url: str, make_engine: Any) -> None:
    executions.clear()
    engine = await make_engine()
    run = await engine.start(many, 40, workflow_id="dropped")
    dbname = urllib.parse.urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for _ in range(3):
            await asyncio.sleep(0.1)
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
    assert await run.result(timeout=60) == sum(2 * i for i in range(40))
    await _check_journal(engine, "dropped", 40)


# -- wake-ups -----------------------------------------------------------------------------------


async def test_wait_changed_wakes_on_update(postgres_url: str) -> None:
    watcher, writer = PostgresJournal(postgres_url), PostgresJournal(postgres_url)
    await watcher.open()
    await writer.open()
    try:
        await writer.create_run(_run("watched"))
        # the first wait starts listening, and wakes as changes before that are unknown
        await watcher.wait_changed("watched", timeout=0.2)
        assert not await watcher.wait_changed("watched", timeout=0.2)
        waiting = asyncio.ensure_future(watcher.wait_changed("watched", timeout=10))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        update = base.RunUpdate(run_id="watched", status=base.Status.SLEEPING, at=1.0)
        await writer.update_run("o", update)
        assert await waiting
        assert time.monotonic() - started < 2
        waiting = asyncio.ensure_future(watcher.wait_changed("watched", timeout=10))
        await asyncio.sleep(0.1)
        assert await writer.send_message("watched", "topic", b"hello", key=None)
        assert await waiting
    finally:
        await watcher.close()
        await writer.close()


async def test_commits_wait_for_the_wal_even_where_the_server_does_not(postgres_url: str) -> None:
    """A server with synchronous_commit=off would lose acknowledged entries in a crash."""
    journal = open_journal(f"{postgres_url}?options=-c%20synchronous_commit%3Doff")
    await journal.open()
    try:
        await journal.create_run(_run("r"))
        async with journal.transaction("o", "r") as tx:
            cur = await tx.conn.execute("SHOW synchronous_commit")
            assert (await cur.fetchone())[0] == "on"
    finally:
        await journal.close()
