"""The Postgres journal's generations and step heartbeats, mixed into `PostgresJournal`:
a generation switch is one statement through the writer, fenced like any owner's write
(`holdings`), after which the run's fence starts again from nothing (its entries moved)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from durable.journal import base, records
from durable.journal import generations as gens
from durable.journal.postgres import connection, holdings, writer

__all__ = ["PostgresGenerations"]

_json = msgspec.json.Encoder()


class PostgresGenerations:
    """Generations and step heartbeats on the journal's writer and pool."""

    _pool: connection.Pool
    _writer: writer.GroupWriter
    _holdings: holdings.Holdings
    channel: str
    _owner_write: Callable[[str, dict[str, Any], str, str], Awaitable[None]]
    load: Callable[[str], Awaitable[base.RunLoad | None]]

    async def continue_as_new(self, owner: str, switch: gens.GenerationSwitch) -> None:
        run_id = switch.run_id
        params = {
            "run_id": run_id,
            "owner": owner,
            "generation": switch.generation,
            "input": switch.input,
            "at": switch.at,
            "entries": _json.encode(list(switch.entries)).decode(),
            "channel": self.channel,
        }
        await self._owner_write("continue_as_new", params, owner, run_id)
        # the run's entries are gone: no entry of it is known committed any more
        self._holdings.drop(run_id)
        self._holdings.hold(owner, run_id)

    async def generations(self, run_id: str) -> list[gens.GenerationRecord]:
        rows = await self._pool.read(
            "read the generations", "select_generations", {"id": run_id}, run_id
        )
        return [
            gens.GenerationRecord(
                generation=row[0], started_at=row[1], ended_at=row[2], entries=row[3]
            )
            for row in rows
        ]

    async def load_generation(self, run_id: str, generation: int) -> base.RunLoad | None:
        load = await self.load(run_id)
        if load is None or generation == load.generation:
            return load
        params = {"id": run_id, "generation": generation}
        found = await self._pool.read(
            "read a generation", "select_generation_input", params, run_id
        )
        if not found:
            return None
        entries = await self._pool.read(
            "read a generation", "select_generation_entries", params, run_id
        )
        return base.RunLoad(
            run=msgspec.structs.replace(load.run, input=bytes(found[0][0])),
            entries=[records.entry_from_row(row) for row in entries],
            attempts=[],
            timers=[],
            generation=generation,
        )

    async def save_step_heartbeat(
        self, owner: str, run_id: str, heartbeat: gens.StepHeartbeat, at: float
    ) -> None:
        params = {
            "run_id": run_id,
            "owner": owner,
            "seq": heartbeat.seq,
            "attempt": heartbeat.attempt,
            "details": heartbeat.details,
            "at": at if at else time.time(),
        }

        def finish(rows: list[Any], rowcount: int, retried: bool) -> None:
            if not rows or not rows[0][0]:
                raise base.LeaseLost(run_id)

        await self._writer.write("save_step_heartbeat", params, finish)

    async def step_heartbeats(self, run_id: str) -> list[gens.StepHeartbeat]:
        rows = await self._pool.read(
            "read the step heartbeats", "select_step_heartbeats", {"id": run_id}, run_id
        )
        return [
            gens.StepHeartbeat(
                seq=row[0], attempt=row[1], details=None if row[2] is None else bytes(row[2])
            )
            for row in rows
        ]
