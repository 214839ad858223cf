"""The journal's side of requests into running runs and of waits on several topics:
the `RequestStore` operations (part of `Journal`) and the row they hand back.

A request is a row of its run's inbox, queued in send order per name.  A receiving
entry takes it and is journaled in the same transaction; the answering entry (a reply
or a rejection) writes the answer in the same transaction too.  A taken request is
known by its receiving entry's seq *and start time*: a later journal generation's
entry at the same seq starts later, so it never answers an older generation's request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:  # base imports this module: its `Journal` includes `RequestStore`
    from durable.journal import base

__all__ = ["ANSWERED", "RequestRecord", "RequestState", "RequestStore"]

# a request's states: queued -> taken -> replied | rejected; queued -> withdrawn
ANSWERED = frozenset({"replied", "rejected"})


class RequestState(msgspec.Struct, frozen=True, kw_only=True):
    """Where a request stands: its run's status, and its own state and answer (the
    encoded reply, or the encoded rejection message) once answered."""

    run_status: str  # a `Status` value
    state: str | None  # None: no request with that key
    answer: bytes | None = None


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request in a run's inbox, as `RequestStore.list_requests` reads it: the
    encoded value and answer, the seq of the entry that took it, and its times."""

    name: str
    key: str
    state: str  # queued, taken, replied, rejected, withdrawn
    value: bytes
    sent_at: float
    taken_seq: int | None = None
    taken_at: float | None = None
    answer: bytes | None = None
    answered_at: float | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RequestRecord:
        """A `list_requests` row (either backend's) as a record."""
        name, key, state, value, sent_at, taken_seq, taken_at, answer, answered_at = row
        return cls(
            name=name,
            key=key,
            state=state,
            value=bytes(value),
            sent_at=sent_at,
            taken_seq=taken_seq,
            taken_at=taken_at,
            answer=None if answer is None else bytes(answer),
            answered_at=answered_at,
        )


class RequestStore(Protocol):
    """Requests and multi-topic receives (see the module docstring)."""

    async def send_request(self, run_id: str, name: str, value: bytes, key: str) -> RequestState:
        """Queue a request for an unfinished run; idempotent per (run_id, key): a second
        send with the key queues nothing and returns the first one's state.  Wakes the
        run if it is parked in a wait.

        Raises `WorkflowNotFound` for an unknown run, `RunFinished` for a finished one
        (unless the key's request exists: its state is returned).
        """

    async def request_state(self, run_id: str, key: str) -> RequestState:
        """The state of the request `key` of run `run_id`; `WorkflowNotFound` when no run
        has that id."""

    async def withdraw_request(self, run_id: str, key: str) -> bool:
        """Take back a request nobody took yet; whether it was withdrawn."""

    async def list_requests(self, run_id: str, limit: int = 1000) -> list[RequestRecord]:
        """The requests sent to run `run_id`, oldest first, at most `limit` (what the
        web view shows: queued ones too, which no journal entry names yet)."""

    async def take_request(
        self, owner: str, run_id: str, name: str, entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        """Take the oldest queued request `name` of the run and journal `entry` with its
        value as the output, in one transaction; None (nothing written) when none waits.
        Raises `LeaseLost` when `owner` does not hold the run."""

    async def answer_request(
        self,
        owner: str,
        taken: tuple[int, float],
        state: str,
        answer: bytes,
        entry: base.EntryRecord,
    ) -> None:
        """Journal `entry` and record `answer` (state ``replied`` or ``rejected``) on the
        request taken by the entry (seq, started_at) `taken`, in one transaction.  A
        request no longer taken (answered already, or of another run: a fork) is left
        as it is; the entry is journaled all the same."""

    async def receive_any(
        self, owner: str, run_id: str, topics: Sequence[str], entry: base.EntryRecord
    ) -> base.EntryRecord | None:
        """Take the oldest unconsumed message of any of `topics` and journal `entry` with
        its value as the output and the topic's position in `topics` (from 1) as its
        ``attempts``, in one transaction; None when no message waits."""
