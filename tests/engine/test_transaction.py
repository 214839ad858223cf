"""`@durable.transaction`: the step's statements and its journal entry commit together."""

from __future__ import annotations

import asyncio

import pytest

import durable
from durable import testing
from tests.waiting import wait_journaled

hold = {"inside": asyncio.Event(), "seconds": 0.0}


def _sql(conn_dialect: str, sql: str) -> str:
    return sql.replace("?", "%s") if conn_dialect == "postgres" else sql


@durable.transaction(name="tests.tx.setup")
async def setup(conn) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS tx_notes (topic TEXT, body TEXT)")


@durable.transaction(name="tests.tx.note")
async def note(conn, dialect: str, topic: str, body: str) -> int:
    cur = await conn.execute(
        _sql(dialect, "INSERT INTO tx_notes (topic, body) VALUES (?, ?)"), (topic, body)
    )
    if hold["seconds"]:
        hold["inside"].set()
        await asyncio.sleep(hold["seconds"])
    return cur.rowcount


@durable.transaction(name="tests.tx.count")
async def count(conn, dialect: str, topic: str) -> int:
    cur = await conn.execute(
        _sql(dialect, "SELECT count(*) FROM tx_notes WHERE topic = ?"), (topic,)
    )
    row = await cur.fetchone()
    return int(row[0])


@durable.workflow(name="tests.tx.notes")
async def notes(dialect: str, topic: str) -> list[int]:
    await setup()
    first = await note(dialect, topic, "one")
    await durable.sleep(0.3)
    second = await note(dialect, topic, "two")
    return [first, second, await count(dialect, topic)]


async def test_transaction_effects_once_across_a_crash(make_engine, backend) -> None:
    hold["seconds"] = 0.0
    first = await make_engine()
    await first.start(notes, backend, "crash", workflow_id="tx-crash")
    await wait_journaled(first, "tx-crash", 2)
    testing.crash(first)
    second = await make_engine()
    assert await second.get("tx-crash").result(timeout=10) == [1, 1, 2]
    kinds = [h.kind for h in await second.history("tx-crash")]
    assert kinds == ["transaction", "transaction", "sleep", "transaction", "transaction"]


async def test_crash_inside_the_transaction_leaves_no_effect(make_engine, backend) -> None:
    hold["inside"] = asyncio.Event()
    hold["seconds"] = 5.0
    first = await make_engine()
    await first.start(notes, backend, "inside", workflow_id="tx-inside")
    await asyncio.wait_for(hold["inside"].wait(), 10)
    testing.crash(first)
    await asyncio.sleep(0.05)  # let the abandoned transaction roll back
    hold["seconds"] = 0.0
    second = await make_engine()
    assert await second.get("tx-inside").result(timeout=15) == [1, 1, 2]


@durable.transaction(name="tests.tx.bad_sql")
async def bad_sql(conn) -> None:
    await conn.execute("INSERT INTO no_such_table VALUES (1)")


@durable.workflow(name="tests.tx.fails")
async def fails() -> str:
    try:
        await bad_sql()
    except Exception as exc:
        return type(exc).__module__.split(".")[0]
    return "no error"


async def test_user_sql_errors_reach_the_workflow_unwrapped(engine) -> None:
    origin = await engine.run(fails)
    assert origin in ("sqlite3", "psycopg")


async def test_transaction_outside_a_workflow_is_refused() -> None:
    with pytest.raises(durable.DurableError, match="outside a workflow"):
        await setup()
