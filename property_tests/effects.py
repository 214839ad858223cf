"""What generated programs do outside the journal, and where they may crash.

Every body execution is written to `LOG` (and, in subprocesses, to the JSONL file
``$PROP_LOG_FILE``) with the *incarnation* (engine generation) it ran in; `CRASHER` crashes
at the k-th crash point (`point`) of an incarnation.  The points are in step and
transaction bodies (at their start and end) and in workflow code between messages and
between the moves of a loop.  `STEPS` and `TXS` are the registered step and transaction
for each retry budget; `mailer` is the child workflow that sends messages to its parent.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import durable

# -- the side-effect log and the crash trigger -----------------------------------------------


@dataclass
class Event:
    incarnation: int
    what: str  # "start", "fail", "end" for bodies; "instant" for now/uuid/random
    label: str
    value: str = ""


LOG: dict[str, list[Event]] = {}


@dataclass
class Crasher:
    """Crash when the `count` of body points in this incarnation reaches `at` (0: never)."""

    at: int = 0
    count: int = 0
    incarnation: int = 0
    action: Callable[[], None] | None = None
    log_file: str | None = field(default_factory=lambda: os.environ.get("PROP_LOG_FILE"))

    def arm(self, at: int, action: Callable[[], None] | None) -> None:
        self.at, self.count, self.action = at, 0, action


CRASHER = Crasher()
if os.environ.get("PROP_INCARNATION"):
    CRASHER.incarnation = int(os.environ["PROP_INCARNATION"])


def record(run_id: str, what: str, label: str, value: str = "") -> None:
    event = Event(CRASHER.incarnation, what, label, value)
    LOG.setdefault(run_id, []).append(event)
    if CRASHER.log_file:
        with open(CRASHER.log_file, "a") as handle:
            handle.write(json.dumps([run_id, *event.__dict__.values()]) + "\n")
            handle.flush()


def read_log(path: str | None) -> list[tuple[str, Event]]:
    """The events `record` wrote to the JSONL file `path` (none if it does not exist), each
    with its run id."""
    if not path or not os.path.exists(path):
        return []
    with open(path) as handle:
        rows = [json.loads(line) for line in handle]
    return [(run_id, Event(*fields)) for run_id, *fields in rows]


def point() -> None:
    """A crash point inside a body: crash here if this is the armed one."""
    CRASHER.count += 1
    if CRASHER.count == CRASHER.at and CRASHER.action is not None:
        action, CRASHER.action = CRASHER.action, None
        action()


def failures(run_id: str, label: str) -> int:
    return sum(1 for e in LOG.get(run_id, []) if e.what == "fail" and e.label == label)


# -- the bodies of steps and transactions, and the mailer -----------------------------------


def root() -> str:
    """Effects are logged by the root run: a child's steps count for the program as a whole
    (labels are unique across the program)."""
    return durable.context().root_id


async def _step_body(label: str, fail: int, broken: bool, delay: float, arg: Any) -> str:
    run_id = root()
    record(run_id, "start", label)
    point()
    await asyncio.sleep(delay)  # always yields: a crash above cancels the body here
    if broken or failures(run_id, label) < fail:
        record(run_id, "fail", label)
        raise ValueError(f"{label} is broken")
    record(run_id, "end", label)
    point()
    return label


def _sql(dialect: str, text: str) -> str:
    return text.replace("?", "%s") if dialect == "postgres" else text


EFFECTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS prop_effects (run_id TEXT NOT NULL, label TEXT NOT NULL)"
)


async def _tx_body(conn: Any, dialect: str, label: str, fail: int, broken: bool, arg: Any) -> str:
    run_id = root()
    record(run_id, "start", label)
    point()
    await conn.execute(
        _sql(dialect, "INSERT INTO prop_effects (run_id, label) VALUES (?, ?)"), (run_id, label)
    )
    if broken or failures(run_id, label) < fail:
        record(run_id, "fail", label)
        raise ValueError(f"{label} is broken")
    record(run_id, "end", label)
    point()
    await asyncio.sleep(0)  # a crash at the point above lands before the commit
    return label


def _retry(attempts: int) -> durable.Retry:
    return durable.Retry(max_attempts=attempts, initial=0.001, backoff=1.0, jitter=0)


STEPS = {n: durable.step(name=f"prop.step.a{n}", retry=_retry(n))(_step_body) for n in (1, 2, 3)}
TXS = {n: durable.transaction(name=f"prop.tx.a{n}", retry=_retry(n))(_tx_body) for n in (1, 2, 3)}


@durable.workflow(name="prop.mailer")
async def mailer(target: str, topic: str, values: list[Any]) -> None:
    """Send `values` to run `target` on `topic`, one by one."""
    for value in values:
        await durable.send(target, topic, value)
        point()
