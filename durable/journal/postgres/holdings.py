"""What an engine holds on a Postgres journal, what it knows committed, and which server
it talks to: the fence that keeps a failover from writing holes into journals.

After a failover to a standby with asynchronous replication, the new primary may lack
the last commits the old one acknowledged: a run's last entries, a claim, a run's end,
even a run's creation.  An engine that went on appending from what it remembers would
write an entry at seq 15 with seqs 10-14 missing, and the run would diverge at replay.

Fences.  For each run this engine holds, `Holdings` keeps one entry it knows committed
(the last acknowledged write, or the last entry read when the run was loaded).  Every
write of the run's owner carries that seq (``expect``) and writes nothing unless the
entry is still in the journal and the run still its own: a hole is refused at write
time, for one primary-key probe in the same statement.  The journal then finds out why
(`PostgresJournal`): the run's row gone (its creation was lost: a warning names it),
another owner (the lease is lost), or the entry gone (the tail was lost: the run is
stopped here with `JournalError`, released, and replayed from what its journal holds,
as after a crash; the lost steps run again).  Commits reach a standby in the order the
primary made them, so if the last entry known committed survived, so did those before it.

Server.  Every new connection reports the server's identity (system identifier and
start time).  A different one, or the writer's connection re-established after a
failure, means the server may have changed (`changed`): then the runs the database says
this engine holds but that it does not (a release or an end that was lost) are released
at the next heartbeat (`sweep_due`), so no lease is renewed for a run nobody executes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from durable import errors

if TYPE_CHECKING:
    from durable.journal.postgres.connection import Pool

__all__ = ["Holdings", "Server"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Server:
    """Who answers on a connection: the cluster (``system_identifier``, shared by a
    primary and the standbys cloned from it) and its postmaster's start time."""

    system_id: str | None
    started: float | None


@dataclass
class _Held:
    owner: str
    seq: int | None  # an entry known committed (None: none yet)


class Holdings:
    """The runs an engine holds and the fences of their writes (see the module docstring)."""

    def __init__(self, where: str, pool: Pool) -> None:
        self._where = where
        self._pool = pool
        self._runs: dict[str, _Held] = {}
        self.server: Server | None = None
        self.changes = 0  # times the server may have changed since the journal opened
        self.sweep_due = False
        self.claiming = 0  # claims and creations in flight (the sweep waits for them)

    # -- runs ---------------------------------------------------------------------------

    def hold(self, owner: str, run_id: str) -> None:
        """`owner` took `run_id` (a claim, or a creation held by it)."""
        held = self._runs.get(run_id)
        if held is None or held.owner != owner:
            self._runs[run_id] = _Held(owner, None)

    def drop(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def drop_owner(self, owner: str) -> None:
        for run_id in [r for r, held in self._runs.items() if held.owner == owner]:
            del self._runs[run_id]

    def holds(self, owner: str, run_id: str) -> bool:
        held = self._runs.get(run_id)
        return held is not None and held.owner == owner

    def expect(self, owner: str, run_id: str) -> int | None:
        """The seq of an entry of `run_id` that `owner` knows committed, or None."""
        held = self._runs.get(run_id)
        return held.seq if held is not None and held.owner == owner else None

    def committed(self, owner: str, run_id: str, seq: int) -> None:
        """An entry of a run held by `owner` is known committed (a write acknowledged,
        or the run's journal read)."""
        held = self._runs.get(run_id)
        if held is not None and held.owner == owner:
            held.seq = seq

    # -- the server ---------------------------------------------------------------------

    def saw(self, server: Server) -> None:
        """A new connection reached `server`."""
        if self.server is None:
            self.server = server
        elif server != self.server:
            before, self.server = self.server, server
            self.changed(
                f"the server answering is not the one before (system identifier "
                f"{before.system_id} started at {before.started}, now "
                f"{server.system_id} started at {server.started}: a failover or a restart)"
            )

    def changed(self, why: str) -> None:
        """The server may have changed (`why`): commits it acknowledged may be lost."""
        self.changes += 1
        self.sweep_due = True
        logger.warning(
            "%s: %s; every write of a run held here is checked against the journal, and a "
            "run whose journal lost entries is replayed from what it holds",
            self._where,
            why,
            extra={"action": "server_changed", "workflow_id": None},
        )

    # -- refused writes and lost releases ---------------------------------------------

    async def diagnose(self, owner: str, run_id: str, expect: int | None) -> None:
        """After a write of `run_id` by `owner` fenced by `expect` was refused: raise why,
        unless the lease was lost (the caller raises `LeaseLost` then).  The run is no
        longer held here either way."""
        self.drop(run_id)
        params = {"id": run_id, "expect": expect}
        rows = await self._pool.read("check a refused write", "run_fence", params, run_id)
        if not rows:
            logger.warning(
                "run %r is not in %s any more: its creation was lost (a failover to a "
                "standby that had not received it?); it stops in this process: start it "
                "again with the same workflow_id",
                run_id,
                self._where,
                extra={"action": "run_lost", "workflow_id": run_id},
            )
            return
        holder, whole = rows[0]
        if holder != owner:
            return
        why = (
            "its write was refused, though the journal now holds what this engine committed"
            if whole
            else f"its journal lacks the entry at seq {expect} this engine committed: the "
            "database lost its last commits (a failover to a standby that had not "
            "received them?)"
        )
        logger.warning("run %s: %s", run_id, why, extra={"action": "fence", "workflow_id": run_id})
        raise errors.JournalError(
            f"run {run_id!r} on {self._where}: {why}; nothing was written, and the run is "
            "stopped here, released and replayed from what its journal holds (the lost "
            "steps run again)",
            workflow_id=run_id,
            seq=expect,
        )

    async def sweep(
        self, owner: str, release: Callable[[str, Sequence[str]], Awaitable[None]]
    ) -> None:
        """After the server may have changed: `release` the runs it says `owner` holds but
        that this engine does not (their release or end was lost), once no claim is in
        flight (a claim's runs are known here only once it returns)."""
        if not self.sweep_due or self.claiming:
            return
        self.sweep_due = False
        rows = await self._pool.read("list the runs held here", "held_runs", {"owner": owner})
        if self.claiming:
            self.sweep_due = True  # the next heartbeat looks again
            return
        stale = [row[0] for row in rows if not self.holds(owner, row[0])]
        if stale:
            logger.warning(
                "%s says this engine holds %d run(s) it does not execute (%s): their "
                "release or end was lost with the old server; released for any engine",
                self._where,
                len(stale),
                ", ".join(stale[:10]) + (", ..." if len(stale) > 10 else ""),
                extra={"action": "release_stale", "workflow_id": None},
            )
            await release(owner, stale)
