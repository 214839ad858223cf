"""The SQLite journal's generations and step heartbeats, mixed into `SqliteJournal`: a
generation switch is one write of the group writer (see `journal.generations`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from durable.journal import base, queries, records, sqlite_writer
from durable.journal import generations as gens

__all__ = ["RUN_TABLES", "SqliteGenerations"]

_Q = queries.load_queries("sqlite")

# the tables of this mixin holding a run's rows (deleted with the run by `prune`)
RUN_TABLES = ("generations", "generation_entries", "heartbeats")


class SqliteGenerations:
    """Generations and step heartbeats on the journal's connection and writer."""

    _writer: sqlite_writer.GroupWriter
    _read: Callable[..., list[Any]]
    _announce: Callable[..., None]
    _check_owner: Callable[[sqlite3.Connection, str, str], None]

    load: Callable[[str], Awaitable[base.RunLoad | None]]

    async def continue_as_new(self, owner: str, switch: gens.GenerationSwitch) -> None:
        run_id, number = switch.run_id, switch.generation

        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, run_id)
            if conn.execute(_Q["current_generation"], (run_id,)).fetchone()[0] != number:
                return  # archived already (a write retried)
            conn.execute(_Q["archive_entries"], (run_id, number))
            for entry in switch.entries:
                values = records.entry_values(entry)
                conn.execute(_Q["archive_entry"], (values[0], number, *values[1:]))
            conn.execute(_Q["insert_generation"], (run_id, number, switch.at))
            for table in ("entries", "attempts", "timers", "heartbeats"):
                conn.execute(_Q[f"clear_generation_{table}"], (run_id,))
            conn.execute(_Q["retire_consumed_messages"], (run_id,))
            if (
                conn.execute(
                    _Q["next_generation_input"], (switch.input, switch.at, run_id, owner)
                ).rowcount
                != 1
            ):
                raise base.LeaseLost(run_id)

        await self._writer.write(op, run_id)
        self._announce(run_id)

    async def generations(self, run_id: str) -> list[gens.GenerationRecord]:
        return [
            gens.GenerationRecord(
                generation=row[0], started_at=row[1], ended_at=row[2], entries=row[3]
            )
            for row in self._read(_Q["select_generations"], (run_id,))
        ]

    async def load_generation(self, run_id: str, generation: int) -> base.RunLoad | None:
        load = await self.load(run_id)
        if load is None or generation == load.generation:
            return load
        found = self._read(_Q["select_generation_input"], (run_id, generation))
        if not found:
            return None
        entries = self._read(_Q["select_generation_entries"], (run_id, generation))
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
        def op(conn: sqlite3.Connection) -> None:
            self._check_owner(conn, owner, run_id)
            conn.execute(
                _Q["save_step_heartbeat"],
                (run_id, heartbeat.seq, heartbeat.attempt, heartbeat.details, at),
            )

        await self._writer.write(op, run_id)

    async def step_heartbeats(self, run_id: str) -> list[gens.StepHeartbeat]:
        return [
            gens.StepHeartbeat(
                seq=row[0], attempt=row[1], details=None if row[2] is None else bytes(row[2])
            )
            for row in self._read(_Q["select_step_heartbeats"], (run_id,))
        ]
