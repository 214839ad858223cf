"""What started a run, read from its row: a schedule's tick, an event source's records,
a webhook delivery, a parent run, or a caller (code, the CLI, the HTTP API).

The schedule firer, the source consumers and the webhook route write what they are in
the run's metadata (``schedule``/``tick``/``fired``, ``source``/``records``/
``deliveries``, ``webhook``); a child run names its parent in its row.  The runs list
shows `Trigger.short` and filters on `Trigger.kind` and `Trigger.name`; the run page
shows `Trigger.details`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from durable.http import payloads
from durable.journal import base

__all__ = ["Trigger", "of"]


@dataclass(frozen=True)
class Trigger:
    """Who started a run: `kind` is ``schedule``, ``source``, ``webhook``, ``parent``
    or ``caller``; `name` the schedule id, the source's key, the hook's name or the
    parent's id."""

    kind: str
    name: str = ""
    details: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def short(self) -> str:
        return "-" if self.kind == "caller" else f"{self.kind} {self.name}"


def _metadata(run: base.RunRecord) -> dict[str, Any]:
    found = payloads.value_json(run.metadata)
    return found if isinstance(found, dict) and "$durable" not in found else {}


def of(run: base.RunRecord) -> Trigger:
    """The trigger of `run` (see the module docstring)."""
    meta = _metadata(run)
    if isinstance(meta.get("schedule"), str):
        said = [("tick", meta.get("tick")), ("fired", meta.get("fired"))]
        return Trigger("schedule", meta["schedule"], [(k, v) for k, v in said if v is not None])
    if isinstance(meta.get("source"), str):
        records = meta.get("records")
        said = [("records", records), ("deliveries", meta.get("deliveries"))]
        return Trigger("source", meta["source"], [(k, v) for k, v in said if v is not None])
    if isinstance(meta.get("webhook"), str):
        return Trigger("webhook", meta["webhook"], [("delivery", run.id)])
    if run.parent_id is not None:
        return Trigger("parent", run.parent_id, [("call", run.parent_seq)])
    return Trigger("caller")
