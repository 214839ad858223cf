"""An exception class defined in the script (``__main__``) is the same class after a restart.

Issue 12, bug 3: the journaled error came back as a look-alike class rebuilt by
cloudpickle, so the workflow's ``except Declined`` missed it on replay and the run failed.
"""

from __future__ import annotations

import json
import signal
import subprocess

from tests.e2e.harness import run_module


def _script(db_url: str, phase: str) -> subprocess.CompletedProcess[str]:
    return run_module("tests.e2e.declined", "--db", db_url, phase)


async def test_main_exception_is_caught_again_after_sigkill(db_url: str) -> None:
    crashed = _script(db_url, "crash")
    assert crashed.returncode == -signal.SIGKILL, (crashed.stdout, crashed.stderr)

    resumed = _script(db_url, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1]) == {
        "status": "SUCCEEDED",
        "result": "sorry: card declined for 5",
    }
