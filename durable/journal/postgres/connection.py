"""Connections of the Postgres journal: its URL, the settings every session gets, and the
pool that serves reads and `@durable.transaction` steps, retrying across outages."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from durable import errors
from durable.journal import backoff
from durable.journal.postgres import holdings

__all__ = [
    "OUTAGE_LIMIT",
    "RETRYABLE",
    "Budget",
    "Pool",
    "configure",
    "connect_hint",
    "outage",
    "redact",
    "split_url",
]

OUTAGE_LIMIT = 60.0
RETRYABLE = (
    psycopg.OperationalError,  # connection lost, server shutting down or starting up
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def outage(budget: Budget | None = None) -> backoff.Backoff:
    """The waits between retries across a lost connection or a restarting server: at
    most half a second, so the journal is usable again within that of the server's
    return; for `OUTAGE_LIMIT` seconds, or until `budget`'s close deadline."""
    cutoff = (lambda: budget.close_by) if budget is not None else None
    return backoff.Backoff(0.02, 0.5, limit=OUTAGE_LIMIT, cutoff=cutoff)


class Budget:
    """How long one journal's operations retry across an outage: `OUTAGE_LIMIT` each,
    and, once the journal is closing, no later than `close_by` (so that a process told
    to stop stops soon when its database is gone; what did not commit is as after a
    crash, which the journal is made for)."""

    __slots__ = ("close_by",)

    def __init__(self) -> None:
        self.close_by: float | None = None  # monotonic seconds

    def closing(self, grace: float) -> None:
        """Retrying ends `grace` seconds from now."""
        self.close_by = time.monotonic() + grace

    @property
    def closed(self) -> bool:
        """Whether retrying was ended by the close deadline."""
        return self.close_by is not None and time.monotonic() > self.close_by

    def wait_at_most(self) -> float | None:
        """How long to wait for a pooled connection: the pool's own timeout (None) until
        the journal is closing, then no later than the close deadline."""
        if self.close_by is None:
            return None
        return max(0.05, self.close_by - time.monotonic())


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def split_url(url: str, schema: str | None) -> tuple[str, str]:
    """Strip durable's own ``?schema=`` parameter; returns (libpq URL, schema)."""
    parts = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k != "schema"]
    from_url = [v for k, v in params if k == "schema"]
    chosen = schema or (from_url[-1] if from_url else "durable")
    if not _IDENTIFIER.match(chosen):
        raise errors.JournalError(
            f"invalid Postgres schema name {chosen!r}: use letters, digits and underscores, "
            "starting with a letter or underscore (at most 63 characters)"
        )
    query = urllib.parse.urlencode(kept, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=query)), chosen


def connect_hint(exc: psycopg.Error) -> str:
    """What to do about a failed connection, in words."""
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return "check the user and password in the URL (or PGPASSWORD / ~/.pgpass)"
    if re.search(r'database ".*" does not exist', text):
        return "create the database (createdb NAME) or fix its name in the URL"
    if re.search(r'role ".*" does not exist', text):
        return "create that role or fix the user name in the URL"
    if isinstance(exc, psycopg.ProgrammingError) or re.search(
        r"invalid .*(value|option)|invalid (URI|connection)|unexpected", text
    ):
        return "fix the URL: postgresql://user:password@host:port/dbname[?schema=NAME]"
    return "check that the server is running and that host and port in the URL are right"


async def configure(conn: psycopg.AsyncConnection[Any], durability: str) -> holdings.Server:
    """Settings of every session of the journal; returns who answers on `conn`."""
    # an acknowledged commit must survive a crash of the server: with
    # synchronous_commit=off it may not, and the journal would lose entries whose
    # results the workflow already used
    weak = ("off",) if durability == "process" else ("off", "local")
    try:
        cur = await conn.execute(
            "SELECT current_setting('synchronous_commit'),"
            " extract(epoch FROM pg_postmaster_start_time()),"
            " (SELECT system_identifier FROM pg_control_system())::text"
        )
    except (pg_errors.UndefinedFunction, pg_errors.InsufficientPrivilege):
        # a server that does not say who it is: a failover is then known only by the
        # writer's reconnection (`holdings`)
        cur = await conn.execute("SELECT current_setting('synchronous_commit'), NULL, NULL")
    row = await cur.fetchone()
    assert row is not None
    if row[0] in weak:
        await conn.execute("SET synchronous_commit TO on")
    return holdings.Server(system_id=row[2], started=None if row[1] is None else float(row[1]))


Configure = Callable[["psycopg.AsyncConnection[Any]"], Awaitable[None]]


class Pool:
    """Pooled connections (autocommit) for reads and transaction steps; reads retry
    connection failures for up to `OUTAGE_LIMIT` seconds.  `where` names the journal in
    errors; `queries` are the journal's, by name."""

    def __init__(
        self,
        conninfo: str,
        where: str,
        queries: dict[str, str],
        *,
        size: int,
        name: str,
        budget: Budget | None = None,
    ) -> None:
        self.budget = budget or Budget()
        self._conninfo = conninfo
        self._where = where
        self._q = queries
        self._size = size
        self._name = name
        self._pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._configure: Configure | None = None
        self._retired: set[asyncio.Task[None]] = set()

    async def open(self, configure: Configure) -> None:
        """Start filling the pool (without waiting for its connections)."""
        self._configure = configure
        self._pool = self._new_pool(configure)
        await self._pool.open(wait=False)

    def _new_pool(self, configure: Configure) -> psycopg_pool.AsyncConnectionPool[Any]:
        return psycopg_pool.AsyncConnectionPool(
            self._conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max(1, self._size),
            open=False,
            timeout=10.0,
            configure=configure,
            name=self._name,
        )

    async def _renew(self, failed: psycopg_pool.AsyncConnectionPool[Any]) -> None:
        """After a failure: if the server takes a new connection, replace the pool.  The
        pool's own reconnection backs off up to minutes after a long outage; a fresh pool
        is usable at once."""
        if self._pool is not failed or self._configure is None:
            return  # closed, or another caller renewed it already
        try:
            probe = await psycopg.AsyncConnection.connect(self._conninfo, connect_timeout=2)
        except psycopg.Error:
            return  # still down: the caller waits and tries again
        await probe.close()
        if self._pool is not failed:
            return
        old, self._pool = self._pool, self._new_pool(self._configure)
        await self._pool.open(wait=False)
        task = asyncio.create_task(old.close())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def abandon(self) -> psycopg_pool.AsyncConnectionPool[Any] | None:
        """Forget the pool without closing it; returns it, to be closed later."""
        pool, self._pool = self._pool, None
        return pool

    def require(self, workflow_id: str | None) -> psycopg_pool.AsyncConnectionPool[Any]:
        """The open pool; raises `JournalError` when the journal is not open."""
        if self._pool is None:
            raise errors.JournalError(
                f"{self._where} is not open (or was closed)", workflow_id=workflow_id
            )
        return self._pool

    def error(
        self, action: str, exc: psycopg.Error, workflow_id: str | None
    ) -> errors.JournalError:
        """The `JournalError` for a driver error while trying to `action`."""
        run = "" if workflow_id is None else f" (run {workflow_id!r})"
        return errors.JournalError(
            f"{self._where} failed to {action}{run}: {str(exc).strip()}; "
            "check that the server is reachable and the database's logs",
            workflow_id=workflow_id,
        )

    async def run(
        self,
        action: str,
        fn: Callable[[psycopg.AsyncConnection[Any]], Awaitable[Any]],
        workflow_id: str | None = None,
    ) -> Any:
        """``await fn(conn)`` on a pooled connection, retrying connection failures (for
        reads, and writes that are safe to repeat)."""
        wait = outage(self.budget)
        while True:
            pool = self.require(workflow_id)
            try:
                async with pool.connection(timeout=self.budget.wait_at_most()) as conn:
                    return await fn(conn)
            except RETRYABLE as exc:
                if wait.expired:
                    raise self.error(action, exc, workflow_id) from exc
                await wait.wait()
                await self._renew(pool)
            except psycopg.Error as exc:
                raise self.error(action, exc, workflow_id) from exc

    async def read(
        self, action: str, name: str, params: dict[str, Any], workflow_id: str | None = None
    ) -> list[Any]:
        """The rows of query `name`."""

        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            cur = await conn.execute(self._q[name], params)
            return await cur.fetchall()

        result: list[Any] = await self.run(action, fn, workflow_id)
        return result

    async def begin(
        self, run_id: str
    ) -> tuple[psycopg_pool.AsyncConnectionPool[Any], psycopg.AsyncConnection[Any]]:
        """A pooled connection inside ``BEGIN`` and its pool, retrying connection failures."""
        wait = outage(self.budget)
        while True:
            pool = self.require(run_id)
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await pool.getconn(timeout=self.budget.wait_at_most())
                await conn.execute("BEGIN")
                return pool, conn
            except psycopg.Error as exc:
                if conn is not None:
                    await pool.putconn(conn)
                if not isinstance(exc, RETRYABLE) or wait.expired:
                    raise self.error("begin a transaction step", exc, run_id) from exc
                await wait.wait()
                await self._renew(pool)
