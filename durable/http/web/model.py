"""What the run page shows, worked out from a run's journal: its calls with every
attempt, the groups of calls that ran at the same time, the races, the large fan-outs
folded into one line each, and the call that failed the run.

Nothing here reads the journal or renders HTML: `build` takes a `RunLoad` and returns
plain objects that `durable.http.web.render` draws.  Two calls belong to one group when
they ran at the same time: walking the calls in sequence order, a call that started
before every earlier call of the group had finished joins it (a workflow's sequential
calls start after the previous one returned, so they stay apart).  A group holding more
than `FAN_OUT` calls of one name folds them into one `Bucket`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from durable import codec
from durable.journal import base

__all__ = ["FAN_OUT", "Attempt", "Bucket", "Call", "Group", "Race", "RunView", "build"]

FAN_OUT = 12  # more calls of one name than this in one group are folded into a bucket


@dataclass
class Attempt:
    """One try of a call: when it ran, how it ended, the backoff before the next."""

    number: int
    started_at: float
    finished_at: float | None  # None: running now
    error: bytes | None = None
    retry_at: float | None = None  # the end of the backoff gap after a failed attempt


@dataclass
class Call:
    """A durable call: its journal entry (None while a retried step is still going)."""

    seq: int
    name: str
    kind: str
    status: str  # ok, error, cancelled, retrying
    started_at: float
    finished_at: float | None
    attempts: list[Attempt]
    entry: base.EntryRecord | None = None
    lost_race: int | None = None  # the seq of the race it lost
    won_race: int | None = None


@dataclass
class Bucket:
    """Many calls of one name in one group (a fan-out), shown as one line."""

    name: str
    calls: list[Call]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for call in self.calls:
            out[call.status] = out.get(call.status, 0) + 1
        return out

    @property
    def seqs(self) -> tuple[int, int]:
        return self.calls[0].seq, self.calls[-1].seq

    @property
    def started_at(self) -> float:
        return min(c.started_at for c in self.calls)

    @property
    def finished_at(self) -> float | None:
        ends = [c.finished_at for c in self.calls]
        return None if None in ends else max(e for e in ends if e is not None)

    @property
    def failed(self) -> list[Call]:
        return [c for c in self.calls if c.status not in ("ok", "cancelled")]


@dataclass
class Race:
    """A `durable.race`: its entry, the winning call and the cancelled losers."""

    call: Call
    winner: int | None  # seq of the winner
    losers: list[int] = field(default_factory=list)


@dataclass
class Group:
    """Calls that ran at the same time (one call alone is a group of one)."""

    members: list[Call | Bucket]

    @property
    def size(self) -> int:
        return sum(len(m.calls) if isinstance(m, Bucket) else 1 for m in self.members)


@dataclass
class RunView:
    """Everything the run page draws."""

    run: base.RunRecord
    calls: list[Call]
    groups: list[Group]
    races: dict[int, Race]
    failing: Call | None
    start: float
    end: float
    generation: int = 1  # the journal generation these calls belong to

    def call(self, seq: int) -> Call | None:
        for call in self.calls:
            if call.seq == seq:
                return call
        return None


def _attempts(entry_start: float, failed: list[base.AttemptRecord]) -> list[Attempt]:
    out: list[Attempt] = []
    start = entry_start
    for record in sorted(failed, key=lambda a: a.attempt):
        out.append(Attempt(len(out) + 1, start, record.failed_at, record.error, record.retry_at))
        start = record.retry_at
    return out


def _calls(load: base.RunLoad, now: float) -> list[Call]:
    failures: dict[int, list[base.AttemptRecord]] = {}
    for attempt in load.attempts:
        failures.setdefault(attempt.seq, []).append(attempt)
    calls = []
    for entry in load.entries:
        tries = _attempts(entry.started_at, failures.pop(entry.seq, []))
        last_start = tries[-1].retry_at if tries and tries[-1].retry_at else entry.started_at
        tries.append(
            Attempt(
                len(tries) + 1,
                min(last_start, entry.finished_at),
                entry.finished_at,
                entry.error if entry.status == "error" else None,
            )
        )
        calls.append(
            Call(
                entry.seq,
                entry.name,
                entry.kind,
                entry.status,
                entry.started_at,
                entry.finished_at,
                tries,
                entry,
            )
        )
    for seq, failed in failures.items():  # failed attempts of a call still being retried
        first = min(a.failed_at for a in failed)
        tries = _attempts(first, failed)
        if tries[-1].retry_at is not None and tries[-1].retry_at <= now:
            tries.append(Attempt(len(tries) + 1, tries[-1].retry_at, None))
        calls.append(Call(seq, "(retrying)", "step", "retrying", first, None, tries))
    calls.sort(key=lambda c: c.seq)
    return calls


def _contestants(calls: list[Call], i: int) -> list[Call]:
    """The first calls of race `calls[i]`'s contestants.  The race's fingerprint holds
    how many it had; a step or child called as an argument was issued before the race
    (the calls just before it, still running when it began), a coroutine of several
    calls issues its first one after it."""
    race = calls[i]
    assert race.entry is not None
    n = next((k for k in range(1, 257) if codec.fingerprint((k,), {}) == race.entry.fingerprint), 0)
    before = calls[max(i - n, 0) : i]
    if (
        n
        and len(before) == n
        and all((c.finished_at or race.started_at) >= race.started_at for c in before)
    ):
        return before
    return calls[i + 1 : i + 1 + n]


def _races(calls: list[Call]) -> dict[int, Race]:
    """Each race's winner (its journaled index among the contestants) and the losers
    it cancelled (journaled ``cancelled``)."""
    from durable.http import payloads

    races = {}
    for i, call in enumerate(calls):
        if call.kind != "race" or call.entry is None:
            continue
        index = payloads.value_json(call.entry.output) if call.status == "ok" else None
        contestants = _contestants(calls, i)
        race = Race(call, None)
        for k, other in enumerate(contestants):
            if k == index:
                race.winner = other.seq
                other.won_race = call.seq
            elif other.status == "cancelled":
                other.lost_race = call.seq
                race.losers.append(other.seq)
        races[call.seq] = race
    return races


def _fold(members: list[Call]) -> list[Call | Bucket]:
    by_name: dict[str, list[Call]] = {}
    for call in members:
        by_name.setdefault(call.name, []).append(call)
    out: list[Call | Bucket] = []
    folded: set[str] = set()
    for call in members:
        same = by_name[call.name]
        if len(same) <= FAN_OUT or call.kind == "race":
            out.append(call)
        elif call.name not in folded:
            folded.add(call.name)
            out.append(Bucket(call.name, same))
    return out


def _groups(calls: list[Call], now: float) -> list[Group]:
    groups: list[list[Call]] = []
    end = -1.0
    for call in calls:
        if groups and call.started_at < end:
            groups[-1].append(call)
        else:
            groups.append([call])
            end = -1.0
        end = max(end, call.finished_at if call.finished_at is not None else now)
    return [Group(_fold(members)) for members in groups]


def build(load: base.RunLoad, now: float) -> RunView:
    """The run page of `load`, as of time `now` (the end of what still runs)."""
    calls = _calls(load, now)
    races = _races(calls)
    failing = None
    if load.run.status is base.Status.FAILED:
        failed = [c for c in calls if c.status == "error"]
        failing = failed[-1] if failed else None
    start = min([load.run.created_at, *(c.started_at for c in calls)])
    ends = [load.run.finished_at or now, *(c.finished_at or now for c in calls)]
    groups = _groups(calls, now)
    return RunView(load.run, calls, groups, races, failing, start, max(ends), load.generation)
