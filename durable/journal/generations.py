"""The journal's side of generations (`durable.continue_as_new`) and step heartbeats:
the rows exchanged and the operations, mixed into `base.Journal`.

A run's journal holds its current generation only; a switch moves it, whole, to the
generations tables, in the transaction that gives the run its next input.  So a replay
reads one generation and nothing older, and a crash leaves the switch done or not done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    from durable.journal.base import EntryRecord, RunLoad

__all__ = ["GenerationRecord", "GenerationStore", "GenerationSwitch", "StepHeartbeat"]


class GenerationSwitch(msgspec.Struct, kw_only=True):
    """A run ends generation `generation` and starts the next with `input`."""

    run_id: str
    generation: int
    input: bytes
    at: float
    # entries not journaled yet (pending instants, the continue-as-new call itself):
    # archived with the generation
    entries: Sequence[EntryRecord] = ()


class GenerationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A past generation of a run: its number (from 1), its span, its entry count."""

    generation: int
    started_at: float
    ended_at: float
    entries: int


class StepHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """The last heartbeat details journaled for a running step (call `seq`)."""

    seq: int
    attempt: int
    details: bytes | None


class GenerationStore(Protocol):
    """Generations and step heartbeats (part of `base.Journal`)."""

    async def continue_as_new(self, owner: str, switch: GenerationSwitch) -> None:
        """Atomically: archive the run's entries (and `switch.entries`) as generation
        `switch.generation` with the run's current input; delete its entries, attempts,
        timers and heartbeats; mark the messages it consumed as consumed by no current
        call; set the run's input to `switch.input`.

        Only while `owner` holds the run (else `LeaseLost`, writing nothing).
        Idempotent: when generation `switch.generation` is archived already, nothing is
        written.
        """

    async def generations(self, run_id: str) -> list[GenerationRecord]:
        """The run's past generations, oldest first (empty for a run that never
        continued as new)."""

    async def load_generation(self, run_id: str, generation: int) -> RunLoad | None:
        """The run as it was in past `generation` (its input, its entries), or, for the
        current one, as `load` reads it; None when the run or the generation is unknown."""

    async def save_step_heartbeat(
        self, owner: str, run_id: str, heartbeat: StepHeartbeat, at: float
    ) -> None:
        """Keep a running step's last heartbeat details (replacing the ones before), only
        while `owner` holds the run (else `LeaseLost`)."""

    async def step_heartbeats(self, run_id: str) -> list[StepHeartbeat]:
        """The heartbeat details kept for the run's current generation's steps."""
