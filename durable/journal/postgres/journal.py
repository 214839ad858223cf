"""The Postgres journal: psycopg 3 (async), tables in their own schema (default ``durable``).

Writes go through one connection that commits them in groups, in one round trip per
group (`durable.journal.postgres_writer`); owner checks lock the run row (``FOR
SHARE``) in the same statement as the write, so a concurrent claim waits for the write
to commit and then sees it.  Reads and `@durable.transaction` steps use a pool.

Faults.  Writes are retried across dropped connections and server restarts, and are
idempotent (see `postgres_writer`).  Reads retry the same way.  A transaction step
whose ``COMMIT`` lost its connection is looked up afterwards: its entry is in the
journal exactly when its statements committed.

Schema.  Created or migrated at `open` under an advisory lock, inside one transaction,
so processes opening the journal together do it once.  ``?schema=NAME`` in the URL (or
``schema=``) picks the schema; the name is checked as an identifier and quoted.

Wake-ups.  `update_run`, `reopen`, `send_message` and `set_event` ``NOTIFY`` the run id
on the channel ``"<schema>.changed"``; `wait_changed` listens to it
(`durable.journal.postgres_listener`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import msgspec
import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from durable import errors
from durable.journal import base, postgres_listener, postgres_owners, postgres_writer, queries

__all__ = ["PostgresJournal"]

logger = logging.getLogger(__name__)

_RUN_COLUMNS = (
    "id name status input output error parent_id parent_seq root_id queue metadata attempt "
    "owner lease_expires_at wake_at priority created_at updated_at started_at finished_at "
    "cancel_requested"
).split()
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RETRYABLE = postgres_writer.RETRYABLE
_OUTAGE_LIMIT = postgres_writer.OUTAGE_LIMIT


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _split_url(url: str, schema: str | None) -> tuple[str, str]:
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


def _connect_hint(exc: psycopg.Error) -> str:
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


def _run_from_row(row: Sequence[Any]) -> base.RunRecord:
    values = dict(zip(_RUN_COLUMNS, row, strict=False))
    values["status"] = base.Status(values["status"])
    return base.RunRecord(**values)


def _entry_params(entry: base.EntryRecord) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "seq": entry.seq,
        "ord": entry.ord,
        "kind": entry.kind,
        "name": entry.name,
        "status": entry.status,
        "fingerprint": entry.fingerprint,
        "output": entry.output,
        "error": entry.error,
        "attempts": entry.attempts,
        "started_at": entry.started_at,
        "finished_at": entry.finished_at,
        "child_id": entry.child_id,
    }


_json = msgspec.json.Encoder()
_ENTRY_FIELDS = (
    "run_id seq ord kind name status fingerprint output error attempts started_at finished_at "
    "child_id"
).split()


class PostgresJournal(base.Features):
    """A journal in a Postgres database (see the module docstring for the write path).

    Parameters
    ----------
    url:
        ``postgresql://user:password@host:port/dbname``; ``?schema=NAME`` picks the
        schema holding durable's tables (default ``durable``).
    durability:
        ``"process"``: a commit survives the client process and the server crashing
        (``synchronous_commit`` is raised to ``on`` where the server has it ``off``);
        ``"full"``: also raised from ``local``, so it reaches the disk before it counts.
    schema:
        The schema name (overrides ``?schema=``).
    pool_size:
        Most connections held for reads and `@durable.transaction` steps.
    """

    dialect = "postgres"

    @property
    def announces_work(self) -> bool:
        return True  # NOTIFY on the work channel

    @property
    def notifies_changes(self) -> bool:
        return True  # NOTIFY on the changed channel

    def __init__(
        self,
        url: str,
        *,
        durability: str = "process",
        schema: str | None = None,
        pool_size: int = 10,
    ) -> None:
        if durability not in ("process", "full"):
            raise ValueError("durability must be 'process' or 'full'")
        self.url = url
        self.conninfo, self.schema = _split_url(url, schema)
        self.durability = durability
        self.channel = f"{self.schema}.changed"
        self.work_channel = f"{self.schema}.work"
        quoted = pg_sql.Identifier(self.schema).as_string()
        self._q = {
            name: text.replace("{schema}", quoted)
            for name, text in queries.load_queries("postgres").items()
        }
        self._quoted = quoted
        self._pool_size = pool_size
        self._pool: psycopg_pool.AsyncConnectionPool[Any] | None = None
        self._writer = postgres_writer.GroupWriter(
            self._q, self._connect, f"Postgres journal {_redact(url)!r}"
        )
        self._changes = postgres_listener.ChangeListener(
            self.conninfo, self.channel, self.work_channel
        )
        self._closing: asyncio.Future[None] | None = None
        self._owners = postgres_owners.OwnerLocks(self._connect)

    # -- connection ---------------------------------------------------------------

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        await self._configure(conn)
        return conn

    async def open(self) -> None:
        """Connect, then create or migrate the schema (under an advisory lock)."""
        try:
            conn = await self._connect()
        except psycopg.Error as exc:
            raise errors.JournalError(
                f"cannot connect to the Postgres journal {_redact(self.url)!r}: "
                f"{str(exc).strip()}; {_connect_hint(exc)}"
            ) from exc
        try:
            await self._migrate(conn)
        except BaseException:
            await conn.close()
            raise
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max(1, self._pool_size),
            open=False,
            timeout=10.0,
            configure=self._configure,
            name=f"durable-{self.schema}",
        )
        await self._pool.open(wait=False)
        self._writer.start(conn)
        self._changes.listen_if_watched()

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # an acknowledged commit must survive a crash of the server: with
        # synchronous_commit=off it may not, and the journal would lose entries whose
        # results the workflow already used
        weak = ("off",) if self.durability == "process" else ("off", "local")
        cur = await conn.execute("SHOW synchronous_commit")
        row = await cur.fetchone()
        if row is not None and row[0] in weak:
            await conn.execute("SET synchronous_commit TO on")

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        q, where = self._q, f"Postgres journal {_redact(self.url)!r}"
        try:
            async with conn.transaction():
                await conn.execute(q["migration_lock"], {"schema": self.schema})
                cur = await conn.execute(
                    q["schema_state"],
                    {"schema": self.schema, "version_table": f"{self._quoted}.schema_version"},
                )
                row = await cur.fetchone()
                assert row is not None
                exists, ours, relations = row
                if exists and not ours and relations:
                    raise errors.JournalError(
                        f"{where}: schema {self.schema!r} exists and holds tables, but not "
                        "durable's schema_version table: it was not created by durable; "
                        "choose another schema with ?schema=NAME in the URL"
                    )
                if not ours:
                    if not exists:
                        await conn.execute(f"CREATE SCHEMA {self._quoted}")
                    await conn.execute(self._script(queries.load_schema("postgres")))
                    await conn.execute(q["set_schema_version"], {"version": base.SCHEMA_VERSION})
                    return
                cur = await conn.execute(q["schema_version"])
                version = ((await cur.fetchone()) or (0,))[0] or 0
                if version > base.SCHEMA_VERSION:
                    raise errors.JournalError(
                        f"{where} has schema version {version}, newer than this durable "
                        f"knows ({base.SCHEMA_VERSION}); upgrade durable before opening it"
                    )
                for number, script in queries.load_migrations("postgres"):
                    if number > version:
                        await conn.execute(self._script(script))
                        await conn.execute(q["set_schema_version"], {"version": number})
        except psycopg.Error as exc:
            hint = (
                "grant this user CREATE on the database, or have an administrator open the "
                "journal once"
                if isinstance(exc, pg_errors.InsufficientPrivilege)
                else "check the database's logs"
            )
            raise errors.JournalError(
                f"{where}: creating or migrating schema {self.schema!r} failed: {exc}; {hint}"
            ) from exc

    def _script(self, text: str) -> bytes:
        # the schema name is validated and quoted; the rest of the script is constant
        return text.replace("{schema}", self._quoted).encode()

    async def register_owner(self, owner: str) -> None:
        """Hold `owner`'s advisory lock while this journal is open (see postgres_owners)."""
        try:
            await self._owners.hold(owner)
        except psycopg.Error as exc:
            raise self._error("take the engine's advisory lock", exc, None) from exc

    async def owner_alive(self, owner: str) -> bool:
        """Whether the engine `owner` still has a session (its advisory lock is held)."""

        async def fn(conn: psycopg.AsyncConnection[Any]) -> bool:
            return await self._owners.alive(owner, conn)

        alive: bool = await self._with_conn("check an engine's advisory lock", fn)
        return alive

    async def close(self) -> None:
        """Commit what is queued, then disconnect."""
        await self._owners.release()
        await self._writer.close()
        await self._changes.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def abandon(self) -> None:
        """Drop queued writes and connections without committing, as a killed process would."""
        held = list(self._owners._held.values())
        self._owners.drop()
        self._locks_closing = asyncio.gather(*(lock_conn.close() for lock_conn in held))
        task, conn = self._writer.abandon()
        tasks = [t for t in (task, self._changes.abandon()) if t is not None]
        pool, self._pool = self._pool, None
        self._closing = asyncio.ensure_future(_shut(tasks, conn, pool))

    # -- reads ------------------------------------------------------------------------

    async def _with_conn(
        self,
        action: str,
        fn: Callable[[psycopg.AsyncConnection[Any]], Any],
        workflow_id: str | None = None,
    ) -> Any:
        """Run `fn` on a pooled connection, retrying connection failures (reads only)."""
        delay, deadline = 0.02, time.monotonic() + _OUTAGE_LIMIT
        while True:
            pool = self._require_pool(workflow_id)
            try:
                async with pool.connection() as conn:
                    return await fn(conn)
            except _RETRYABLE as exc:
                if time.monotonic() > deadline:
                    raise self._error(action, exc, workflow_id) from exc
                await pool.check()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except psycopg.Error as exc:
                raise self._error(action, exc, workflow_id) from exc

    def _error(
        self, action: str, exc: psycopg.Error, workflow_id: str | None
    ) -> errors.JournalError:
        return errors.JournalError(
            f"Postgres journal {_redact(self.url)!r} failed to {action}: {str(exc).strip()}; "
            "check that the server is reachable and the database's logs",
            workflow_id=workflow_id,
        )

    async def _read(
        self, action: str, name: str, params: dict[str, Any], workflow_id: str | None = None
    ) -> list[Any]:
        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
            cur = await conn.execute(self._q[name], params)
            return await cur.fetchall()

        result: list[Any] = await self._with_conn(action, fn, workflow_id)
        return result

    # -- runs ---------------------------------------------------------------------------

    async def create_run(self, run: base.NewRun) -> tuple[base.RunRecord, bool]:
        params = {
            "id": run.id,
            "name": run.name,
            "status": run.status.value,
            "input": run.input,
            "parent_id": run.parent_id,
            "parent_seq": run.parent_seq,
            "root_id": run.root_id,
            "queue": run.queue,
            "metadata": run.metadata,
            "owner": run.owner,
            "lease_expires_at": run.lease_expires_at,
            "priority": run.priority,
            "created_at": run.created_at,
            "work_channel": self.work_channel,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> Any:
            return (rows[0] if rows else None), retried

        row, retried = await self._writer.write("create_run", params, finish)
        if row is None:  # the conflicting row committed after this statement's snapshot
            record = await self.get_run(run.id)
            assert record is not None
            return record, False
        record = _run_from_row(row)
        created = bool(row[-1])
        if not created and retried:
            # the first attempt may have committed (its reply was lost with the connection)
            created = (record.created_at, record.owner, record.input) == (
                run.created_at,
                run.owner,
                run.input,
            )
        return record, created

    async def get_run(self, run_id: str) -> base.RunRecord | None:
        rows = await self._read("read a run", "select_run", {"id": run_id}, run_id)
        return _run_from_row(rows[0]) if rows else None

    async def list_runs(
        self,
        *,
        status: Sequence[base.Status] | None = None,
        name: str | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        limit: int = 100,
    ) -> list[base.RunRecord]:
        params = {
            "statuses": [str(s) for s in status] if status else None,
            "name": name,
            "parent_id": parent_id,
            "root_id": root_id,
            "limit": limit,
        }
        rows = await self._read("list runs", "list_runs", params)
        return [_run_from_row(row) for row in rows]

    async def load(self, run_id: str) -> base.RunLoad | None:
        q, params = self._q, {"id": run_id}

        async def fn(conn: psycopg.AsyncConnection[Any]) -> list[list[Any]]:
            async with conn.pipeline():
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursors = [
                    await conn.execute(q[name], params)
                    for name in ("select_run", "select_entries", "select_attempts", "select_timers")
                ]
                await conn.execute("COMMIT")
            return [await cur.fetchall() for cur in cursors]

        run_rows, entry_rows, attempt_rows, timer_rows = await self._with_conn(
            "load the journal", fn, run_id
        )
        if not run_rows:
            return None
        return base.RunLoad(
            run=_run_from_row(run_rows[0]),
            entries=[
                base.EntryRecord(**dict(zip(_ENTRY_FIELDS, r, strict=True))) for r in entry_rows
            ],
            attempts=[
                base.AttemptRecord(
                    run_id=r[0], seq=r[1], attempt=r[2], error=r[3], failed_at=r[4], retry_at=r[5]
                )
                for r in attempt_rows
            ],
            timers=[base.TimerRecord(run_id=r[0], seq=r[1], wake_at=r[2]) for r in timer_rows],
        )

    # -- writes by the owner ------------------------------------------------------------

    async def append_entries(self, owner: str, entries: Sequence[base.EntryRecord]) -> None:
        if entries:
            await self._writer.submit(postgres_writer.Append(owner, list(entries)))

    @staticmethod
    def _held(run_id: str) -> postgres_writer.Finish:
        def finish(rows: list[Any], rowcount: int, retried: bool) -> None:
            if not rows or not rows[0][0]:
                raise base.LeaseLost(run_id)

        return finish

    async def record_attempt(self, owner: str, attempt: base.AttemptRecord) -> None:
        params = {
            "owner": owner,
            "run_id": attempt.run_id,
            "seq": attempt.seq,
            "attempt": attempt.attempt,
            "error": attempt.error,
            "failed_at": attempt.failed_at,
            "retry_at": attempt.retry_at,
        }
        await self._writer.write("insert_attempt", params, self._held(attempt.run_id))

    async def set_timer(self, owner: str, timer: base.TimerRecord) -> None:
        params = {
            "owner": owner,
            "run_id": timer.run_id,
            "seq": timer.seq,
            "wake_at": timer.wake_at,
        }
        await self._writer.write("insert_timer", params, self._held(timer.run_id))

    async def update_run(self, owner: str, update: base.RunUpdate) -> None:
        params = {
            "status": update.status.value,
            "output": update.output,
            "error": update.error,
            "wake_at": update.wake_at,
            "at": update.at,
            "finished": update.status in base.TERMINAL,
            "run_id": update.run_id,
            "owner": owner,
            "channel": self.channel,
        }
        await self._writer.write("update_run", params, self._held(update.run_id))

    @contextlib.asynccontextmanager
    async def transaction(self, owner: str, run_id: str) -> AsyncIterator[base.Transaction]:
        pool, conn = await self._begin(run_id)
        try:
            tx = base.Transaction(_TxConnection(conn))
            try:
                yield tx  # the user's statements: their errors reach the step unchanged
            except BaseException:
                await postgres_writer.rollback(conn)
                raise
            try:
                await self._finish_transaction(conn, owner, run_id, tx.entry)
            except psycopg.Error as exc:
                if not await self._committed_despite(exc, tx.entry):
                    raise self._error("commit a transaction step", exc, run_id) from exc
        finally:
            await pool.putconn(conn)

    async def _begin(
        self, run_id: str
    ) -> tuple[psycopg_pool.AsyncConnectionPool[Any], psycopg.AsyncConnection[Any]]:
        """A pooled connection inside ``BEGIN``, retrying connection failures."""
        delay, deadline = 0.02, time.monotonic() + _OUTAGE_LIMIT
        while True:
            pool = self._require_pool(run_id)
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await pool.getconn()
                await conn.execute("BEGIN")
                return pool, conn
            except psycopg.Error as exc:
                if conn is not None:
                    await pool.putconn(conn)
                if not isinstance(exc, _RETRYABLE) or time.monotonic() > deadline:
                    raise self._error("begin a transaction step", exc, run_id) from exc
                await pool.check()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _require_pool(self, workflow_id: str | None) -> psycopg_pool.AsyncConnectionPool[Any]:
        if self._pool is None:
            raise errors.JournalError(
                f"Postgres journal {_redact(self.url)!r} is not open (or was closed)",
                workflow_id=workflow_id,
            )
        return self._pool

    async def _finish_transaction(
        self,
        conn: psycopg.AsyncConnection[Any],
        owner: str,
        run_id: str,
        entry: base.EntryRecord | None,
    ) -> None:
        params: dict[str, Any] = {name: None for name in _ENTRY_FIELDS}
        if entry is not None:
            params.update(_entry_params(entry))
        params.update(run_id=run_id, owner=owner, write=entry is not None)
        try:
            cur = await conn.execute(self._q["tx_append_entry"], params)
            row = await cur.fetchone()
            if row is None or row[0] != owner:
                raise base.LeaseLost(run_id)
        except BaseException:
            await postgres_writer.rollback(conn)
            raise
        await conn.execute("COMMIT")

    async def _committed_despite(self, exc: psycopg.Error, entry: base.EntryRecord | None) -> bool:
        """Whether a transaction step whose connection broke had committed after all:
        its entry is in the journal exactly when it did (they commit together)."""
        if entry is None or not isinstance(exc, psycopg.OperationalError):
            return False
        params = {"run_id": entry.run_id, "seq": entry.seq, "ord": entry.ord}
        with contextlib.suppress(errors.JournalError):
            return bool(await self._read("check a commit", "entry_exists", params))
        return False

    # -- ownership ----------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        run_id: str,
        *,
        expected_owner: str | None,
        lease_expires_at: float,
        limits: base.QueueLimits | None = None,
    ) -> base.RunRecord | None:
        params = {
            "owner": owner,
            "lease_expires_at": lease_expires_at,
            "now": time.time(),
            "id": run_id,
            "expected": expected_owner,
            "retried": False,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> base.RunRecord | None:
            return _run_from_row(rows[0]) if rows else None

        if limits is not None:
            return await self._claim_limited(params, limits)
        result: base.RunRecord | None = await self._writer.write("claim_run", params, finish)
        return result

    async def _claim_limited(
        self, params: dict[str, Any], limits: base.QueueLimits
    ) -> base.RunRecord | None:
        """A claim that respects its queue's limits: its own transaction, serialised per
        queue by an advisory lock, so no two processes both see room for one run."""
        load = {"queue": limits.queue, "id": params["id"], "since": time.time() - limits.period}

        async def fn(conn: psycopg.AsyncConnection[Any]) -> base.RunRecord | None:
            async with conn.transaction():
                await conn.execute(self._q["queue_lock"], load)
                cur = await conn.execute(self._q["queue_load"], load)
                row = await cur.fetchone()
                held, started = row if row is not None else (0, 0)
                if limits.concurrency is not None and held >= limits.concurrency:
                    return None
                if limits.rate_limit is not None and started >= limits.rate_limit:
                    return None
                cur = await conn.execute(self._q["claim_run"], params)
                rows = await cur.fetchall()
            return _run_from_row(rows[0]) if rows else None

        result: base.RunRecord | None = await self._with_conn("claim a run", fn, params["id"])
        return result

    async def claimable(self, names: Sequence[str], *, limit: int = 1000) -> list[base.RunRecord]:
        rows = await self._read(
            "list claimable runs",
            "claimable",
            {"names": list(names), "limit": limit, "now": time.time()},
        )
        return [_run_from_row(row) for row in rows]

    async def claim_batch(
        self,
        owner: str,
        names: Sequence[str],
        *,
        limit: int,
        lease_expires_at: float,
        queues: Sequence[str] | None = None,
        skip_queues: Sequence[str] = (),
    ) -> list[base.RunRecord]:
        if limit <= 0 or not names:
            return []
        params = {
            "owner": owner,
            "names": list(names),
            "limit": limit,
            "lease_expires_at": lease_expires_at,
            "now": time.time(),
            "queues": None if queues is None else list(queues),
            "skip_queues": list(skip_queues),
            "retried": False,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> list[base.RunRecord]:
            return [_run_from_row(row) for row in rows]

        claimed: list[base.RunRecord] = await self._writer.write("claim_batch", params, finish)
        return base.by_priority(claimed)

    async def heartbeat(self, owner: str, lease_expires_at: float) -> int:
        params = {"owner": owner, "lease_expires_at": lease_expires_at}
        return int(
            await self._writer.write("heartbeat", params, lambda rows, count, retried: count)
        )

    async def release(self, owner: str, run_ids: Sequence[str] | None = None) -> None:
        if run_ids is None:
            params: dict[str, Any] = {"owner": owner, "work_channel": self.work_channel}
            await self._writer.write("release_all", params, _nothing)
        elif run_ids:
            params = {"owner": owner, "ids": list(run_ids), "work_channel": self.work_channel}
            await self._writer.write("release_some", params, _nothing)

    async def cancel_requested(self, owner: str) -> list[str]:
        rows = await self._read("read cancellations", "cancel_requested", {"owner": owner})
        return [row[0] for row in rows]

    # -- messages and events ----------------------------------------------------------

    async def send_message(self, run_id: str, topic: str, value: bytes, key: str | None) -> bool:
        params = {
            "run_id": run_id,
            "topic": topic,
            "value": value,
            "at": time.time(),
            "key": key if key is not None else f"auto:{uuid.uuid4().hex}",
            "channel": self.channel,
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> bool:
            exists, inserted = rows[0][0], rows[0][1]
            if not exists:
                raise errors.WorkflowNotFound(workflow_id=run_id)
            # a retried send whose first attempt committed finds its own key
            return bool(inserted) or retried

        return bool(await self._writer.write("send_message", params, finish))

    async def receive_message(
        self, owner: str, run_id: str, topic: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        params = {**_entry_params(entry), "owner": owner, "topic": topic}

        def finish(rows: list[Any], rowcount: int, retried: bool) -> base.EntryRecord | None:
            holder, value = rows[0]
            if holder != owner:
                raise base.LeaseLost(run_id)
            if value is None:
                return None
            entry.output = value
            return entry

        result: base.EntryRecord | None = await self._writer.write(
            "receive_message", params, finish
        )
        return result

    async def set_event(
        self, owner: str, run_id: str, key: str, value: bytes, entry: base.EntryRecord
    ) -> None:
        params = {
            **_entry_params(entry),
            "run_id": run_id,
            "owner": owner,
            "key": key,
            "value": value,
            "at": time.time(),
            "channel": self.channel,
        }
        await self._writer.write("set_event", params, self._held(run_id))

    async def get_event(self, run_id: str, key: str) -> bytes | None:
        rows = await self._read("read an event", "select_event", {"run_id": run_id, "key": key})
        return bytes(rows[0][0]) if rows else None

    async def request_cancel(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self._writer.write("request_cancel", {"ids": list(run_ids)}, _nothing)

    async def reopen(self, run_id: str) -> int:
        params = {
            "id": run_id,
            "now": time.time(),
            "channel": self.channel,
            "work_channel": self.work_channel,
        }
        return int(
            await self._writer.write("reopen", params, lambda rows, count, retried: rows[0][0])
        )

    async def copy_entries(self, source_id: str, target_id: str, before_seq: int) -> int:
        params = {"source": source_id, "target": target_id, "before": before_seq}
        return int(
            await self._writer.write("copy_entries", params, lambda rows, count, retried: count)
        )

    # -- wake-ups -----------------------------------------------------------------------

    async def wait_changed(self, run_id: str, timeout: float | None = None) -> bool:
        """Wait until `run_id`'s status may have changed (True) or `timeout` passed (False).

        Woken by ``NOTIFY`` from `update_run` and `reopen`, also when the listening
        connection had to reconnect (changes may have been missed).  Callers re-read
        the run after it returns; a change between their read and this call is only
        seen at the timeout, so keep one.
        """
        return await self._changes.wait_changed(run_id, timeout)

    def watch(self, callback: Callable[[str | None], None]) -> None:
        """Call ``callback(run_id)`` for every change notified from now on, and
        ``callback(None)`` whenever changes may have been missed (listening, which the
        first `wait_changed` starts, began or reconnected)."""
        self._changes.subscribe(callback)

    def watch_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` for every notification on the work channel (a run nobody
        holds was created, runs were released or reopened), and at each (re)connection;
        starts listening now."""
        self._changes.subscribe_work(callback)

    # -- export and prune ---------------------------------------------------------------

    async def list_finished(
        self, *, after: float, after_id: str = "", before: float | None = None, limit: int = 1000
    ) -> list[base.RunRecord]:
        params = {"after": after, "after_id": after_id, "before": before, "limit": limit}
        rows = await self._read("list finished runs", "list_finished", params)
        return [_run_from_row(row) for row in rows]

    async def delete_runs(self, runs: Sequence[tuple[str, float]]) -> int:
        if not runs:
            return 0
        params = {"ids": [r[0] for r in runs], "finished": [r[1] for r in runs]}
        return int(
            await self._writer.write("delete_runs", params, lambda rows, count, retried: rows[0][0])
        )


async def _shut(
    tasks: list[asyncio.Task[None]],
    conn: psycopg.AsyncConnection[Any] | None,
    pool: psycopg_pool.AsyncConnectionPool[Any] | None,
) -> None:
    """Close an abandoned journal's connections once its tasks have stopped using them."""
    await asyncio.gather(*tasks, return_exceptions=True)
    if conn is not None:
        await conn.close()
    if pool is not None:
        await pool.close()


def _nothing(rows: list[Any], rowcount: int, retried: bool) -> None:
    return None


class _TxConnection:
    """The async connection a `@durable.transaction` step receives on Postgres."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return await self._conn.execute(sql, params)
