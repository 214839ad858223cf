"""The kinds of durable calls, as journal entries name them."""

from __future__ import annotations

import enum

__all__ = ["Kind"]


class Kind(enum.StrEnum):
    """What a journal entry answers.  A new primitive adds one member here."""

    STEP = "step"
    TRANSACTION = "transaction"
    SLEEP = "sleep"
    NOW = "now"
    UUID = "uuid"
    RANDOM = "random"
    PATCH = "patch"
    CHILD = "child"
    RACE = "race"
    TIMEOUT = "timeout"
    SEND = "send"
    RECV = "recv"
    EVENT = "event"
    CONTINUE = "continue"
    RECV_ANY = "recv_any"
    REQUEST = "request"  # durable.recv_request: the request taken
    REPLY = "reply"
    REJECT = "reject"

    @property
    def instant(self) -> bool:
        """Answered at the call and never waited for in the delivery order."""
        return self in _INSTANT

    @property
    def has_deadline(self) -> bool:
        """May journal a durable timer (its deadline) before its outcome."""
        return self in _DEADLINE

    @staticmethod
    def is_instant(kind: str) -> bool:
        """`instant` for a kind read from the journal (a newer version's kind is not)."""
        return kind in _INSTANT_VALUES


_INSTANT = frozenset({Kind.NOW, Kind.UUID, Kind.RANDOM, Kind.PATCH})
_DEADLINE = frozenset({Kind.SLEEP, Kind.TIMEOUT, Kind.RECV, Kind.RECV_ANY, Kind.REQUEST})
_INSTANT_VALUES = frozenset(kind.value for kind in _INSTANT)
