"""The one place that reads event-loop internals: is a callback of some workflow's code
waiting in the loop's ready queue?

asyncio has no public way to ask this.  CPython's `BaseEventLoop` keeps the callbacks
due in this iteration in a deque, ``_ready``, of `asyncio.Handle` objects, each with the
context it will run in (``_context``) and a ``_cancelled`` flag.  `tests/unit/
test_sequencer.py` pins that reading, so an interpreter that changes it fails a test
instead of making every moment look quiet.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from typing import Any

__all__ = ["readable", "waiting_in"]


def readable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `waiting_in` can see `loop`'s ready queue (not on uvloop, for one)."""
    return isinstance(getattr(loop, "_ready", None), collections.deque)


def waiting_in(
    loop: asyncio.AbstractEventLoop, var: contextvars.ContextVar[Any], owner: Any
) -> bool:
    """Whether a callback that will run with ``var`` set to `owner` is queued in `loop`.

    False when the ready queue cannot be read (see `readable`).
    """
    ready = getattr(loop, "_ready", None)
    if ready is None:
        return False
    for handle in ready:
        ctx = getattr(handle, "_context", None)
        if ctx is not None and not handle._cancelled and ctx.get(var) is owner:
            return True
    return False
