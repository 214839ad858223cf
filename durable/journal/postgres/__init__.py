"""The Postgres journal: psycopg 3 (async), tables in their own schema (default ``durable``).

Writes go through one connection that commits them in groups, in one round trip per
group (`writer`); owner checks lock the run row (``FOR SHARE``) in the same statement
as the write, so a concurrent claim waits for the write to commit and then sees it.
Reads and `@durable.transaction` steps use a pool (`connection`).

Faults.  Writes are retried across dropped connections and server restarts, and are
idempotent (see `writer`).  Reads retry the same way.  A transaction step whose
``COMMIT`` lost its connection is looked up afterwards: its entry is in the journal
exactly when its statements committed.

Schema.  Created or migrated at `open` under an advisory lock, inside one transaction,
so processes opening the journal together do it once (`schema`).  ``?schema=NAME`` in
the URL (or ``schema=``) picks the schema; the name is checked as an identifier and
quoted.

Wake-ups.  `update_run`, `reopen`, `send_message` and `set_event` ``NOTIFY`` the run id
on the channel ``"<schema>.changed"``; creating a run nobody holds, releasing and
reopening runs ``NOTIFY`` the channel ``"<schema>.work"`` (`listener` hears both).
Which engines are alive is known from one advisory lock each (`owners`).

Failover.  A multi-host URL (``postgresql://h1:5432,h2:5432/db?target_session_attrs=
read-write``) is passed to libpq as it is: every connection (the writer, the pool, the
listener, the liveness locks) goes to whichever host is the primary, and reconnects do
too.  A new primary may lack commits the old one acknowledged (asynchronous
replication): every write of a run's owner is fenced by an entry it knows committed, so
no hole is ever written, and a run whose journal lost its tail is replayed (`holdings`).

Modules: `journal` (`PostgresJournal`, the operations), `connection`, `schema`,
`writer`, `holdings`, `transactions`, `listener`, `owners`.
"""

from __future__ import annotations

from durable.journal.postgres.journal import PostgresJournal

__all__ = ["PostgresJournal"]
