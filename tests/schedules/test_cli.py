"""``durable schedule ...`` through the real entry point, on both backends."""

from __future__ import annotations

import json

import durable
from tests.cli.harness import Cli
from tests.schedules import jobs


async def test_schedule_commands(db_url, tmp_path) -> None:
    async with durable.Engine(db_url, execute=False) as engine:
        await engine.schedules.create(
            "nightly", jobs.echo, cron="0 2 * * *", tz="Europe/Paris", args=["n"]
        )
    cli = Cli(db_url, tmp_path)
    listed = cli("schedule", "list").stdout
    assert "nightly" in listed and "cron '0 2 * * *' Europe/Paris" in listed
    assert "paused (migrating)" in cli("schedule", "pause", "nightly", "--note", "migrating").stdout
    shown = cli("schedule", "show", "nightly").stdout
    assert "state:             paused: migrating" in shown
    filled = cli(
        "schedule", "backfill", "nightly", "--start", "2026-10-24", "--end", "2026-10-27"
    ).stdout.split()
    # the fall-back night (25 October) fires once, at 02:00 CEST
    assert filled == [
        "nightly@2026-10-24T00:00:00Z",
        "nightly@2026-10-25T00:00:00Z",
        "nightly@2026-10-26T01:00:00Z",
    ]
    triggered = cli("schedule", "trigger", "nightly").stdout.strip()
    assert triggered.startswith("nightly@")
    assert "active" in cli("schedule", "resume", "nightly").stdout
    (row,) = [
        json.loads(line)
        for line in cli("schedule", "list", "--json").stdout.splitlines()
        if json.loads(line)["id"] == "nightly"
    ]
    assert row["paused"] is False and row["last_run"] == triggered
    assert "deleted" in cli("schedule", "delete", "nightly").stdout
    missing = cli("schedule", "show", "nightly", ok=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "durable: error: no schedule with id 'nightly' in the journal; "
        "`durable schedule list` shows the ids it holds."
    ]
    bad = cli("schedule", "backfill", "x", "--start", "soon", "--end", "later", ok=False)
    assert bad.returncode == 1 and "bad date 'soon'" in bad.stderr
