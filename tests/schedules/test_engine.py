"""Schedules through `engine.schedules` on both backends: short `Every` intervals and a
real engine firing them (no fake clock: the engine has none to inject)."""

from __future__ import annotations

import datetime
import itertools

import pytest

import durable
from durable import errors
from durable.schedules import policy
from tests.schedules import jobs
from tests.waiting import wait_until

UTC = datetime.UTC


async def runs_of(engine: durable.Engine, name: str) -> list[durable.RunInfo]:
    return await engine.list(name=name, limit=1000)


async def test_every_fires_runs_named_by_their_tick(make_engine) -> None:
    engine = await make_engine()
    info = await engine.schedules.create("echoes", jobs.echo, every=0.5, args=["hi"])
    assert info.next_tick is not None and info.workflow == "sched.echo"

    async def fired() -> bool:
        return len(await runs_of(engine, "sched.echo")) >= 2

    await wait_until(fired, what="two ticks of 'echoes'")
    for run in await runs_of(engine, "sched.echo"):
        schedule_id, _, stamp = run.id.partition("@")
        assert schedule_id == "echoes"
        tick = datetime.datetime.fromisoformat(stamp)
        assert tick.tzinfo is not None and tick.timestamp() % 0.5 == 0
        assert await engine.get(run.id).result(timeout=10) == [tick.isoformat(), "hi"]


async def test_a_workflow_without_a_tick_parameter_gets_only_the_args(make_engine) -> None:
    engine = await make_engine()
    await engine.schedules.create("plain", "sched.plain", every=0.3, args=["x"])

    async def fired() -> bool:
        return bool(await runs_of(engine, "sched.plain"))

    await wait_until(fired, what="a tick of 'plain'")
    run = (await runs_of(engine, "sched.plain"))[0]
    assert await engine.get(run.id).result(timeout=10) == "x"


async def test_pause_records_paused_ticks_and_resume_fires_again(make_engine) -> None:
    engine = await make_engine()
    await engine.schedules.create("p", jobs.plain, every=0.2, args=["p"])
    paused = await engine.schedules.pause("p", note="migrating")
    assert paused.paused and paused.note == "migrating"
    before = {r.id for r in await runs_of(engine, "sched.plain")}

    async def skipped() -> bool:
        got = await engine.schedules.get("p")
        return len(got.skipped) >= 3

    await wait_until(skipped, what="three paused ticks of 'p'")
    got = await engine.schedules.get("p")
    assert {s.reason for s in got.skipped} == {"paused"}
    assert {s.detail for s in got.skipped} == {"migrating"}
    assert {r.id for r in await runs_of(engine, "sched.plain")} <= before | {got.last_run}
    resumed = await engine.schedules.resume("p")
    assert not resumed.paused and resumed.note is None

    async def fired_again() -> bool:
        ids = {r.id for r in await runs_of(engine, "sched.plain")}
        return len(ids - before - {got.last_run}) >= 2

    await wait_until(fired_again, what="ticks of 'p' after resume")
    ran = {
        datetime.datetime.fromisoformat(r.id.partition("@")[2]).timestamp()
        for r in await runs_of(engine, "sched.plain")
    }
    paused_ticks = {s.tick.timestamp() for s in (await engine.schedules.get("p")).skipped}
    assert not ran & paused_ticks  # no tick both run and skipped


async def test_trigger_and_backfill(make_engine) -> None:
    engine = await make_engine()
    await engine.schedules.create(
        "daily", jobs.echo, cron="0 6 * * *", tz="Europe/Paris", args=["b"]
    )
    run = await engine.schedules.trigger("daily")
    assert run.id.startswith("daily@")
    tick, label = await run.result(timeout=10)
    assert label == "b"
    stamp = run.id.partition("@")[2]
    assert datetime.datetime.fromisoformat(tick) == datetime.datetime.fromisoformat(stamp)
    start = datetime.datetime(2026, 3, 27, tzinfo=UTC)
    end = datetime.datetime(2026, 3, 31, tzinfo=UTC)
    runs = await engine.schedules.backfill("daily", start, end)
    # 06:00 Paris: CET (05:00Z) before the 29th, CEST (04:00Z) from it
    assert [r.id for r in runs] == [
        "daily@2026-03-27T05:00:00Z",
        "daily@2026-03-28T05:00:00Z",
        "daily@2026-03-29T04:00:00Z",
        "daily@2026-03-30T04:00:00Z",
    ]
    for r in runs:
        assert (await r.result(timeout=10))[0] == r.id.partition("@")[2].replace("Z", "+00:00")
    again = await engine.schedules.backfill("daily", start, end)  # the same ticks: no new runs
    assert [r.id for r in again] == [r.id for r in runs]
    assert len(await runs_of(engine, "sched.echo")) == 5
    with pytest.raises(ValueError, match="more than 10000 ticks"):
        await engine.schedules.backfill("daily", start, datetime.datetime(2100, 1, 1, tzinfo=UTC))


async def test_list_get_delete_and_unknown_ids(make_engine) -> None:
    engine = await make_engine()
    await engine.schedules.create("b", jobs.plain, every=3600, args=["1"])
    await engine.schedules.create(
        "a", jobs.plain, cron="0 2 * * *", args=["2"], overlap="allow_all"
    )
    assert [s.id for s in await engine.schedules.list()] == ["a", "b", "sched.declared"]
    got = await engine.schedules.get("a")
    assert (got.cron, got.overlap, got.args, got.origin) == ("0 2 * * *", "allow_all", ["2"], "api")
    assert got.to_json()["next_tick"].endswith("T02:00:00Z")
    await engine.schedules.delete("a")
    with pytest.raises(errors.ScheduleNotFound, match="durable schedule list"):
        await engine.schedules.get("a")
    for operation in ("pause", "resume", "trigger", "delete"):
        with pytest.raises(errors.ScheduleNotFound, match="'nope'"):
            await getattr(engine.schedules, operation)("nope")
    with pytest.raises(ValueError, match="exactly one of cron= and every="):
        await engine.schedules.create("c", jobs.plain, args=["x"])
    with pytest.raises(ValueError, match="without '@'"):
        await engine.schedules.create("c@d", jobs.plain, every=5)
    assert [s.id for s in await engine.schedules.list()] == ["b", "sched.declared"]


async def test_decorator_schedule_is_stored_under_the_workflow_name(make_engine) -> None:
    engine = await make_engine()
    got = await engine.schedules.get("sched.declared")
    assert (got.every, got.origin, got.workflow) == (3600.0, "decorator", "sched.declared")
    # a second engine declaring the same schedule leaves it as it is
    await make_engine()
    assert (await engine.schedules.get("sched.declared")).updated_at == got.updated_at


async def test_decorator_schedule_takes_policies(make_engine) -> None:
    from durable.schedules import declared

    timing = durable.Cron(
        "30 4 * * *",
        tz="Europe/Paris",
        overlap="buffer_one",
        catchup="all",
        catchup_window=7200,
        jitter=5,
    )
    assert "overlap='buffer_one'" in repr(timing)
    assert timing != durable.Cron("30 4 * * *", tz="Europe/Paris")  # the policies count

    async def ticked(tick: datetime.datetime) -> str:
        return tick.isoformat()

    durable.workflow(name="sched.with_policies", schedule=timing)(ticked)
    engine = None
    try:
        engine = await make_engine()
        got = await engine.schedules.get("sched.with_policies")
        assert (got.cron, got.tz, got.origin) == ("30 4 * * *", "Europe/Paris", "decorator")
        assert (got.overlap, got.catchup, got.catchup_window, got.jitter) == (
            "buffer_one",
            "all",
            7200.0,
            5.0,
        )
        # a changed declaration replaces the stored one (a new deployment's policies)
        declared.declare("sched.with_policies", durable.Every(600, overlap="allow_all"))
        await make_engine()
        got = await engine.schedules.get("sched.with_policies")
        assert (got.every, got.cron, got.overlap, got.catchup) == (
            600.0,
            None,
            "allow_all",
            "latest",
        )
    finally:
        declared.undeclare("sched.with_policies")
        if engine is not None:
            await engine.schedules.delete("sched.with_policies")
    with pytest.raises(ValueError, match="overlap='sometimes'"):
        durable.Every(60, overlap="sometimes")
    with pytest.raises(ValueError, match="catchup='most'"):
        durable.Cron("0 * * * *", catchup="most")


async def test_recreating_keeps_the_cursor(make_engine) -> None:
    engine = await make_engine()
    first = await engine.schedules.create("edit", jobs.plain, every=3600, args=["a"])
    edited = await engine.schedules.create("edit", jobs.plain, every=1800, args=["b"])
    assert edited.cursor == first.cursor
    assert edited.every == 1800.0 and edited.args == ["b"]
    assert edited.created_at == first.created_at


async def test_downtime_then_catch_up_latest_runs_one_tick(make_engine, db_url) -> None:
    engine = await make_engine()
    await engine.schedules.create("down", jobs.plain, every=0.2, args=["d"])
    await engine.close()  # nobody fires for a while
    closed_at = datetime.datetime.now(UTC).timestamp()
    inspector = await make_engine(execute=False)

    async def several_due() -> bool:
        return datetime.datetime.now(UTC).timestamp() - closed_at > 1.5

    await wait_until(several_due, what="1.5 s of downtime", timeout=5)
    assert await runs_of(inspector, "sched.plain") == []
    await make_engine()

    async def caught_up() -> bool:
        got = await inspector.schedules.get("down")
        return got.cursor is not None and got.cursor.timestamp() > closed_at + 1.5

    await wait_until(caught_up, what="the engine to catch up 'down'")
    got = await inspector.schedules.get("down")
    catch_up = [s for s in got.skipped if s.reason == "catch-up"]
    assert len(catch_up) >= 5  # the missed ticks, but one, recorded and not run
    ran = [
        r
        for r in await runs_of(inspector, "sched.plain")
        if datetime.datetime.fromisoformat(r.id.partition("@")[2]).timestamp()
        <= got.cursor.timestamp()
    ]
    missed = {s.tick.timestamp() for s in catch_up}
    assert all(
        datetime.datetime.fromisoformat(r.id.partition("@")[2]).timestamp() not in missed
        for r in ran
    )


async def test_catch_up_all_runs_the_missed_ticks(make_engine) -> None:
    engine = await make_engine()
    await engine.schedules.create(
        "all", jobs.plain, every=0.25, args=["a"], catchup="all", overlap="allow_all"
    )
    await engine.close()
    inspector = await make_engine(execute=False)
    start = (await inspector.schedules.get("all")).cursor
    assert start is not None

    async def due() -> bool:
        return datetime.datetime.now(UTC) - start > datetime.timedelta(seconds=1.2)

    await wait_until(due, what="four missed ticks", timeout=5)
    await make_engine()
    missed = itertools.islice(durable.Every(0.25).ticks_after(start.timestamp()), 4)
    ticks = [policy.run_id("all", t) for t in missed]

    async def all_ran() -> bool:
        return set(ticks) <= {r.id for r in await runs_of(inspector, "sched.plain")}

    await wait_until(all_ran, what=f"runs of the missed ticks {ticks}")
    assert [
        s for s in (await inspector.schedules.get("all")).skipped if s.reason != "overlap"
    ] == []


async def test_a_schedule_edited_while_two_engines_fire_it(make_engine) -> None:
    first, second = await make_engine(), await make_engine()
    await first.schedules.create("edit", jobs.plain, every=0.5, args=["a"], overlap="allow_all")

    async def ran(engine: durable.Engine, n: int) -> bool:
        return len(await runs_of(engine, "sched.plain")) >= n

    await wait_until(lambda: ran(first, 3), what="three ticks every 0.5 s")
    edited = await second.schedules.create(
        "edit", jobs.plain, every=0.7, args=["b"], overlap="allow_all"
    )
    assert edited.every == 0.7
    before = {r.id for r in await runs_of(first, "sched.plain")}
    await wait_until(lambda: ran(first, len(before) + 3), what="three ticks every 0.7 s")
    after = {r.id for r in await runs_of(first, "sched.plain")} - before
    for run_id in after:
        stamp = datetime.datetime.fromisoformat(run_id.partition("@")[2]).timestamp()
        assert round(stamp / 0.7, 6).is_integer(), run_id  # on the new timing
        assert await first.get(run_id).result(timeout=10) == "b"
    assert first.firer.fired + second.firer.fired == len(before | after)


@pytest.mark.postgres_only
async def test_a_postgres_restart_between_ticks(postgres_url, postgres_server) -> None:
    if postgres_server is None:
        pytest.skip("the server is not ours to restart (DURABLE_TEST_POSTGRES_URL)")
    async with durable.Engine(postgres_url, poll_interval=0) as engine:
        await _restart_between_ticks(engine, postgres_server)


async def _restart_between_ticks(engine: durable.Engine, postgres_server) -> None:
    await engine.schedules.create("pg", jobs.plain, every=0.3, args=["r"], overlap="allow_all")

    async def ran(n: int) -> bool:
        return len(await runs_of(engine, "sched.plain")) >= n

    await wait_until(lambda: ran(3), what="three ticks before the restart")
    await postgres_server.restart_async()
    restarted = datetime.datetime.now(UTC).timestamp()

    async def fired_after() -> bool:
        ids = [r.id for r in await runs_of(engine, "sched.plain")]
        late = [
            i
            for i in ids
            if datetime.datetime.fromisoformat(i.partition("@")[2]).timestamp() > restarted
        ]
        return len(late) >= 3

    await wait_until(fired_after, what="three ticks after the restart", timeout=30)
    info = await engine.schedules.get("pg")
    assert info.cursor is not None and info.created_at is not None
    runs = {r.id for r in await runs_of(engine, "sched.plain")}
    skips = {s.tick.timestamp() for s in info.skipped}
    for tick in durable.Every(0.3).ticks_after(info.created_at.timestamp()):
        if tick > info.cursor.timestamp():
            break
        assert (policy.run_id("pg", tick) in runs) != (tick in skips), tick
