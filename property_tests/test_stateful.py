"""A rule-based state machine over the run operations, checked against a plain-Python model.

Runs are of four kinds: ``gated`` (one step that blocks until the test opens its key's
gate, then returns), ``failing`` (the same step, which raises once its gate is open),
``sleeper`` (a one-hour durable sleep) and ``listener`` (returns the first message sent
to it on topic ``go``; messages sent while it is cancelled wait for a resume).  The model
says, for every run, whether it must be unfinished (``ACTIVE``) or which terminal status
it must have; a gate, once opened, stays open, so a run that re-executes the step after
that finishes at once.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

import durable
from durable import testing
from durable.journal import base
from property_tests.conftest import scaled
from property_tests.stats import STATS

GATES: set[str] = set()
GATE_RUNS: Counter[str] = Counter()
ACTIVE = "ACTIVE"
UNFINISHED = {base.Status.PENDING, base.Status.RUNNING, base.Status.SLEEPING}
_machines = iter(range(1_000_000))


@durable.step(name="prop.sm.gate")
async def gate(key: str, fails: bool) -> str:
    GATE_RUNS[key] += 1
    while key not in GATES:
        await asyncio.sleep(0.002)
    if fails:
        raise ValueError(f"{key} failed")
    return key


@durable.workflow(name="prop.sm.gated")
async def gated(key: str, fails: bool) -> str:
    return await gate(key, fails)


@durable.workflow(name="prop.sm.listener")
async def listener(key: str) -> int:
    value: int = await durable.recv("go")
    return value


@durable.workflow(name="prop.sm.sleeper")
async def sleeper(key: str) -> str:
    await durable.sleep(3600)
    return key


async def _drain() -> None:
    """Cancel whatever tasks are left on the machine's loop and let them finish."""
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class ModelRun:
    kind: str  # "gated", "failing", "sleeper" or "listener"
    key: str
    status: str  # ACTIVE or a terminal status's value
    mail: list[int] = field(default_factory=list)  # messages sent to this run, in order

    def settled(self) -> str:
        """The status a run of this kind reaches when it (re-)executes its step now."""
        if self.kind == "listener":
            return "SUCCEEDED" if self.mail else ACTIVE
        if self.kind == "sleeper" or self.key not in GATES:
            return ACTIVE
        return "FAILED" if self.kind == "failing" else "SUCCEEDED"


class RunMachine(RuleBasedStateMachine):
    """start / release / send / cancel / crash / recover / fork / restart / resume."""

    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.mkdtemp(prefix="prop-sm-")
        self.url = f"sqlite:///{self.folder}/journal.db"
        self.prefix = f"m{next(_machines)}"
        self.model: dict[str, ModelRun] = {}
        self.engine: durable.Engine | None = None
        self.count = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    async def _open(self) -> None:
        self.engine = durable.Engine(self.url, poll_interval=0)
        await self.engine.open()

    async def _wait_for(self, run_id: str, want: str) -> None:
        """Wait (bounded) until a run that must finish has; the invariant checks the rest."""
        if want == ACTIVE:
            return
        assert self.engine is not None
        deadline = time.monotonic() + 15
        while (await self.engine.get(run_id).status()) in UNFINISHED:
            assert time.monotonic() < deadline, f"{run_id} did not become {want}"
            await asyncio.sleep(0.005)

    @initialize()
    def open_engine(self) -> None:
        self.run(self._open())

    def teardown(self) -> None:
        try:
            if self.engine is not None:
                self.run(self.engine.close())
            self.run(_drain())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def up(self) -> bool:
        return self.engine is not None

    # -- rules ---------------------------------------------------------------------------

    @precondition(lambda self: self.up)
    @rule(target=runs, kind=st.sampled_from(["gated", "failing", "sleeper", "listener"]))
    def start(self, kind: str) -> str:
        self.count += 1
        run_id = key = f"{self.prefix}-r{self.count}"
        assert self.engine is not None
        if kind in ("sleeper", "listener"):
            wf = sleeper if kind == "sleeper" else listener
            self.run(self.engine.start(wf, key, workflow_id=run_id))
        else:
            self.run(self.engine.start(gated, key, kind == "failing", workflow_id=run_id))
        self.model[run_id] = ModelRun(kind, key, ACTIVE)
        STATS["machine_steps"] += 1
        return run_id

    @precondition(lambda self: self.up)
    @rule(run_id=runs)
    def release(self, run_id: str) -> None:
        """Open the run's gate: every unfinished run on that key finishes."""
        GATES.add(self.model[run_id].key)
        for other_id, other in self.model.items():
            if other.status == ACTIVE and other.key == self.model[run_id].key:
                other.status = other.settled()
                self.run(self._wait_for(other_id, other.status))
        STATS["machine_steps"] += 1

    @precondition(lambda self: self.up)
    @rule(run_id=runs, value=st.integers(0, 9))
    def send(self, run_id: str, value: int) -> None:
        """Send `value` on ``go``: an unfinished listener finishes with its first message;
        a finished run refuses it (`RunFinished`)."""
        assert self.engine is not None
        model = self.model[run_id]
        if model.status != ACTIVE:
            try:
                self.run(self.engine.send(run_id, "go", value))
            except durable.RunFinished as refused:
                assert refused.workflow_id == run_id and refused.status == model.status
            else:
                raise AssertionError(f"{run_id} is {model.status}: a send must be refused")
            STATS["machine_steps"] += 1
            return
        self.run(self.engine.send(run_id, "go", value))
        model.mail.append(value)
        if model.kind == "listener" and model.status == ACTIVE:
            model.status = model.settled()
            self.run(self._wait_for(run_id, model.status))
            result = self.run(self.engine.get(run_id).result(timeout=5))
            assert result == model.mail[0], f"{run_id} received {result}, not {model.mail}"
        STATS["machine_steps"] += 1

    @precondition(lambda self: self.up)
    @rule(run_id=runs)
    def cancel(self, run_id: str) -> None:
        assert self.engine is not None
        self.run(self.engine.cancel(run_id))
        if self.model[run_id].status == ACTIVE:
            self.model[run_id].status = "CANCELLED"
            self.run(self._wait_for(run_id, "CANCELLED"))
        STATS["machine_steps"] += 1

    @precondition(lambda self: not self.up)
    @rule(run_id=runs)
    def cancel_while_down(self, run_id: str) -> None:
        """Cancel from an engine that executes nothing while the holder is dead."""

        async def cancel() -> None:
            async with durable.Engine(self.url, poll_interval=0, execute=False) as inspector:
                await inspector.cancel(run_id)

        self.run(cancel())
        if self.model[run_id].status == ACTIVE:
            self.model[run_id].status = "CANCELLED"
        STATS["machine_steps"] += 1

    @precondition(lambda self: self.up)
    @rule()
    def crash(self) -> None:
        assert self.engine is not None
        engine, self.engine = self.engine, None
        doomed = engine.scheduler.tasks()
        testing.crash(engine)
        if doomed:
            self.run(asyncio.wait(doomed, timeout=10))
        STATS["crashes"] += 1
        STATS["machine_steps"] += 1

    @precondition(lambda self: not self.up)
    @rule()
    def recover(self) -> None:
        self.run(self._open())
        STATS["machine_steps"] += 1

    def _copied(self, source_id: str, new_id: str, body_runs: int) -> None:
        source = self.model[source_id]
        copy = ModelRun(source.kind, source.key, ACTIVE)
        copy.status = copy.settled()
        if source.kind == "listener" and body_runs == 0:
            copy.status = "SUCCEEDED"  # the received message is in the copied journal
        self.model[new_id] = copy
        before = GATE_RUNS[source.key]
        self.run(self._wait_for(new_id, copy.status))
        if copy.status != ACTIVE and source.kind != "listener":
            assert GATE_RUNS[source.key] - before == body_runs, (
                "the step ran a wrong number of times"
            )
        STATS["machine_steps"] += 1

    @precondition(lambda self: self.up)
    @rule(target=runs, source_id=runs, from_step=st.integers(0, 2))
    def fork(self, source_id: str, from_step: int) -> str:
        assert self.engine is not None
        source = self.model[source_id]
        journaled = source.kind != "sleeper" and source.status in ("SUCCEEDED", "FAILED")
        if source.kind == "listener":  # its one entry is the message it received
            journaled = source.status == "SUCCEEDED"
        new = self.run(self.engine.fork(source_id, from_step=from_step))
        self._copied(source_id, new.id, 0 if journaled and from_step >= 1 else 1)
        return str(new.id)

    @precondition(lambda self: self.up)
    @rule(target=runs, source_id=runs)
    def restart(self, source_id: str) -> str:
        assert self.engine is not None
        new = self.run(self.engine.restart(source_id))
        self._copied(source_id, new.id, 1)
        return str(new.id)

    @precondition(lambda self: self.up)
    @rule(run_id=runs)
    def resume(self, run_id: str) -> None:
        assert self.engine is not None
        model = self.model[run_id]
        before = GATE_RUNS[model.key]
        self.run(self.engine.resume(run_id))
        if model.status in ("FAILED", "CANCELLED"):
            model.status = model.settled()
            self.run(self._wait_for(run_id, model.status))
            if model.status != ACTIVE and model.kind != "listener":
                assert GATE_RUNS[model.key] - before == 1, "a resumed step must run once more"
        STATS["machine_steps"] += 1

    @rule(run_id=consumes(runs))
    def forget(self, run_id: str) -> None:
        """Stop choosing this run for rules (keeps the bundle small); the model keeps it."""

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def statuses_match_the_model(self) -> None:
        async def statuses() -> dict[str, base.Status]:
            async with durable.Engine(self.url, poll_interval=0, execute=False) as inspector:
                return {r.id: r.status for r in await inspector.list(limit=10_000)}

        actual = self.run(statuses())
        for run_id, model in self.model.items():
            status = actual.get(run_id)
            if model.status == ACTIVE:
                assert status in UNFINISHED, f"{run_id} should be unfinished, is {status}"
                if self.engine is not None:
                    assert self.engine.scheduler.is_running(run_id), f"{run_id} is not executing"
            else:
                assert status == base.Status(model.status), f"{run_id}: {status}, not {model}"


RunMachine.TestCase.settings = settings(max_examples=scaled(40), stateful_step_count=20)
test_run_operations = RunMachine.TestCase
