"""Start options: what `Engine.start` accepts besides the workflow and its arguments, and
how it is checked before anything is written.

- A workflow given by name need not be imported where it is started: the run is stored
  under that name and executed by whichever worker imported it.  The name must be a
  journal name (``module.qualname``, or the ``name=`` given to ``@workflow``): no
  spaces or control characters, no ``module:function`` form.  Without ``queue=`` the run
  is on the queue of the workflow's ``@workflow(queue=)`` as the journal's catalog has
  it (every executing engine records the workflows it imported when it opens); a name
  no worker has recorded yet goes on the default queue, as a ``queue=`` given names it.
- ``start_at`` (an aware `datetime`, or seconds since the epoch) or ``delay`` (seconds
  from now): the run is PENDING and claimed by no worker before then.  Its due time is
  stored with the run, so a crash of the starter or of every worker neither loses nor
  doubles it.
- ``partition_key``: the run's partition within its queue, limited by the queue's
  ``partition_concurrency`` across every worker.
- ``dedup_key``: while a run started with the key is unfinished, a start with the same
  key returns that run instead of creating one; once it has finished the key is free
  again (as in DBOS), so the next start with it creates a new run.
"""

from __future__ import annotations

import datetime
import math
import re

import msgspec

from durable import errors

__all__ = ["StartOptions", "check_name", "options"]

_MAX_KEY = 200
_NAME = re.compile(r"[^\s:]{1,200}")


class StartOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Checked start options (see the module docstring)."""

    start_at: float | None = None
    partition_key: str | None = None
    dedup_key: str | None = None

    def delayed(self, now: float) -> bool:
        """Whether the run is not due yet at `now`."""
        return self.start_at is not None and self.start_at > now


def check_name(name: str) -> str:
    """`name` if it can name a workflow in the journal, else `InvalidStart` saying why."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        hint = ""
        if isinstance(name, str) and ":" in name:
            hint = f" (for MODULE:FUNCTION write the journal name, {name.replace(':', '.')!r})"
        raise errors.InvalidStart(
            f"cannot start workflow {name!r}: a workflow name is its journal name, "
            "1 to 200 characters without spaces, control characters or ':', such as "
            f"'myapp.flows.crawl'{hint}"
        )
    return name


def _key(label: str, value: object, workflow_id: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_KEY:
        raise errors.InvalidStart(
            f"cannot start run {workflow_id!r}: {label} must be a non-empty string of at "
            f"most {_MAX_KEY} characters, got {value!r}",
            workflow_id=workflow_id,
        )
    return value


def _when(start_at: object, delay: object, now: float, workflow_id: str | None) -> float | None:
    where = f"cannot start run {workflow_id!r}"
    if start_at is not None and delay is not None:
        raise errors.InvalidStart(
            f"{where}: give start_at or delay, not both", workflow_id=workflow_id
        )
    if delay is not None:
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise errors.InvalidStart(
                f"{where}: delay must be a number of seconds, got {delay!r}",
                workflow_id=workflow_id,
            )
        if not math.isfinite(delay) or delay < 0:
            raise errors.InvalidStart(
                f"{where}: delay must be finite and not negative, got {delay!r}",
                workflow_id=workflow_id,
            )
        return now + float(delay)
    if start_at is None:
        return None
    if isinstance(start_at, datetime.datetime):
        if start_at.tzinfo is None or start_at.utcoffset() is None:
            raise errors.InvalidStart(
                f"{where}: start_at {start_at.isoformat()} has no time zone; give an aware "
                "datetime (datetime.now(timezone.utc) + ...) so every worker reads it alike",
                workflow_id=workflow_id,
            )
        return start_at.timestamp()
    if isinstance(start_at, bool) or not isinstance(start_at, int | float):
        raise errors.InvalidStart(
            f"{where}: start_at must be an aware datetime or seconds since the epoch, "
            f"got {start_at!r}",
            workflow_id=workflow_id,
        )
    if not math.isfinite(start_at):
        raise errors.InvalidStart(f"{where}: start_at must be finite", workflow_id=workflow_id)
    return float(start_at)


def options(
    *,
    start_at: object = None,
    delay: object = None,
    partition_key: object = None,
    dedup_key: object = None,
    now: float,
    workflow_id: str | None = None,
) -> StartOptions:
    """Check the start options given to `Engine.start`; raise `InvalidStart` naming the
    run and the option at fault.  A `start_at` in the past is due at once."""
    return StartOptions(
        start_at=_when(start_at, delay, now, workflow_id),
        partition_key=_key("partition_key", partition_key, workflow_id),
        dedup_key=_key("dedup_key", dedup_key, workflow_id),
    )
