"""A write the Postgres server refuses names the run and says what to do (issue 14,
item 5): here the database is made read-only under a live engine, as an operator who
turns a primary into a read-only server would."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

import durable


@durable.workflow(name="tests.commit_errors.idle")
async def idle() -> str:
    return "never run"


async def _read_only(url: str) -> None:
    """New sessions of the database are read-only; the journal's current ones end."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT current_database()")
        row = await cur.fetchone()
        assert row is not None
        name = sql.Identifier(row[0])
        await conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(name)
        )
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


async def test_a_refused_start_names_the_run_and_what_to_do(postgres_url: str) -> None:
    async with durable.Engine(postgres_url, execute=False, poll_interval=0) as engine:
        await _read_only(postgres_url)
        with pytest.raises(durable.JournalError) as caught:
            await engine.start(idle, workflow_id="d014")
    message = str(caught.value)
    assert caught.value.workflow_id == "d014"
    assert "could not commit the start of run 'd014'" in message
    assert "read-only transaction" in message
    assert "start it again with the same workflow_id" in message
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT count(*) FROM durable.runs")
        assert await cur.fetchone() == (0,)  # nothing of it was kept
