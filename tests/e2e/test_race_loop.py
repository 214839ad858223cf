"""A loop of `race(sleep, recv("stop"))` survives a SIGKILL (issue 12, bug 2).

Before the loser rule, a `recv` that lost to a sleep journaled nothing; after a restart
its call ran live on replay, and the engine stopped the run with a false
`NonDeterminismError` ("the workflow stopped calling").
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess

import durable
from tests.e2e.harness import check_stderr, run_module


def _invoke(db_url: str, effects: pathlib.Path, command: str) -> subprocess.CompletedProcess[str]:
    done = run_module("tests.e2e.race_loop", "--db", db_url, "--effects", str(effects), command)
    check_stderr(done.stderr)
    return done


async def test_a_race_loop_of_sleep_and_recv_resumes_after_sigkill(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    effects = tmp_path / "effects.jsonl"
    crashed = _invoke(db_url, effects, "crash")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    resumed = _invoke(db_url, effects, "resume")
    assert resumed.returncode == 0, resumed.stderr
    [line] = [json.loads(x) for x in resumed.stdout.splitlines() if x.startswith("{")]
    assert line["result"]["stop"] == "halt"
    labels = [json.loads(x)["label"] for x in effects.read_text().splitlines()]
    # ticks journaled before the crash never ran again; tick 3 (killed in its body) did
    assert [labels.count(f"tick-{i}") for i in range(4)] == [1, 1, 1, 2]

    async with durable.Engine(db_url, execute=False) as engine:
        history = await engine.history("poller")
        run = await engine.get("poller").status()
    assert run is durable.Status.SUCCEEDED
    recvs = [h for h in history if h.kind == "recv"]
    # every recv that lost to the sleep journaled a cancelled outcome; the last one won
    assert [h.status for h in recvs[:-1]] == ["cancelled"] * (len(recvs) - 1)
    assert recvs[-1].status == "ok"
