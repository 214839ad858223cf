"""The schedule rules with a fake clock: `policy.plan` is pure, so `now` is any instant,
and `Cron` is checked across real daylight-saving transitions of two zones."""

from __future__ import annotations

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest

import durable
from durable.journal import base
from durable.journal import schedule_store as store
from durable.schedules import policy, spec

UTC = datetime.UTC


def at(*fields: int) -> float:
    return datetime.datetime(*fields, tzinfo=UTC).timestamp()


def ticks(cron: durable.Cron, after: float, n: int) -> list[str]:
    return [spec.format_tick(t) for t in itertools.islice(cron.ticks_after(after), n)]


def test_paris_fall_back_fires_a_repeated_time_once() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice, fires at its first
    cron = durable.Cron("30 2 * * *", tz="Europe/Paris")
    assert ticks(cron, at(2026, 10, 24, 12), 2) == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    half_hourly = durable.Cron("*/30 * * * *", tz="Europe/Paris")
    # 02:00 and 02:30 local happen twice: their second occurrences (01:00Z, 01:30Z) are not ticks
    assert ticks(half_hourly, at(2026, 10, 25, 0, 15), 3) == [
        "2026-10-25T00:30:00Z",
        "2026-10-25T02:00:00Z",
        "2026-10-25T02:30:00Z",
    ]


def test_paris_spring_forward_fires_a_missing_time_at_the_next_valid_instant() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist, fires at 03:00 CEST
    cron = durable.Cron("30 2 * * *", tz="Europe/Paris")
    assert ticks(cron, at(2026, 3, 28, 12), 2) == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]


def test_new_york_transitions() -> None:
    cron = durable.Cron("30 1 * * *", tz="America/New_York")
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 twice, once fired (05:30Z, EDT)
    assert ticks(cron, at(2026, 10, 31, 12), 2) == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    spring = durable.Cron("30 2 * * *", tz="America/New_York")
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 missing -> 03:00 EDT (07:00Z)
    assert ticks(spring, at(2026, 3, 7, 12), 2) == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]


def test_six_fields_take_seconds_first() -> None:
    cron = durable.Cron("*/20 * * * * *")
    assert ticks(cron, at(2026, 1, 1), 3) == [
        "2026-01-01T00:00:20Z",
        "2026-01-01T00:00:40Z",
        "2026-01-01T00:01:00Z",
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("* * *",), "3 fields"),
        (("61 * * * *",), "bad cron expression"),
        (("* * * * *", "Mars/Olympus"), "unknown time zone"),
    ],
)
def test_bad_cron_says_what_is_wrong(args: tuple[str, ...], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        durable.Cron(*args)


def test_every_ticks_at_multiples_of_its_interval() -> None:
    assert list(itertools.islice(durable.Every(0.5).ticks_after(10.2), 3)) == [10.5, 11.0, 11.5]
    with pytest.raises(ValueError, match=r"at least 0\.1"):
        durable.Every(0)


def row(settings: policy.Settings, cursor: float, **fields: object) -> store.ScheduleRecord:
    values: dict[str, object] = {
        "id": "s",
        "workflow": "w",
        "spec": settings.encode(),
        "args": b"",
        "cursor": cursor,
        "next_at": settings.spec().next_after(cursor),
        "created_at": 0.0,
        "updated_at": 0.0,
        "last_run": "s@previous",
    }
    values.update(fields)
    return store.ScheduleRecord(**values)  # type: ignore[arg-type]


def make_run(tick: float) -> base.NewRun:
    rid = policy.run_id("s", tick)
    return base.NewRun(id=rid, name="w", input=b"", root_id=rid, metadata=b"", created_at=tick)


def plan(settings: policy.Settings, cursor: float, now: float, running: bool = False, **fields):
    found = policy.plan(row(settings, cursor, **fields), now, running, make_run)
    assert found is not None
    return found


def reasons(found: policy.Plan) -> list[tuple[float, str]]:
    return [(s.tick, s.reason) for s in found.advance.skips]


MINUTE = policy.Settings(every=60)


def test_catchup_latest_runs_only_the_most_recent_missed_tick() -> None:
    found = plan(MINUTE, cursor=0.0, now=300.5)  # down through 60..300
    assert found.fired == [300.0]
    assert reasons(found) == [
        (60.0, "catch-up"),
        (120.0, "catch-up"),
        (180.0, "catch-up"),
        (240.0, "catch-up"),
    ]
    assert found.advance.cursor == 300.0
    assert found.advance.next_at == 360.0
    assert [r.id for r in found.advance.runs] == ["s@1970-01-01T00:05:00Z"]


def test_catchup_all_runs_every_missed_tick_within_the_window() -> None:
    settings = policy.Settings(every=60, catchup="all", catchup_window=150, overlap="allow_all")
    found = plan(settings, cursor=0.0, now=300.5)
    assert found.fired == [180.0, 240.0, 300.0]
    assert reasons(found) == [(60.0, "catch-up"), (120.0, "catch-up")]


def test_catchup_none_skips_late_ticks() -> None:
    settings = policy.Settings(every=120, catchup="none")
    late = plan(settings, cursor=0.0, now=240 + policy.LATE_AFTER + 1)
    assert late.fired == []
    assert reasons(late) == [(120.0, "catch-up"), (240.0, "catch-up")]
    on_time = plan(settings, cursor=0.0, now=240.5)
    assert on_time.fired == [240.0]


def test_overlap_skip_while_the_previous_run_is_unfinished() -> None:
    found = plan(MINUTE, cursor=0.0, now=60.2, running=True)
    assert found.fired == []
    assert reasons(found) == [(60.0, "overlap")]
    assert found.advance.cursor == 60.0


def test_overlap_buffer_one_holds_one_tick_and_runs_it_after() -> None:
    settings = policy.Settings(every=60, overlap="buffer_one")
    held = plan(settings, cursor=0.0, now=60.2, running=True)
    assert held.fired == [] and held.advance.buffered == 60.0
    again = plan(settings, cursor=60.0, now=120.2, running=True, buffered=60.0)
    assert again.fired == [] and again.advance.buffered == 60.0
    assert reasons(again) == [(120.0, "overlap")]
    done = policy.plan(row(settings, 120.0, buffered=60.0), 130.0, False, make_run)
    assert done is not None and done.fired == [60.0] and done.advance.buffered is None


def test_overlap_allow_all_and_cancel_other() -> None:
    allow = plan(policy.Settings(every=60, overlap="allow_all"), 0.0, 60.2, running=True)
    assert allow.fired == [60.0] and allow.cancel is None
    cancel = plan(policy.Settings(every=60, overlap="cancel_other"), 0.0, 60.2, running=True)
    assert cancel.fired == [60.0] and cancel.cancel == "s@previous"


def test_paused_records_every_due_tick_as_paused() -> None:
    found = plan(MINUTE, cursor=0.0, now=180.5, paused=True, note="migrating")
    assert found.fired == []
    assert [(s.reason, s.detail) for s in found.advance.skips] == [("paused", "migrating")] * 3


def test_a_long_downtime_is_handled_a_thousand_ticks_at_a_time() -> None:
    settings = policy.Settings(every=1)
    first = plan(settings, cursor=0.0, now=5000.5)
    assert first.fired == [] and len(first.advance.skips) == policy.MAX_TICKS
    assert first.advance.cursor == float(policy.MAX_TICKS)


def test_jitter_is_the_same_everywhere_and_bounded() -> None:
    delays = {policy.jitter_of("s", float(t), 5.0) for t in range(100)}
    assert all(0 <= d < 5 for d in delays) and len(delays) > 50
    assert policy.jitter_of("s", 7.0, 5.0) == policy.jitter_of("s", 7.0, 5.0)


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap='sometimes'"):
        policy.Settings(every=1, overlap="sometimes")
    with pytest.raises(ValueError, match="catchup='most'"):
        policy.Settings(every=1, catchup="most")


def test_an_hourly_cron_fires_23_times_on_spring_forward_and_24_on_fall_back() -> None:
    zone = ZoneInfo("Europe/Paris")
    cron = durable.Cron("0 * * * *", tz="Europe/Paris")
    for day, expected in [((2026, 3, 29), 23), ((2026, 10, 25), 24)]:
        start = datetime.datetime(*day, tzinfo=zone)
        end = (start + datetime.timedelta(days=1)).replace(hour=0)
        last = end.timestamp()
        ticks = itertools.islice(cron.ticks_after(start.timestamp() - 1), 30)
        assert len([t for t in ticks if t < last]) == expected, day
