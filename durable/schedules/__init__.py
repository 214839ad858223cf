"""Schedules: runs started at the ticks of a `Cron` expression or an `Every` interval.

`spec` (when ticks fall), `policy` (what due ticks do: pure), `firing` (the loop each
executing engine runs), `manage` (``engine.schedules``).  The journal's side is
`durable.journal.schedule_store`.
"""

from __future__ import annotations

from durable.schedules.manage import ScheduleInfo, Schedules, SkippedTick
from durable.schedules.spec import Cron, Every

__all__ = ["Cron", "Every", "ScheduleInfo", "Schedules", "SkippedTick"]
